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
  | (string & {});

/** Codes a caller may retry with identical parameters. Everything else needs a decision. */
const RETRIABLE_PAY_CODES: ReadonlySet<string> = new Set(['SYSTEMERROR', 'NETWORK', 'TIMEOUT']);

export function isRetriablePayCode(code: string): boolean {
  return RETRIABLE_PAY_CODES.has(code);
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
  cause?: unknown;
}

export class WxPayError extends Error {
  readonly code: WxPayErrorCode;
  readonly retriable: boolean;
  readonly wechatMessage: string | undefined;
  readonly status: number | undefined;
  readonly api: string | undefined;
  readonly field: string | undefined;
  constructor(code: WxPayErrorCode, message: string, details: WxPayErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WxPayError';
    this.code = code;
    this.retriable = details.retriable ?? isRetriablePayCode(code);
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
  | 'BAD_FIELD';

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
