import { isIP } from 'node:net';
import { downloadBill, type DownloadBillRequest, type DownloadBillResult } from './download-bill.js';
import { WxPayError } from './errors.js';
import { parseIntField, FieldError, OUT_TRADE_NO_RE } from './fields.js';
import type { FetchLike } from './http.js';
import { refundQuery, type RefundQueryRequest, type RefundQueryResult } from './refund-query.js';
import { refund, type RefundRequest, type RefundResult } from './refund.js';
import type { SignType } from './sign.js';
import { fromBeijingTime } from './time.js';
import { createTransport, type RetryInfo, type Transport } from './transport.js';

export type TradeType = 'JSAPI' | 'NATIVE' | 'APP' | 'MWEB';
export const TRADE_TYPES: readonly TradeType[] = Object.freeze(['JSAPI', 'NATIVE', 'APP', 'MWEB'] as const);

// orderquery's trade_state as WeChat documents it; ACCEPT (已接收，等待扣款) is a pending state.
export type TradeState = 'SUCCESS' | 'REFUND' | 'NOTPAY' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR' | 'ACCEPT';
export const TRADE_STATES: readonly TradeState[] = Object.freeze([
  'SUCCESS',
  'REFUND',
  'NOTPAY',
  'CLOSED',
  'REVOKED',
  'USERPAYING',
  'PAYERROR',
  'ACCEPT',
] as const);

/** unifiedorder request fields as WeChat spells them (appid, mch_id, nonce_str, sign_type, sign are added by the client). */
export interface UnifiedOrderRequest {
  body: string;
  out_trade_no: string;
  total_fee: number;
  spbill_create_ip: string;
  notify_url: string;
  trade_type: TradeType;
  openid?: string;
  product_id?: string;
  device_info?: string;
  detail?: string;
  attach?: string;
  fee_type?: string;
  time_start?: string;
  time_expire?: string;
  goods_tag?: string;
  limit_pay?: 'no_credit';
  receipt?: 'Y';
  profit_sharing?: 'Y' | 'N';
  scene_info?: string;
}

export interface UnifiedOrderResult {
  prepay_id: string;
  trade_type: TradeType;
  code_url?: string;
  mweb_url?: string;
  raw: Record<string, string>;
}

export type OrderQueryRequest = { out_trade_no: string } | { transaction_id: string };

export interface OrderQueryResult {
  trade_state: TradeState;
  out_trade_no: string;
  transaction_id?: string;
  total_fee?: number;
  cash_fee?: number;
  time_end?: string;
  openid?: string;
  trade_type?: string;
  bank_type?: string;
  trade_state_desc?: string;
  raw: Record<string, string>;
}

export interface CloseOrderResult {
  raw: Record<string, string>;
}

export type { RetryInfo } from './transport.js';

export interface PayClientOptions {
  appid: string;
  mchId: string;
  key: string;
  signType: SignType;
  /** e.g. https://api.mch.weixin.qq.com or the sandbox's root. */
  baseUrl: string;
  /** Per attempt, covering the whole response body. Default 10 s. */
  timeoutMs?: number;
  /** Extra attempts after the first for retriable failures. Default 2. */
  retries?: number;
  /** First backoff delay; doubled each retry with jitter. Default 500 ms. */
  retryDelayMs?: number;
  fetch?: FetchLike;
  onRetry?: (info: RetryInfo) => void;
  /** where /secapi/ paths (refund) go; default baseUrl. The sandbox serves them on its TLS listener. */
  secapiBaseUrl?: string;
  /** the merchant certificate for /secapi/ (loadMerchantCert's result); refund() fails NO_MERCHANT_CERT without */
  cert?: { cert: string; key: string };
  /** CA(s) to trust for https bases instead of the system roots (the sandbox's own CA) */
  ca?: string | string[];
}

/** Which of the merchant's apps a call is made under (default: the client's appid). */
export interface AppidOption {
  appid?: string;
}

export interface PayClient {
  unifiedOrder(req: UnifiedOrderRequest, opts?: AppidOption): Promise<UnifiedOrderResult>;
  orderQuery(req: OrderQueryRequest, opts?: AppidOption): Promise<OrderQueryResult>;
  closeOrder(req: { out_trade_no: string }, opts?: AppidOption): Promise<CloseOrderResult>;
  /** secapi/pay/refund over mutual TLS (refund.ts) */
  refund(req: RefundRequest, opts?: AppidOption): Promise<RefundResult>;
  /** pay/refundquery (refund-query.ts) */
  refundQuery(req: RefundQueryRequest, opts?: AppidOption): Promise<RefundQueryResult>;
  /** pay/downloadbill (download-bill.ts) */
  downloadBill(req: DownloadBillRequest): Promise<DownloadBillResult>;
  /** API v2: the transport under every call (for APIs without a method here); API v3's client has its own */
  readonly transport?: Transport;
  /** closes the TLS dispatchers' keep-alive connections */
  close(): Promise<void>;
}

