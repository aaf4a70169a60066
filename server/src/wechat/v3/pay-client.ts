// The v2 PayClient interface over WeChat Pay API v3, so that orders, refunds and reconciliation do
// not change with the API version: v2-shaped requests are mapped to v3's JSON once here (yuan stay
// fen, Beijing times become RFC 3339 and back), and v3's answers to the v2 result shapes.
// Request fields v3 cannot carry are refused rather than dropped, except time_start and product_id,
// which change nothing WeChat does with the trade.
import { WxPayError } from '../errors.js';
import { checkOutTradeNo, TRADE_STATES, validateUnifiedOrder, type OrderQueryResult, type PayClient, type TradeState, type TradeType, type UnifiedOrderResult } from '../pay-client.js';
import { validateRefund, type RefundResult } from '../refund.js';
import { createWechatpayVerifier, CERTIFICATES_API, type WechatpayVerifier } from './certificates.js';
import { downloadBillV3 } from './download-bill.js';
import { refundQueryV3, refundResultOf } from './refund.js';
import { createV3Transport, type V3Transport, type V3TransportOptions } from './transport.js';
import { beijingCompactFromRfc3339, flatten, invalid, rfc3339FromBeijingCompact } from './wire.js';

/** The transport's options (signing key, base URL, timeouts, retries) and what the verifier needs. */
export interface PayClientV3Options extends Omit<V3TransportOptions, 'verifier'> {
  appid: string;
  /** 32 bytes: decrypts platform certificates (and, elsewhere, notifications) */
  apiV3Key: string;
  /** WeChat Pay public key mode: its id (PUB_KEY_ID_…) and PEM */
  publicKey?: { id: string; pem: string };
  /** platform certificate mode: download and rotate them from /v3/certificates */
  platformCertificates?: boolean;
}

export type PayClientV3 = PayClient & { readonly v3: V3Transport; readonly verifier: WechatpayVerifier };

const PAY_PATHS: Partial<Record<TradeType, string>> = { JSAPI: '/v3/pay/transactions/jsapi', APP: '/v3/pay/transactions/app', NATIVE: '/v3/pay/transactions/native' };

interface V3Transaction {
  appid?: string;
  mchid?: string;
  out_trade_no?: string;
  transaction_id?: string;
  trade_type?: string;
  trade_state?: string;
  trade_state_desc?: string;
  bank_type?: string;
  attach?: string;
  success_time?: string;
  payer?: { openid?: string };
  amount?: { total?: number; payer_total?: number; currency?: string; payer_currency?: string };
}

function bad(api: string, message: string, field?: string): WxPayError {
  return new WxPayError('BAD_RESPONSE', `${api}: ${message}`, { api, retriable: false, ...(field ? { field } : {}) });
}

function fen(v: unknown, api: string, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(api, `${field} is not an amount in fen`, field);
  return v;
}

/** unifiedorder's v2 request as the v3 prepay body; throws INVALID_ARGUMENT for what v3 cannot carry. */
export function unifiedOrderBody(req: Parameters<PayClient['unifiedOrder']>[0], appid: string, mchid: string, now: Date = new Date()): { path: string; body: Record<string, unknown> } {
  const f = validateUnifiedOrder(req, now);
  const path = PAY_PATHS[f.trade_type as TradeType];
  if (!path) throw invalid('trade_type', `${f.trade_type} is not built on API v3`, 'unifiedorder');
  for (const field of ['detail', 'scene_info', 'limit_pay'] as const) {
    if (f[field] !== undefined) throw invalid(field, 'has no API v3 equivalent here; refusing rather than dropping it', 'unifiedorder');
  }
  if (f.fee_type !== undefined && f.fee_type !== 'CNY') throw invalid('fee_type', 'must be CNY', 'unifiedorder');
  // v3's own limits where they are tighter than v2's: description string[1,127], out_trade_no string[6,32].
  if (Buffer.byteLength(f.body!, 'utf8') > 127) throw invalid('body', 'must be at most 127 bytes under API v3', 'unifiedorder');
  if (f.out_trade_no!.length < 6) throw invalid('out_trade_no', 'must be at least 6 characters under API v3', 'unifiedorder');
  const body: Record<string, unknown> = {
    appid,
    mchid,
    description: f.body,
    out_trade_no: f.out_trade_no,
    ...(f.time_expire ? { time_expire: rfc3339FromBeijingCompact(f.time_expire) } : {}),
    ...(f.attach ? { attach: f.attach } : {}),
    notify_url: f.notify_url,
    ...(f.goods_tag ? { goods_tag: f.goods_tag } : {}),
    ...(f.receipt === 'Y' ? { support_fapiao: true } : {}),
    ...(f.profit_sharing ? { settle_info: { profit_sharing: f.profit_sharing === 'Y' } } : {}),
    amount: { total: Number(f.total_fee), currency: 'CNY' },
    scene_info: { payer_client_ip: f.spbill_create_ip, ...(f.device_info ? { device_id: f.device_info } : {}) },
  };
  if (f.trade_type === 'JSAPI') body.payer = { openid: f.openid };
  return { path, body };
}

