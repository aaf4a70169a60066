import type { XmlErrorCode } from './xml.js';

/** WeChat Pay's own err_code values we act on, plus our transport/validation codes. */
export type WxPayErrorCode =
  | 'SIGNERROR'
  | 'ORDERPAID'
  | 'ORDERCLOSED'
  | 'ORDERNOTEXIST'
  | 'SYSTEMERROR'
  | 'OUT_TRADE_NO_USED'
  | 'INVALID_REQUEST'
  | 'LACK_PARAMS'
  | 'APPID_MCHID_NOT_MATCH'
  | 'XML_FORMAT_ERROR'
  | 'NOAUTH'
  | 'NOTENOUGH'
  | 'PARAM_ERROR'
  | 'REQUIRE_POST_METHOD'
  | 'POST_DATA_EMPTY'
  | 'NOT_UTF8'
  | 'MCHID_NOT_EXIST'
  | 'APPID_NOT_EXIST'
  | 'RETURN_FAIL'
  | 'BAD_RESPONSE_SIGN'
  | 'BAD_RESPONSE'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'INVALID_ARGUMENT'
  // refunds (secapi/pay/refund, pay/refundquery), as WeChat documents them
  | 'BIZERR_NEED_RETRY'
  | 'FREQUENCY_LIMITED'
  | 'ORDER_NOT_READY'
  | 'USER_ACCOUNT_ABNORMAL'
  | 'TRADE_OVERDUE'
  | 'INVALID_REQ_TOO_MUCH'
  | 'ERROR'
  | 'INVALID_TRANSACTIONID'
  | 'REFUND_FEE_INVALID'
  | 'REFUND_FEE_MISMATCH'
  | 'CERT_ERROR'
  | 'REFUNDNOTEXIST'
  // our own: a /secapi/ call without a merchant certificate configured
  | 'NO_MERCHANT_CERT'
  // downloadbill's return_msg values we act on
  | 'BILL_CREATING'
  | 'INVALID_BILL_DATE'
  // API v3: a day without a bill (GET /v3/bill/tradebill's NO_STATEMENT_EXIST; downloadBill turns it into exists:false)
  | 'NO_STATEMENT_EXIST'
  | (string & {});

/** Codes a caller may retry with identical parameters. Everything else needs a decision. */
const RETRIABLE_PAY_CODES: ReadonlySet<string> = new Set(['SYSTEMERROR', 'NETWORK', 'TIMEOUT']);

export function isRetriablePayCode(code: string): boolean {
  return RETRIABLE_PAY_CODES.has(code);
}

/**
 * When the same request may be sent again: `soon` (a transient failure: the client already retried
 * it with backoff; a caller may again, seconds later), `later` (minutes: rate limits, an order WeChat is
 * still processing), `wait` (hours: NOTENOUGH, the merchant's refundable balance is short). Undefined:
 * final, a decision is needed (different parameters, an operator, or giving up).
 */
export type RetryHint = 'soon' | 'later' | 'wait';

// secapi/pay/refund's err_code table: "请不要更换商户退款单号，请使用相同参数再次调用API" for the first
// two; FREQUENCY_LIMITED and ORDER_NOT_READY ask for a lower rate / a later try; NOTENOUGH is a balance
// problem. INVALID_REQ_TOO_MUCH is final here: the docs' "retry in a minute" is about error storms, and
// WeChat also answers it when a trade already had its 50 partial refunds.
const REFUND_RETRY: Readonly<Record<string, RetryHint>> = {
  SYSTEMERROR: 'soon',
  BIZERR_NEED_RETRY: 'soon',
  FREQUENCY_LIMITED: 'later',
  ORDER_NOT_READY: 'later',
  NOTENOUGH: 'wait',
};

const DEFAULT_RETRY: Readonly<Record<string, RetryHint>> = { SYSTEMERROR: 'soon', NETWORK: 'soon', TIMEOUT: 'soon' };

