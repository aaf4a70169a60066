import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { RefundRequestSchema, toApiRefundRequest } from './admin.js';
import { errorResponses, OrderIdParams } from './schemas.js';

const BuyerRefundSchema = Type.Object({
  id: Type.String(),
  amount: Type.Integer(),
  status: Type.String(),
  reason: Type.String(),
  createdAt: Type.String(),
  successAt: Type.Optional(Type.String()),
});

/** A buyer asks for a refund of their own paid order; an operator approves or rejects it. */
const refundRequestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('preHandler', app.authenticate);

  const load = (id: string, buyerId: string) => app.orders.ownOrder(id, buyerId);

  app.post(
    '/api/orders/:id/refund-requests',
    {
      schema: {
        params: OrderIdParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 201: RefundRequestSchema, ...errorResponses },
      },
      config: { rateLimit: { max: 10, timeWindow: '1 minute', hook: 'preHandler', keyGenerator: (req: { user?: { buyerId: string }; ip: string }) => (req.user ? `rr:${req.user.buyerId}` : req.ip) } },
    },
    async (req, reply) => {
      const order = await load(req.params.id, req.user.buyerId);
      const request = await app.refunds.request(order, req.body.reason);
      return reply.code(201).send(toApiRefundRequest(request));
    },
  );

  app.get(
    '/api/orders/:id/refunds',
    { schema: { params: OrderIdParams, response: { 200: Type.Object({ items: Type.Array(BuyerRefundSchema) }), ...errorResponses } } },
    async (req) => {
      const order = await load(req.params.id, req.user.buyerId);
      return {
        items: (await app.refunds.forOrder(order._id)).map((r) => ({
          id: r._id.toString(),
          amount: r.amount,
          status: r.status,
          reason: r.reason,
          createdAt: r.createdAt.toISOString(),
          ...(r.successAt ? { successAt: r.successAt.toISOString() } : {}),
        })),
      };
    },
  );

  app.get(
    '/api/orders/:id/refund-requests',
    { schema: { params: OrderIdParams, response: { 200: Type.Object({ items: Type.Array(RefundRequestSchema) }), ...errorResponses } } },
    async (req) => {
      const order = await load(req.params.id, req.user.buyerId);
      return { items: (await app.refunds.requestsFor(order._id)).map(toApiRefundRequest) };
    },
  );
};
export default refundRequestRoutes;
