import t from 'tap';
import { Types } from 'mongoose';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';

const ADMIN_TOKEN = 'adm-' + 'e'.repeat(40);
type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { properties?: { code?: { enum?: string[] } } } }> }> }>> };

// The document promises, per route and status, which codes come back: real answers must keep it.
t.test('the codes real error answers carry are the ones the document lists for that route and status', async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: ADMIN_TOKEN } });
  t.teardown(() => s.close());
  const doc = (await s.app.inject({ method: 'GET', url: '/docs/json' })).json<Doc>();
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const admin = apiClient(s.apiBase, ADMIN_TOKEN);
  const anon = apiClient(s.apiBase);
  const unpaid = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const paid = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  await s.cashier((await api.pay(paid.id)).body);
  await eventually(() => s.app.orderRepo.find({ id: paid.id }), (o) => o?.status === 'PAID');
  const nobody = new Types.ObjectId().toString();

  const cases: Array<[string, string, () => Promise<{ status: number; body: unknown }>, string]> = [
    ['POST', '/api/session', () => anon.call('POST', '/api/session', { code: 'not-a-code-wechat-gave' }), 'LOGIN_INVALID_CODE'],
    ['POST', '/api/session', () => anon.call('POST', '/api/session', { code: 'x', extra: 1 }), 'VALIDATION_ERROR'],
    ['POST', '/api/orders', () => anon.call('POST', '/api/orders', { items: [] }), 'UNAUTHORIZED'],
    ['POST', '/api/orders', () => api.call('POST', '/api/orders', { items: [] }), 'EMPTY_CART'],
    ['POST', '/api/orders', () => api.call('POST', '/api/orders', { items: [{ sku: 'NOPE', quantity: 1 }] }), 'UNKNOWN_SKU'],
    ['POST', '/api/orders', () => api.call('POST', '/api/orders', '{"items": [', {}), 'INVALID_JSON'],
    ['POST', '/api/orders', () => api.call('POST', '/api/orders', '<items/>', { 'content-type': 'application/xml' }), 'UNSUPPORTED_MEDIA_TYPE'],
    ['POST', '/api/orders', () => api.call('POST', '/api/orders', JSON.stringify({ items: [], pad: 'x'.repeat(70_000) })), 'BODY_TOO_LARGE'],
    ['POST', '/api/orders', () => api.call('POST', '/api/orders', { items: [{ sku: 'TEA-OOLONG', quantity: 1 }] }, { 'idempotency-key': 'no spaces' }), 'BAD_IDEMPOTENCY_KEY'],
    ['GET', '/api/orders', () => api.call('GET', '/api/orders?before=bm90LWEtY3Vyc29y'), 'BAD_CURSOR'],
    ['GET', '/api/orders', () => api.call('GET', '/api/orders?limit=1e2'), 'VALIDATION_ERROR'],
    ['GET', '/api/orders/:id', () => api.getOrder(nobody), 'NOT_FOUND'],
    ['POST', '/api/orders/:id/pay', () => api.pay(paid.id), 'ORDER_ALREADY_PAID'],
    ['POST', '/api/orders/:id/refund-requests', () => api.call('POST', `/api/orders/${unpaid.id}/refund-requests`, { reason: '不想要了' }), 'ORDER_NOT_REFUNDABLE'],
    ['GET', '/api/orders/:id/refunds', () => api.call('GET', `/api/orders/${nobody}/refunds`), 'NOT_FOUND'],
    ['GET', '/admin/api/follow-ups', () => api.call('GET', '/admin/api/follow-ups'), 'UNAUTHORIZED'],
    ['POST', '/admin/api/orders/:id/refunds', () => admin.call('POST', `/admin/api/orders/${paid.id}/refunds`, { amount: 10_000_000, reason: 'too much' }), 'REFUND_EXCEEDS_PAID'],
    ['POST', '/admin/api/orders/:id/refunds', () => admin.call('POST', `/admin/api/orders/${unpaid.id}/refunds`, { amount: 1, reason: 'unpaid' }), 'ORDER_NOT_REFUNDABLE'],
    ['GET', '/admin/api/refunds/:id', () => admin.call('GET', `/admin/api/refunds/${nobody}`), 'NOT_FOUND'],
    ['POST', '/admin/api/refund-requests/:id/approve', () => admin.call('POST', `/admin/api/refund-requests/${nobody}/approve`, {}), 'NOT_FOUND'],
  ];
  for (const [method, route, call, expected] of cases) {
    const res = await call();
    const body = res.body as { code?: string; statusCode?: number };
    t.equal(body.code, expected, `${method} ${route}: ${expected}`);
    const op = doc.paths[route.replace(/:([a-z]+)/g, '{$1}')]?.[method.toLowerCase()];
    const listed = op?.responses[String(res.status)]?.content?.['application/json']?.schema.properties?.code?.enum ?? [];
    t.ok(listed.includes(expected), `${method} ${route} documents ${expected} under ${res.status} (lists ${listed.join(', ') || 'nothing'})`);
  }
});
