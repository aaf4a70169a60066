import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf, installAdminGuard, type AdminRole } from '../admin/guard.js';
import { SESSION_COOKIE } from '../admin/console-sessions.js';
import { dummyPasswordHash, isLocked, LOCKOUT, publicOperator, verifyPassword } from '../admin/operators.js';
import { Errors } from '../errors.js';
import { adminErrorResponses, OperatorSchema } from './admin-schemas.js';

/** per client IP, every login attempt (the per-account lockout is the operators' own count) */
export const CONSOLE_LOGIN_LIMIT = { max: 60, windowMs: 60_000 } as const;

const SessionSchema = Type.Object({
  operator: Type.Union([OperatorSchema, Type.Object({ id: Type.String(), name: Type.String(), role: Type.String() })]),
  csrfToken: Type.Optional(Type.String()),
});

function setSessionCookie(req: FastifyRequest, reply: FastifyReply, token: string) {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/admin',
    httpOnly: true,
    sameSite: 'strict',
    // behind TLS (directly, or a trusted proxy saying so): the cookie never travels in clear
    secure: req.protocol === 'https',
  });
}

const minutes = (ms: number) => `${Math.max(1, Math.ceil(ms / 60_000))} minutes`;

/**
 * The console's sign-in: POST /admin/api/session (name + password) gives a new session cookie,
 * whatever cookie came with it (no fixation); GET tells who is signed in and the CSRF token; DELETE
 * ends the session in Redis. 20 wrong passwords lock an account for an hour or until an admin
 * unlocks it.
 */
const adminSessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  if (!app.config.admin.console) return;

  app.post(
    '/admin/api/session',
    {
      config: { rateLimit: { max: CONSOLE_LOGIN_LIMIT.max, timeWindow: CONSOLE_LOGIN_LIMIT.windowMs } },
      schema: {
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
        response: { 200: SessionSchema, ...adminErrorResponses },
      },
    },
    async (req, reply) => {
      const { name, password } = req.body;
      const now = new Date();
      let op = await app.operators.findByName(name.toLowerCase());
      if (op && isLocked(op, now)) {
        req.log.warn({ security: true, event: 'console_login_locked', operator: op.name }, 'login to a locked account');
        throw new Errors.AccountLocked(minutes(op.lockedUntil!.getTime() - now.getTime()));
      }
      if (op?.lockedUntil) {
        await app.operators.clearExpiredLock(op._id);
        op = { ...op, failedLogins: 0, lockedUntil: null };
      }
      const ok = await verifyPassword(op?.passwordHash ?? (await dummyPasswordHash()), password);
      if (!op || !ok || op.disabled) {
        if (op && !ok) {
          const after = await app.operators.recordFailure(op._id, now);
          if (after && isLocked(after, now)) {
            req.log.warn({ security: true, event: 'console_account_locked', operator: op.name }, 'account locked after too many wrong passwords');
            await app.audit.record({
              actor: 'system',
              action: 'operator.lock',
              target: { kind: 'operator', id: op._id.toString() },
              before: { locked: false },
              after: { locked: true, failedLogins: after.failedLogins, lockedUntil: after.lockedUntil?.toISOString() },
              reason: `${LOCKOUT.maxFailures} wrong passwords`,
              ip: req.ip,
            });
            throw new Errors.AccountLocked(minutes(LOCKOUT.lockMs));
          }
        }
        req.log.warn({ security: true, event: 'console_login_failed' }, 'console login refused');
        throw new Errors.LoginFailed();
      }
      await app.operators.recordSuccess(op._id);
      // A new session every time: a cookie planted before login never becomes a signed-in one.
      await app.consoleSessions.destroy(req.cookies[SESSION_COOKIE]);
      const { token, session } = await app.consoleSessions.create(op._id.toString());
      setSessionCookie(req, reply, token);
      await app.audit.record({ actor: `operator:${op.name}`, action: 'session.login', target: { kind: 'operator', id: op._id.toString() }, ip: req.ip });
      return { operator: publicOperator({ ...op, failedLogins: 0, lockedUntil: null }), csrfToken: session.csrf };
    },
  );

  await app.register(async (guarded) => {
    installAdminGuard(guarded);
    guarded.get(
      '/admin/api/session',
      { config: { adminRole: 'viewer' satisfies AdminRole }, schema: { response: { 200: SessionSchema, ...adminErrorResponses } } },
      async (req) => {
        const actor = req.adminActor!;
        if (!actor.operatorId) return { operator: { id: actor.id, name: actor.id, role: actor.role } };
        const [op, session] = await Promise.all([app.operators.get(actor.operatorId), app.consoleSessions.get(req.cookies[SESSION_COOKIE])]);
        if (!op || !session) throw new Errors.Unauthorized();
        return { operator: publicOperator(op), csrfToken: session.csrf };
      },
    );
    guarded.delete(
      '/admin/api/session',
      { config: { adminRole: 'viewer' satisfies AdminRole }, schema: { response: { 204: Type.Null(), ...adminErrorResponses } } },
      async (req, reply) => {
        await app.consoleSessions.destroy(req.cookies[SESSION_COOKIE]);
        reply.clearCookie(SESSION_COOKIE, { path: '/admin', httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https' });
        await app.audit.record({ actor: actorOf(req), action: 'session.logout', target: { kind: 'operator', id: req.adminActor?.operatorId ?? actorOf(req) }, ip: req.ip });
        return reply.code(204).send();
      },
    );
  });
};
export default adminSessionRoutes;
