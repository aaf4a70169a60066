// GET /sns/oauth2/access_token: the code of a 公众号 OAuth redirect (snsapi_base / snsapi_userinfo) or
// of the mobile SDK's sendAuth (open-platform app) for the user's openid (and unionid when the app is
// bound to an open-platform account). The web access_token it also returns is for userinfo calls, which
// we do not make: it is dropped here and never stored or logged.
//
// authorizeUrl() is the other half: the link a 公众号 page sends the browser to for that code.
import { WxLoginError } from './errors.js';
import type { FetchLike } from './http.js';
import { getWxJson } from './wx-json.js';

export interface OAuthTokenResult {
  openid: string;
  unionid?: string;
  scope?: string;
}

export interface OAuthTokenOptions {
  appid: string;
  secret: string;
  /** https://api.weixin.qq.com or the sandbox's root */
  baseUrl: string;
  timeoutMs?: number;
  fetch?: FetchLike;
}

const CODE_RE = /^[A-Za-z0-9_-]{1,128}$/;
const OPENID_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** Exchanges an OAuth code; throws WxLoginError (INVALID_CODE 40029, CODE_USED 40163, ...). */
export async function oauthAccessToken(opts: OAuthTokenOptions, code: string): Promise<OAuthTokenResult> {
  if (typeof code !== 'string' || !CODE_RE.test(code)) throw new WxLoginError('INVALID_ARGUMENT', 'oauth2/access_token: code is malformed');
  const body = await getWxJson(
    opts.fetch ?? globalThis.fetch,
    opts.baseUrl,
    '/sns/oauth2/access_token',
    { appid: opts.appid, secret: opts.secret, code, grant_type: 'authorization_code' },
    'oauth2/access_token',
    opts.timeoutMs ?? 5_000,
  );
  if (typeof body.openid !== 'string' || !OPENID_RE.test(body.openid)) throw new WxLoginError('BAD_RESPONSE', 'oauth2/access_token: no openid');
  const out: OAuthTokenResult = { openid: body.openid };
  if (typeof body.unionid === 'string' && OPENID_RE.test(body.unionid)) out.unionid = body.unionid;
  if (typeof body.scope === 'string') out.scope = body.scope;
  return out;
}

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
