// The mobile app (APP pay, open-platform appid):
// - POST /api/app/session: the WeChat SDK's auth code (SendAuth) exchanged at /sns/oauth2/access_token
//   with the open appid and its secret, for openid (and unionid) → the buyer → our own session token,
//   the same kind the mini-program gets. Orders are then made with POST /api/orders as everywhere.
// - POST /api/app/orders/:id/pay: the seven params the SDK's PayReq takes for the order's prepay.
// There is deliberately no "the app says it paid" route: the SDK's errCode 0 is not proof of payment
// (a modified app can send anything). An order becomes PAID from the notify, orderquery (GET
// /api/orders/:id polls it) or the sweeper only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Errors } from '../../errors.js';
import { createLoginLimits, LOGIN_LIMITS, retryAfterSeconds } from '../../login-limits.js';
import { CLIENT_FAULTS, loginError, SessionRequestSchema, SessionResponseSchema } from '../../routes/session.js';
import { errorResponses, OrderIdParams } from '../../routes/schemas.js';
import { oauthAccessToken, WxLoginError } from '../../wechat/index.js';

export const AppPayResponseSchema = Type.Object({
  appid: Type.String(),
  partnerid: Type.String(),
  prepayid: Type.String(),
  package: Type.Literal('Sign=WXPay'),
  noncestr: Type.String(),
  timestamp: Type.String(),
  sign: Type.String(),
  /** sandbox mode: pay at the sandbox's APP cashier (POST {sandboxBase}/sandbox/app-cashier) instead of the SDK */
  sandbox: Type.Optional(Type.Boolean()),
  sandboxBase: Type.Optional(Type.String()),
});

export interface AppRoutesOptions {
  nameSpace?: string;
}

const appRoutes: FastifyPluginAsyncTypebox<AppRoutesOptions> = async (app, opts) => {
  const limits = createLoginLimits(app.redis, `${opts.nameSpace ?? 'rl:'}app:`);
  const openApp = () => {
    const open = app.config.apps.open;
    if (!open) throw new Errors.ChannelNotConfigured('mobile app (WECHAT_OPEN_APPID)');
    return open;
  };
  const throttled = (reply: { header(name: string, value: string): unknown }, resetMs: number) => {
    const seconds = retryAfterSeconds(resetMs);
    reply.header('retry-after', String(seconds));
    return new Errors.LoginThrottled(`${seconds} seconds`);
  };

  app.post(
    '/api/app/session',
    {
      schema: { body: SessionRequestSchema, response: { 200: SessionResponseSchema, ...errorResponses } },
      config: { rateLimit: { max: LOGIN_LIMITS.perIp.max, timeWindow: LOGIN_LIMITS.perIp.windowMs } },
    },
    async (req, reply) => {
      const open = openApp();
      const exhausted = await limits.failuresExhausted(req.ip);
      if (exhausted) {
        req.log.warn({ security: true, event: 'login_failures_limited', ip: req.ip, channel: 'app' }, 'too many failed logins from this client');
        throw throttled(reply, exhausted.resetMs);
      }
      let result;
      try {
        result = await oauthAccessToken({ appid: open.appid, secret: open.appsecret, baseUrl: app.config.wechat.apiBase }, req.body.code);
      } catch (err) {
        if (err instanceof WxLoginError) {
          req.log.info({ code: err.code, errcode: err.errcode, channel: 'app' }, 'app login refused by WeChat');
          if (CLIENT_FAULTS.has(err.code)) await limits.recordFailure(req.ip);
          throw loginError(err);
        }
        throw err;
      }
      const { buyerId } = await app.buyers.link({ appid: open.appid, openid: result.openid, ...(result.unionid ? { unionid: result.unionid } : {}) });
      const created = await app.sessions.createWithinLimit(
        { buyerId, appid: open.appid, openid: result.openid, ...(result.unionid ? { unionid: result.unionid } : {}) },
        limits.perUser(result.openid),
      );
      if ('limitedForMs' in created) {
        req.log.warn({ security: true, event: 'user_logins_limited', channel: 'app' }, 'too many logins for one user');
        throw throttled(reply, created.limitedForMs);
      }
      return { token: created.token, expiresIn: app.sessions.ttlSeconds };
    },
  );

  app.post(
    '/api/app/orders/:id/pay',
    { preHandler: app.authenticate, schema: { params: OrderIdParams, response: { 200: AppPayResponseSchema, ...errorResponses } } },
    async (req) => {
      openApp();
      const order = await app.orders.ownOrder(req.params.id, req.user.buyerId);
      const params = await app.orders.payApp(order);
      return { ...params, ...(app.config.sandbox.enabled ? { sandbox: true, sandboxBase: app.config.pay.apiBase } : {}) };
    },
  );
};
export default appRoutes;
