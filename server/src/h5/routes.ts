// 公众号 H5 JSAPI checkout, server-rendered, under one path prefix (the payment directory,
// config.h5.payPath, e.g. /h5/). Every page that starts a payment sits directly in that directory:
// WeChat matches a multi-level 支付授权目录 exactly, so /h5/order is payable and /h5/x/order is not.
//
//   GET  {dir}                     goods          GET  {dir}checkout?sku=  one product, quantity, place order
//   POST {dir}orders (form)        creates the order, 303 to {dir}order?id=
//   GET  {dir}order?id=            order + pay button (getBrandWCPayRequest; wx.config signed here)
//   GET  {dir}result?id=           polls the order until the server says how it ended
//   GET  {dir}orders               the buyer's orders from every channel
//   GET  {dir}oauth/callback       OAuth snsapi_base: code → openid (+unionid) → buyer → H5 session
//   GET  {dir}api/orders/:id, POST {dir}api/orders/:id/pay   JSON for the page script
//
// A browser without an H5 session is sent through OAuth (silent snsapi_base) and comes back where it
// was. The session is the server's ordinary session (sessions.ts) in an httpOnly cookie; POSTs carry
// a CSRF token derived from it. Page routes read their query by hand: WeChat appends its own
// parameters to shared links (from=singlemessage…), which must not turn a page into a 400.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { Errors, isNamedError } from '../errors.js';
import { createLoginLimits } from '../login-limits.js';
import { toApiOrder } from '../orders/service.js';
import { clientIp } from '../routes/orders.js';
import { ErrorSchema, errorResponses, OrderIdParams, OrderSchema, pageSchema } from '../routes/schemas.js';
import type { Session } from '../sessions.js';
import { createMpClient, WxLoginError } from '../wechat/index.js';
import { createTicketClient, jssdkConfig, type JssdkConfig } from '../wechat/jssdk.js';
import { authorizeUrl, oauthAccessToken } from '../wechat/oauth.js';
import { H5_SCRIPT, H5_STYLE } from './assets.js';
import { createOauthStates, isBinding, newBinding } from './oauth-state.js';
import { catalogPage, checkoutPage, errorPage, orderPage, ordersPage, resultPage, STATUS_TEXT, type Layout } from './pages.js';

const SESSION_COOKIE = 'h5_sid';
const BINDING_COOKIE = 'h5_oauth';
const ORDER_ID_RE = /^[0-9a-f]{24}$/;
// Each page view without a session stores an OAuth state: the ceiling /api/session has per IP (many
// buyers share a carrier NAT's address), so that a flood cannot fill Redis with states.
const PAGE_LIMIT = { config: { rateLimit: { max: 600, timeWindow: '1 minute' } } };
/** a page of the checkout: rate limited per IP, documented as HTML */
const page = (description: string) => ({ ...PAGE_LIMIT, schema: pageSchema(description) });

declare module 'fastify' {
  interface FastifyRequest {
    h5?: { session: Session; token: string };
  }
}

const PayParamsSchema = Type.Object({
  appId: Type.String(),
  timeStamp: Type.String(),
  nonceStr: Type.String(),
  package: Type.String(),
  signType: Type.Union([Type.Literal('MD5'), Type.Literal('HMAC-SHA256'), Type.Literal('RSA')]),
  paySign: Type.String(),
});

const OrderFormSchema = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 64 }),
    quantity: Type.String({ pattern: '^[1-9][0-9]?$' }),
    _csrf: Type.String({ maxLength: 64 }),
    key: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  },
  { additionalProperties: false },
);

