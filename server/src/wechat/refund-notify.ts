// Refund notifications (退款结果通知). Unlike payment notifications they carry no sign: the outer <xml>
// holds return_code, appid, mch_id, nonce_str and req_info, which is base64 of AES-256-ECB (PKCS#7) of
// a <root> document with the refund's fields, keyed with the lower-case hex MD5 of the API key (the 32
// ASCII characters are the 32 key bytes). Decrypting req_info is the authentication; after it every
// field is checked like a signed notify's. Reply with notifyReply(true) only once the result is stored.
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { fromBeijingDateTime } from './beijing-datetime.js';
import { WxNotifyError } from './errors.js';
import { FieldError, OUT_TRADE_NO_RE, parseIntField } from './fields.js';
import { OUT_REFUND_NO_RE } from './refund.js';
import { parseXml, toXml, XmlError } from './xml.js';

/** The refund states a notification reports (PROCESSING is never notified). */
export type RefundNotifyStatus = 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE';

export interface RefundNotifyMerchant {
  /** the appid(s) refunds may come for (one merchant, several apps) */
  appid: string | readonly string[];
  mchId: string;
  /** the API v2 key; never logged */
  key: string;
}

export interface RefundNotification {
  appid: string;
  mch_id: string;
  out_refund_no: string;
  refund_id: string;
  out_trade_no: string;
  transaction_id: string;
  total_fee: number;
  refund_fee: number;
  settlement_refund_fee: number;
  settlement_total_fee?: number;
  refund_status: RefundNotifyStatus;
  /** yyyy-MM-dd HH:mm:ss, Beijing time, as sent (SUCCESS) */
  success_time?: string;
  succeededAt?: Date;
  /** WeChat's spelling: where the money went, e.g. 支付用户的零钱 */
  refund_recv_accout?: string;
  refund_account?: string;
  /** API or VENDOR_PLATFORM (refunded from the merchant platform) */
  refund_request_source?: string;
  /** the outer fields (req_info still encrypted) */
  raw: Record<string, string>;
  /** the decrypted <root> fields */
  info: Record<string, string>;
}

