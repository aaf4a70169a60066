import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { isAdminToken } from './api-token.js';
import { csrfMatches, SESSION_COOKIE } from './console-sessions.js';

/** Operator roles, weakest first. Operator accounts have one; the API token acts as `admin`. */
export const ADMIN_ROLES = ['viewer', 'support', 'finance', 'admin'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export const roleAtLeast = (role: AdminRole, needed: AdminRole) => ADMIN_ROLES.indexOf(role) >= ADMIN_ROLES.indexOf(needed);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the weakest role that may call this /admin/api route; a route without one is refused */
    adminRole?: AdminRole;
  }
  interface FastifyRequest {
    /** who is calling the admin API (set by the guard): written to the audit log */
    adminActor?: { id: string; role: AdminRole; operatorId?: string; name?: string };
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The onRequest hook every /admin/api plugin installs. A caller is either automation with the bearer
 * token (ADMIN_API_TOKEN, acts as admin) or an operator with a console session cookie; a session's
 * state-changing requests must also carry its CSRF token (x-csrf-token). With neither a token
 * configured nor the console on, the whole API answers 404 as if it did not exist. Each route states
 * the role it needs in `config.adminRole`, and a route that states none is refused (deny by default).
 */
export function installAdminGuard(app: FastifyInstance): void {
  const token = app.config.admin.apiToken;
  const consoleOn = app.config.admin.console;
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (!token && !consoleOn) throw new Errors.NotFound('Route');
    if (req.headers.authorization !== undefined) {
      if (!token || !isAdminToken(req.headers.authorization, token)) {
        req.log.warn({ security: true, event: 'admin_unauthorized' }, 'admin API call without a valid token');
        throw new Errors.Unauthorized();
      }
      req.adminActor = { id: 'api-token', role: 'admin' };
    } else {
      const cookie = consoleOn ? req.cookies?.[SESSION_COOKIE] : undefined;
      const session = cookie ? await app.consoleSessions.get(cookie) : null;
      const operator = session ? await app.operators.get(session.operatorId) : null;
      if (!session || !operator || operator.disabled) {
        if (session) await app.consoleSessions.destroy(cookie);
        throw new Errors.Unauthorized();
      }
      if (!SAFE_METHODS.has(req.method) && !csrfMatches(session, req.headers['x-csrf-token'])) {
        req.log.warn({ security: true, event: 'admin_csrf_refused', operator: operator.name }, 'console request without its CSRF token');
        throw new Errors.CsrfInvalid();
      }
      req.adminActor = { id: `operator:${operator.name}`, role: operator.role, operatorId: operator._id.toString(), name: operator.name };
    }
    const needed = req.routeOptions.config?.adminRole;
    if (!needed) throw new Errors.NotFound('Route');
    if (!roleAtLeast(req.adminActor.role, needed)) throw new Errors.Forbidden(req.adminActor.role, needed);
  });
}

/** who did it, for the audit log and the records a route writes */
export function actorOf(req: FastifyRequest): string {
  return req.adminActor?.id ?? 'unknown';
}
