// What a WeChat user paying a trade does at WeChat, whichever client they pay from (the mini-program's
// requestPayment, the mobile SDK, a QR scan): the trade is paid once, gets its transaction, and the
// notifier starts posting the payment notification.
import { toBeijingTime } from '../wechat/time.js';
import type { Faults } from './faults.js';
import { newOpenid, newPrepayId, newTransactionId } from './ids.js';
import type { Notifier } from './notifier.js';
import { PREPAY_TTL_MS, type SandboxMerchant, type SandboxState, type Trade } from './state.js';

/** The fields of a new trade as a prepay request gives them (the rest is the sandbox's). */
export type TradeDraft = Omit<Trade, 'prepayId' | 'prepayCreatedAt' | 'state' | 'createdAt'>;

/**
 * unifiedorder's rule, one copy for v2's /pay/unifiedorder and v3's /v3/pay/transactions/*: an
 * out_trade_no seen before is PAID, CLOSED, or, asked with other fields (`fingerprint`), CHANGED; the
 * same request again answers the same trade, with a new prepay_id once the old one's 2 hours are over.
 * Otherwise the trade is made. Each API answers a refusal its own way.
 */
export function placePrepay(state: SandboxState, draft: TradeDraft, now: number): Trade | 'PAID' | 'CLOSED' | 'CHANGED' {
  const existing = state.trade(draft.mchId, draft.outTradeNo);
  if (existing) {
    if (existing.state === 'SUCCESS') return 'PAID';
    if (existing.state === 'CLOSED') return 'CLOSED';
    if (existing.fingerprint !== draft.fingerprint) return 'CHANGED';
    if (now - existing.prepayCreatedAt >= PREPAY_TTL_MS) state.renewPrepay(existing, newPrepayId(now));
    return existing;
  }
  const trade: Trade = { ...draft, prepayId: newPrepayId(now), prepayCreatedAt: now, state: 'NOTPAY', createdAt: now };
  state.saveTrade(trade);
  return trade;
}

/** Why a trade cannot be paid now (as the WeChat client reports it), or undefined when it can. */
export function unpayable(state: SandboxState, trade: Trade): { code: string; detail: string } | undefined {
  const now = state.now();
  if (now - trade.prepayCreatedAt >= PREPAY_TTL_MS) return { code: 'PREPAY_EXPIRED', detail: 'prepay_id expired' };
  if (trade.state === 'SUCCESS') return { code: 'ORDER_PAID', detail: '该订单已支付' };
  if (trade.state === 'CLOSED') return { code: 'ORDER_CLOSED', detail: '该订单已关闭' };
  if (trade.timeExpire !== undefined && now >= trade.timeExpire) return { code: 'ORDER_EXPIRED', detail: '订单已过期' };
  return undefined;
}

export function payTrade(
  deps: { state: SandboxState; faults: Faults; notifier: Notifier },
  trade: Trade,
  merchant: SandboxMerchant,
  payerOpenid?: string,
): void {
  const now = deps.state.now();
  trade.state = 'SUCCESS';
  trade.transactionId = newTransactionId(now);
  trade.timeEnd = toBeijingTime(new Date(now));
  trade.bankType = 'OTHERS';
  trade.payerOpenid = payerOpenid ?? trade.openid ?? newOpenid(trade.appid);
  deps.state.recordTransaction(trade);
  deps.notifier.start(trade, merchant, deps.faults.takeNotifyPlan(trade.outTradeNo));
}
