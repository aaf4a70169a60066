import { Type } from '@sinclair/typebox';

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
  requestId: Type.Optional(Type.String()),
});

export const OrderStatusSchema = Type.Union(
  ['CREATED', 'PAYING', 'PAID', 'CLOSED', 'FAILED', 'REFUNDING', 'REFUNDED', 'PARTIALLY_REFUNDED'].map((s) => Type.Literal(s)),
);

export const OrderItemSchema = Type.Object({
  sku: Type.String(),
  name: Type.String(),
  price: Type.Integer(),
  quantity: Type.Integer(),
});

export const OrderSchema = Type.Object({
  id: Type.String(),
  outTradeNo: Type.String(),
  amount: Type.Integer(),
  status: OrderStatusSchema,
  items: Type.Array(OrderItemSchema),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  paidAt: Type.Optional(Type.String()),
  transactionId: Type.Optional(Type.String()),
  refundedAmount: Type.Optional(Type.Integer()),
  channel: Type.Optional(Type.Union(['mp', 'oa-h5', 'app', 'native'].map((c) => Type.Literal(c)))),
});

export const OrderIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
  429: ErrorSchema,
  502: ErrorSchema,
  503: ErrorSchema,
};

/**
 * The documented success answer of a route that serves a page or an asset to a browser (HTML, a QR
 * image, a script) rather than JSON: its 200 is a body of that media type. Strings and buffers are
 * sent as they are, so this documents the answer without changing it.
 */
export function pageSchema(description: string, produces = 'text/html'): { produces: string[]; response: Record<string, unknown> } {
  // typed loosely on purpose: a page also answers 302 / 4xx pages, and images are Buffers
  return { produces: [produces], response: { 200: Type.String({ description }) } };
}
