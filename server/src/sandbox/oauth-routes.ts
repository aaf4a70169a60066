// 公众号 web authorization and the JS-SDK ticket, as WeChat plays them:
//   GET /connect/oauth2/authorize   (open.weixin.qq.com) the WeChat client's side: silent consent for
//                                   snsapi_base, a consent page for snsapi_userinfo, then a redirect to
//                                   redirect_uri with a single-use code. The link is held to WeChat's
//                                   rules: its five parameters in order ("该链接无法访问" otherwise),
//                                   redirect_uri encoded and on a registered 网页授权域名 (10003).
//                                   Browsers never send the #wechat_redirect fragment, so it is not asked for.
//   GET /cgi-bin/ticket/getticket   (api.weixin.qq.com) the jsapi_ticket for an access token it issued
//   POST /sandbox/jssdk/verify      what the WeChat client does with wx.config: checks the signature
//   POST /sandbox/oauth/domains     the 网页授权域名 / JS接口安全域名 registered for an appid
// Its codes go to the one store (sns-routes.ts) that /sns/oauth2/access_token redeems from.
// The WeChat user of a browser is a cookie on the sandbox's origin (sandbox_wx_user=<unionid>): set it
// to play a given person (same unionid as a mini-program login), or let the sandbox make one up.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { jssdkSignature } from '../wechat/jssdk.js';
import { newOpenid, rid } from './ids.js';
import type { OAuthCodes } from './sns-routes.js';
import type { SandboxState } from './state.js';
import type { SubscribeState } from './subscribe.js';

/** how long the consent page of snsapi_userinfo waits for the user */
const CONSENT_TTL_MS = 5 * 60 * 1000;
export const TICKET_TTL_MS = 7200 * 1000;
export const SANDBOX_USER_COOKIE = 'sandbox_wx_user';
/** the 网页授权域名 registered for every appid unless POST /sandbox/oauth/domains says otherwise: the server's own host in sandbox mode */
export const DEFAULT_OAUTH_DOMAINS: readonly string[] = ['127.0.0.1', 'localhost'];

/** Who the browser is at WeChat, and their openid per appid (stable, as at WeChat). */
export class OauthUsers {
  private readonly openids = new Map<string, string>();
  openidOf(unionid: string, appid: string): string {
    const k = `${unionid}\u0000${appid}`;
    let openid = this.openids.get(k);
    if (openid === undefined) this.openids.set(k, (openid = newOpenid(appid)));
    return openid;
  }
}

/** jsapi_tickets per appid: the current one is handed out again until it expires. */
export class JsapiTickets {
  private readonly byAppid = new Map<string, { ticket: string; expiresAt: number }>();
  constructor(private readonly now: () => number) {}
  issue(appid: string): { ticket: string; expires_in: number } {
    let t = this.byAppid.get(appid);
    if (t === undefined || t.expiresAt <= this.now()) {
      t = { ticket: randomBytes(64).toString('base64url'), expiresAt: this.now() + TICKET_TTL_MS };
      this.byAppid.set(appid, t);
    }
    return { ticket: t.ticket, expires_in: Math.floor((t.expiresAt - this.now()) / 1000) };
  }
  current(appid: string): string | undefined {
    const t = this.byAppid.get(appid);
    return t && t.expiresAt > this.now() ? t.ticket : undefined;
  }
}

export interface OauthRoutesOptions {
  state: SandboxState;
  /** the 网页授权域名 per appid; unset appids get DEFAULT_OAUTH_DOMAINS */
  domains?: Record<string, string[]>;
  /** the one code store /sns/oauth2/access_token (sns-routes.ts) redeems from */
  codes: OAuthCodes;
  users: OauthUsers;
  tickets: JsapiTickets;
}

