// POST /secapi/pay/refund (申请退款), over mutual TLS with the merchant certificate.
//
// Acceptance is not completion: SUCCESS here means WeChat took the refund (it is PROCESSING); its end
// (SUCCESS / CHANGE / REFUNDCLOSE) comes by refund notification or refundquery. On a failure with
// `retry` set (SYSTEMERROR, BIZERR_NEED_RETRY, FREQUENCY_LIMITED, NOTENOUGH, network), send the same
// out_refund_no with the same amounts again: WeChat refunds one out_refund_no once.
import { WxPayError } from './errors.js';
import { FieldError, OUT_TRADE_NO_RE, parseIntField } from './fields.js';
import { badResponse, type ApiSpec, type Transport } from './transport.js';
import type { SignType } from './sign.js';

export const REFUND_API: ApiSpec = { name: 'refund', path: '/secapi/pay/refund' };

/** out_refund_no: 1 to 64 of [0-9A-Za-z_-|*@], unique per merchant. */
export const OUT_REFUND_NO_RE = /^[0-9A-Za-z_\-|*@]{1,64}$/;

export type RefundAccount = 'REFUND_SOURCE_UNSETTLED_FUNDS' | 'REFUND_SOURCE_RECHARGE_FUNDS';

interface RefundRequestBase {
  out_refund_no: string;
  /** the trade's total_fee, in fen (WeChat checks it against the trade) */
  total_fee: number;
  /** this refund's amount, in fen, 1..total_fee */
  refund_fee: number;
  /** at most 80 bytes; shown to the buyer in WeChat's refund message */
  refund_desc?: string;
  /** overrides the merchant platform's refund notify URL; http(s), no query string */
  notify_url?: string;
  refund_account?: RefundAccount;
  refund_fee_type?: 'CNY';
  /** default: the client's sign type */
  sign_type?: SignType;
}

export type RefundRequest = RefundRequestBase & ({ transaction_id: string; out_trade_no?: never } | { out_trade_no: string; transaction_id?: never });

export interface RefundResult {
  refund_id: string;
  out_refund_no: string;
  out_trade_no: string;
  transaction_id: string;
  refund_fee: number;
  total_fee: number;
  cash_fee: number;
  settlement_refund_fee?: number;
  settlement_total_fee?: number;
  cash_refund_fee?: number;
  coupon_refund_fee?: number;
  fee_type?: string;
  raw: Record<string, string>;
}

function invalid(field: string, message: string): WxPayError {
  return new WxPayError('INVALID_ARGUMENT', `${field}: ${message}`, { field, api: 'refund', retriable: false });
}

const CONTROL_RE = /[\u0000-\u001F\u007F\uFFFE\uFFFF]/;

