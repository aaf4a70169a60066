// POST /pay/refundquery (查询退款). WeChat answers one trade's refunds as indexed fields
// (out_refund_no_0, refund_status_0, ..., coupon_refund_id_0_1 ...); parseRefundQuery turns them into an
// array. With out_trade_no / transaction_id, at most 10 refunds come back from `offset`; total_refund_count
// then says how many the trade has.
import { WxPayError } from './errors.js';
import { OUT_TRADE_NO_RE } from './fields.js';
import { fromBeijingDateTime } from './beijing-datetime.js';
import { OUT_REFUND_NO_RE, answerInt, answerRequiredInt } from './refund.js';
import { badResponse, type ApiSpec, type Transport } from './transport.js';

export const REFUND_QUERY_API: ApiSpec = { name: 'refundquery', path: '/pay/refundquery' };

export type RefundStatus = 'SUCCESS' | 'REFUNDCLOSE' | 'PROCESSING' | 'CHANGE';
export const REFUND_STATUSES: readonly RefundStatus[] = Object.freeze(['SUCCESS', 'REFUNDCLOSE', 'PROCESSING', 'CHANGE'] as const);

export type RefundQueryRequest = (
  | { refund_id: string }
  | { out_refund_no: string }
  | { transaction_id: string }
  | { out_trade_no: string }
) & {
  /** with transaction_id / out_trade_no: the first refund to return (pages of 10) */
  offset?: number;
};

export interface RefundCoupon {
  coupon_type?: string;
  coupon_refund_id: string;
  coupon_refund_fee: number;
}

export interface RefundQueryItem {
  out_refund_no: string;
  refund_id: string;
  refund_fee: number;
  refund_status: RefundStatus;
  refund_channel?: string;
  settlement_refund_fee?: number;
  refund_account?: string;
  /** WeChat's spelling: where the money went, e.g. 支付用户的零钱 */
  refund_recv_accout?: string;
  /** yyyy-MM-dd HH:mm:ss, Beijing time, as sent (SUCCESS only) */
  refund_success_time?: string;
  succeededAt?: Date;
  coupon_refund_fee?: number;
  coupon_refund_count?: number;
  coupons: RefundCoupon[];
}

export interface RefundQueryResult {
  out_trade_no: string;
  transaction_id: string;
  total_fee: number;
  cash_fee: number;
  settlement_total_fee?: number;
  fee_type?: string;
  /** refunds in this answer */
  refund_count: number;
  /** refunds the trade has in all (WeChat sends it when they exceed one page) */
  total_refund_count?: number;
  refunds: RefundQueryItem[];
  raw: Record<string, string>;
}

function invalid(field: string, message: string): WxPayError {
  return new WxPayError('INVALID_ARGUMENT', `${field}: ${message}`, { field, api: 'refundquery', retriable: false });
}

export function validateRefundQuery(req: RefundQueryRequest): Record<string, string> {
  if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object');
  const r = req as Record<string, unknown>;
  const keys = (['refund_id', 'out_refund_no', 'transaction_id', 'out_trade_no'] as const).filter((k) => r[k] !== undefined);
  if (keys.length !== 1) throw invalid('out_refund_no', 'give exactly one of refund_id, out_refund_no, transaction_id or out_trade_no');
  const key = keys[0]!;
  const v = r[key];
  const ok =
    typeof v === 'string' &&
    (key === 'out_refund_no' ? OUT_REFUND_NO_RE.test(v) : key === 'out_trade_no' ? OUT_TRADE_NO_RE.test(v) : /^[0-9A-Za-z]{1,32}$/.test(v));
  if (!ok) throw invalid(key, 'is malformed');
  const out: Record<string, string> = { [key]: v as string };
  if (r.offset !== undefined) {
    if (key === 'refund_id' || key === 'out_refund_no') throw invalid('offset', 'only pages a query by transaction_id or out_trade_no');
    if (typeof r.offset !== 'number' || !Number.isSafeInteger(r.offset) || r.offset < 0) throw invalid('offset', 'must be a non-negative integer');
    out.offset = String(r.offset);
  }
  return out;
}

const INDEXED_RE = /^([a-z_]+?)_(\d+)(?:_(\d+))?$/;

/**
 * The refunds of a refundquery answer, from its indexed fields: refund_count of them, in index order
 * (0, 1, ...; whatever numbering a later page uses, the indexes present are read); coupons by _$n_$m.
 * Pure: exported for tests and the sandbox.
 */