/** AES-256 key of req_info: the 32 ASCII characters of md5(apiKey) in lower-case hex. */
export function reqInfoKey(apiKey: string): Buffer {
  if (typeof apiKey !== 'string' || apiKey === '') throw new TypeError('reqInfoKey: empty key');
  return Buffer.from(createHash('md5').update(apiKey, 'utf8').digest('hex').toLowerCase(), 'ascii');
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decrypts a req_info to its <root> XML text; throws WxNotifyError BAD_REQ_INFO when it does not. */
export function decryptRefundReqInfo(reqInfo: string, apiKey: string): string {
  const compact = typeof reqInfo === 'string' ? reqInfo.replace(/[\r\n]/g, '') : '';
  if (compact === '' || !BASE64_RE.test(compact)) throw new WxNotifyError('BAD_REQ_INFO', 'refund notify: req_info is not base64', { field: 'req_info' });
  const data = Buffer.from(compact, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new WxNotifyError('BAD_REQ_INFO', 'refund notify: req_info is not whole AES blocks', { field: 'req_info' });
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-ecb', reqInfoKey(apiKey), null);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch (err) {
    // A wrong key shows as bad padding: not ours, or tampered with.
    throw new WxNotifyError('BAD_REQ_INFO', 'refund notify: req_info does not decrypt with our key', { field: 'req_info', cause: err });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch (err) {
    throw new WxNotifyError('BAD_REQ_INFO', 'refund notify: req_info does not decrypt to UTF-8', { field: 'req_info', cause: err });
  }
}

/** The req_info WeChat would send for these <root> fields (or this XML text), for the sandbox and tests. */
export function encryptRefundReqInfo(info: Record<string, string | number | undefined> | string, apiKey: string): string {
  const xml = typeof info === 'string' ? info : toXml(info, 'root');
  const cipher = createCipheriv('aes-256-ecb', reqInfoKey(apiKey), null);
  return Buffer.concat([cipher.update(xml, 'utf8'), cipher.final()]).toString('base64');
}

function required(info: Record<string, string>, field: string): string {
  const v = info[field];
  if (v === undefined || v === '') throw new WxNotifyError('MISSING_FIELD', `refund notify: ${field} is missing`, { field });
  return v;
}

function integer(info: Record<string, string>, field: string, min: number): number {
  let n: number;
  try {
    n = parseIntField(info[field], field);
  } catch (err) {
    const code = err instanceof FieldError ? err.code : 'BAD_FIELD';
    throw new WxNotifyError(code, `refund notify: ${field} is not an integer`, { field, cause: err });
  }
  if (n < min) throw new WxNotifyError('BAD_FIELD', `refund notify: ${field} is below ${min}`, { field });
  return n;
}

const STATUSES: readonly string[] = ['SUCCESS', 'CHANGE', 'REFUNDCLOSE'];

/**
 * Parses, decrypts and checks a refund notification. Nothing in it may be acted on unless this
 * returns: appid and mch_id are ours, req_info decrypted with our key into a well-formed <root>, and
 * the amounts are strict integers (refund_fee at most total_fee).
 */
export function verifyRefundNotify(body: string | Buffer, merchant: RefundNotifyMerchant, opts: { maxBytes?: number } = {}): RefundNotification {
  let raw: Record<string, string>;
  try {
    raw = parseXml(body, opts.maxBytes === undefined ? undefined : { maxBytes: opts.maxBytes });
  } catch (err) {
    if (err instanceof XmlError) throw new WxNotifyError(err.code, `refund notify: ${err.message}`, { cause: err });
    throw err;
  }
  if (raw.return_code !== 'SUCCESS') throw new WxNotifyError('RETURN_FAIL', 'refund notify: return_code is not SUCCESS');
  const appids = typeof merchant.appid === 'string' ? [merchant.appid] : merchant.appid;
  if (raw.appid === undefined || !appids.includes(raw.appid)) throw new WxNotifyError('APPID_MISMATCH', 'refund notify: appid is not ours', { field: 'appid' });
  if (raw.mch_id !== merchant.mchId) throw new WxNotifyError('MCHID_MISMATCH', 'refund notify: mch_id is not ours', { field: 'mch_id' });
  const reqInfo = raw.req_info;
  if (reqInfo === undefined || reqInfo === '') throw new WxNotifyError('MISSING_FIELD', 'refund notify: req_info is missing', { field: 'req_info' });

  let info: Record<string, string>;
  try {
    info = parseXml(decryptRefundReqInfo(reqInfo, merchant.key), { root: 'root' });
  } catch (err) {
    if (err instanceof XmlError) throw new WxNotifyError('BAD_REQ_INFO', `refund notify: req_info is not a <root> document (${err.code})`, { field: 'req_info', cause: err });
    throw err;
  }

  const outRefundNo = required(info, 'out_refund_no');
  if (!OUT_REFUND_NO_RE.test(outRefundNo)) throw new WxNotifyError('BAD_FIELD', 'refund notify: out_refund_no is malformed', { field: 'out_refund_no' });
  const outTradeNo = required(info, 'out_trade_no');
  if (!OUT_TRADE_NO_RE.test(outTradeNo)) throw new WxNotifyError('BAD_FIELD', 'refund notify: out_trade_no is malformed', { field: 'out_trade_no' });
  const status = required(info, 'refund_status');
  if (!STATUSES.includes(status)) throw new WxNotifyError('BAD_FIELD', 'refund notify: refund_status is not SUCCESS, CHANGE or REFUNDCLOSE', { field: 'refund_status' });
  const totalFee = integer(info, 'total_fee', 1);
  const refundFee = integer(info, 'refund_fee', 1);
  if (refundFee > totalFee) throw new WxNotifyError('BAD_FIELD', 'refund notify: refund_fee exceeds total_fee', { field: 'refund_fee' });
  const n: RefundNotification = {
    appid: raw.appid,
    mch_id: raw.mch_id,
    out_refund_no: outRefundNo,
    refund_id: required(info, 'refund_id'),
    out_trade_no: outTradeNo,
    transaction_id: required(info, 'transaction_id'),
    total_fee: totalFee,
    refund_fee: refundFee,
    settlement_refund_fee: integer(info, 'settlement_refund_fee', 0),
    refund_status: status as RefundNotifyStatus,
    raw,
    info,
  };
  if (info.settlement_total_fee !== undefined && info.settlement_total_fee !== '') n.settlement_total_fee = integer(info, 'settlement_total_fee', 0);
  if (status === 'SUCCESS' || (info.success_time !== undefined && info.success_time !== '')) {
    const time = required(info, 'success_time');
    try {
      n.succeededAt = fromBeijingDateTime(time);
    } catch (err) {
      throw new WxNotifyError('BAD_FIELD', 'refund notify: success_time is not yyyy-MM-dd HH:mm:ss', { field: 'success_time', cause: err });
    }
    n.success_time = time;
  }
  for (const f of ['refund_recv_accout', 'refund_account', 'refund_request_source'] as const) if (info[f]) n[f] = info[f];
  return n;
}
