import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { actorOf, installAdminGuard, type AdminRole } from '../admin/guard.js';
import { Errors } from '../errors.js';
import type { OrderDoc } from '../orders/model.js';
import type { RefundDoc, RefundRequestDoc } from '../refunds/model.js';
import { toApiOrder } from '../orders/service.js';
import { OrderIdParams, OrderSchema } from './schemas.js';
import { adminErrorResponses as errorResponses } from './admin-schemas.js';
import { NotifyEntrySchema, QueryEntrySchema, toNotifyEntry, toQueryEntry } from './admin-schemas.js';

export const AdminOrderSchema = Type.Intersect([
  OrderSchema,
  Type.Object({
    openid: Type.String(),
    paidAmount: Type.Optional(Type.Integer()),
    flags: Type.Array(Type.String()),
    followUp: Type.Optional(Type.Union([Type.Literal('OPEN'), Type.Literal('RESOLVED')])),
    fulfilment: Type.Optional(Type.Union([Type.Literal('PENDING'), Type.Literal('EMITTED'), Type.Literal('HELD')])),
    extraPayments: Type.Array(
      Type.Object({ transactionId: Type.String(), totalFee: Type.Integer(), paidAt: Type.String(), reportedAt: Type.String(), source: Type.String() }),
    ),
    history: Type.Array(Type.Object({ from: Type.String(), to: Type.String(), at: Type.String(), source: Type.String() })),
    refundReserved: Type.Integer(),
  }),
]);

export const RefundSchema = Type.Object({
  id: Type.String(),
  orderId: Type.String(),
  outTradeNo: Type.String(),
  outRefundNo: Type.String(),
  amount: Type.Integer(),
  totalFee: Type.Integer(),
  reason: Type.String(),
  requestedBy: Type.String(),
  status: Type.String(),
  refundId: Type.Optional(Type.String()),
  lastError: Type.Optional(Type.Object({ code: Type.String(), message: Type.String(), at: Type.String() })),
  waitingSince: Type.Optional(Type.String()),
  attempts: Type.Integer(),
  successAt: Type.Optional(Type.String()),
  recvAccount: Type.Optional(Type.String()),
  createdAt: Type.String(),
  history: Type.Array(Type.Object({ from: Type.String(), to: Type.String(), at: Type.String(), source: Type.String(), note: Type.Optional(Type.String()) })),
});

export const RefundRequestSchema = Type.Object({
  id: Type.String(),
  orderId: Type.String(),
  reason: Type.String(),
  status: Type.String(),
  refundId: Type.Optional(Type.String()),
  decidedBy: Type.Optional(Type.String()),
  decisionNote: Type.Optional(Type.String()),
  decidedAt: Type.Optional(Type.String()),
  createdAt: Type.String(),
});

export function toApiRefund(r: RefundDoc) {
  return {
    id: r._id.toString(),
    orderId: r.orderId.toString(),
    outTradeNo: r.outTradeNo,
    outRefundNo: r.outRefundNo,
    amount: r.amount,
    totalFee: r.totalFee,
    reason: r.reason,
    requestedBy: r.requestedBy,
    status: r.status,
    ...(r.refundId ? { refundId: r.refundId } : {}),
    ...(r.lastError ? { lastError: { code: r.lastError.code, message: r.lastError.message, at: r.lastError.at.toISOString() } } : {}),
    ...(r.waitingSince ? { waitingSince: r.waitingSince.toISOString() } : {}),
    attempts: r.attempts,
    ...(r.successAt ? { successAt: r.successAt.toISOString() } : {}),
    ...(r.recvAccount ? { recvAccount: r.recvAccount } : {}),
    createdAt: r.createdAt.toISOString(),
    history: r.history.map((h) => ({ from: h.from, to: h.to, at: h.at.toISOString(), source: h.source, ...(h.note ? { note: h.note } : {}) })),
  };
}

export function toApiRefundRequest(r: RefundRequestDoc) {
  return {
    id: r._id.toString(),
    orderId: r.orderId.toString(),
    reason: r.reason,
    status: r.status,
    ...(r.refundId ? { refundId: r.refundId.toString() } : {}),
    ...(r.decidedBy ? { decidedBy: r.decidedBy } : {}),
    ...(r.decisionNote ? { decisionNote: r.decisionNote } : {}),
    ...(r.decidedAt ? { decidedAt: r.decidedAt.toISOString() } : {}),
    createdAt: r.createdAt.toISOString(),
  };
}

