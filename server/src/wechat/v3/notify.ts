// API v3 payment and refund notifications, verified and decrypted into the v2 shapes (PayNotification,
// RefundNotification) so that both API versions settle through one function. In this order: the
// Wechatpay-* headers are there, the timestamp is within five minutes (else STALE: a replay or a
// skewed clock), the signature over timestamp, nonce and the exact body verifies (BAD_SIGN), the
// body is JSON, the resource decrypts with the APIv3 key and its GCM tag holds (BAD_RESOURCE), and
// the merchant and app are ours. A verifier that cannot fetch certificates throws WxPayError, not
// WxNotifyError: the route answers 500 and WeChat retries later.
import { fromBeijingDateTime } from '../beijing-datetime.js';
import { WxNotifyError } from '../errors.js';
import { OUT_TRADE_NO_RE } from '../fields.js';
import type { FailedNotification, PaidNotification, PayNotification } from '../notify.js';
import { OUT_REFUND_NO_RE } from '../refund.js';
import type { RefundNotification, RefundNotifyStatus } from '../refund-notify.js';
import { fromBeijingTime } from '../time.js';
import { aesGcmDecrypt, AUTH_SCHEMA, MAX_CLOCK_SKEW_SECONDS, readSignedHeaders, responseMessage } from './crypto.js';
import { transactionRaw } from './pay-client.js';
import { REFUND_STATUS_V2 } from './refund.js';
import type { V3Verifier } from './transport.js';
import { beijingCompactFromRfc3339, beijingDateTimeFromRfc3339, flatten } from './wire.js';

export interface V3NotifyRequest {
  /** the request's headers (Fastify's req.headers: lower-case names) */
  headers: Record<string, string | string[] | undefined>;
  /** the body exactly as received */
  body: string;
}

export interface V3NotifyMerchant {
  mchId: string;
  /** every appid a payment notification may name */
  appids: readonly string[];
  apiV3Key: string;
  verifier: V3Verifier;
}

interface Envelope {
  id?: unknown;
  event_type?: unknown;
  resource_type?: unknown;
  resource?: { original_type?: unknown; algorithm?: unknown; ciphertext?: unknown; associated_data?: unknown; nonce?: unknown };
}

function header(headers: V3NotifyRequest['headers'], name: string): string | undefined {
  let v = headers[name];
  if (v === undefined) {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    v = key === undefined ? undefined : headers[key];
  }
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

/** Headers, freshness, signature, JSON, decryption: what both kinds share. Returns the envelope and its plaintext. */
async function open(input: V3NotifyRequest, merchant: V3NotifyMerchant, originalType: string, now: Date): Promise<{ envelope: Envelope; resource: Record<string, unknown> }> {
  const what = originalType === 'refund' ? 'refund notify' : 'notify';
  const h = readSignedHeaders((name) => header(input.headers, name), now);
  if (h === 'unsigned') throw new WxNotifyError('BAD_SIGN', `${what}: Wechatpay-Timestamp, -Nonce, -Signature or -Serial is missing`);
  if (h === 'malformed') throw new WxNotifyError('BAD_SIGN', `${what}: Wechatpay-Timestamp is malformed`);
  if (h === 'stale') throw new WxNotifyError('STALE', `${what}: Wechatpay-Timestamp is more than ${MAX_CLOCK_SKEW_SECONDS} s away`);
  const type = header(input.headers, 'wechatpay-signature-type');
  if (type !== undefined && type !== AUTH_SCHEMA) throw new WxNotifyError('BAD_SIGN', `${what}: unknown Wechatpay-Signature-Type`);
  if (typeof input.body !== 'string') throw new WxNotifyError('BAD_SIGN', `${what}: body must be the raw text`);
  // A WxPayError (certificates unreachable) passes through on purpose.
  if (!(await merchant.verifier.verify(h.serial, responseMessage(h.timestamp, h.nonce, input.body), h.signature))) {
    throw new WxNotifyError('BAD_SIGN', `${what}: signature does not verify`);
  }
  let envelope: Envelope;
  try {
    envelope = JSON.parse(input.body) as Envelope;
  } catch (err) {
    throw new WxNotifyError('BAD_RESOURCE', `${what}: body is not JSON`, { cause: err });
  }
  const r = envelope?.resource;
  if (!r || typeof r !== 'object' || typeof r.ciphertext !== 'string' || typeof r.nonce !== 'string') throw new WxNotifyError('BAD_RESOURCE', `${what}: no encrypted resource`, { field: 'resource' });
  if (r.original_type !== undefined && r.original_type !== originalType) throw new WxNotifyError('BAD_RESOURCE', `${what}: resource is a ${String(r.original_type)}, not a ${originalType}`, { field: 'resource.original_type' });
  let plain: string;
  try {
    plain = aesGcmDecrypt(r, merchant.apiV3Key);
  } catch (err) {
    throw new WxNotifyError('BAD_RESOURCE', `${what}: resource does not decrypt with our APIv3 key`, { field: 'resource', cause: err });
  }
  let resource: unknown;
  try {
    resource = JSON.parse(plain);
  } catch (err) {
    throw new WxNotifyError('BAD_RESOURCE', `${what}: resource is not JSON`, { field: 'resource', cause: err });
  }
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) throw new WxNotifyError('BAD_RESOURCE', `${what}: resource is not an object`, { field: 'resource' });
  return { envelope, resource: resource as Record<string, unknown> };
}

