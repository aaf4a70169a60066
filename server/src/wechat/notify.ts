import { WxNotifyError } from './errors.js';
import { FieldError, OUT_TRADE_NO_RE, parseIntField } from './fields.js';
import { verifySign, type SignType } from './sign.js';
import { fromBeijingTime } from './time.js';
import { parseXml, toXml, XmlError } from './xml.js';

export interface NotifyMerchant {
  appid: string;
  /** every appid of the merchant a notify may name (one mch_id, several apps); default appid alone */
  appids?: readonly string[];
  mchId: string;
  key: string;
  /** the configured sign type (what new prepays use) */
  signType: SignType;
  /**
   * Every sign type a notify may be signed with (default: signType alone). A notify is signed the way
   * its trade's unifiedorder was, so after a switch of sign type the older one must still verify; the
   * caller then checks that the order's own prepay used it.
   */
  signTypes?: readonly SignType[];
}

/** How a notification was authenticated: a v2 sign type, or RSA (API v3's Wechatpay-Signature). */
export type NotifySignType = SignType | 'RSA';

/** A verified payment notification whose result_code is SUCCESS: money was received. */
export interface PaidNotification {
  result_code: 'SUCCESS';
  appid: string;
  mch_id: string;
  out_trade_no: string;
  transaction_id: string;
  total_fee: number;
  cash_fee: number;
  /** yyyyMMddHHmmss, Beijing time, as sent. */
  time_end: string;
  /** the sign type the notify verified with */
  signType: NotifySignType;
  /** time_end as an instant. */
  paidAt: Date;
  openid: string;
  trade_type: string;
  bank_type?: string;
  fee_type?: string;
  attach?: string;
  raw: Record<string, string>;
}

/** A verified notification whose result_code is FAIL (the payment did not happen). */
export interface FailedNotification {
  result_code: 'FAIL';
  appid: string;
  mch_id: string;
  out_trade_no?: string;
  err_code?: string;
  err_code_des?: string;
  signType: NotifySignType;
  raw: Record<string, string>;
}

export type PayNotification = PaidNotification | FailedNotification;

export interface VerifyNotifyOptions {
  maxBytes?: number;
}

function required(raw: Record<string, string>, field: string): string {
  const v = raw[field];
  if (v === undefined || v === '') throw new WxNotifyError('MISSING_FIELD', `notify: ${field} is missing`, { field });
  return v;
}

function integer(raw: Record<string, string>, field: string, min: number): number {
  let n: number;
  try {
    n = parseIntField(raw[field], field);
  } catch (err) {
    const code = err instanceof FieldError ? err.code : 'BAD_FIELD';
    throw new WxNotifyError(code, `notify: ${field} is not an integer`, { field, cause: err });
  }
  if (n < min) throw new WxNotifyError('BAD_FIELD', `notify: ${field} is below ${min}`, { field });
  return n;
}

/**
 * Parses and authenticates a WeChat Pay payment notification. Nothing in the result may be acted on
 * unless this returns: the signature (in constant time, with our key and sign type), appid and
 * mch_id are checked, and amounts are strict integers.
 */
export function verifyPayNotify(body: string | Buffer, merchant: NotifyMerchant, opts: VerifyNotifyOptions = {}): PayNotification {
  let raw: Record<string, string>;
  try {
    raw = parseXml(body, opts.maxBytes === undefined ? undefined : { maxBytes: opts.maxBytes });
  } catch (err) {
    if (err instanceof XmlError) throw new WxNotifyError(err.code, `notify: ${err.message}`, { cause: err });
    throw err;
  }
  if (raw.return_code !== 'SUCCESS') {
    throw new WxNotifyError('RETURN_FAIL', 'notify: return_code is not SUCCESS');
  }
  const signType = notifySignType(raw);
  if (!signType || !(merchant.signTypes ?? [merchant.signType]).includes(signType)) {
    throw new WxNotifyError('BAD_SIGN', 'notify: sign_type is not one this merchant uses');
  }
  if (!verifySign(raw, merchant.key, signType)) {
    throw new WxNotifyError('BAD_SIGN', 'notify: signature does not verify');
  }
  if (raw.appid === undefined || !(merchant.appids ?? [merchant.appid]).includes(raw.appid)) throw new WxNotifyError('APPID_MISMATCH', 'notify: appid is not ours', { field: 'appid' });
  if (raw.mch_id !== merchant.mchId) throw new WxNotifyError('MCHID_MISMATCH', 'notify: mch_id is not ours', { field: 'mch_id' });

  const resultCode = required(raw, 'result_code');
  if (resultCode === 'FAIL') {
    const failed: FailedNotification = { result_code: 'FAIL', appid: raw.appid, mch_id: raw.mch_id, signType, raw };
    if (raw.out_trade_no) failed.out_trade_no = raw.out_trade_no;
    if (raw.err_code) failed.err_code = raw.err_code;
    if (raw.err_code_des) failed.err_code_des = raw.err_code_des;
    return failed;
  }
  if (resultCode !== 'SUCCESS') throw new WxNotifyError('BAD_FIELD', 'notify: result_code is neither SUCCESS nor FAIL', { field: 'result_code' });

  const outTradeNo = required(raw, 'out_trade_no');
  if (!OUT_TRADE_NO_RE.test(outTradeNo)) throw new WxNotifyError('BAD_FIELD', 'notify: out_trade_no is malformed', { field: 'out_trade_no' });
  const transactionId = required(raw, 'transaction_id');
  const totalFee = integer(raw, 'total_fee', 1);
  const cashFee = integer(raw, 'cash_fee', 0);
  const timeEnd = required(raw, 'time_end');
  let paidAt: Date;
  try {
    paidAt = fromBeijingTime(timeEnd);
  } catch (err) {
    throw new WxNotifyError('BAD_FIELD', 'notify: time_end is not yyyyMMddHHmmss', { field: 'time_end', cause: err });
  }
  const paid: PaidNotification = {
    result_code: 'SUCCESS',
    appid: raw.appid,
    mch_id: raw.mch_id,
    out_trade_no: outTradeNo,
    transaction_id: transactionId,
    total_fee: totalFee,
    cash_fee: cashFee,
    time_end: timeEnd,
    signType,
    paidAt,
    openid: required(raw, 'openid'),
    trade_type: required(raw, 'trade_type'),
    raw,
  };
  if (raw.bank_type) paid.bank_type = raw.bank_type;
  if (raw.fee_type) paid.fee_type = raw.fee_type;
  if (raw.attach) paid.attach = raw.attach;
  return paid;
}

/**
 * The sign type a notify claims: its sign_type field when present, else what its signature's length
 * says (32 hex digits for MD5, 64 for HMAC-SHA256: WeChat's notifies do not always name it).
 */
function notifySignType(raw: Record<string, string>): SignType | undefined {
  if (raw.sign_type !== undefined) return raw.sign_type === 'MD5' || raw.sign_type === 'HMAC-SHA256' ? raw.sign_type : undefined;
  const n = raw.sign?.length;
  return n === 32 ? 'MD5' : n === 64 ? 'HMAC-SHA256' : undefined;
}

const SUCCESS_REPLY = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

/** The reply body for a notify: SUCCESS/OK stops WeChat's retries; FAIL makes it retry. */
export function notifyReply(ok: true): string;
export function notifyReply(ok: false, msg?: string): string;
export function notifyReply(ok: boolean, msg = 'FAIL'): string {
  if (ok) return SUCCESS_REPLY;
  return toXml({ return_code: 'FAIL', return_msg: msg });
}
