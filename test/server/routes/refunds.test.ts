import t from 'tap';
import { Types } from 'mongoose';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';

const TOKEN = 'adm-' + 'r'.repeat(40);

async function paidOrder(s: Stack, quantity = 2) {
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity }])).body;
  await s.cashier((await api.pay(order.id)).body);
  await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'PAID');
  return { api, order };
}

const admin = (s: Stack, base = s.apiBase) => apiClient(base, TOKEN);
const refundsOf = (s: Stack, orderId: string) => s.app.mongo.collection('refunds').find({ orderId: new Types.ObjectId(orderId) }).toArray();

t.test('a full refund: recorded, accepted by WeChat over mutual TLS, settled, the order REFUNDED, the action audited', async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, jobs: { workers: true } });
  t.teardown(() => s.close());
  const { api, order } = await paidOrder(s);
  const res = await admin(s).call<{ id: string; status: string; outRefundNo: string }>('POST', `/admin/api/orders/${order.id}/refunds`, { amount: order.amount, reason: '顾客退货' }, { 'idempotency-key': 'full-1' });
  t.equal(res.status, 201);
  t.match(res.body, { status: 'PROCESSING', outRefundNo: /^R\d{26}$/ });
  const done = await eventually(() => admin(s).call<{ status: string }>('GET', `/admin/api/refunds/${res.body.id}`), (r) => r.body.status === 'SUCCESS');
  t.equal(done.body.status, 'SUCCESS', 'settled by the refund notification');
  const o = await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'REFUNDED');
  t.match(o.body, { status: 'REFUNDED', refundedAmount: order.amount });
  // A retry with the same key is the same refund; the audit log has the action once.
  const again = await admin(s).call<{ id: string }>('POST', `/admin/api/orders/${order.id}/refunds`, { amount: order.amount, reason: '顾客退货' }, { 'idempotency-key': 'full-1' });
  t.equal(again.status, 200);
  t.equal(again.body.id, res.body.id);
  const audit = await admin(s).call<{ items: Array<{ action: string; actor: string; reason?: string }> }>('GET', `/admin/api/audit?target=${order.id}`);
  t.match(audit.body.items, [{ action: 'refund.create', actor: 'api-token', reason: '顾客退货' }]);
  t.equal(audit.body.items.length, 1);
  // The buyer sees it too.
  const mine = await api.call<{ items: Array<{ status: string; amount: number }> }>('GET', `/api/orders/${order.id}/refunds`);
  t.match(mine.body.items, [{ status: 'SUCCESS', amount: order.amount }]);
});

t.test('two partial refunds add up; one past the payment is refused and stores nothing', async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, jobs: { workers: true } });
  t.teardown(() => s.close());
  const { api, order } = await paidOrder(s, 3);
  const part = Math.floor(order.amount / 3);
  t.equal((await admin(s).call('POST', `/admin/api/orders/${order.id}/refunds`, { amount: part, reason: 'a' })).status, 201);
  await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'PARTIALLY_REFUNDED');
  t.equal((await admin(s).call('POST', `/admin/api/orders/${order.id}/refunds`, { amount: part, reason: 'b' })).status, 201);
  const over = await admin(s).call('POST', `/admin/api/orders/${order.id}/refunds`, { amount: order.amount - 2 * part + 1, reason: 'c' });
  t.equal(over.status, 409);
  t.match(over.body, { code: 'REFUND_EXCEEDS_PAID' });
  t.equal((await refundsOf(s, order.id)).length, 2, 'nothing stored for the refused one');
  t.equal((await admin(s).call('POST', `/admin/api/orders/${order.id}/refunds`, { amount: order.amount - 2 * part, reason: 'd' })).status, 201);
  const o = await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'REFUNDED');
  t.match(o.body, { status: 'REFUNDED', refundedAmount: order.amount });
});

t.test('two operators refunding at once on two instances cannot refund past the payment', async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, instances: 2 });
  t.teardown(() => s.close());
  const { order } = await paidOrder(s);
  const amount = Math.ceil(order.amount * 0.6);
  const results = await Promise.all(
    s.apiBases.flatMap((base) => [0, 1].map(() => admin(s, base).call<{ code?: string }>('POST', `/admin/api/orders/${order.id}/refunds`, { amount, reason: 'race' }))),
  );
  t.equal(results.filter((r) => r.status === 201).length, 1, 'one wins');
  t.equal(results.filter((r) => r.status === 409 && r.body.code === 'REFUND_EXCEEDS_PAID').length, 3, 'the others are refused');
  t.equal((await refundsOf(s, order.id)).length, 1);
  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.refundReserved, amount);
});