export function toAdminOrder(o: OrderDoc) {
  return {
    ...toApiOrder(o),
    openid: o.openid,
    ...(o.paidAmount !== undefined ? { paidAmount: o.paidAmount } : {}),
    flags: o.flags,
    ...(o.followUp ? { followUp: o.followUp } : {}),
    ...(o.fulfilment ? { fulfilment: o.fulfilment.state } : {}),
    extraPayments: (o.extraPayments ?? []).map((p) => ({
      transactionId: p.transactionId,
      totalFee: p.totalFee,
      paidAt: p.paidAt.toISOString(),
      reportedAt: p.reportedAt.toISOString(),
      source: p.source,
    })),
    history: o.history.map((h) => ({ from: h.from, to: h.to, at: h.at.toISOString(), source: h.source })),
    refundReserved: o.refundReserved ?? 0,
  };
}

const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;
const Reason = Type.String({ minLength: 1, maxLength: 200 });

/**
 * The operators' API under /admin/api/: an operator's console session or the bearer token
 * (ADMIN_API_TOKEN), each route naming the weakest role it needs (admin/guard.ts).
 */
const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  installAdminGuard(app);

  app.get(
    '/admin/api/follow-ups',
    {
      config: { adminRole: 'viewer' satisfies AdminRole },
      schema: {
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }),
        response: { 200: Type.Object({ items: Type.Array(AdminOrderSchema) }), ...errorResponses },
      },
    },
    async (req) => ({ items: (await app.orders.followUps(req.query.limit ?? 100)).map(toAdminOrder) }),
  );

  // who calls: an operator (console session) or the API token; their name goes into every record
  const actor = (req: FastifyRequest) => actorOf(req);
  const audit = (req: FastifyRequest, entry: { action: string; target: { kind: string; id: string }; before?: unknown; after?: unknown; reason?: string }) =>
    app.audit.record({ actor: actor(req), ip: req.ip, ...entry });

  app.get(
    '/admin/api/orders/:id',
    {
      config: { adminRole: 'viewer' satisfies AdminRole },
      schema: {
        params: OrderIdParams,
        response: {
          200: Type.Intersect([
            AdminOrderSchema,
            Type.Object({
              refunds: Type.Array(RefundSchema),
              refundRequests: Type.Array(RefundRequestSchema),
              notifies: Type.Array(NotifyEntrySchema),
              queries: Type.Array(QueryEntrySchema),
            }),
          ]),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const order = await app.orderRepo.find({ id: req.params.id });
      if (!order) throw new Errors.NotFound('Order');
      const [refunds, requests, notifies, queries] = await Promise.all([
        app.refunds.forOrder(order._id),
        app.refunds.requestsFor(order._id),
        app.activity.notifiesFor(order.outTradeNo),
        app.activity.queriesFor(order.outTradeNo),
      ]);
      return {
        ...toAdminOrder(order),
        refunds: refunds.map(toApiRefund),
        refundRequests: requests.map(toApiRefundRequest),
        notifies: notifies.map(toNotifyEntry),
        queries: queries.map(toQueryEntry),
      };
    },
  );

  app.post(
    '/admin/api/orders/:id/refunds',
    {
      config: { adminRole: 'support' satisfies AdminRole },
      schema: {
        params: OrderIdParams,
        body: Type.Object({ amount: Type.Integer({ minimum: 1 }), reason: Reason }, { additionalProperties: false }),
        response: { 200: RefundSchema, 201: RefundSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY_RE.test(key))) throw new Errors.BadIdempotencyKey();
      // support refunds small amounts on its own; anything larger is finance's
      const limit = app.config.admin.supportRefundLimit;
      if (req.adminActor?.role === 'support' && req.body.amount > limit) throw new Errors.RefundOverLimit(String(limit));
      const { refund, replayed } = await app.refunds.create({
        orderId: req.params.id,
        amount: req.body.amount,
        reason: req.body.reason,
        requestedBy: actor(req),
        ...(key !== undefined ? { idempotencyKey: key } : {}),
      });
      if (!replayed) {
        await audit(req, {
          action: 'refund.create',
          target: { kind: 'order', id: req.params.id },
          after: { refundId: refund._id.toString(), outRefundNo: refund.outRefundNo, amount: refund.amount, status: refund.status },
          reason: req.body.reason,
        });
      }
      return reply.code(replayed ? 200 : 201).send(toApiRefund(refund));
    },
  );

  app.get(
    '/admin/api/refunds',
    {
      config: { adminRole: 'viewer' satisfies AdminRole },
      schema: {
        querystring: Type.Object({
          status: Type.Optional(Type.Union(['PENDING', 'PROCESSING', 'SUCCESS', 'CHANGE', 'REFUNDCLOSE', 'FAILED'].map((x) => Type.Literal(x)))),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(RefundSchema) }), ...errorResponses },
      },
    },
    async (req) => ({
      items: (await app.refunds.list(req.query.status ? { status: req.query.status as RefundDoc['status'] } : {}, req.query.limit ?? 100)).map(toApiRefund),
    }),
  );

  app.get(
    '/admin/api/refunds/:id',
    { config: { adminRole: 'viewer' satisfies AdminRole }, schema: { params: OrderIdParams, response: { 200: RefundSchema, ...errorResponses } } },
    async (req) => {
      const refund = await app.refunds.get(req.params.id);
      if (!refund) throw new Errors.NotFound('Refund');
      return toApiRefund(refund);
    },
  );

  app.get(
    '/admin/api/refund-requests',
    { config: { adminRole: 'viewer' satisfies AdminRole }, schema: { response: { 200: Type.Object({ items: Type.Array(RefundRequestSchema) }), ...errorResponses } } },
    async () => ({ items: (await app.refunds.openRequests()).map(toApiRefundRequest) }),
  );

  app.post(
    '/admin/api/refund-requests/:id/approve',
    {
      config: { adminRole: 'support' satisfies AdminRole },
      schema: {
        params: OrderIdParams,
        body: Type.Object({ amount: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ request: RefundRequestSchema, refund: RefundSchema }), ...errorResponses },
      },
    },
    async (req) => {
      const { request, refund } = await app.refunds.approve(req.params.id, actor(req), req.body.amount);
      await audit(req, {
        action: 'refund-request.approve',
        target: { kind: 'refund-request', id: req.params.id },
        after: { refundId: refund._id.toString(), amount: refund.amount },
        reason: request.reason,
      });
      return { request: toApiRefundRequest(request), refund: toApiRefund(refund) };
    },
  );

  app.post(
    '/admin/api/refund-requests/:id/reject',
    {
      config: { adminRole: 'support' satisfies AdminRole },
      schema: {
        params: OrderIdParams,
        body: Type.Object({ note: Reason }, { additionalProperties: false }),
        response: { 200: RefundRequestSchema, ...errorResponses },
      },
    },
    async (req) => {
      const request = await app.refunds.reject(req.params.id, actor(req), req.body.note);
      await audit(req, { action: 'refund-request.reject', target: { kind: 'refund-request', id: req.params.id }, reason: req.body.note });
      return toApiRefundRequest(request);
    },
  );

  // A held payment (PAID_AFTER_CLOSE, AMOUNT_MISMATCH, ...): give all of it back in one step.
  app.post(
    '/admin/api/orders/:id/refund-in-full',
    {
      config: { adminRole: 'finance' satisfies AdminRole },
      schema: {
        params: OrderIdParams,
        body: Type.Object({ reason: Reason }, { additionalProperties: false }),
        response: { 200: RefundSchema, 201: RefundSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const order = await app.orderRepo.find({ id: req.params.id });
      if (!order) throw new Errors.NotFound('Order');
      const left = (order.paidAmount ?? order.amount) - (order.refundReserved ?? 0);
      if (left < 1) throw new Errors.OrderNotRefundable(order.status);
      const { refund, replayed } = await app.refunds.create({
        orderId: req.params.id,
        amount: left,
        reason: req.body.reason,
        requestedBy: actor(req),
        idempotencyKey: `refund-in-full-${order.version}`,
      });
      await app.orderRepo.resolveFollowUp(order._id);
      if (!replayed) {
        await audit(req, {
          action: 'refund.full',
          target: { kind: 'order', id: req.params.id },
          before: { flags: order.flags, followUp: order.followUp ?? null },
          after: { refundId: refund._id.toString(), amount: refund.amount, followUp: 'RESOLVED' },
          reason: req.body.reason,
        });
      }
      return reply.code(replayed ? 200 : 201).send(toApiRefund(refund));
    },
  );

  app.get(
    '/admin/api/audit',
    {
      config: { adminRole: 'admin' satisfies AdminRole },
      schema: {
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })), target: Type.Optional(Type.String({ maxLength: 64 })) }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                at: Type.String(),
                actor: Type.String(),
                action: Type.String(),
                target: Type.Object({ kind: Type.String(), id: Type.String() }),
                before: Type.Optional(Type.Unknown()),
                after: Type.Optional(Type.Unknown()),
                reason: Type.Optional(Type.String()),
                ip: Type.String(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => ({
      items: (await app.audit.list({ limit: req.query.limit ?? 100, ...(req.query.target ? { targetId: req.query.target } : {}) })).map((e) => ({
        at: e.at.toISOString(),
        actor: e.actor,
        action: e.action,
        target: e.target,
        ...(e.before !== undefined ? { before: e.before } : {}),
        ...(e.after !== undefined ? { after: e.after } : {}),
        ...(e.reason ? { reason: e.reason } : {}),
        ip: e.ip,
      })),
    }),
  );
};
export default adminRoutes;
