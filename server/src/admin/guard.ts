import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { isAdminToken } from './api-token.js';

/** Operator roles, weakest first. The console adds operator accounts; the API token acts as `admin`. */
export const ADMIN_ROLES = ['viewer', 'support', 'finance', 'admin'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the weakest role that may call this /admin/api route; a route without one is refused */
    adminRole?: AdminRole;
  }
  interface FastifyRequest {
    /** who is calling the admin API (set by the guard): written to the audit log */
    adminActor?: { id: string; role: AdminRole };
  }
}

/**
 * The onRequest hook every /admin/api plugin installs: a bearer token (ADMIN_API_TOKEN) for now;
 * without one configured, the whole API answers 404 as if it did not exist. Each route states the
 * role it needs in `config.adminRole`, and a route that states none is refused (deny by default).
 */
export function installAdminGuard(app: FastifyInstance): void {
  const token = app.config.admin.apiToken;
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (!token) throw new Errors.NotFound('Route');
    if (!isAdminToken(req.headers.authorization, token)) {
      req.log.warn({ security: true, event: 'admin_unauthorized' }, 'admin API call without a valid token');
      throw new Errors.Unauthorized();
    }
    req.adminActor = { id: 'api-token', role: 'admin' };
    const needed = req.routeOptions.config?.adminRole;
    if (!needed) throw new Errors.NotFound('Route');
  });
}
