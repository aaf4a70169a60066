// GET /sns/oauth2/access_token: the code of a 公众号 OAuth redirect (snsapi_base / snsapi_userinfo) or
// of the mobile SDK's sendAuth (open-platform app) for the user's openid (and unionid when the app is
// bound to an open-platform account). The web access_token it also returns is for userinfo calls, which
// we do not make: it is dropped here and never stored or logged.
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
