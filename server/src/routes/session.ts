import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Errors } from '../errors.js';
import { createLoginLimits, LOGIN_LIMITS, retryAfterSeconds } from '../login-limits.js';
import { bearerToken } from '../plugins/auth.js';
import { WxLoginError } from '../wechat/index.js';
import { errorResponses } from './schemas.js';

export const SessionRequestSchema = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }) },
  { additionalProperties: false },
);
export const SessionResponseSchema = Type.Object({ token: Type.String(), expiresIn: Type.Integer() });

/** WeChat's refusal of a login code (wx.login, OAuth, the mobile SDK's) as our named error. */
export function loginError(err: WxLoginError): Error {
  switch (err.code) {
    case 'INVALID_CODE':
    case 'INVALID_ARGUMENT':
      return new Errors.InvalidCode();
    case 'CODE_USED':
      return new Errors.CodeUsed();
    case 'RATE_LIMITED':
      return new Errors.LoginRateLimited();
    case 'RISKY_USER':
      return new Errors.RiskyUser();
    case 'WECHAT_BUSY':
      return new Errors.WechatBusy();
    default:
      return new Errors.WechatUnavailable();
  }
}

// What a client's code did wrong (a real wx.login code never does): counted against its IP.
export const CLIENT_FAULTS: ReadonlySet<string> = new Set(['INVALID_CODE', 'INVALID_ARGUMENT', 'CODE_USED', 'RISKY_USER']);

export interface SessionRoutesOptions {
  /** Redis key prefix of the login limits (the rate limiter's, so that tests isolate both at once) */
  nameSpace?: string;
}

/**
 * POST /api/session: a wx.login code for our own opaque token; DELETE revokes it.
 * Limits (see login-limits.ts): a high ceiling per IP, failed exchanges per IP, logins per openid.
 */
const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, opts) => {
  const limits = createLoginLimits(app.redis, opts.nameSpace ?? 'rl:');
  const throttled = (reply: { header(name: string, value: string): unknown }, resetMs: number) => {
    const seconds = retryAfterSeconds(resetMs);
    reply.header('retry-after', String(seconds));
    return new Errors.LoginThrottled(`${seconds} seconds`);
  };

  app.post(
    '/api/session',
    {
      schema: { body: SessionRequestSchema, response: { 200: SessionResponseSchema, ...errorResponses } },
      config: { rateLimit: { max: LOGIN_LIMITS.perIp.max, timeWindow: LOGIN_LIMITS.perIp.windowMs } },
    },
    async (req, reply) => {
      const exhausted = await limits.failuresExhausted(req.ip);
      if (exhausted) {
        req.log.warn({ security: true, event: 'login_failures_limited', ip: req.ip }, 'too many failed logins from this client');
        throw throttled(reply, exhausted.resetMs);
      }
      const mpApp = app.config.apps.mp;
      if (!mpApp) throw new Errors.ChannelNotConfigured('mini-program (WECHAT_APPID)');
      let result;
      try {
        result = await app.wechat.mp.code2Session(req.body.code);
      } catch (err) {
        if (err instanceof WxLoginError) {
          req.log.info({ code: err.code, errcode: err.errcode }, 'login refused by WeChat');
          if (CLIENT_FAULTS.has(err.code)) await limits.recordFailure(req.ip);
          throw loginError(err);
        }
        throw err;
      }
      const { buyerId } = await app.buyers.link({ appid: mpApp.appid, openid: result.openid, ...(result.unionid ? { unionid: result.unionid } : {}) });
      const created = await app.sessions.createWithinLimit(
        {
          buyerId,
          appid: mpApp.appid,
          openid: result.openid,
          sessionKey: result.session_key,
          ...(result.unionid ? { unionid: result.unionid } : {}),
        },
        limits.perUser(result.openid),
      );
      if ('limitedForMs' in created) {
        req.log.warn({ security: true, event: 'user_logins_limited' }, 'too many logins for one user');
        throw throttled(reply, created.limitedForMs);
      }
      const { token } = created;
      return { token, expiresIn: app.sessions.ttlSeconds };
    },
  );

  app.delete(
    '/api/session',
    { schema: { response: { 204: Type.Null(), ...errorResponses } } },
    async (req, reply) => {
      const token = bearerToken(req);
      if (token) await app.sessions.revoke(token);
      return reply.code(204).send(null);
    },
  );
};
export default sessionRoutes;
