// What a verified notification does, whichever API version brought it: v2's XML (notify.ts,
// refund-notify.ts) and v3's JSON (v3-notify.ts) end in these, the one path by which a payment or a
// refund notification changes state. Each route only says how its API words the answer.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { countNotify } from '../observability/metrics.js';
import type { PayNotification, RefundNotification } from '../wechat/index.js';

/** ok: stored (or already true), WeChat may stop; otherwise the HTTP status and a short reason, and WeChat retries. */
export type NotifyAnswer = { ok: true } | { ok: false; status: number; message: string };

export async function settlePayNotification(app: FastifyInstance, req: FastifyRequest, notification: PayNotification): Promise<NotifyAnswer> {
  if (notification.result_code === 'FAIL') {
    countNotify(app.metrics, 'payment', 'payment_failed');
    if (notification.out_trade_no) {
      await app.orders.applyNotify(notification.out_trade_no, {
        state: 'PAYERROR',
        ...(notification.err_code ? { reason: notification.err_code } : {}),
      });
    }
    return { ok: true };
  }

  const result = await app.orders.applyNotify(notification.out_trade_no, {
    state: 'SUCCESS',
    transactionId: notification.transaction_id,
    totalFee: notification.total_fee,
    paidAt: notification.paidAt,
    openid: notification.openid,
    tradeType: notification.trade_type,
    appid: notification.appid,
    feeType: notification.fee_type ?? 'CNY',
    signType: notification.signType,
  });
  countNotify(app.metrics, 'payment', result);
  switch (result.outcome) {
    case 'paid':
    case 'held':
    case 'changed':
    case 'unchanged':
      // Stored (or already true): WeChat may stop retrying.
      return { ok: true };
    case 'unknown_order':
      req.log.warn({ security: true, event: 'notify_unknown_order', outTradeNo: notification.out_trade_no }, 'signed notify for an order we do not have');
      return { ok: false, status: 404, message: 'unknown order' };
    case 'wrong_sign_type':
      return { ok: false, status: 400, message: 'sign type' };
    case 'unconfirmed':
      // Not recorded until WeChat's own orderquery agrees: FAIL, so that WeChat asks again later.
      return { ok: false, status: 503, message: 'not confirmed, retry' };
    case 'contended':
      return { ok: false, status: 503, message: 'busy, retry' };
  }
}

export async function settleRefundNotification(app: FastifyInstance, req: FastifyRequest, n: RefundNotification): Promise<NotifyAnswer> {
  const result = await app.refunds.applyNotify(n.out_refund_no, {
    status: n.refund_status,
    refundFee: n.refund_fee,
    refundId: n.refund_id,
    ...(n.succeededAt ? { successAt: n.succeededAt } : {}),
    ...(n.refund_recv_accout ? { recvAccount: n.refund_recv_accout } : {}),
  });
  countNotify(app.metrics, 'refund', result);
  switch (result.outcome) {
    case 'changed':
    case 'unchanged':
      return { ok: true };
    case 'unknown_refund':
      req.log.warn({ security: true, event: 'refund_notify_unknown', outRefundNo: n.out_refund_no }, 'refund notify for a refund we do not have');
      return { ok: false, status: 404, message: 'unknown refund' };
    case 'amount_mismatch':
      return { ok: false, status: 400, message: 'amount mismatch' };
    case 'contended':
      return { ok: false, status: 503, message: 'busy, retry' };
  }
}
