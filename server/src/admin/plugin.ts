import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Errors } from '../errors.js';
import { createActivityLog, logOrderQueries, type ActivityLog } from './activity-log.js';
import { createConsoleSessionStore, type ConsoleSessionStore } from './console-sessions.js';
import { createOperatorRepository, type OperatorRepository } from './operators.js';

declare module 'fastify' {
  interface FastifyInstance {
    operators: OperatorRepository;
    consoleSessions: ConsoleSessionStore;
    /** the notify log and the orderquery log (what the order page shows of WeChat's traffic) */
    activity: ActivityLog;
  }
}

/** Set on a raw request by the admin listener (listener.ts): it came in on ADMIN_PORT. */
export const kAdminListener = Symbol('adminListener');
export const isAdminPath = (url: string) => url === '/admin' || url.startsWith('/admin/') || url.startsWith('/admin?');
/** what the admin listener serves: the console, its API, and Prometheus' /metrics */
const servedOnAdminListener = (url: string) => isAdminPath(url) || url === '/metrics' || url.startsWith('/metrics?');
/** whether a request came in on the ADMIN_PORT listener (startAdminListener marks them) */
export const onAdminListener = (req: FastifyRequest) => (req.raw as IncomingMessage & { [kAdminListener]?: boolean })[kAdminListener] === true;

/**
 * What the operators' side needs before any /admin route: cookies, operator accounts, console
 * sessions in Redis, the notify and orderquery logs; and, with ADMIN_PORT, the rule that /admin is
 * served only on the admin listener and nothing else is.
 */
export default fp(
  async (app) => {
    app.decorate('operators', await createOperatorRepository(app.mongo));
    app.decorate('consoleSessions', createConsoleSessionStore(app.redis, app.config.admin.sessionTtlSeconds));
    const activity = await createActivityLog(app.mongo);
    app.decorate('activity', activity);
    logOrderQueries(app.wechat.pay, activity, app.log);

    if (app.config.admin.port !== undefined) {
      app.addHook('onRequest', async (req: FastifyRequest) => {
        if (onAdminListener(req) !== servedOnAdminListener(req.url)) throw new Errors.NotFound('Route');
      });
    }
  },
  { name: 'admin', dependencies: ['mongo', 'redis', 'wechat'] },
);