const ORDER = ['appid', 'redirect_uri', 'response_type', 'scope', 'state'];
const SCOPES = new Set(['snsapi_base', 'snsapi_userinfo']);
const USER_RE = /^[A-Za-z0-9_-]{1,64}$/;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title></head><body style="font-family:sans-serif;padding:24px;text-align:center">${body}</body></html>`;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function cookieValue(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

const DomainsBodySchema = Type.Object(
  { appid: Type.String({ minLength: 1, maxLength: 32 }), domains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 10 }) },
  { additionalProperties: false },
);
const VerifyBodySchema = Type.Object({
  appId: Type.Optional(Type.Unknown()),
  timestamp: Type.Optional(Type.Unknown()),
  nonceStr: Type.Optional(Type.Unknown()),
  signature: Type.Optional(Type.Unknown()),
  url: Type.Optional(Type.Unknown()),
});

export async function oauthRoutes(app: FastifyInstance, opts: OauthRoutesOptions): Promise<void> {
  const { state, codes, users, tickets } = opts;
  const domains = new Map<string, string[]>(Object.entries(opts.domains ?? {}));
  const domainsOf = (appid: string) => domains.get(appid) ?? [...DEFAULT_OAUTH_DOMAINS];
  const onDomain = (appid: string, url: URL) => domainsOf(appid).some((d) => (d.includes(':') ? url.host === d : url.hostname === d));

  const refuse = (reply: FastifyReply, code: string, message: string) =>
    reply
      .code(200)
      .header('content-type', 'text/html; charset=utf-8')
      .header('x-sandbox-error', code)
      .send(page('微信网页授权', `<h2>Oops! Something went wrong:(</h2><p>${esc(message)}</p><p style="color:#999">${code}</p>`));

  /** The user this browser plays (its cookie), made up and remembered when it has none. */
  function userOf(req: FastifyRequest, reply: FastifyReply): string {
    const given = cookieValue(req, SANDBOX_USER_COOKIE);
    if (given && USER_RE.test(given)) return given;
    const made = `oU${randomBytes(15).toString('base64url')}`;
    reply.header('set-cookie', `${SANDBOX_USER_COOKIE}=${made}; Path=/; HttpOnly; SameSite=Lax`);
    return made;
  }

  const pending = new Map<string, { appid: string; redirect: string; state: string; unionid: string; expiresAt: number }>();

  function redirectWithCode(reply: FastifyReply, appid: string, redirect: string, st: string, unionid: string, scope: 'snsapi_base' | 'snsapi_userinfo') {
    const { code } = codes.mint(appid, { openid: users.openidOf(unionid, appid), unionid, scope });
    const sep = redirect.includes('?') ? '&' : '?';
    return reply.redirect(`${redirect}${sep}code=${code}&state=${st}`, 302);
  }

  app.get('/connect/oauth2/authorize', async (req, reply) => {
    const raw = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    const pairs = raw === '' ? [] : raw.split('&').map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
    });
    const names = pairs.map(([k]) => k);
    // WeChat matches the link as it is written: these five parameters, in this order, and nothing else.
    if (names.length !== ORDER.length || names.some((n, i) => n !== ORDER[i])) {
      return refuse(reply, 'LINK_INVALID', '该链接无法访问（参数须依次为 appid、redirect_uri、response_type、scope、state）');
    }
    const q = Object.fromEntries(pairs) as Record<string, string>;
    const appid = q.appid ?? '';
    const rawRedirect = q.redirect_uri ?? '';
    if (appid === '') return refuse(reply, '10012', 'appid 不能为空');
    if (!state.appidKnown(appid)) return refuse(reply, '10002', 'appid 参数错误');
    if (state.kindOf(appid) !== 'oa') return refuse(reply, '10016', '不支持微信开放平台的Appid，请使用公众号Appid'); // a mini-program's or an app's
    if (rawRedirect === '') return refuse(reply, '10011', 'redirect_uri 不能为空');
    // unencoded, its own query would run into the link's parameters
    if (/[:/?&=#]/.test(rawRedirect)) return refuse(reply, 'LINK_INVALID', '该链接无法访问（redirect_uri 须经 urlEncode 编码）');
    let redirect: URL;
    try {
      redirect = new URL(decodeURIComponent(rawRedirect));
    } catch {
      return refuse(reply, '10003', 'redirect_uri 参数错误');
    }
    if (redirect.protocol !== 'http:' && redirect.protocol !== 'https:') return refuse(reply, '10003', 'redirect_uri 参数错误');
    if (!onDomain(appid, redirect)) return refuse(reply, '10003', 'redirect_uri域名与后台配置不一致');
    if (q.response_type !== 'code') return refuse(reply, 'LINK_INVALID', '该链接无法访问（response_type 须为 code）');
    const scope = q.scope ?? '';
    if (scope === '') return refuse(reply, '10010', 'scope 不能为空');
    if (!SCOPES.has(scope)) return refuse(reply, '10005', '此公众号并没有这些scope的权限');
    const st = q.state ?? '';
    if (!/^[A-Za-z0-9]{0,128}$/.test(st)) return refuse(reply, 'LINK_INVALID', '该链接无法访问（state 只可为字母和数字，至多128字节）');
    const unionid = userOf(req, reply);
    redirect.hash = '';
    if (scope === 'snsapi_base') return redirectWithCode(reply, appid, redirect.href, st, unionid, 'snsapi_base');
    // snsapi_userinfo: the user is asked first
    const ticket = randomBytes(16).toString('hex');
    pending.set(ticket, { appid, redirect: redirect.href, state: st, unionid, expiresAt: state.now() + CONSENT_TTL_MS });
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .send(page('微信授权', `<h2>授权登录</h2><p>${esc(redirect.host)} 申请获得你的公开信息（昵称、头像）</p><p><a id="allow" href="/sandbox/oauth/consent?t=${ticket}">允许</a></p>`));
  });

  app.get<{ Querystring: { t?: string } }>('/sandbox/oauth/consent', async (req, reply) => {
    const p = typeof req.query.t === 'string' ? pending.get(req.query.t) : undefined;
    if (!p || p.expiresAt <= state.now()) return refuse(reply, 'CONSENT_EXPIRED', '授权已过期，请重新打开页面');
    pending.delete(req.query.t as string);
    return redirectWithCode(reply, p.appid, p.redirect, p.state, p.unionid, 'snsapi_userinfo');
  });

  app.post<{ Body: Static<typeof DomainsBodySchema> }>('/sandbox/oauth/domains', { schema: { body: DomainsBodySchema } }, async (req, reply) => {
    if (!state.appidKnown(req.body.appid)) return reply.code(400).send({ statusCode: 400, code: 'UNKNOWN_APPID', error: 'Bad Request', message: `appid ${req.body.appid} is not registered with the sandbox` });
    domains.set(req.body.appid, req.body.domains);
    return { appid: req.body.appid, domains: req.body.domains };
  });

  // What the WeChat client checks on wx.config: the signature over the current ticket, a registered domain.
  app.post<{ Body: Static<typeof VerifyBodySchema> }>('/sandbox/jssdk/verify', { schema: { body: VerifyBodySchema } }, async (req) => {
    const b = req.body;
    const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
    const appid = str(b.appId);
    const url = str(b.url).split('#')[0] ?? '';
    if (!state.appidKnown(appid)) return { errMsg: 'config:invalid appid' };
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { errMsg: 'config:invalid url' };
    }
    if (!onDomain(appid, parsed)) return { errMsg: 'config:invalid url domain' };
    const ticket = tickets.current(appid);
    if (ticket === undefined) return { errMsg: 'config:invalid signature' };
    const expected = jssdkSignature({ jsapi_ticket: ticket, noncestr: str(b.nonceStr), timestamp: str(b.timestamp), url });
    return { errMsg: str(b.signature) === expected ? 'config:ok' : 'config:invalid signature' };
  });
}

/** GET /cgi-bin/ticket/getticket with an access token /cgi-bin/token issued. */
export async function ticketRoutes(app: FastifyInstance, opts: { subscribe: SubscribeState; tickets: JsapiTickets }): Promise<void> {
  app.get('/cgi-bin/ticket/getticket', async (req, reply) => {
    reply.header('content-type', 'application/json; encoding=utf-8');
    const q = req.query as Record<string, unknown>;
    const token = opts.subscribe.checkToken(typeof q.access_token === 'string' ? q.access_token : undefined);
    if ('errcode' in token) return { errcode: token.errcode, errmsg: `${token.errmsg} rid: ${rid()}` };
    if (q.type !== 'jsapi') return { errcode: 40097, errmsg: `invalid args rid: ${rid()}` };
    return { errcode: 0, errmsg: 'ok', ...opts.tickets.issue(token.appid) };
  });
}
