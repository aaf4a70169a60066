import { isIP } from 'node:net';
import { WxPayError } from './errors.js';
import { parseIntField, FieldError, OUT_TRADE_NO_RE } from './fields.js';
import { HttpError, request, sleep, type FetchLike } from './http.js';
import { nonceStr } from './nonce.js';
import { isSignType, sign, verifySign, type SignType } from './sign.js';
import { fromBeijingTime } from './time.js';
import { parseXml, toXml, XmlError } from './xml.js';

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

export interface RetryInfo {
  api: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  delayMs: number;
  error: WxPayError;
}

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
}

export interface PayClient {
  unifiedOrder(req: UnifiedOrderRequest): Promise<UnifiedOrderResult>;
  orderQuery(req: OrderQueryRequest): Promise<OrderQueryResult>;
  closeOrder(req: { out_trade_no: string }): Promise<CloseOrderResult>;
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

function checkOutTradeNo(v: unknown): string {
  if (typeof v !== 'string' || !OUT_TRADE_NO_RE.test(v)) {
    throw invalid('out_trade_no', 'must be 1-32 characters of [0-9A-Za-z_-|*@]');
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

function backoff(base: number, attempt: number): number {
  const exp = base * 2 ** (attempt - 1);
  // Full jitter on the upper half keeps retries of many instances apart.
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

export function createPayClient(opts: PayClientOptions): PayClient {
  for (const [name, v] of [
    ['appid', opts.appid],
    ['mchId', opts.mchId],
    ['key', opts.key],
    ['baseUrl', opts.baseUrl],
  ] as const) {
    if (typeof v !== 'string' || v === '') throw new TypeError(`createPayClient: ${name} is required`);
  }
  if (!isSignType(opts.signType)) throw new TypeError('createPayClient: signType must be MD5 or HMAC-SHA256');
  const base = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 2;
  const retryDelayMs = opts.retryDelayMs ?? 500;
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const { appid, mchId, key, signType } = opts;

  async function attempt(api: string, payload: string): Promise<Record<string, string>> {
    let res;
    try {
      res = await request(
        fetchImpl,
        `${base}/pay/${api}`,
        { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: payload },
        timeoutMs,
      );
    } catch (err) {
      if (err instanceof HttpError && err.failure.kind === 'timeout') {
        throw new WxPayError('TIMEOUT', `${api}: no answer within ${timeoutMs} ms`, { api });
      }
      throw new WxPayError('NETWORK', `${api}: network error`, { api, cause: err });
    }
    if (res.status >= 500) {
      throw new WxPayError('NETWORK', `${api}: HTTP ${res.status}`, { api, status: res.status, retriable: true });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new WxPayError('BAD_RESPONSE', `${api}: HTTP ${res.status}`, { api, status: res.status });
    }
    let fields: Record<string, string>;
    try {
      fields = parseXml(res.body);
    } catch (err) {
      const detail = err instanceof XmlError ? err.code : 'unparseable';
      throw new WxPayError('BAD_RESPONSE', `${api}: response is not WeChat XML (${detail})`, { api, cause: err });
    }
    if (fields.return_code !== 'SUCCESS') {
      if (fields.return_code !== 'FAIL') throw new WxPayError('BAD_RESPONSE', `${api}: response without return_code`, { api });
      throw new WxPayError('RETURN_FAIL', `${api}: return_code FAIL${fields.return_msg ? `: ${fields.return_msg}` : ''}`, {
        api,
        wechatMessage: fields.return_msg,
      });
    }
    if (!verifySign(fields, key, signType)) {
      throw new WxPayError('BAD_RESPONSE_SIGN', `${api}: response signature does not verify`, { api });
    }
    if ((fields.appid !== undefined && fields.appid !== appid) || (fields.mch_id !== undefined && fields.mch_id !== mchId)) {
      throw new WxPayError('BAD_RESPONSE', `${api}: response is for another merchant`, { api });
    }
    if (fields.result_code !== 'SUCCESS') {
      if (fields.result_code !== 'FAIL') throw new WxPayError('BAD_RESPONSE', `${api}: response without result_code`, { api });
      const code = fields.err_code || 'SYSTEMERROR';
      throw new WxPayError(code, `${api}: ${code}${fields.err_code_des ? `: ${fields.err_code_des}` : ''}`, {
        api,
        wechatMessage: fields.err_code_des,
      });
    }
    return fields;
  }

  async function call(api: string, fields: Record<string, string>): Promise<Record<string, string>> {
    const params: Record<string, string> = {
      ...fields,
      appid,
      mch_id: mchId,
      nonce_str: nonceStr(),
      sign_type: signType,
    };
    params.sign = sign(params, key, signType);
    // Built once: every retry sends byte-for-byte the same request.
    const payload = toXml(params);
    for (let n = 1; ; n++) {
      try {
        return await attempt(api, payload);
      } catch (err) {
        if (!(err instanceof WxPayError) || !err.retriable || n > retries) throw err;
        const delayMs = backoff(retryDelayMs, n);
        opts.onRetry?.({ api, attempt: n, delayMs, error: err });
        await sleep(delayMs);
      }
    }
  }

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
    async unifiedOrder(req) {
      const fields = validateUnifiedOrder(req);
      const raw = await call('unifiedorder', fields);
      if (!raw.prepay_id) throw new WxPayError('BAD_RESPONSE', 'unifiedorder: no prepay_id', { api: 'unifiedorder' });
      const tradeType = (raw.trade_type || req.trade_type) as TradeType;
      const result: UnifiedOrderResult = { prepay_id: raw.prepay_id, trade_type: tradeType, raw };
      if (raw.code_url) result.code_url = raw.code_url;
      if (raw.mweb_url) result.mweb_url = raw.mweb_url;
      return result;
    },

    async orderQuery(req) {
      const fields = validateQuery(req);
      const raw = await call('orderquery', fields);
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

    async closeOrder(req) {
      if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object');
      const raw = await call('closeorder', { out_trade_no: checkOutTradeNo(req.out_trade_no) });
      return { raw };
    },
  };
}
