// POST /v3/refund/domestic/refunds (申请退款) and GET /v3/refund/domestic/refunds/{out_refund_no}
// (查询单笔退款) in v2's shapes. v3 queries one refund by out_refund_no only; v2's queries by trade
// (out_trade_no, transaction_id, refund_id) have no v3 equivalent and are refused.
import { WxPayError } from '../errors.js';
import type { RefundResult } from '../refund.js';
import { OUT_REFUND_NO_RE } from '../refund.js';
import { fromBeijingDateTime } from '../beijing-datetime.js';
import type { RefundQueryItem, RefundQueryRequest, RefundQueryResult, RefundStatus } from '../refund-query.js';
import type { V3Api, V3Transport } from './transport.js';
import { beijingDateTimeFromRfc3339, flatten, invalid } from './wire.js';

/** v3's refund status as v2's refund_status. */
export const REFUND_STATUS_V2: Readonly<Record<string, RefundStatus>> = Object.freeze({ SUCCESS: 'SUCCESS', CLOSED: 'REFUNDCLOSE', PROCESSING: 'PROCESSING', ABNORMAL: 'CHANGE' });

// v3's funds_account in v2's refund_account words where there is one.
const FUNDS_ACCOUNT_V2: Readonly<Record<string, string>> = { UNSETTLED: 'REFUND_SOURCE_UNSETTLED_FUNDS', AVAILABLE: 'REFUND_SOURCE_RECHARGE_FUNDS' };

interface V3Refund {
  refund_id?: unknown;
  out_refund_no?: unknown;
  transaction_id?: unknown;
  out_trade_no?: unknown;
  channel?: unknown;
  user_received_account?: unknown;
  success_time?: unknown;
  status?: unknown;
  funds_account?: unknown;
  amount?: Record<string, unknown>;
}

function bad(api: string, message: string, field?: string): WxPayError {
  return new WxPayError('BAD_RESPONSE', `${api}: ${message}`, { api, retriable: false, ...(field ? { field } : {}) });
}

function str(r: V3Refund, field: keyof V3Refund, api: string): string {
  const v = r[field];
  if (typeof v !== 'string' || v === '') throw bad(api, `${field} is missing`, field);
  return v;
}