t.test('a lost refund notification is healed by refundquery; a forged one changes nothing', async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, jobs: { workers: true } });
  t.teardown(() => s.close());
  const { api, order } = await paidOrder(s);
  await s.faults({ refundNotify: { action: 'drop', count: 50 } });
  const res = await admin(s).call<{ id: string; outRefundNo: string }>('POST', `/admin/api/orders/${order.id}/refunds`, { amount: order.amount, reason: 'lost' });
  t.equal(res.status, 201);
  const done = await eventually(() => admin(s).call<{ status: string; history: Array<{ source: string }> }>('GET', `/admin/api/refunds/${res.body.id}`), (r) => r.body.status === 'SUCCESS', 15_000);
  t.equal(done.body.status, 'SUCCESS');
  t.equal(done.body.history.at(-1)!.source, 'refundquery', 'settled by refundquery, not by a notification');
  // the order counts the refund just after the refund's own SUCCESS is stored (a second write)
  t.equal((await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'REFUNDED')).body.status, 'REFUNDED');

  // A forged notification (req_info not encrypted with our key) is refused and changes nothing.
  const { order: other } = await paidOrder(s);
  const pending = await admin(s).call<{ id: string }>('POST', `/admin/api/orders/${other.id}/refunds`, { amount: 1, reason: 'x' });
  const before = await s.app.mongo.collection('refunds').findOne({ _id: new Types.ObjectId(pending.body.id) });
  const forged = await fetch(s.apiBase + '/wxpay/refund-notify', {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: `<xml><return_code>SUCCESS</return_code><appid>${s.config.wechat.appid}</appid><mch_id>${s.config.pay.mchId}</mch_id><nonce_str>x</nonce_str><req_info>${Buffer.from('not encrypted'.repeat(4)).toString('base64')}</req_info></xml>`,
  });
  t.equal(forged.status, 400);
  t.match(await forged.text(), /FAIL/);
  const after = await s.app.mongo.collection('refunds').findOne({ _id: new Types.ObjectId(pending.body.id) });
  t.equal(after!.version, before!.version, 'the refund was not touched');
});

t.test('NOTENOUGH waits and retries; final refusals keep WeChat\'s words and free the amount', async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, jobs: { workers: true } });
  t.teardown(() => s.close());
  const { order } = await paidOrder(s);
  await s.faults({ refund: { action: 'NOTENOUGH', count: 2 } });
  const res = await admin(s).call<{ id: string; status: string; lastError?: { code: string }; waitingSince?: string }>('POST', `/admin/api/orders/${order.id}/refunds`, { amount: order.amount, reason: 'balance' });
  t.equal(res.status, 201);
  t.match(res.body, { status: 'PENDING', lastError: { code: 'NOTENOUGH' }, waitingSince: String }, 'waiting, visible to operators');
  const done = await eventually(() => admin(s).call<{ status: string }>('GET', `/admin/api/refunds/${res.body.id}`), (r) => r.body.status === 'SUCCESS', 15_000);
  t.equal(done.body.status, 'SUCCESS', 'retried until the balance allowed it');
});

t.test('a buyer asks for a refund of their own paid order; an operator approves it', async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, jobs: { workers: true } });
  t.teardown(() => s.close());
  const { api, order } = await paidOrder(s);
  const other = apiClient(s.apiBase, (await s.login()).token);
  t.equal((await other.call('POST', `/api/orders/${order.id}/refund-requests`, { reason: '不是我的' })).status, 404, 'not for someone else\'s order');
  const asked = await api.call<{ id: string; status: string }>('POST', `/api/orders/${order.id}/refund-requests`, { reason: '买错了' });
  t.equal(asked.status, 201);
  t.equal(asked.body.status, 'PENDING');
  t.match((await api.call('POST', `/api/orders/${order.id}/refund-requests`, { reason: 'again' })).body, { code: 'REFUND_REQUEST_OPEN' });
  const open = await admin(s).call<{ items: Array<{ id: string }> }>('GET', '/admin/api/refund-requests');
  t.same(open.body.items.map((r) => r.id), [asked.body.id]);
  const approved = await admin(s).call<{ request: { status: string }; refund: { amount: number } }>('POST', `/admin/api/refund-requests/${asked.body.id}/approve`, {});
  t.equal(approved.status, 200);
  t.match(approved.body, { request: { status: 'APPROVED' }, refund: { amount: order.amount } });
  await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'REFUNDED');
  const mine = await api.call<{ items: Array<{ status: string }> }>('GET', `/api/orders/${order.id}/refund-requests`);
  t.match(mine.body.items, [{ status: 'APPROVED' }]);
  t.match((await api.call('POST', `/api/orders/${order.id}/refund-requests`, { reason: 'more' })).body, { code: 'ORDER_NOT_REFUNDABLE' }, 'fully refunded');
});

t.test('a held payment is given back in full in one step, and leaves the follow-up queue', async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, jobs: { workers: true } });
  t.teardown(() => s.close());
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const params = (await api.pay(order.id)).body;
  await s.app.mongo.collection('orders').updateOne({ _id: new Types.ObjectId(order.id) }, { $set: { status: 'CLOSED' } });
  await s.cashier(params);
  await eventually(() => admin(s).call<{ items: unknown[] }>('GET', '/admin/api/follow-ups'), (r) => r.body.items.length === 1);
  const res = await admin(s).call<{ amount: number }>('POST', `/admin/api/orders/${order.id}/refund-in-full`, { reason: '订单已取消' });
  t.equal(res.status, 201);
  t.equal(res.body.amount, order.amount);
  t.same((await admin(s).call<{ items: unknown[] }>('GET', '/admin/api/follow-ups')).body.items, [], 'resolved');
  await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'REFUNDED');
});
