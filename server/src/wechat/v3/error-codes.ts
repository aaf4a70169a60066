// WeChat Pay API v3's error answers ({code, message} with an HTTP status) as the WxPayError codes the
// services already act on under v2, with the retry hint each one carries.
import { WxPayError, type RetryHint, type WxPayErrorCode } from '../errors.js';
import type { V3Api } from './transport.js';

/** WeChat's v3 codes as the v2 codes the services act on; codes not listed keep WeChat's spelling. */
export const V3_CODES: Readonly<Record<string, WxPayErrorCode>> = Object.freeze({
  SYSTEM_ERROR: 'SYSTEMERROR',
  BANK_ERROR: 'SYSTEMERROR',
  SIGN_ERROR: 'SIGNERROR',
  ORDER_NOT_EXIST: 'ORDERNOTEXIST',
  ORDER_CLOSED: 'ORDERCLOSED',
  ORDERPAID: 'ORDERPAID',
  ORDER_PAID: 'ORDERPAID',
  OUT_TRADE_NO_USED: 'OUT_TRADE_NO_USED',
  NOT_ENOUGH: 'NOTENOUGH',
  RESOURCE_NOT_EXISTS: 'ORDERNOTEXIST',
  FREQUENCY_LIMITED: 'FREQUENCY_LIMITED',
  NO_AUTH: 'NOAUTH',
  MCH_NOT_EXISTS: 'MCHID_NOT_EXIST',
  APPID_MCHID_NOT_MATCH: 'APPID_MCHID_NOT_MATCH',
  PARAM_ERROR: 'PARAM_ERROR',
  INVALID_REQUEST: 'INVALID_REQUEST',
  STATEMENT_CREATING: 'BILL_CREATING',
  NO_STATEMENT_EXIST: 'NO_STATEMENT_EXIST',
});

// Hints retryHintFor's tables do not give for every API: a rate limit and a bill being made pass in
// minutes, a short refund balance in hours.
const RETRY: Readonly<Record<string, RetryHint>> = { SYSTEMERROR: 'soon', FREQUENCY_LIMITED: 'later', BILL_CREATING: 'later', NOTENOUGH: 'wait' };

export function wechatError(api: V3Api, status: number, body: Buffer): WxPayError {
  let parsed: { code?: unknown; message?: unknown } = {};
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    // an error page: the status alone speaks
  }
  const wxCode = typeof parsed?.code === 'string' ? parsed.code : undefined;
  const wechatMessage = typeof parsed?.message === 'string' ? parsed.message : undefined;
  const code: WxPayErrorCode =
    (wxCode && ((api.codes && Object.hasOwn(api.codes, wxCode) ? api.codes[wxCode] : undefined) ?? (Object.hasOwn(V3_CODES, wxCode) ? V3_CODES[wxCode] : wxCode))) ||
    (status >= 500 ? 'SYSTEMERROR' : 'BAD_RESPONSE');
  const retry = Object.hasOwn(RETRY, code) ? RETRY[code] : undefined;
  return new WxPayError(code, `${api.name}: HTTP ${status} ${wxCode ?? ''}${wechatMessage ? `: ${wechatMessage}` : ''}`.replace(/ +$/, ''), {
    api: api.name,
    status,
    ...(wechatMessage !== undefined ? { wechatMessage } : {}),
    ...(retry ? { retry } : {}),
  });
}
