// 公众号 web authorization (网页授权): the authorize link a page redirects to, and the code exchange at
// /sns/oauth2/access_token. Pure link building plus a thin HTTP client; no Fastify.
import { loginCodeFor, WxLoginError } from './errors.js';
import { HttpError, request, type FetchLike } from './http.js';

export type OauthScope = 'snsapi_base' | 'snsapi_userinfo';

export interface AuthorizeLink {
  /** e.g. https://open.weixin.qq.com (WECHAT_OPEN_BASE), or the sandbox's root */
  openBase: string;
  appid: string;
  /** absolute URL on a registered 网页授权域名; encoded here */
  redirectUri: string;
  scope: OauthScope;
  /** at most 128 of [A-Za-z0-9] (WeChat's rule) */
  state: string;
}

const STATE_RE = /^[A-Za-z0-9]{1,128}$/;

/**
 * WeChat matches this link strictly: appid, redirect_uri, response_type, scope, state in exactly
 * this order, redirect_uri URL-encoded, and the #wechat_redirect fragment ("该链接无法访问" otherwise).
 * Built by hand, not with URLSearchParams, so the order and the encoding are ours to hold.
 */
export function authorizeUrl(link: AuthorizeLink): string {
  if (!/^https?:\/\//.test(link.openBase)) throw new TypeError('authorizeUrl: openBase must be an http(s) URL');
  if (!/^wx[0-9a-zA-Z]{16}$/.test(link.appid)) throw new TypeError('authorizeUrl: appid is malformed');
  if (!/^https?:\/\//.test(link.redirectUri)) throw new TypeError('authorizeUrl: redirectUri must be absolute');
  if (!STATE_RE.test(link.state)) throw new TypeError('authorizeUrl: state must be 1 to 128 letters or digits');
  const base = link.openBase.replace(/\/+$/, '');
  return (
    `${base}/connect/oauth2/authorize?appid=${link.appid}` +
    `&redirect_uri=${encodeURIComponent(link.redirectUri)}` +
    `&response_type=code&scope=${link.scope}&state=${link.state}#wechat_redirect`
  );
}

export interface OauthIdentity {
  openid: string;
  /** only when the 公众号 is bound to an open-platform account */
  unionid?: string;
  scope: string;
}

export interface OauthClientOptions {
  appid: string;
  secret: string;
  /** e.g. https://api.weixin.qq.com or the sandbox's root */
  baseUrl: string;
  timeoutMs?: number;
  fetch?: FetchLike;
}

export interface OauthClient {
  /**
   * The callback's code for the user's openid (+unionid). Throws WxLoginError: INVALID_CODE (40029),
   * CODE_USED (40163), RATE_LIMITED, WECHAT_BUSY, NETWORK, TIMEOUT, BAD_RESPONSE. The web access_token
   * and refresh_token WeChat also returns are dropped: snsapi_base needs nothing more.
   */
  exchangeCode(code: string): Promise<OauthIdentity>;
}

const CODE_RE = /^[A-Za-z0-9_-]{1,128}$/;

export function createOauthClient(opts: OauthClientOptions): OauthClient {
  for (const [name, v] of [
    ['appid', opts.appid],
    ['secret', opts.secret],
    ['baseUrl', opts.baseUrl],
  ] as const) {
    if (typeof v !== 'string' || v === '') throw new TypeError(`createOauthClient: ${name} is required`);
  }
  const base = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const what = 'oauth2/access_token';

  return {
    async exchangeCode(code) {
      if (typeof code !== 'string' || !CODE_RE.test(code)) throw new WxLoginError('INVALID_CODE', `${what}: the code is malformed`);
      const query = new URLSearchParams({ appid: opts.appid, secret: opts.secret, code, grant_type: 'authorization_code' });
      let res;
      try {
        // No retry: a code is single use, a retry after a lost answer would only get 40163.
        res = await request(fetchImpl, `${base}/sns/oauth2/access_token?${query.toString()}`, { method: 'GET', headers: { accept: 'application/json' } }, timeoutMs);
      } catch (err) {
        // Never pass the URL on: its query carries the appsecret.
        if (err instanceof HttpError && err.failure.kind === 'timeout') throw new WxLoginError('TIMEOUT', `${what}: no answer within ${timeoutMs} ms`);
        throw new WxLoginError('NETWORK', `${what}: network error`);
      }
      if (res.status >= 500) throw new WxLoginError('WECHAT_BUSY', `${what}: HTTP ${res.status}`);
      if (res.status !== 200) throw new WxLoginError('BAD_RESPONSE', `${what}: HTTP ${res.status}`);
      let body: Record<string, unknown>;
      try {
        const json: unknown = JSON.parse(res.body.toString('utf8'));
        if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
        body = json as Record<string, unknown>;
      } catch {
        throw new WxLoginError('BAD_RESPONSE', `${what}: response is not a JSON object`);
      }
      if (body.errcode !== undefined && body.errcode !== 0) {
        const errcode = typeof body.errcode === 'number' ? body.errcode : Number(body.errcode);
        if (!Number.isInteger(errcode)) throw new WxLoginError('BAD_RESPONSE', `${what}: malformed errcode`);
        const errmsg = typeof body.errmsg === 'string' ? body.errmsg.slice(0, 200) : '';
        throw new WxLoginError(loginCodeFor(errcode), `${what}: WeChat errcode ${errcode}${errmsg ? ` (${errmsg})` : ''}`, { errcode });
      }
      const { openid, unionid, scope } = body;
      if (typeof openid !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(openid)) throw new WxLoginError('BAD_RESPONSE', `${what}: no openid`);
      return {
        openid,
        ...(typeof unionid === 'string' && unionid !== '' ? { unionid } : {}),
        scope: typeof scope === 'string' ? scope : '',
      };
    },
  };
}