function positiveFen(r: Record<string, unknown>, field: string): number {
  const v = r[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw invalid(field, 'must be a positive integer number of fen');
  return v;
}

/** Field rules of secapi/pay/refund, checked before anything is sent. Exported for the sandbox and tests. */
export function validateRefund(req: RefundRequest): Record<string, string> {
  if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object');
  const r = req as unknown as Record<string, unknown>;
  const allowed = new Set(['transaction_id', 'out_trade_no', 'out_refund_no', 'total_fee', 'refund_fee', 'refund_desc', 'notify_url', 'refund_account', 'refund_fee_type', 'sign_type']);
  for (const name of Object.keys(r)) if (!allowed.has(name) && r[name] !== undefined) throw invalid(name, 'is not a refund field');
  const out: Record<string, string> = {};
  const hasTx = r.transaction_id !== undefined;
  const hasOut = r.out_trade_no !== undefined;
  if (hasTx === hasOut) throw invalid('out_trade_no', 'give exactly one of transaction_id or out_trade_no');
  if (hasTx) {
    if (typeof r.transaction_id !== 'string' || !/^[0-9A-Za-z]{1,32}$/.test(r.transaction_id)) throw invalid('transaction_id', 'must be 1-32 alphanumeric characters');
    out.transaction_id = r.transaction_id;
  } else {
    if (typeof r.out_trade_no !== 'string' || !OUT_TRADE_NO_RE.test(r.out_trade_no)) throw invalid('out_trade_no', 'must be 1-32 characters of [0-9A-Za-z_-|*@]');
    out.out_trade_no = r.out_trade_no;
  }
  if (typeof r.out_refund_no !== 'string' || !OUT_REFUND_NO_RE.test(r.out_refund_no)) throw invalid('out_refund_no', 'must be 1-64 characters of [0-9A-Za-z_-|*@]');
  out.out_refund_no = r.out_refund_no;
  const total = positiveFen(r, 'total_fee');
  const amount = positiveFen(r, 'refund_fee');
  if (amount > total) throw invalid('refund_fee', 'must not exceed total_fee');
  out.total_fee = String(total);
  out.refund_fee = String(amount);
  if (r.refund_desc !== undefined && r.refund_desc !== '') {
    if (typeof r.refund_desc !== 'string' || CONTROL_RE.test(r.refund_desc)) throw invalid('refund_desc', 'must be text without control characters');
    if (Buffer.byteLength(r.refund_desc, 'utf8') > 80) throw invalid('refund_desc', 'must be at most 80 bytes');
    out.refund_desc = r.refund_desc;
  }
  if (r.notify_url !== undefined && r.notify_url !== '') {
    if (typeof r.notify_url !== 'string' || Buffer.byteLength(r.notify_url, 'utf8') > 256) throw invalid('notify_url', 'must be a URL of at most 256 bytes');
    let url: URL;
    try {
      url = new URL(r.notify_url);
    } catch {
      throw invalid('notify_url', 'must be an absolute URL');
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || /[?#]/.test(r.notify_url)) throw invalid('notify_url', 'must be http(s) without a query string');
    out.notify_url = r.notify_url;
  }
  if (r.refund_account !== undefined) {
    if (r.refund_account !== 'REFUND_SOURCE_UNSETTLED_FUNDS' && r.refund_account !== 'REFUND_SOURCE_RECHARGE_FUNDS') {
      throw invalid('refund_account', 'must be REFUND_SOURCE_UNSETTLED_FUNDS or REFUND_SOURCE_RECHARGE_FUNDS');
    }
    out.refund_account = r.refund_account;
  }
  if (r.refund_fee_type !== undefined) {
    if (r.refund_fee_type !== 'CNY') throw invalid('refund_fee_type', 'must be CNY');
    out.refund_fee_type = r.refund_fee_type;
  }
  if (r.sign_type !== undefined && r.sign_type !== 'MD5' && r.sign_type !== 'HMAC-SHA256') throw invalid('sign_type', 'must be MD5 or HMAC-SHA256');
  return out;
}

/** An integer field of an answer: undefined when absent, BAD_RESPONSE when not a strict integer. */
export function answerInt(raw: Record<string, string>, field: string, api: string): number | undefined {
  const v = raw[field];
  if (v === undefined || v === '') return undefined;
  try {
    return parseIntField(v, field);
  } catch (err) {
    throw new WxPayError('BAD_RESPONSE', `${api}: ${field} is not an integer`, { api, field, retriable: false, cause: err instanceof FieldError ? err : undefined });
  }
}

export function answerRequiredInt(raw: Record<string, string>, field: string, api: string): number {
  const n = answerInt(raw, field, api);
  if (n === undefined) throw badResponse(api, `${field} is missing`, field);
  return n;
}

/**
 * Asks WeChat to refund. Resolves when WeChat accepted the refund (it is then PROCESSING); throws
 * WxPayError with WeChat's err_code (and err_code_des as `wechatMessage`) otherwise, `retry` telling
 * whether the same request may be sent again.
 */
export async function refund(transport: Transport, req: RefundRequest, o: { appid?: string } = {}): Promise<RefundResult> {
  const fields = validateRefund(req);
  const raw = await transport.call(REFUND_API, fields, { ...(req.sign_type ? { signType: req.sign_type } : {}), ...(o.appid ? { appid: o.appid } : {}) });
  const api = REFUND_API.name;
  if (!raw.refund_id) throw badResponse(api, 'no refund_id', 'refund_id');
  if (raw.out_refund_no !== fields.out_refund_no) throw badResponse(api, 'answer is for another out_refund_no', 'out_refund_no');
  if (fields.out_trade_no !== undefined && raw.out_trade_no !== fields.out_trade_no) throw badResponse(api, 'answer is for another out_trade_no', 'out_trade_no');
  if (fields.transaction_id !== undefined && raw.transaction_id !== fields.transaction_id) throw badResponse(api, 'answer is for another transaction_id', 'transaction_id');
  if (!raw.out_trade_no || !raw.transaction_id) throw badResponse(api, 'answer without out_trade_no or transaction_id');
  const result: RefundResult = {
    refund_id: raw.refund_id,
    out_refund_no: fields.out_refund_no as string,
    out_trade_no: raw.out_trade_no,
    transaction_id: raw.transaction_id,
    refund_fee: answerRequiredInt(raw, 'refund_fee', api),
    total_fee: answerRequiredInt(raw, 'total_fee', api),
    cash_fee: answerRequiredInt(raw, 'cash_fee', api),
    raw,
  };
  if (String(result.refund_fee) !== fields.refund_fee) throw badResponse(api, 'answer refunds another amount', 'refund_fee');
  for (const f of ['settlement_refund_fee', 'settlement_total_fee', 'cash_refund_fee', 'coupon_refund_fee'] as const) {
    const n = answerInt(raw, f, api);
    if (n !== undefined) result[f] = n;
  }
  if (raw.fee_type) result.fee_type = raw.fee_type;
  return result;
}