export function parseRefundQuery(raw: Record<string, string>, api = 'refundquery'): Omit<RefundQueryResult, 'raw'> {
  const count = answerRequiredInt(raw, 'refund_count', api);
  if (count < 0 || count > 100) throw badResponse(api, 'refund_count out of range', 'refund_count');
  // Which indexes this answer uses: the ones its out_refund_no_$n fields carry.
  const indexes = Object.keys(raw)
    .map((k) => /^out_refund_no_(\d+)$/.exec(k)?.[1])
    .filter((n): n is string => n !== undefined && /^(0|[1-9]\d*)$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
  if (indexes.length !== count) throw badResponse(api, `refund_count is ${count} but ${indexes.length} refunds are listed`, 'refund_count');
  const refunds = indexes.map((n) => {
    const f = (name: string) => raw[`${name}_${n}`];
    const outRefundNo = f('out_refund_no')!;
    const refundId = f('refund_id');
    if (!refundId) throw badResponse(api, `refund_id_${n} is missing`, `refund_id_${n}`);
    const status = f('refund_status');
    if (!status || !(REFUND_STATUSES as readonly string[]).includes(status)) throw badResponse(api, `refund_status_${n} is not a refund status`, `refund_status_${n}`);
    const item: RefundQueryItem = {
      out_refund_no: outRefundNo,
      refund_id: refundId,
      refund_fee: answerRequiredInt(raw, `refund_fee_${n}`, api),
      refund_status: status as RefundStatus,
      coupons: [],
    };
    const settlement = answerInt(raw, `settlement_refund_fee_${n}`, api);
    if (settlement !== undefined) item.settlement_refund_fee = settlement;
    const couponFee = answerInt(raw, `coupon_refund_fee_${n}`, api);
    if (couponFee !== undefined) item.coupon_refund_fee = couponFee;
    const couponCount = answerInt(raw, `coupon_refund_count_${n}`, api);
    if (couponCount !== undefined) item.coupon_refund_count = couponCount;
    for (const name of ['refund_channel', 'refund_account', 'refund_recv_accout'] as const) {
      const v = f(name);
      if (v) item[name] = v;
    }
    const time = f('refund_success_time');
    if (time) {
      item.refund_success_time = time;
      try {
        item.succeededAt = fromBeijingDateTime(time);
      } catch {
        throw badResponse(api, `refund_success_time_${n} is not yyyy-MM-dd HH:mm:ss`, `refund_success_time_${n}`);
      }
    }
    for (let m = 0; m < (couponCount ?? 0); m++) {
      const id = raw[`coupon_refund_id_${n}_${m}`];
      if (!id) throw badResponse(api, `coupon_refund_id_${n}_${m} is missing`);
      const coupon: RefundCoupon = { coupon_refund_id: id, coupon_refund_fee: answerRequiredInt(raw, `coupon_refund_fee_${n}_${m}`, api) };
      const type = raw[`coupon_type_${n}_${m}`];
      if (type) coupon.coupon_type = type;
      item.coupons.push(coupon);
    }
    return item;
  });
  for (const k of Object.keys(raw)) {
    const m = INDEXED_RE.exec(k);
    if (m && m[1] !== 'coupon_refund_id' && m[1] !== 'coupon_refund_fee' && m[1] !== 'coupon_type' && m[3] === undefined && !indexes.includes(Number(m[2]))) {
      throw badResponse(api, `${k} belongs to no listed refund`, k);
    }
  }
  if (!raw.out_trade_no || !raw.transaction_id) throw badResponse(api, 'answer without out_trade_no or transaction_id');
  const result: Omit<RefundQueryResult, 'raw'> = {
    out_trade_no: raw.out_trade_no,
    transaction_id: raw.transaction_id,
    total_fee: answerRequiredInt(raw, 'total_fee', api),
    cash_fee: answerRequiredInt(raw, 'cash_fee', api),
    refund_count: count,
    refunds,
  };
  const settlementTotal = answerInt(raw, 'settlement_total_fee', api);
  if (settlementTotal !== undefined) result.settlement_total_fee = settlementTotal;
  const total = answerInt(raw, 'total_refund_count', api);
  if (total !== undefined) result.total_refund_count = total;
  if (raw.fee_type) result.fee_type = raw.fee_type;
  return result;
}

/**
 * Queries a trade's refunds (or one refund). REFUNDNOTEXIST (no such refund, or an unpaid trade)
 * is a final WxPayError; SYSTEMERROR is retried like every transient failure.
 */
export async function refundQuery(transport: Transport, req: RefundQueryRequest, o: { appid?: string } = {}): Promise<RefundQueryResult> {
  const fields = validateRefundQuery(req);
  const raw = await transport.call(REFUND_QUERY_API, fields, o.appid ? { appid: o.appid } : {});
  const parsed = parseRefundQuery(raw);
  const api = REFUND_QUERY_API.name;
  if (fields.out_trade_no !== undefined && parsed.out_trade_no !== fields.out_trade_no) throw badResponse(api, 'answer is for another out_trade_no');
  if (fields.transaction_id !== undefined && parsed.transaction_id !== fields.transaction_id) throw badResponse(api, 'answer is for another transaction_id');
  if (fields.out_refund_no !== undefined && !parsed.refunds.some((r) => r.out_refund_no === fields.out_refund_no)) throw badResponse(api, 'answer lacks the refund asked for');
  if (fields.refund_id !== undefined && !parsed.refunds.some((r) => r.refund_id === fields.refund_id)) throw badResponse(api, 'answer lacks the refund asked for');
  return { ...parsed, raw };
}
