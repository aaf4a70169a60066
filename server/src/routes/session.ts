import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Errors } from '../errors.js';
import { bearerToken } from '../plugins/auth.js';
import { WxLoginError } from '../wechat/index.js';
import { errorResponses } from './schemas.js';

export const SessionRequestSchema = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }) },
  { additionalProperties: false },
);
export const SessionResponseSchema = Type.Object({ token: Type.String(), expiresIn: Type.Integer() });

function loginError(err: WxLoginError): Error {
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

/** POST /api/session: a wx.login code for our own opaque token; DELETE revokes it. */
const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/api/session',
    {
      schema: { body: SessionRequestSchema, response: { 200: SessionResponseSchema, ...errorResponses } },
      config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
    },
    async (req) => {
      let result;
      try {
        result = await app.wechat.mp.code2Session(req.body.code);
      } catch (err) {
        if (err instanceof WxLoginError) {
          req.log.info({ code: err.code, errcode: err.errcode }, 'login refused by WeChat');
          throw loginError(err);
        }
        throw err;
      }
      const token = await app.sessions.create({
        openid: result.openid,
        sessionKey: result.session_key,
        unionid: result.unionid,
      });
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
