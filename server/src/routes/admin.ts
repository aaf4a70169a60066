import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { isAdminToken } from '../admin/api-token.js';
import { Errors } from '../errors.js';
import type { OrderDoc } from '../orders/model.js';
import { toApiOrder } from '../orders/service.js';
import { errorResponses, OrderIdParams, OrderSchema } from './schemas.js';

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
  }),
]);

function toAdminOrder(o: OrderDoc) {
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
  };
}

/**
 * The operators' API under /admin/api/: a bearer token (ADMIN_API_TOKEN) for now; without one
 * configured, the whole API answers 404 as if it did not exist.
 */
const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const token = app.config.admin.apiToken;
  app.addHook('onRequest', async (req) => {
    if (!token) throw new Errors.NotFound('Route');
    if (!isAdminToken(req.headers.authorization, token)) {
      req.log.warn({ security: true, event: 'admin_unauthorized' }, 'admin API call without a valid token');
      throw new Errors.Unauthorized();
    }
  });

  app.get(
    '/admin/api/follow-ups',
    {
      schema: {
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }),
        response: { 200: Type.Object({ items: Type.Array(AdminOrderSchema) }), ...errorResponses },
      },
    },
    async (req) => ({ items: (await app.orders.followUps(req.query.limit ?? 100)).map(toAdminOrder) }),
  );

  app.get(
    '/admin/api/orders/:id',
    { schema: { params: OrderIdParams, response: { 200: AdminOrderSchema, ...errorResponses } } },
    async (req) => {
      const order = await app.orderRepo.find({ id: req.params.id });
      if (!order) throw new Errors.NotFound('Order');
      return toAdminOrder(order);
    },
  );
};
export default adminRoutes;
