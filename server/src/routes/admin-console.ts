import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf, installAdminGuard, type AdminRole } from '../admin/guard.js';
import { channelOf, createOrderSearch, parseCursor } from '../admin/order-search.js';
import { computeStats, StatsSchema } from '../admin/stats.js';
import { Errors } from '../errors.js';
import type { RefundDoc } from '../refunds/model.js';
import { AdminOrderSchema, RefundSchema, toAdminOrder, toApiRefund } from './admin.js';
import { adminErrorResponses, Reason } from './admin-schemas.js';
import { OrderIdParams, OrderStatusSchema } from './schemas.js';

const DATE = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{3})?)?(Z|[+-]\\d{2}:\\d{2})?)?$';
// a day alone is a Beijing day, as the shop counts them
const toDate = (s: string | undefined, endOfDay = false) => {
  if (!s) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return new Date(new Date(`${s}T00:00:00+08:00`).getTime() + (endOfDay ? 86_400_000 : 0));
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
};

const DeadJobSchema = Type.Object({ id: Type.String(), name: Type.String(), payload: Type.Unknown(), error: Type.String(), attempts: Type.Integer(), failedAt: Type.String() });

/** What the console needs beyond admin.ts: order search, the whole follow-up queue and its actions, the dashboard's figures. */
const adminConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  installAdminGuard(app);
  const search = createOrderSearch(app.mongo);
  const viewer = { adminRole: 'viewer' as AdminRole };
  const finance = { adminRole: 'finance' as AdminRole };

  app.get(
    '/admin/api/orders',
    {
      config: viewer,
      schema: {
        querystring: Type.Object({
          q: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          status: Type.Optional(OrderStatusSchema),
          channel: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]{1,32}$' })),
          from: Type.Optional(Type.String({ pattern: DATE })),
          to: Type.Optional(Type.String({ pattern: DATE })),
          minAmount: Type.Optional(Type.Integer({ minimum: 0 })),
          maxAmount: Type.Optional(Type.Integer({ minimum: 0 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
          before: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(Type.Intersect([AdminOrderSchema, Type.Object({ channel: Type.String() })])), next: Type.Optional(Type.String()) }),
          ...adminErrorResponses,
        },
      },
    },
    async (req) => {
      const qs = req.query;
      const before = parseCursor(qs.before);
      if (before === 'bad') throw new Errors.BadCursor();
      const from = toDate(qs.from);
      const to = toDate(qs.to, true);
      const page = await search.search({
        ...(qs.q ? { q: qs.q.trim() } : {}),
        ...(qs.status ? { status: qs.status } : {}),
        ...(qs.channel ? { channel: qs.channel } : {}),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        ...(qs.minAmount !== undefined ? { minAmount: qs.minAmount } : {}),
        ...(qs.maxAmount !== undefined ? { maxAmount: qs.maxAmount } : {}),
        limit: qs.limit ?? 20,
        ...(before ? { before } : {}),
      });
      return {
        items: page.items.map((o) => ({ ...toAdminOrder(o), channel: channelOf(o) })),
        ...(page.next ? { next: page.next } : {}),
      };
    },
  );

  // The whole follow-up queue: held payments, refunds WeChat could not return (CHANGE), refunds
  // waiting for the merchant balance (NOTENOUGH), dead jobs. Each kind with the action that clears it.
  app.get(
    '/admin/api/queue',
    {
      config: viewer,
      schema: {
        response: {
          200: Type.Object({
            orders: Type.Array(AdminOrderSchema),
            refundsChange: Type.Array(RefundSchema),
            refundsWaiting: Type.Array(RefundSchema),
            deadJobs: Type.Array(DeadJobSchema),
          }),
          ...adminErrorResponses,
        },
      },
    },
    async () => {
      const [orders, change, pending, dead] = await Promise.all([
        app.orders.followUps(200),
        app.refunds.list({ status: 'CHANGE' }, 200),
        app.refunds.list({ status: 'PENDING' }, 500),
        app.jobs.deadLetters({ limit: 100 }),
      ]);
      const open: RefundDoc[] = [];
      for (const r of change) {
        const done = await app.audit.list({ limit: 20, targetId: r._id.toString() });
        if (!done.some((e) => e.action === 'refund.change-resolved')) open.push(r);
      }
      return {
        orders: orders.map(toAdminOrder),
        refundsChange: open.map(toApiRefund),
        refundsWaiting: pending.filter((r) => r.waitingSince || r.lastError?.code === 'NOTENOUGH').map(toApiRefund),
        deadJobs: dead.map((d) => ({ id: d.id, name: d.name, payload: d.payload, error: d.error, attempts: d.attempts, failedAt: d.failedAt.toISOString() })),
      };
    },
  );

  // A held order an operator has dealt with otherwise (kept the money after checking, say): closes its follow-up.
  app.post(
    '/admin/api/orders/:id/resolve',
    {
      config: finance,
      schema: { params: OrderIdParams, body: Type.Object({ reason: Reason }, { additionalProperties: false }), response: { 200: AdminOrderSchema, ...adminErrorResponses } },
    },
    async (req) => {
      const order = await app.orderRepo.find({ id: req.params.id });
      if (!order) throw new Errors.NotFound('Order');
      if (await app.orderRepo.resolveFollowUp(order._id)) {
        await app.audit.record({
          actor: actorOf(req),
          action: 'order.resolve',
          target: { kind: 'order', id: req.params.id },
          before: { flags: order.flags, followUp: order.followUp ?? null },
          after: { followUp: 'RESOLVED' },
          reason: req.body.reason,
          ip: req.ip,
        });
      }
      return toAdminOrder((await app.orderRepo.find({ id: req.params.id }))!);
    },
  );

  // CHANGE: WeChat could not return the money (closed card, ...); finance pays it another way and records it here.
  app.post(
    '/admin/api/refunds/:id/resolve',
    {
      config: finance,
      schema: { params: OrderIdParams, body: Type.Object({ reason: Reason }, { additionalProperties: false }), response: { 200: RefundSchema, ...adminErrorResponses } },
    },
    async (req) => {
      const refund = await app.refunds.get(req.params.id);
      if (!refund) throw new Errors.NotFound('Refund');
      if (refund.status !== 'CHANGE') throw new Errors.OrderNotRefundable(`a refund in ${refund.status}`);
      await app.audit.record({
        actor: actorOf(req),
        action: 'refund.change-resolved',
        target: { kind: 'refund', id: req.params.id },
        before: { status: refund.status },
        after: { handled: 'offline' },
        reason: req.body.reason,
        ip: req.ip,
      });
      return toApiRefund(refund);
    },
  );

  // NOTENOUGH: once the merchant balance is topped up, send it now instead of at the next scheduled try.
  app.post(
    '/admin/api/refunds/:id/retry',
    { config: finance, schema: { params: OrderIdParams, response: { 200: RefundSchema, ...adminErrorResponses } } },
    async (req) => {
      const refund = await app.refunds.get(req.params.id);
      if (!refund) throw new Errors.NotFound('Refund');
      const after = refund.status === 'PENDING' ? await app.refunds.submit(req.params.id, refund.attempts) : refund;
      await app.audit.record({
        actor: actorOf(req),
        action: 'refund.retry',
        target: { kind: 'refund', id: req.params.id },
        before: { status: refund.status, lastError: refund.lastError?.code ?? null },
        after: { status: after.status, lastError: after.lastError?.code ?? null },
        ip: req.ip,
      });
      return toApiRefund(after);
    },
  );

  app.post(
    '/admin/api/dead-jobs/retry',
    {
      config: finance,
      schema: { body: Type.Object({ id: Type.String({ minLength: 3, maxLength: 200 }) }, { additionalProperties: false }), response: { 200: Type.Object({ retried: Type.Boolean() }), ...adminErrorResponses } },
    },
    async (req) => {
      const retried = await app.jobs.retryDead(req.body.id);
      if (!retried) throw new Errors.NotFound('Dead job');
      await app.audit.record({ actor: actorOf(req), action: 'job.retry', target: { kind: 'job', id: req.body.id.slice(0, 64) }, ip: req.ip });
      return { retried };
    },
  );

  app.get(
    '/admin/api/stats',
    {
      config: viewer,
      schema: {
        querystring: Type.Object({
          days: Type.Optional(Type.Integer({ minimum: 1, maximum: 31, default: 7 })),
          bucket: Type.Optional(Type.Union([Type.Literal('day'), Type.Literal('hour')], { default: 'day' })),
        }),
        response: { 200: StatsSchema, ...adminErrorResponses },
      },
    },
    async (req) => computeStats(app, { days: req.query.days ?? 7, bucket: req.query.bucket ?? 'day' }),
  );
};
export default adminConsoleRoutes;