/** What the buyer reads for each OAuth failure, and its stable code. */
const OAUTH_ERRORS = {
  STATE_MISSING: ['登录链接缺少 state 参数', 'The login link has no state: open the page again'],
  STATE_INVALID: ['此登录链接已使用或已过期', 'This login link was already used or has expired'],
  STATE_FOREIGN: ['此登录链接不是在本浏览器中打开的', 'This login link was started in another browser'],
  CODE_MISSING: ['未获得微信授权', 'WeChat did not authorise the login'],
  CODE_INVALID: ['微信授权码无效或已过期（40029）', 'The WeChat authorisation code is invalid or expired (40029)'],
  CODE_USED: ['微信授权码已被使用（40163）', 'The WeChat authorisation code was already used (40163)'],
  LOGIN_LIMITED: ['登录尝试过于频繁，请稍后再试', 'Too many login attempts: try again later'],
  WECHAT_UNAVAILABLE: ['暂时无法连接微信，请稍后重试', 'WeChat cannot be reached right now: try again shortly'],
  SESSION_EXPIRED: ['登录已过期，请重新进入页面', 'Your login expired: open the page again'],
} as const;
type OauthErrorCode = keyof typeof OAUTH_ERRORS;

export interface H5Options {
  /** Redis key prefix of the login-failure counters (tests isolate themselves) */
  nameSpace?: string;
}