/** The retry hint of WeChat's err_code `code` for `api` ("refund", "refundquery", "unifiedorder"...). */
export function retryHintFor(api: string | undefined, code: string): RetryHint | undefined {
  if (code === 'NETWORK' || code === 'TIMEOUT') return 'soon';
  const table = api === 'refund' ? REFUND_RETRY : DEFAULT_RETRY;
  return Object.hasOwn(table, code) ? table[code] : undefined;
}

export interface WxPayErrorDetails {
  /** return_msg or err_code_des as WeChat sent it (never holds our secrets). */
  wechatMessage?: string;
  /** HTTP status when the failure was an HTTP one. */
  status?: number;
  /** The API that failed, e.g. "unifiedorder". */
  api?: string;
  /** The offending field for INVALID_ARGUMENT. */
  field?: string;
  retriable?: boolean;
  /** default: from retryHintFor(api, code); `retriable: true` alone means `soon` */
  retry?: RetryHint;
  cause?: unknown;
}

export class WxPayError extends Error {
  readonly code: WxPayErrorCode;
  readonly retriable: boolean;
  readonly wechatMessage: string | undefined;
  readonly status: number | undefined;
  readonly api: string | undefined;
  readonly field: string | undefined;
  /** when the same request may be sent again; undefined when it may not (see RetryHint) */
  readonly retry: RetryHint | undefined;
  constructor(code: WxPayErrorCode, message: string, details: WxPayErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WxPayError';
    this.code = code;
    this.retry =
      details.retry ?? (details.retriable === true ? 'soon' : details.retriable === false ? undefined : retryHintFor(details.api, code));
    this.retriable = details.retriable ?? this.retry !== undefined;
    this.wechatMessage = details.wechatMessage;
    this.status = details.status;
    this.api = details.api;
    this.field = details.field;
  }
}

export type WxLoginErrorCode =
  | 'INVALID_CODE'
  | 'CODE_USED'
  | 'RATE_LIMITED'
  | 'RISKY_USER'
  | 'WECHAT_BUSY'
  | 'WECHAT_ERROR'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'BAD_RESPONSE'
  | 'INVALID_ARGUMENT';

const LOGIN_ERRCODES: ReadonlyMap<number, WxLoginErrorCode> = new Map([
  [40029, 'INVALID_CODE'],
  [40163, 'CODE_USED'],
  [45011, 'RATE_LIMITED'],
  [40226, 'RISKY_USER'],
  [-1, 'WECHAT_BUSY'],
]);

export function loginCodeFor(errcode: number): WxLoginErrorCode {
  return LOGIN_ERRCODES.get(errcode) ?? 'WECHAT_ERROR';
}

export class WxLoginError extends Error {
  readonly code: WxLoginErrorCode;
  /** WeChat's errcode when WeChat answered with one. */
  readonly errcode: number | undefined;
  readonly retriable: boolean;
  constructor(code: WxLoginErrorCode, message: string, opts: { errcode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WxLoginError';
    this.code = code;
    this.errcode = opts.errcode;
    this.retriable = code === 'WECHAT_BUSY' || code === 'NETWORK' || code === 'TIMEOUT';
  }
}

export type WxNotifyErrorCode =
  | XmlErrorCode
  | 'BAD_SIGN'
  | 'APPID_MISMATCH'
  | 'MCHID_MISMATCH'
  | 'RETURN_FAIL'
  | 'MISSING_FIELD'
  | 'BAD_FIELD'
  /** a refund notification's req_info does not decrypt with our key (forged, corrupted, or another merchant's) */
  | 'BAD_REQ_INFO'
  /** API v3: the resource does not decrypt (AES-256-GCM tag) with our APIv3 key, or is not the JSON it should be */
  | 'BAD_RESOURCE'
  /** API v3: Wechatpay-Timestamp is more than five minutes away from our clock (a replay, or a skewed clock) */
  | 'STALE';

export class WxNotifyError extends Error {
  readonly code: WxNotifyErrorCode;
  readonly field: string | undefined;
  constructor(code: WxNotifyErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WxNotifyError';
    this.code = code;
    this.field = opts.field;
  }
}
