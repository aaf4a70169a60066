import { nonceStr } from '../wechat/nonce.js';
import { sign } from '../wechat/sign.js';
import { toXml } from '../wechat/xml.js';
import { XmlNotifier, type Delivery, type DeliveryOptions } from './delivery.js';
import type { SandboxMerchant, Trade } from './state.js';
import type { V3Keys } from './v3/keys.js';
import { paymentNotification } from './v3/resources.js';

export { attemptTimeoutMs, retryDelayMs, RETRY_SCHEDULE_S } from './delivery.js';

/** One attempt to deliver a payment notification, as GET /sandbox/notifications lists it. */
export type DeliveryAttempt = { outTradeNo: string; transactionId: string; notifyUrl: string } & Delivery;

/** The fields of the payment notification WeChat posts, signed with the trade's sign type. */
export function notifyFields(trade: Trade, merchant: SandboxMerchant, corrupt: boolean): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    appid: trade.appid,
    mch_id: trade.mchId,
    device_info: trade.deviceInfo,
    nonce_str: nonceStr(32),
    sign_type: trade.signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : undefined,
    result_code: 'SUCCESS',
    openid: trade.payerOpenid,
    is_subscribe: 'N',
    trade_type: trade.tradeType,
    bank_type: trade.bankType,
    total_fee: String(trade.totalFee),
    fee_type: trade.feeType,
    cash_fee: String(trade.totalFee),
    cash_fee_type: 'CNY',
    transaction_id: trade.transactionId,
    out_trade_no: trade.outTradeNo,
    attach: trade.attach,
    time_end: trade.timeEnd,
    return_code: 'SUCCESS',
  };
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') clean[k] = v;
  // A forger does not know the key: sign with another one.
  const key = corrupt ? `${merchant.key.slice(1)}x` : merchant.key;
  clean.sign = sign(clean, key, trade.signType);
  return clean;
}

/**
 * Posts payment notifications to notify_url on WeChat's schedule until one is answered SUCCESS: v2 XML
 * for a trade made by API v2, API v3's encrypted JSON (accepted with HTTP 200/204) for one made by v3.
 */
export class Notifier extends XmlNotifier<Trade, { outTradeNo: string; transactionId: string; notifyUrl: string }> {
  constructor(opts: DeliveryOptions, v3?: V3Keys) {
    super(
      {
        name: 'notifier',
        url: (trade) => trade.notifyUrl,
        body: (trade, merchant, corrupt) =>
          trade.api === 'v3' && v3 ? paymentNotification(v3, trade, merchant, corrupt) : toXml(notifyFields(trade, merchant, corrupt)),
        identify: (trade) => ({ outTradeNo: trade.outTradeNo, transactionId: trade.transactionId ?? '', notifyUrl: trade.notifyUrl }),
      },
      opts,
    );
  }

  list(outTradeNo?: string): DeliveryAttempt[] {
    return this.entries(outTradeNo === undefined ? undefined : (a) => a.outTradeNo === outTradeNo);
  }
}
