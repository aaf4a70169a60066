import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf, installAdminGuard, type AdminRole } from '../admin/guard.js';
import { isLocked, publicOperator, type OperatorDoc } from '../admin/operators.js';
import { Errors } from '../errors.js';
import { OrderIdParams } from './schemas.js';
import { adminErrorResponses, OperatorName, OperatorSchema, Password, RoleSchema } from './admin-schemas.js';

// what the audit log keeps of an account: never its password or hash
const snapshot = (o: OperatorDoc) => ({ name: o.name, role: o.role, disabled: o.disabled, locked: isLocked(o) });

/** Operator accounts (admin only): list, create, change role, disable, reset a password, unlock. Each change is audited. */
const adminOperatorRoutes: FastifyPluginAsyncTypebox = async (app) => {
  installAdminGuard(app);
  const admin = { adminRole: 'admin' as AdminRole };

  app.get('/admin/api/operators', { config: admin, schema: { response: { 200: Type.Object({ items: Type.Array(OperatorSchema) }), ...adminErrorResponses } } }, async () => ({
    items: (await app.operators.list()).map(publicOperator),
  }));

  app.post(
    '/admin/api/operators',
    {
      config: admin,
      schema: {
        body: Type.Object({ name: OperatorName, role: RoleSchema, password: Password }, { additionalProperties: false }),
        response: { 201: OperatorSchema, ...adminErrorResponses },
      },
    },
    async (req, reply) => {
      const created = await app.operators.create(req.body);
      if (created === 'exists') throw new Errors.OperatorExists(req.body.name);
      await app.audit.record({ actor: actorOf(req), action: 'operator.create', target: { kind: 'operator', id: created._id.toString() }, after: snapshot(created), ip: req.ip });
      return reply.code(201).send(publicOperator(created));
    },
  );

  app.patch(
    '/admin/api/operators/:id',
    {
      config: admin,
      schema: {
        params: OrderIdParams,
        body: Type.Object(
          { role: Type.Optional(RoleSchema), disabled: Type.Optional(Type.Boolean()), password: Type.Optional(Password), unlock: Type.Optional(Type.Literal(true)) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: OperatorSchema, ...adminErrorResponses },
      },
    },
    async (req) => {
      const before = await app.operators.get(req.params.id);
      if (!before) throw new Errors.NotFound('Operator');
      const { role, disabled, password, unlock } = req.body;
      const losesAdmin = before.role === 'admin' && !before.disabled && ((role !== undefined && role !== 'admin') || disabled === true);
      if (losesAdmin && (await app.operators.activeAdmins()) < 2) throw new Errors.LastAdmin();
      const after = await app.operators.update(req.params.id, {
        ...(role !== undefined ? { role } : {}),
        ...(disabled !== undefined ? { disabled } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(unlock ? { failedLogins: 0, lockedUntil: null } : {}),
      });
      if (!after) throw new Errors.NotFound('Operator');
      // A disabled account or a new password ends every session the account had.
      if (disabled === true || password !== undefined) await app.consoleSessions.destroyAllOf(req.params.id);
      const action = unlock ? 'operator.unlock' : password !== undefined ? 'operator.password' : 'operator.update';
      await app.audit.record({
        actor: actorOf(req),
        action,
        target: { kind: 'operator', id: req.params.id },
        before: snapshot(before),
        after: { ...snapshot(after), ...(password !== undefined ? { password: 'changed' } : {}) },
        ip: req.ip,
      });
      return publicOperator(after);
    },
  );
};
export default adminOperatorRoutes;