/** A v3 transaction (query answer or paid notification resource) with v2's names added to its flattened fields. */
export function transactionRaw(tx: V3Transaction): Record<string, string> {
  const raw = flatten(tx);
  if (tx.amount?.total !== undefined) raw.total_fee = String(tx.amount.total);
  if (tx.amount?.payer_total !== undefined) raw.cash_fee = String(tx.amount.payer_total);
  if (tx.amount?.currency) raw.fee_type = tx.amount.currency;
  if (tx.payer?.openid) raw.openid = tx.payer.openid;
  if (tx.mchid) raw.mch_id = tx.mchid;
  return raw;
}

export function createPayClientV3(opts: PayClientV3Options): PayClientV3 {
  const { appid, apiV3Key, publicKey, platformCertificates, ...transportOptions } = opts;
  if (typeof appid !== 'string' || appid === '') throw new TypeError('createPayClientV3: appid is required');
  const now = opts.now ?? (() => new Date());
  // The verifier downloads platform certificates through the transport, which verifies with it: the
  // transport is made next, before any download can happen.
  let transport: V3Transport | undefined;
  const verifier = createWechatpayVerifier({
    apiV3Key,
    now,
    ...(publicKey ? { publicKey } : {}),
    ...(platformCertificates ? { platformCertificates: { fetch: () => (transport as V3Transport).raw(CERTIFICATES_API) } } : {}),
  });
  const t = createV3Transport({ ...transportOptions, verifier, now });
  transport = t;
  const mchid = opts.mchId;

  return {
    v3: t,
    verifier,

    async unifiedOrder(req, o = {}) {
      const callAppid = o.appid ?? appid;
      const { path, body } = unifiedOrderBody(req, callAppid, mchid, now());
      const ans = await t.request<{ prepay_id?: unknown; code_url?: unknown }>({ name: 'unifiedorder', method: 'POST', path }, { body });
      const raw = flatten(ans ?? {});
      if (req.trade_type === 'NATIVE') {
        if (typeof ans?.code_url !== 'string' || ans.code_url === '') throw bad('unifiedorder', 'no code_url', 'code_url');
        return { prepay_id: '', trade_type: 'NATIVE', code_url: ans.code_url, raw };
      }
      if (typeof ans?.prepay_id !== 'string' || ans.prepay_id === '') throw bad('unifiedorder', 'no prepay_id', 'prepay_id');
      const result: UnifiedOrderResult = { prepay_id: ans.prepay_id, trade_type: req.trade_type, raw };
      return result;
    },

    async orderQuery(req, o = {}) {
      const api = 'orderquery';
      if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object', api);
      const r = req as Record<string, unknown>;
      const hasOut = r.out_trade_no !== undefined;
      if (hasOut === (r.transaction_id !== undefined)) throw invalid('out_trade_no', 'give exactly one of out_trade_no or transaction_id', api);
      let path: string;
      if (hasOut) path = `/v3/pay/transactions/out-trade-no/${encodeURIComponent(checkOutTradeNo(r.out_trade_no, api))}`;
      else {
        if (typeof r.transaction_id !== 'string' || !/^[0-9A-Za-z]{1,32}$/.test(r.transaction_id)) throw invalid('transaction_id', 'must be 1-32 alphanumeric characters', api);
        path = `/v3/pay/transactions/id/${r.transaction_id}`;
      }
      const tx = await t.request<V3Transaction>({ name: api, method: 'GET', path }, { query: { mchid } });
      if (!tx || typeof tx !== 'object') throw bad(api, 'empty answer');
      const callAppid = o.appid ?? appid;
      if (tx.mchid !== mchid || (tx.appid !== undefined && tx.appid !== callAppid)) throw bad(api, 'answer is for another merchant');
      if (typeof tx.trade_state !== 'string' || !(TRADE_STATES as readonly string[]).includes(tx.trade_state)) throw bad(api, 'unknown trade_state', 'trade_state');
      if (typeof tx.out_trade_no !== 'string' || (hasOut && tx.out_trade_no !== r.out_trade_no)) throw bad(api, 'answer is for another out_trade_no', 'out_trade_no');
      if (!hasOut && tx.transaction_id !== r.transaction_id) throw bad(api, 'answer is for another transaction_id', 'transaction_id');
      const result: OrderQueryResult = { trade_state: tx.trade_state as TradeState, out_trade_no: tx.out_trade_no, raw: transactionRaw(tx) };
      const total = fen(tx.amount?.total, api, 'amount.total');
      const cash = fen(tx.amount?.payer_total, api, 'amount.payer_total');
      if (total !== undefined) result.total_fee = total;
      if (cash !== undefined) result.cash_fee = cash;
      if (tx.transaction_id) result.transaction_id = tx.transaction_id;
      if (tx.success_time) {
        try {
          result.time_end = beijingCompactFromRfc3339(tx.success_time);
        } catch {
          throw bad(api, 'success_time is not RFC 3339', 'success_time');
        }
        result.raw.time_end = result.time_end;
      }
      if (tx.payer?.openid) result.openid = tx.payer.openid;
      if (tx.trade_type) result.trade_type = tx.trade_type;
      if (tx.bank_type) result.bank_type = tx.bank_type;
      if (tx.trade_state_desc) result.trade_state_desc = tx.trade_state_desc;
      if (tx.trade_state === 'SUCCESS' && (result.total_fee === undefined || !result.transaction_id || !result.time_end)) {
        throw bad(api, 'paid answer without amount, transaction_id or success_time');
      }
      return result;
    },

    async closeOrder(req) {
      const api = 'closeorder';
      if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object', api);
      const out = checkOutTradeNo(req.out_trade_no, api);
      await t.request({ name: api, method: 'POST', path: `/v3/pay/transactions/out-trade-no/${encodeURIComponent(out)}/close` }, { body: { mchid } });
      return { raw: {} };
    },

    async refund(req): Promise<RefundResult> {
      const f = validateRefund(req);
      const body: Record<string, unknown> = {
        ...(f.transaction_id ? { transaction_id: f.transaction_id } : { out_trade_no: f.out_trade_no }),
        out_refund_no: f.out_refund_no,
        ...(f.refund_desc ? { reason: f.refund_desc } : {}),
        ...(f.notify_url ? { notify_url: f.notify_url } : {}),
        // v2's 可用余额退款 is v3's AVAILABLE; the unsettled funds are v3's default.
        ...(f.refund_account === 'REFUND_SOURCE_RECHARGE_FUNDS' ? { funds_account: 'AVAILABLE' } : {}),
        amount: { refund: Number(f.refund_fee), total: Number(f.total_fee), currency: 'CNY' },
      };
      const ans = await t.request<Record<string, unknown>>({ name: 'refund', method: 'POST', path: '/v3/refund/domestic/refunds' }, { body });
      return refundResultOf(ans, f);
    },

    refundQuery: (req) => refundQueryV3(t, req),
    downloadBill: (req) => downloadBillV3(t, req),
    close: () => t.close(),
  };
}
