// What API v3 says about a trade and a refund: the query shapes (also the plaintext of the
// notification resources), and the encrypted, signed notifications themselves.
import { createHash } from 'node:crypto';
import { aesGcmEncrypt } from '../../wechat/v3/crypto.js';
import { fromBeijingTime } from '../../wechat/time.js';
import type { PreparedNotification } from '../delivery.js';
import type { SandboxRefund, SandboxRefundStatus } from '../refund-state.js';
import type { SandboxMerchant, Trade, TradeState } from '../state.js';
import type { V3Keys } from './keys.js';
import { rfc3339Beijing } from '../../wechat/v3/wire.js';

const TRADE_STATE_DESC: Record<TradeState, string> = {
  NOTPAY: '未支付',
  SUCCESS: '支付成功',
  CLOSED: '已关闭',
  PAYERROR: '支付失败',
  USERPAYING: '用户支付中',
};

/** GET /v3/pay/transactions/...: the trade as API v3 shows it (whichever API made it). */
export function transactionJson(t: Trade, refunded: boolean): Record<string, unknown> {
  const paid = t.state === 'SUCCESS';
  return {
    appid: t.appid,
    mchid: t.mchId,
    out_trade_no: t.outTradeNo,
    ...(paid && t.transactionId ? { transaction_id: t.transactionId } : {}),
    trade_type: t.tradeType,
    trade_state: paid && refunded ? 'REFUND' : t.state,
    trade_state_desc: paid && refunded ? '转入退款' : TRADE_STATE_DESC[t.state],
    ...(paid && t.bankType ? { bank_type: t.bankType } : {}),
    ...(t.attach !== undefined ? { attach: t.attach } : {}),
    ...(paid && t.timeEnd ? { success_time: rfc3339Beijing(fromBeijingTime(t.timeEnd).getTime()) } : {}),
    ...(paid && t.payerOpenid ? { payer: { openid: t.payerOpenid } } : {}),
    amount: paid
      ? { total: t.totalFee, payer_total: t.totalFee, currency: 'CNY', payer_currency: 'CNY' }
      : { total: t.totalFee, currency: 'CNY', payer_currency: 'CNY' },
  };
}

export const V3_REFUND_STATUS: Record<SandboxRefundStatus, 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED'> = {
  PROCESSING: 'PROCESSING',
  SUCCESS: 'SUCCESS',
  CHANGE: 'ABNORMAL',
  REFUNDCLOSE: 'CLOSED',
};

/** POST /v3/refund/domestic/refunds and its query: the refund as API v3 shows it. */
export function refundJson(r: SandboxRefund): Record<string, unknown> {
  const status = V3_REFUND_STATUS[r.status];
  return {
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    transaction_id: r.transactionId,
    out_trade_no: r.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: r.recvAccount,
    ...(status === 'SUCCESS' && r.settledAt !== undefined ? { success_time: rfc3339Beijing(r.settledAt) } : {}),
    create_time: rfc3339Beijing(r.createdAt),
    status,
    funds_account: r.refundAccount === 'REFUND_SOURCE_RECHARGE_FUNDS' ? 'AVAILABLE' : 'UNSETTLED',
    amount: {
      total: r.totalFee,
      refund: r.refundFee,
      from: [],
      payer_total: r.totalFee,
      payer_refund: r.refundFee,
      settlement_refund: r.refundFee,
      settlement_total: r.totalFee,
      discount_refund: 0,
      currency: 'CNY',
    },
  };
}

/** The plaintext of a refund notification's resource. */
export function refundNotifyResource(r: SandboxRefund): Record<string, unknown> {
  const status = V3_REFUND_STATUS[r.status];
  return {
    mchid: r.mchId,
    out_trade_no: r.outTradeNo,
    transaction_id: r.transactionId,
    out_refund_no: r.outRefundNo,
    refund_id: r.refundId,
    refund_status: status,
    ...(status === 'SUCCESS' && r.settledAt !== undefined ? { success_time: rfc3339Beijing(r.settledAt) } : {}),
    user_received_account: r.recvAccount,
    amount: { total: r.totalFee, refund: r.refundFee, payer_total: r.totalFee, payer_refund: r.refundFee },
  };
}

const REFUND_EVENT = { SUCCESS: ['REFUND.SUCCESS', '退款成功'], ABNORMAL: ['REFUND.ABNORMAL', '退款异常'], CLOSED: ['REFUND.CLOSED', '退款关闭'], PROCESSING: ['REFUND.SUCCESS', '退款成功'] } as const;

/** One notification keeps its id through retries and duplicates (merchants deduplicate by it): a UUID from its subject. */
function notificationId(subject: string): string {
  const h = createHash('sha256').update(subject).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A signed v3 notification: the resource encrypted with the merchant's APIv3 key, the envelope
 * signed in the Wechatpay-* headers in the merchant's signing mode. `corrupt`: a signature that does not verify.
 */
export function v3Notification(
  keys: V3Keys,
  merchant: SandboxMerchant,
  kind: { id: string; eventType: string; summary: string; originalType: 'transaction' | 'refund'; plaintext: Record<string, unknown> },
  corrupt: boolean,
): PreparedNotification {
  if (!merchant.apiV3Key) throw new Error(`sandbox: merchant ${merchant.mchId} has no apiV3Key for a v3 notification`);
  const resource = aesGcmEncrypt(JSON.stringify(kind.plaintext), merchant.apiV3Key, kind.originalType);
  const body = JSON.stringify({
    id: kind.id,
    create_time: rfc3339Beijing(Date.now()),
    resource_type: 'encrypt-resource',
    event_type: kind.eventType,
    summary: kind.summary,
    resource: { original_type: kind.originalType, algorithm: resource.algorithm, ciphertext: resource.ciphertext, associated_data: resource.associated_data, nonce: resource.nonce },
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      ...keys.signedHeaders(merchant.mchId, body, { corrupt }),
      'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    },
  };
}

export function paymentNotification(keys: V3Keys, trade: Trade, merchant: SandboxMerchant, corrupt: boolean): PreparedNotification {
  return v3Notification(keys, merchant, { id: notificationId(`transaction:${trade.mchId}:${trade.transactionId}`), eventType: 'TRANSACTION.SUCCESS', summary: '支付成功', originalType: 'transaction', plaintext: transactionJson(trade, false) }, corrupt);
}

export function refundNotification(keys: V3Keys, r: SandboxRefund, merchant: SandboxMerchant, corrupt: boolean): PreparedNotification {
  const [eventType, summary] = REFUND_EVENT[V3_REFUND_STATUS[r.status]];
  return v3Notification(keys, merchant, { id: notificationId(`refund:${r.mchId}:${r.refundId}:${r.status}`), eventType, summary, originalType: 'refund', plaintext: refundNotifyResource(r) }, corrupt);
}
