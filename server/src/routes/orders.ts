import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { MAX_LINES, MAX_LINE_QUANTITY } from '../catalog.js';
import { appByAppid, type AppKind } from '../config.js';
import { Errors } from '../errors.js';
import type { OrderChannel } from '../orders/model.js';
import type { Payer } from '../orders/service.js';
import type { Session } from '../sessions.js';
import { toApiOrder } from '../orders/service.js';
import { errorResponses, OrderIdParams, OrderSchema } from './schemas.js';

export const CreateOrderSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          sku: Type.String({ minLength: 1, maxLength: 64 }),
          // Validated again with a clear code in the service; the schema keeps garbage out.
          quantity: Type.Integer({ minimum: 1, maximum: MAX_LINE_QUANTITY }),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_LINES },
    ),
  },
  { additionalProperties: false },
);

export const OrderListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 20 })),
  before: Type.Optional(Type.String({ maxLength: 100 })),
});

export const PayResponseSchema = Type.Object({
  appId: Type.String(),
  timeStamp: Type.String(),
  nonceStr: Type.String(),
  package: Type.String(),
  signType: Type.Union([Type.Literal('MD5'), Type.Literal('HMAC-SHA256'), Type.Literal('RSA')]),
  paySign: Type.String(),
  sandbox: Type.Optional(Type.Boolean()),
  sandboxBase: Type.Optional(Type.String()),
});

const encodeCursor = (createdAt: Date, id: string) => Buffer.from(`${createdAt.getTime()}:${id}`).toString('base64url');
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const m = /^(\d{1,15}):([0-9a-f]{24})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new Errors.BadCursor();
  return { createdAt: new Date(Number(m[1])), id: m[2]! };
}

const CHANNEL_OF: Record<AppKind, OrderChannel> = { mp: 'mp', oa: 'oa-h5', open: 'app' };

/** The payer of an order a logged-in buyer places: the app they logged in through decides the channel. */
export function payerOf(config: Parameters<typeof appByAppid>[0], user: Session): Payer {
  const kind = appByAppid(config, user.appid)?.kind;
  // A session outlives a configuration change: an app no longer configured cannot order.
  if (!kind) throw new Errors.ChannelNotConfigured(user.appid);
  return { buyerId: user.buyerId, appid: user.appid, openid: user.openid, channel: CHANNEL_OF[kind] };
}

/** The buyer's orders: every route is scoped to the caller's buyer id (someone else's order is a 404). */
const orderRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('preHandler', app.authenticate);

  const load = (id: string, buyerId: string) => app.orders.ownOrder(id, buyerId);

  app.post(
    '/api/orders',
    {
      schema: { body: CreateOrderSchema, response: { 200: OrderSchema, 201: OrderSchema, ...errorResponses } },
      // Per user, not per IP: many buyers share a carrier NAT's address. Runs after authentication.
      config: {
        rateLimit: {
          max: 30,
          timeWindow: '1 minute',
          hook: 'preHandler',
          keyGenerator: (req: { user?: { buyerId: string }; ip: string }) => (req.user ? `user:${req.user.buyerId}` : req.ip),
        },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY_RE.test(key))) throw new Errors.BadIdempotencyKey();
      const result = await app.orders.create(payerOf(app.config, req.user), req.body.items, clientIp(req.ip), {
        ...(key !== undefined ? { idempotencyKey: key, body: req.body } : {}),
      });
      return reply.code(result.replayed ? 200 : 201).send(toApiOrder(result.order));
    },
  );

  app.get(
    '/api/orders',
    {
      schema: {
        querystring: OrderListQuery,
        response: { 200: Type.Object({ items: Type.Array(OrderSchema), nextCursor: Type.Optional(Type.String()) }), ...errorResponses },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 20;
      const before = req.query.before ? decodeCursor(req.query.before) : undefined;
      const page = await app.orderRepo.listForOwner(req.user.buyerId, limit + 1, before);
      const items = page.slice(0, limit);
      const last = items[items.length - 1];
      return {
        items: items.map(toApiOrder),
        ...(page.length > limit && last ? { nextCursor: encodeCursor(last.createdAt, last._id.toString()) } : {}),
      };
    },
  );

  app.get(
    '/api/orders/:id',
    { schema: { params: OrderIdParams, response: { 200: OrderSchema, ...errorResponses } } },
    async (req) => toApiOrder(await app.orders.refresh(await load(req.params.id, req.user.buyerId))),
  );

  app.post(
    '/api/orders/:id/pay',
    { schema: { params: OrderIdParams, response: { 200: PayResponseSchema, ...errorResponses } } },
    async (req) => app.orders.pay(await load(req.params.id, req.user.buyerId)),
  );

  app.post(
    '/api/orders/:id/cancel',
    { schema: { params: OrderIdParams, response: { 200: OrderSchema, ...errorResponses } } },
    async (req) => toApiOrder(await app.orders.cancel(await load(req.params.id, req.user.buyerId))),
  );
};
export default orderRoutes;

const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** WeChat takes IPv4 or IPv6; an IPv4-mapped IPv6 address is sent as plain IPv4. */
export function clientIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