function amount(r: V3Refund, field: string, api: string, required: boolean): number | undefined {
  const v = r.amount?.[field];
  if (v === undefined || v === null) {
    if (required) throw bad(api, `amount.${field} is missing`, `amount.${field}`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(api, `amount.${field} is not an amount in fen`, `amount.${field}`);
  return v;
}

function raw(r: V3Refund): Record<string, string> {
  const out = flatten(r);
  if (typeof r.amount?.refund === 'number') out.refund_fee = String(r.amount.refund);
  if (typeof r.amount?.total === 'number') out.total_fee = String(r.amount.total);
  if (typeof r.amount?.payer_total === 'number') out.cash_fee = String(r.amount.payer_total);
  if (typeof r.amount?.currency === 'string') out.fee_type = r.amount.currency;
  return out;
}

/** A refund answer as v2's RefundResult, checked against what was asked (`f`: validateRefund's fields). */
export function refundResultOf(ans: V3Refund | undefined, f: Record<string, string>): RefundResult {
  const api = 'refund';
  if (!ans || typeof ans !== 'object') throw bad(api, 'empty answer');
  const result: RefundResult = {
    refund_id: str(ans, 'refund_id', api),
    out_refund_no: str(ans, 'out_refund_no', api),
    out_trade_no: str(ans, 'out_trade_no', api),
    transaction_id: str(ans, 'transaction_id', api),
    refund_fee: amount(ans, 'refund', api, true) as number,
    total_fee: amount(ans, 'total', api, true) as number,
    cash_fee: amount(ans, 'payer_total', api, true) as number,
    raw: raw(ans),
  };
  if (result.out_refund_no !== f.out_refund_no) throw bad(api, 'answer is for another out_refund_no', 'out_refund_no');
  if (f.out_trade_no !== undefined && result.out_trade_no !== f.out_trade_no) throw bad(api, 'answer is for another out_trade_no', 'out_trade_no');
  if (f.transaction_id !== undefined && result.transaction_id !== f.transaction_id) throw bad(api, 'answer is for another transaction_id', 'transaction_id');
  if (String(result.refund_fee) !== f.refund_fee) throw bad(api, 'answer refunds another amount', 'amount.refund');
  for (const [v2, v3] of [
    ['settlement_refund_fee', 'settlement_refund'],
    ['settlement_total_fee', 'settlement_total'],
    ['cash_refund_fee', 'payer_refund'],
    ['coupon_refund_fee', 'discount_refund'],
  ] as const) {
    const n = amount(ans, v3, api, false);
    if (n !== undefined) result[v2] = n;
  }
  if (typeof ans.amount?.currency === 'string') result.fee_type = ans.amount.currency;
  return result;
}

export const REFUND_QUERY_API_V3 = (outRefundNo: string): V3Api => ({
  name: 'refundquery',
  method: 'GET',
  path: `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`,
  codes: { RESOURCE_NOT_EXISTS: 'REFUNDNOTEXIST' },
});

/** One refund by out_refund_no, as v2's RefundQueryResult with that one item. */
export async function refundQueryV3(t: V3Transport, req: RefundQueryRequest): Promise<RefundQueryResult> {
  const api = 'refundquery';
  if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object', api);
  const r = req as Record<string, unknown>;
  for (const k of ['refund_id', 'transaction_id', 'out_trade_no', 'offset']) {
    if (r[k] !== undefined) throw invalid(k, 'API v3 queries a refund by out_refund_no only (GET /v3/refund/domestic/refunds/{out_refund_no})', api);
  }
  if (typeof r.out_refund_no !== 'string' || !OUT_REFUND_NO_RE.test(r.out_refund_no)) throw invalid('out_refund_no', 'must be 1-64 characters of [0-9A-Za-z_-|*@]', api);
  const ans = await t.request<V3Refund>(REFUND_QUERY_API_V3(r.out_refund_no), {});
  if (!ans || typeof ans !== 'object') throw bad(api, 'empty answer');
  const outRefundNo = str(ans, 'out_refund_no', api);
  if (outRefundNo !== r.out_refund_no) throw bad(api, 'answer lacks the refund asked for', 'out_refund_no');
  const status = typeof ans.status === 'string' && Object.hasOwn(REFUND_STATUS_V2, ans.status) ? REFUND_STATUS_V2[ans.status] : undefined;
  if (!status) throw bad(api, 'status is not a refund status', 'status');
  const item: RefundQueryItem = {
    out_refund_no: outRefundNo,
    refund_id: str(ans, 'refund_id', api),
    refund_fee: amount(ans, 'refund', api, true) as number,
    refund_status: status,
    coupons: [],
  };
  const settlement = amount(ans, 'settlement_refund', api, false);
  if (settlement !== undefined) item.settlement_refund_fee = settlement;
  const discount = amount(ans, 'discount_refund', api, false);
  if (discount !== undefined) item.coupon_refund_fee = discount;
  if (typeof ans.channel === 'string') item.refund_channel = ans.channel;
  if (typeof ans.funds_account === 'string') item.refund_account = FUNDS_ACCOUNT_V2[ans.funds_account] ?? ans.funds_account;
  if (typeof ans.user_received_account === 'string' && ans.user_received_account) item.refund_recv_accout = ans.user_received_account;
  if (ans.success_time !== undefined && ans.success_time !== null && ans.success_time !== '') {
    try {
      item.refund_success_time = beijingDateTimeFromRfc3339(String(ans.success_time));
      item.succeededAt = fromBeijingDateTime(item.refund_success_time);
    } catch {
      throw bad(api, 'success_time is not RFC 3339', 'success_time');
    }
  }
  if (status === 'SUCCESS' && !item.succeededAt) throw bad(api, 'a successful refund without success_time', 'success_time');
  const result: RefundQueryResult = {
    out_trade_no: str(ans, 'out_trade_no', api),
    transaction_id: str(ans, 'transaction_id', api),
    total_fee: amount(ans, 'total', api, true) as number,
    cash_fee: amount(ans, 'payer_total', api, true) as number,
    refund_count: 1,
    refunds: [item],
    raw: raw(ans),
  };
  const settlementTotal = amount(ans, 'settlement_total', api, false);
  if (settlementTotal !== undefined) result.settlement_total_fee = settlementTotal;
  if (typeof ans.amount?.currency === 'string') result.fee_type = ans.amount.currency;
  return result;
}