function text(o: Record<string, unknown>, field: string, what: string): string {
  const v = o[field];
  if (typeof v !== 'string' || v === '') throw new WxNotifyError('MISSING_FIELD', `${what}: ${field} is missing`, { field });
  return v;
}

function fen(o: Record<string, unknown>, field: string, min: number, what: string): number {
  const amount = o.amount as Record<string, unknown> | undefined;
  const v = amount && typeof amount === 'object' ? amount[field] : undefined;
  if (v === undefined || v === null) throw new WxNotifyError('MISSING_FIELD', `${what}: amount.${field} is missing`, { field: `amount.${field}` });
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new WxNotifyError('BAD_FIELD', `${what}: amount.${field} is not an amount of at least ${min} fen`, { field: `amount.${field}` });
  return v;
}

/** A payment notification (TRANSACTION.SUCCESS) as v2's PayNotification, signType 'RSA'. */
export async function verifyPayNotifyV3(input: V3NotifyRequest, merchant: V3NotifyMerchant, now: Date = new Date()): Promise<PayNotification> {
  const what = 'notify';
  const { resource: tx } = await open(input, merchant, 'transaction', now);
  if (tx.mchid !== merchant.mchId) throw new WxNotifyError('MCHID_MISMATCH', `${what}: mchid is not ours`, { field: 'mchid' });
  if (typeof tx.appid !== 'string' || !merchant.appids.includes(tx.appid)) throw new WxNotifyError('APPID_MISMATCH', `${what}: appid is not ours`, { field: 'appid' });
  const raw = transactionRaw(tx);
  const state = text(tx, 'trade_state', what);
  if (state !== 'SUCCESS') {
    const failed: FailedNotification = { result_code: 'FAIL', appid: tx.appid, mch_id: merchant.mchId, signType: 'RSA', err_code: state, raw };
    if (typeof tx.out_trade_no === 'string' && tx.out_trade_no) failed.out_trade_no = tx.out_trade_no;
    if (typeof tx.trade_state_desc === 'string' && tx.trade_state_desc) failed.err_code_des = tx.trade_state_desc;
    return failed;
  }
  const outTradeNo = text(tx, 'out_trade_no', what);
  if (!OUT_TRADE_NO_RE.test(outTradeNo)) throw new WxNotifyError('BAD_FIELD', `${what}: out_trade_no is malformed`, { field: 'out_trade_no' });
  let timeEnd: string;
  try {
    timeEnd = beijingCompactFromRfc3339(text(tx, 'success_time', what));
  } catch (err) {
    if (err instanceof WxNotifyError) throw err;
    throw new WxNotifyError('BAD_FIELD', `${what}: success_time is not RFC 3339`, { field: 'success_time', cause: err });
  }
  raw.time_end = timeEnd;
  const payer = tx.payer as Record<string, unknown> | undefined;
  const paid: PaidNotification = {
    result_code: 'SUCCESS',
    appid: tx.appid,
    mch_id: merchant.mchId,
    out_trade_no: outTradeNo,
    transaction_id: text(tx, 'transaction_id', what),
    total_fee: fen(tx, 'total', 1, what),
    cash_fee: fen(tx, 'payer_total', 0, what),
    time_end: timeEnd,
    signType: 'RSA',
    paidAt: fromBeijingTime(timeEnd),
    openid: text(payer && typeof payer === 'object' ? payer : {}, 'openid', what),
    trade_type: text(tx, 'trade_type', what),
    raw,
  };
  if (typeof tx.bank_type === 'string' && tx.bank_type) paid.bank_type = tx.bank_type;
  const amount = tx.amount as Record<string, unknown>;
  if (typeof amount.currency === 'string' && amount.currency) paid.fee_type = amount.currency;
  if (typeof tx.attach === 'string' && tx.attach) paid.attach = tx.attach;
  return paid;
}

