import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { createSessionStore, type Session, type SessionStore } from '../sessions.js';

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore;
    /** preHandler for user routes: 401 UNAUTHORIZED without a live session token */
    authenticate: (req: FastifyRequest) => Promise<void>;
  }
  interface FastifyRequest {
    user: Session;
  }
}

export function bearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1];
}

export default fp(
  async (app) => {
    const sessions = createSessionStore(app.redis, app.config.session.ttl);
    app.decorate('sessions', sessions);
    app.decorateRequest('user', undefined as unknown as Session);
    app.decorate('authenticate', async (req: FastifyRequest) => {
      const token = bearerToken(req);
      const session = token ? await sessions.get(token) : null;
      if (!session) throw new Errors.Unauthorized();
      if (session.buyerId === undefined) {
        // Made by the mini-program login before buyers existed: link it now, keep the token working.
        const appid = app.config.wechat.appid;
        const { buyerId } = await app.buyers.link({ appid, openid: session.openid, ...(session.unionid ? { unionid: session.unionid } : {}) });
        const full: Session = { buyerId, appid, openid: session.openid, ...(session.unionid ? { unionid: session.unionid } : {}) };
        await sessions.upgrade(token as string, full);
        req.user = full;
        return;
      }
      req.user = session;
    });
  },
  { name: 'auth', dependencies: ['redis', 'buyers'] },
);