function invalid(field: string, message: string): WxPayError {
  return new WxPayError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

// WeChat documents these limits as String(n); we count UTF-8 bytes, which is what its servers enforce.
const MAX_LEN: Partial<Record<keyof UnifiedOrderRequest, number>> = {
  body: 128,
  detail: 6000,
  attach: 127,
  device_info: 32,
  fee_type: 16,
  spbill_create_ip: 64,
  goods_tag: 32,
  notify_url: 256,
  product_id: 32,
  openid: 128,
  scene_info: 256,
};

const CONTROL_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

function checkString(req: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = req[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  if (CONTROL_RE.test(v)) throw invalid(field, 'contains control characters');
  const max = MAX_LEN[field as keyof UnifiedOrderRequest];
  if (max !== undefined && byteLength(v) > max) throw invalid(field, `must be at most ${max} bytes`);
  return v;
}

/** out_trade_no as WeChat takes it (both API versions); `api` names the call in the error. */
export function checkOutTradeNo(v: unknown, api?: string): string {
  if (typeof v !== 'string' || !OUT_TRADE_NO_RE.test(v)) {
    throw new WxPayError('INVALID_ARGUMENT', 'out_trade_no: must be 1-32 characters of [0-9A-Za-z_-|*@]', { field: 'out_trade_no', ...(api ? { api, retriable: false } : {}) });
  }
  return v;
}

function checkTime(field: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  try {
    return fromBeijingTime(v);
  } catch {
    throw invalid(field, 'must be yyyyMMddHHmmss (Beijing time)');
  }
}

/** Field rules of unifiedorder, checked before anything is sent. Exported for the sandbox and tests. */
export function validateUnifiedOrder(req: UnifiedOrderRequest, now: Date = new Date()): Record<string, string> {
  if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object');
  const r = req as unknown as Record<string, unknown>;
  for (const name of Object.keys(r)) {
    if (!(name in MAX_LEN) && !['out_trade_no', 'total_fee', 'trade_type', 'time_start', 'time_expire', 'limit_pay', 'receipt', 'profit_sharing'].includes(name)) {
      throw invalid(name, 'is not a unifiedorder field');
    }
  }
  const out: Record<string, string> = {};
  for (const field of Object.keys(MAX_LEN)) {
    const required = field === 'body' || field === 'spbill_create_ip' || field === 'notify_url';
    const v = checkString(r, field, required);
    if (v !== undefined) out[field] = v;
  }
  out.out_trade_no = checkOutTradeNo(r.out_trade_no);

  if (typeof r.total_fee !== 'number' || !Number.isSafeInteger(r.total_fee) || r.total_fee <= 0) {
    throw invalid('total_fee', 'must be a positive integer number of fen');
  }
  out.total_fee = String(r.total_fee);

  if (typeof r.trade_type !== 'string' || !(TRADE_TYPES as readonly string[]).includes(r.trade_type)) {
    throw invalid('trade_type', `must be one of ${TRADE_TYPES.join(', ')}`);
  }
  out.trade_type = r.trade_type;
  if (r.trade_type === 'JSAPI' && out.openid === undefined) throw invalid('openid', 'is required for JSAPI');
  if (r.trade_type === 'NATIVE' && out.product_id === undefined) throw invalid('product_id', 'is required for NATIVE');

  if (isIP(out.spbill_create_ip as string) === 0) throw invalid('spbill_create_ip', 'must be an IPv4 or IPv6 address');

  let url: URL;
  try {
    url = new URL(out.notify_url as string);
  } catch {
    throw invalid('notify_url', 'must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('notify_url', 'must be http(s)');
  if ((out.notify_url as string).includes('?') || (out.notify_url as string).includes('#')) {
    throw invalid('notify_url', 'must not carry a query string or fragment');
  }
  if (out.fee_type !== undefined && !/^[A-Z]{3}$/.test(out.fee_type)) throw invalid('fee_type', 'must be a currency code such as CNY');

  for (const [field, allowed] of [
    ['limit_pay', ['no_credit']],
    ['receipt', ['Y']],
    ['profit_sharing', ['Y', 'N']],
  ] as const) {
    const v = r[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalid(field, `must be ${allowed.join(' or ')}`);
    out[field] = v;
  }

  const start = checkTime('time_start', r.time_start === undefined ? undefined : String(r.time_start));
  const expire = checkTime('time_expire', r.time_expire === undefined ? undefined : String(r.time_expire));
  if (start) out.time_start = r.time_start as string;
  if (expire) {
    out.time_expire = r.time_expire as string;
    if (expire.getTime() <= now.getTime()) throw invalid('time_expire', 'is in the past');
    if (start && expire.getTime() <= start.getTime()) throw invalid('time_expire', 'must be after time_start');
  }
  return out;
}

function validateQuery(req: OrderQueryRequest): Record<string, string> {
  if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object');
  const r = req as Record<string, unknown>;
  const hasOut = r.out_trade_no !== undefined;
  const hasTx = r.transaction_id !== undefined;
  if (hasOut === hasTx) throw invalid('out_trade_no', 'give exactly one of out_trade_no or transaction_id');
  if (hasOut) return { out_trade_no: checkOutTradeNo(r.out_trade_no) };
  if (typeof r.transaction_id !== 'string' || !/^[0-9A-Za-z]{1,32}$/.test(r.transaction_id)) {
    throw invalid('transaction_id', 'must be 1-32 alphanumeric characters');
  }
  return { transaction_id: r.transaction_id };
}

export function createPayClient(opts: PayClientOptions): PayClient {
  const transport = createTransport(opts);
  const call = (api: string, fields: Record<string, string>, o: AppidOption = {}) =>
    transport.call({ name: api, path: `/pay/${api}` }, fields, o.appid ? { appid: o.appid } : {});

  function intField(raw: Record<string, string>, field: string, api: string): number | undefined {
    if (raw[field] === undefined || raw[field] === '') return undefined;
    try {
      return parseIntField(raw[field], field);
    } catch (err) {
      throw new WxPayError('BAD_RESPONSE', `${api}: ${field} is not an integer`, {
        api,
        field,
        cause: err instanceof FieldError ? err : undefined,
      });
    }
  }

  return {
    async unifiedOrder(req, o) {
      const fields = validateUnifiedOrder(req);
      const raw = await call('unifiedorder', fields, o);
      if (!raw.prepay_id) throw new WxPayError('BAD_RESPONSE', 'unifiedorder: no prepay_id', { api: 'unifiedorder' });
      const tradeType = (raw.trade_type || req.trade_type) as TradeType;
      const result: UnifiedOrderResult = { prepay_id: raw.prepay_id, trade_type: tradeType, raw };
      if (raw.code_url) result.code_url = raw.code_url;
      if (raw.mweb_url) result.mweb_url = raw.mweb_url;
      return result;
    },

    async orderQuery(req, o) {
      const fields = validateQuery(req);
      const raw = await call('orderquery', fields, o);
      const state = raw.trade_state;
      if (!state || !(TRADE_STATES as readonly string[]).includes(state)) {
        throw new WxPayError('BAD_RESPONSE', 'orderquery: unknown trade_state', { api: 'orderquery' });
      }
      if (!raw.out_trade_no || (fields.out_trade_no !== undefined && raw.out_trade_no !== fields.out_trade_no)) {
        throw new WxPayError('BAD_RESPONSE', 'orderquery: answer is for another out_trade_no', { api: 'orderquery' });
      }
      if (fields.transaction_id !== undefined && raw.transaction_id !== fields.transaction_id) {
        throw new WxPayError('BAD_RESPONSE', 'orderquery: answer is for another transaction_id', { api: 'orderquery' });
      }
      const result: OrderQueryResult = { trade_state: state as TradeState, out_trade_no: raw.out_trade_no, raw };
      const totalFee = intField(raw, 'total_fee', 'orderquery');
      const cashFee = intField(raw, 'cash_fee', 'orderquery');
      if (totalFee !== undefined) result.total_fee = totalFee;
      if (cashFee !== undefined) result.cash_fee = cashFee;
      for (const f of ['transaction_id', 'time_end', 'openid', 'trade_type', 'bank_type', 'trade_state_desc'] as const) {
        if (raw[f]) result[f] = raw[f];
      }
      if (state === 'SUCCESS' && (result.total_fee === undefined || !result.transaction_id)) {
        throw new WxPayError('BAD_RESPONSE', 'orderquery: paid answer without total_fee or transaction_id', { api: 'orderquery' });
      }
      return result;
    },

    async closeOrder(req, o) {
      if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object');
      const raw = await call('closeorder', { out_trade_no: checkOutTradeNo(req.out_trade_no) }, o);
      return { raw };
    },

    refund: (req, o) => refund(transport, req, o),
    refundQuery: (req, o) => refundQuery(transport, req, o),
    downloadBill: (req) => downloadBill(transport, req),
    transport,
    close: () => transport.close(),
  };
}