/**
 * A refund notification (REFUND.SUCCESS / ABNORMAL / CLOSED) as v2's RefundNotification. v3's refund
 * resource names no app: appid is ''. settlement_refund_fee is amount.refund (v3's notification
 * carries no settlement amount).
 */
export async function verifyRefundNotifyV3(input: V3NotifyRequest, merchant: V3NotifyMerchant, now: Date = new Date()): Promise<RefundNotification> {
  const what = 'refund notify';
  const { envelope, resource: info } = await open(input, merchant, 'refund', now);
  if (info.mchid !== merchant.mchId) throw new WxNotifyError('MCHID_MISMATCH', `${what}: mchid is not ours`, { field: 'mchid' });
  const outRefundNo = text(info, 'out_refund_no', what);
  if (!OUT_REFUND_NO_RE.test(outRefundNo)) throw new WxNotifyError('BAD_FIELD', `${what}: out_refund_no is malformed`, { field: 'out_refund_no' });
  const outTradeNo = text(info, 'out_trade_no', what);
  if (!OUT_TRADE_NO_RE.test(outTradeNo)) throw new WxNotifyError('BAD_FIELD', `${what}: out_trade_no is malformed`, { field: 'out_trade_no' });
  const v3Status = text(info, 'refund_status', what);
  // v3's one status table; a notification is sent for a settled refund only, never a PROCESSING one.
  const status = v3Status !== 'PROCESSING' && Object.hasOwn(REFUND_STATUS_V2, v3Status) ? (REFUND_STATUS_V2[v3Status] as RefundNotifyStatus) : undefined;
  if (!status) throw new WxNotifyError('BAD_FIELD', `${what}: refund_status is not SUCCESS, ABNORMAL or CLOSED`, { field: 'refund_status' });
  const totalFee = fen(info, 'total', 1, what);
  const refundFee = fen(info, 'refund', 1, what);
  if (refundFee > totalFee) throw new WxNotifyError('BAD_FIELD', `${what}: amount.refund exceeds amount.total`, { field: 'amount.refund' });
  const n: RefundNotification = {
    appid: '',
    mch_id: merchant.mchId,
    out_refund_no: outRefundNo,
    refund_id: text(info, 'refund_id', what),
    out_trade_no: outTradeNo,
    transaction_id: text(info, 'transaction_id', what),
    total_fee: totalFee,
    refund_fee: refundFee,
    settlement_refund_fee: refundFee,
    refund_status: status,
    raw: flatten({ id: envelope.id, event_type: envelope.event_type, resource_type: envelope.resource_type }),
    info: flatten(info),
  };
  if (status === 'SUCCESS' || (info.success_time !== undefined && info.success_time !== null && info.success_time !== '')) {
    try {
      n.success_time = beijingDateTimeFromRfc3339(text(info, 'success_time', what));
      n.succeededAt = fromBeijingDateTime(n.success_time);
    } catch (err) {
      if (err instanceof WxNotifyError) throw err;
      throw new WxNotifyError('BAD_FIELD', `${what}: success_time is not RFC 3339`, { field: 'success_time', cause: err });
    }
  }
  if (typeof info.user_received_account === 'string' && info.user_received_account) n.refund_recv_accout = info.user_received_account;
  return n;
}
