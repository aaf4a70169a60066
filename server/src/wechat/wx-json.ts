// GET a WeChat JSON API (api.weixin.qq.com) and return its body, or throw WxLoginError with WeChat's
// errcode mapped. The URL is never passed on in an error: its query carries the appsecret and the code.
import { loginCodeFor, WxLoginError } from './errors.js';
import { HttpError, request, type FetchLike } from './http.js';

export type WxJson = { errcode?: unknown; errmsg?: unknown; [k: string]: unknown };

export async function getWxJson(
  fetchImpl: FetchLike,
  base: string,
  path: string,
  query: Record<string, string>,
  what: string,
  timeoutMs: number,
): Promise<WxJson> {
  const url = `${base.replace(/\/+$/, '')}${path}?${new URLSearchParams(query).toString()}`;
  let res;
  try {
    res = await request(fetchImpl, url, { method: 'GET', headers: { accept: 'application/json' } }, timeoutMs);
  } catch (err) {
    if (err instanceof HttpError && err.failure.kind === 'timeout') throw new WxLoginError('TIMEOUT', `${what}: no answer within ${timeoutMs} ms`);
    throw new WxLoginError('NETWORK', `${what}: network error`);
  }
  if (res.status >= 500) throw new WxLoginError('WECHAT_BUSY', `${what}: HTTP ${res.status}`);
  if (res.status !== 200) throw new WxLoginError('BAD_RESPONSE', `${what}: HTTP ${res.status}`);
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new WxLoginError('BAD_RESPONSE', `${what}: response is not JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new WxLoginError('BAD_RESPONSE', `${what}: response is not a JSON object`);
  const body = json as WxJson;
  if (body.errcode !== undefined && body.errcode !== 0) {
    const errcode = typeof body.errcode === 'number' ? body.errcode : Number(body.errcode);
    if (!Number.isInteger(errcode)) throw new WxLoginError('BAD_RESPONSE', `${what}: malformed errcode`);
    const errmsg = typeof body.errmsg === 'string' ? body.errmsg.slice(0, 200) : '';
    throw new WxLoginError(loginCodeFor(errcode), `${what}: WeChat errcode ${errcode}${errmsg ? ` (${errmsg})` : ''}`, { errcode });
  }
  return body;
}