export default async function h5Routes(app: FastifyInstance, opts: H5Options): Promise<void> {
  const { config } = app;
  const oa = config.apps.oa;
  if (!oa) return; // no 公众号 configured: no H5 checkout
  const dir = config.h5.payPath;
  const sandboxBase = config.sandbox.enabled ? config.pay.apiBase.replace(/\/+$/, '') : undefined;
  const layout: Layout = {
    base: dir,
    scripts: [sandboxBase ? `${sandboxBase}/sandbox/jsbridge.js` : 'https://res.wx.qq.com/open/js/jweixin-1.6.0.js'],
  };
  const scriptOrigin = sandboxBase ?? 'https://res.wx.qq.com';
  const csp = [
    "default-src 'none'",
    `script-src 'self' ${scriptOrigin}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    sandboxBase ? `frame-src ${sandboxBase}` : '',
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ]
    .filter(Boolean)
    .join('; ');

  const states = createOauthStates(app.redis);
  const limits = createLoginLimits(app.redis, `${opts.nameSpace ?? 'rl:'}h5:`);
  const oauthApp = { appid: oa.appid, secret: oa.appsecret, baseUrl: config.wechat.apiBase };
  const oaMp = createMpClient({ appid: oa.appid, secret: oa.appsecret, baseUrl: config.wechat.apiBase, redis: app.redis });
  const tickets = createTicketClient({
    appid: oa.appid,
    baseUrl: config.wechat.apiBase,
    redis: app.redis,
    getAccessToken: () => oaMp.getAccessToken(),
    invalidateAccessToken: (t) => oaMp.invalidateAccessToken(t),
  });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const origin = (req: FastifyRequest) => config.h5.publicUrl ?? `${req.protocol}://${req.host}`;
  const secure = (req: FastifyRequest) => origin(req).startsWith('https://');
  const csrfOf = (token: string) => createHash('sha256').update(`h5-csrf\n${token}`).digest('base64url');
  const csrfOk = (req: FastifyRequest, given: unknown) => {
    if (!req.h5 || typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(csrfOf(req.h5.token));
    return a.length === b.length && timingSafeEqual(a, b);
  };

  app.addHook('onRequest', async (req, reply) => {
    reply.header('content-security-policy', csp);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('cache-control', 'no-store');
    const token = req.cookies[SESSION_COOKIE];
    if (!token || req.url.startsWith(`${dir}assets/`)) return;
    const session = await app.sessions.get(token);
    // only a session made here, for the 公众号 (a mini-program token in a cookie is no H5 login)
    if (session && session.buyerId !== undefined && session.appid === oa.appid) req.h5 = { session: session as Session, token };
  });

  const html = (reply: FastifyReply, body: string, status = 200) => reply.code(status).header('content-type', 'text/html; charset=utf-8').send(body);

  function oauthError(reply: FastifyReply, code: OauthErrorCode, status: number, retryTo?: string) {
    const [zh, en] = OAUTH_ERRORS[code];
    reply.header('x-h5-error', code);
    return html(reply, errorPage(layout, { code, zh, en, retry: { href: retryTo ?? dir, zh: '重新进入', en: 'Try again' } }), status);
  }

  /** Off to WeChat's silent authorize, coming back to `next` (a path in the payment directory). */
  async function login(req: FastifyRequest, reply: FastifyReply, next: string) {
    // Outside WeChat, WeChat's authorize only says "请在微信客户端打开链接": say it ourselves, with the link.
    // (In sandbox mode any browser plays WeChat's.)
    if (!config.sandbox.enabled && !/MicroMessenger/i.test(req.headers['user-agent'] ?? '')) {
      reply.header('x-h5-error', 'OPEN_IN_WECHAT');
      return html(reply, errorPage(layout, { code: 'OPEN_IN_WECHAT', zh: '请在微信中打开此页面完成支付', en: `Open this page in WeChat to pay: ${origin(req)}${next}` }), 200);
    }
    let binding = req.cookies[BINDING_COOKIE];
    if (!isBinding(binding)) {
      binding = newBinding();
      reply.setCookie(BINDING_COOKIE, binding, { path: dir, httpOnly: true, sameSite: 'lax', secure: secure(req), maxAge: 24 * 3600 });
    }
    const state = await states.issue(binding, next);
    const url = authorizeUrl({ openBase: config.wechat.openBase, appid: oa!.appid, redirectUri: `${origin(req)}${dir}oauth/callback`, scope: 'snsapi_base', state });
    return reply.redirect(url, 302);
  }

  const query = (req: FastifyRequest, name: string): string | undefined => {
    const v = (req.query as Record<string, unknown>)[name];
    return typeof v === 'string' ? v : undefined;
  };

  // Pages: named 4xx errors as a Chinese page with the code; anything else masked, with the request id.
  await app.register(async (pages) => {
    pages.setErrorHandler((err, req, reply) => {
      const e = err as Error & { statusCode?: number; code?: string; validation?: unknown };
      if (e.validation || e.code === 'FST_ERR_VALIDATION') return html(reply, errorPage(layout, { code: 'VALIDATION_ERROR', zh: '提交的内容有误', en: e.message, retry: { href: dir, zh: '返回', en: 'Back' } }), 400);
      if (isNamedError(e) && e.statusCode < 500) {
        return html(reply, errorPage(layout, { code: e.code, zh: zhFor(e.code), en: e.message, retry: { href: dir, zh: '返回', en: 'Back' } }), e.statusCode);
      }
      req.log.error({ err: e, route: req.routeOptions.url }, 'h5 page failed');
      const status = isNamedError(e) ? e.statusCode : 500;
      return html(reply, errorPage(layout, { code: isNamedError(e) ? e.code : 'INTERNAL', zh: '页面暂时无法显示，请稍后重试', en: 'Something went wrong: try again shortly', requestId: String(req.id), retry: { href: req.url, zh: '重试', en: 'Retry' } }), status);
    });

    pages.get(`${dir}assets/h5.js`, { schema: pageSchema('the script of the checkout pages', 'application/javascript') }, async (_req, reply) => reply.header('content-type', 'application/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(H5_SCRIPT));
    pages.get(`${dir}assets/h5.css`, { schema: pageSchema('the stylesheet of the checkout pages', 'text/css') }, async (_req, reply) => reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(H5_STYLE));

    pages.get(dir, page('goods (商品列表)'), async (req, reply) => {
      if (!req.h5) return login(req, reply, req.url);
      return html(reply, catalogPage(layout, app.catalog.list()));
    });

    pages.get(`${dir}checkout`, page('the checkout of one product (下单), after the silent OAuth'), async (req, reply) => {
      const sku = query(req, 'sku');
      const product = sku ? app.catalog.get(sku) : undefined;
      if (!product) {
        reply.header('x-h5-error', 'UNKNOWN_SKU');
        return html(reply, errorPage(layout, { code: 'UNKNOWN_SKU', zh: '商品不存在或已下架', en: 'This product does not exist', retry: { href: dir, zh: '查看全部商品', en: 'All goods' } }), 404);
      }
      if (!req.h5) return login(req, reply, req.url);
      return html(reply, checkoutPage(layout, { product, csrf: csrfOf(req.h5.token), key: randomBytes(16).toString('base64url') }));
    });

    pages.post<{ Body: Static<typeof OrderFormSchema> }>(
      `${dir}orders`,
      {
        schema: { body: OrderFormSchema, ...pageSchema('the order made: a redirect to its page, or an error page') },
        config: {
          rateLimit: { max: 30, timeWindow: '1 minute', keyGenerator: (req: FastifyRequest) => (req.h5 ? `h5:${req.h5.session.buyerId}` : req.ip) },
        },
      },
      async (req, reply) => {
        // a form post cannot follow a redirect to WeChat (form-action 'self'): say so instead
        if (!req.h5) return oauthError(reply, 'SESSION_EXPIRED', 401, `${dir}checkout?sku=${encodeURIComponent(req.body.sku)}`);
        if (!csrfOk(req, req.body._csrf)) {
          reply.header('x-h5-error', 'CSRF_INVALID');
          return html(reply, errorPage(layout, { code: 'CSRF_INVALID', zh: '页面已过期，请返回重新下单', en: 'The page expired: go back and order again', retry: { href: `${dir}checkout?sku=${encodeURIComponent(req.body.sku)}`, zh: '重新下单', en: 'Order again' } }), 403);
        }
        const { session } = req.h5;
        const items = [{ sku: req.body.sku, quantity: Number(req.body.quantity) }];
        const { order } = await app.orders.create(
          { buyerId: session.buyerId, appid: session.appid, openid: session.openid, channel: 'oa-h5' },
          items,
          clientIp(req.ip),
          { idempotencyKey: req.body.key, body: items },
        );
        return reply.redirect(`${dir}order?id=${order._id.toString()}`, 303);
      },
    );

    const ownOrder = async (req: FastifyRequest) => {
      const id = query(req, 'id');
      if (!id || !ORDER_ID_RE.test(id) || !req.h5) throw new Errors.NotFound('Order');
      const order = await app.orderRepo.findForOwner(id, req.h5.session.buyerId);
      if (!order) throw new Errors.NotFound('Order');
      return order;
    };

    const pageData = (req: FastifyRequest, id: string, jssdk?: JssdkConfig) => ({
      csrf: csrfOf(req.h5!.token),
      api: { order: `${dir}api/orders/${id}`, pay: `${dir}api/orders/${id}/pay` },
      resultUrl: `${dir}result?id=${id}`,
      statusText: STATUS_TEXT,
      ...(jssdk ? { jssdk } : {}),
    });

    pages.get(`${dir}order`, page('an order, with its pay button (getBrandWCPayRequest)'), async (req, reply) => {
      if (!req.h5) return login(req, reply, req.url);
      const order = toApiOrder(await app.orders.refresh(await ownOrder(req)));
      let jssdk: JssdkConfig | undefined;
      try {
        // signed for this very page, as the browser will report location.href (without the fragment)
        jssdk = jssdkConfig({ appid: oa.appid, ticket: await tickets.getTicket(), url: `${origin(req)}${req.url}` });
      } catch (err) {
        // the pay does not need the JS-SDK: WeixinJSBridge works without wx.config
        req.log.warn({ code: (err as WxLoginError).code, errcode: (err as WxLoginError).errcode }, 'no jsapi_ticket: the page goes without wx.config');
      }
      return html(reply, orderPage(layout, { order, data: pageData(req, order.id, jssdk) }));
    });

    pages.get(`${dir}result`, page('the result page: polls the server until PAID'), async (req, reply) => {
      if (!req.h5) return login(req, reply, req.url);
      const order = toApiOrder(await app.orders.refresh(await ownOrder(req)));
      return html(reply, resultPage(layout, { order, data: pageData(req, order.id) }));
    });

    pages.get(`${dir}orders`, page('the orders of the buyer (我的订单), every channel'), async (req, reply) => {
      if (!req.h5) return login(req, reply, req.url);
      const list = await app.orderRepo.listForOwner(req.h5.session.buyerId, 50);
      return html(reply, ordersPage(layout, list.map(toApiOrder)));
    });

    pages.get(`${dir}oauth/callback`, page('OAuth callback: exchanges the code, then redirects back, or an error page with a retry link'), async (req, reply) => {
      const taken = await states.take(query(req, 'state'), req.cookies[BINDING_COOKIE]);
      if (!taken.ok) {
        req.log.warn({ security: true, event: 'h5_oauth_state_refused', reason: taken.reason }, 'OAuth callback with a bad state');
        const code: OauthErrorCode = taken.reason === 'missing' ? 'STATE_MISSING' : taken.reason === 'foreign' ? 'STATE_FOREIGN' : 'STATE_INVALID';
        return oauthError(reply, code, 400, taken.reason === 'foreign' ? taken.next : undefined);
      }
      const code = query(req, 'code');
      if (!code) return oauthError(reply, 'CODE_MISSING', 400, taken.next);
      const exhausted = await limits.failuresExhausted(req.ip);
      if (exhausted) return oauthError(reply, 'LOGIN_LIMITED', 429, taken.next);
      let who;
      try {
        who = await oauthAccessToken(oauthApp, code);
      } catch (err) {
        if (!(err instanceof WxLoginError)) throw err;
        req.log.info({ code: err.code, errcode: err.errcode }, 'H5 login refused by WeChat');
        if (err.code === 'INVALID_CODE' || err.code === 'CODE_USED' || err.code === 'INVALID_ARGUMENT') {
          await limits.recordFailure(req.ip);
          return oauthError(reply, err.code === 'CODE_USED' ? 'CODE_USED' : 'CODE_INVALID', 400, taken.next);
        }
        if (err.code === 'RATE_LIMITED') return oauthError(reply, 'LOGIN_LIMITED', 429, taken.next);
        return oauthError(reply, 'WECHAT_UNAVAILABLE', err.code === 'WECHAT_BUSY' ? 503 : 502, taken.next);
      }
      const { buyerId } = await app.buyers.link({ appid: oa.appid, openid: who.openid, ...(who.unionid ? { unionid: who.unionid } : {}) });
      const token = await app.sessions.create({ buyerId, appid: oa.appid, openid: who.openid, ...(who.unionid ? { unionid: who.unionid } : {}) });
      reply.setCookie(SESSION_COOKIE, token, { path: dir, httpOnly: true, sameSite: 'lax', secure: secure(req), maxAge: config.session.ttl });
      // only back into the payment directory (the stored value is ours, but never an open redirect)
      const next = taken.next.startsWith(dir) && !taken.next.startsWith('//') ? taken.next : dir;
      return reply.redirect(next, 303);
    });
  });

  // JSON for the page script: the server's ordinary error bodies, scoped to the H5 session's buyer.
  await app.register(async (api) => {
    api.addHook('preHandler', async (req) => {
      if (!req.h5) throw new Errors.Unauthorized();
    });
    const load = (req: FastifyRequest<{ Params: { id: string } }>) => app.orders.ownOrder(req.params.id, req.h5!.session.buyerId);
    api.get<{ Params: { id: string } }>(
      `${dir}api/orders/:id`,
      { schema: { params: OrderIdParams, response: { 200: OrderSchema, ...errorResponses } } },
      async (req) => toApiOrder(await app.orders.refresh(await load(req))),
    );
    api.post<{ Params: { id: string } }>(
      `${dir}api/orders/:id/pay`,
      { schema: { params: OrderIdParams, response: { 200: PayParamsSchema, ...errorResponses, 403: ErrorSchema } } },
      async (req) => {
        if (!csrfOk(req, req.headers['x-csrf-token'])) throw new Errors.CsrfInvalid();
        const p = await app.orders.pay(await load(req));
        // exactly what getBrandWCPayRequest takes; the sandbox's bridge needs nothing more
        return { appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType, paySign: p.paySign };
      },
    );
  });
}

function zhFor(code: string): string {
  const zh: Record<string, string> = {
    NOT_FOUND: '订单不存在',
    UNKNOWN_SKU: '商品不存在或已下架',
    BAD_QUANTITY: '数量须为 1 到 99',
    RATE_LIMITED: '操作过于频繁，请稍后再试',
    IDEMPOTENCY_KEY_REUSED: '订单已提交，请勿重复提交',
    ORDER_TOO_LARGE: '订单金额超出上限',
  };
  return zh[code] ?? '请求无法完成';
}

