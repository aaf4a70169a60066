import t from 'tap';
import { Types } from 'mongoose';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';
import { consoleLogin, makeOperator, paidOrder } from './helpers.js';

interface Queue {
  orders: Array<{ id: string; flags: string[] }>;
  refundsChange: Array<{ id: string; status: string }>;
  refundsWaiting: Array<{ id: string; lastError?: { code: string } }>;
  deadJobs: unknown[];
}

t.test('the follow-up queue: each kind, and the action that clears it', async (t) => {
  const s = await startStack({ jobs: { workers: true } });
  t.teardown(() => s.close());
  await makeOperator(s, 'fiona', 'finance');
  await makeOperator(s, 'sam', 'support');
  const fiona = await consoleLogin(s.apiBase, 'fiona');
  const sam = await consoleLogin(s.apiBase, 'sam');
  const queue = () => fiona.call<Queue>('GET', '/admin/api/queue');
  t.same((await queue()).body, { orders: [], refundsChange: [], refundsWaiting: [], deadJobs: [] });

  // two payments for orders closed here: held; one refunded in full, one resolved without a refund
  const held: string[] = [];
  for (let i = 0; i < 2; i++) {
    const { token } = await s.login();
    const api = apiClient(s.apiBase, token);
    const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
    const params = (await api.pay(order.id)).body;
    await s.app.mongo.collection('orders').updateOne({ _id: new Types.ObjectId(order.id) }, { $set: { status: 'CLOSED' } });
    await s.cashier(params);
    held.push(order.id);
  }
  const withHeld = await eventually(queue, (r) => r.body.orders.length === 2);
  t.match(withHeld.body.orders, [{ flags: ['PAID_AFTER_CLOSE'] }, { flags: ['PAID_AFTER_CLOSE'] }]);
  t.equal((await sam.call('POST', `/admin/api/orders/${held[1]}/resolve`, { reason: 'x' })).status, 403, 'support may not resolve');
  t.equal((await fiona.call('POST', `/admin/api/orders/${held[0]}/refund-in-full`, { reason: '关闭后支付，原路退回' })).status, 201);
  const resolved = await fiona.call<{ followUp: string }>('POST', `/admin/api/orders/${held[1]}/resolve`, { reason: '已与买家确认，补发货' });
  t.match(resolved, { status: 200, body: { followUp: 'RESOLVED' } });
  t.same((await queue()).body.orders, [], 'both cleared');

  // a refund WeChat cannot return (CHANGE): finance records that it paid it another way
  const a = await paidOrder(s);
  await s.faults({ refund: { action: 'CHANGE' } });
  const change = await fiona.call<{ id: string }>('POST', `/admin/api/orders/${a.order.id}/refunds`, { amount: 100, reason: '退一部分' });
  t.equal(change.status, 201);
  const withChange = await eventually(queue, (r) => r.body.refundsChange.length === 1, 15_000);
  t.match(withChange.body.refundsChange, [{ id: change.body.id, status: 'CHANGE' }]);
  t.equal((await fiona.call('POST', `/admin/api/refunds/${change.body.id}/resolve`, { reason: '已通过银行转账退回' })).status, 200);
  t.same((await queue()).body.refundsChange, []);
  await s.clearFaults();

  // a refund waiting for the merchant balance (NOTENOUGH): retried now once topped up
  const b = await paidOrder(s);
  await s.faults({ refund: { action: 'NOTENOUGH', sticky: true } });
  const waiting = await fiona.call<{ id: string }>('POST', `/admin/api/orders/${b.order.id}/refunds`, { amount: 200, reason: '退款' });
  const withWaiting = await eventually(queue, (r) => r.body.refundsWaiting.length === 1);
  t.match(withWaiting.body.refundsWaiting, [{ id: waiting.body.id, lastError: { code: 'NOTENOUGH' } }]);
  await s.clearFaults();
  const retried = await fiona.call<{ status: string }>('POST', `/admin/api/refunds/${waiting.body.id}/retry`);
  t.equal(retried.status, 200);
  t.not(retried.body.status, 'PENDING', 'sent at once');
  t.same((await queue()).body.refundsWaiting, []);

  t.equal((await fiona.call('POST', '/admin/api/dead-jobs/retry', { id: 'orders.expire/nothing' })).status, 404);

  const audit = await fiona.call<{ items: Array<{ action: string; actor: string }> }>('GET', '/admin/api/audit?limit=50');
  t.equal(audit.status, 403, 'the audit log is for admins');
  const entries = await s.app.audit.list({ limit: 50 });
  for (const action of ['refund.full', 'order.resolve', 'refund.change-resolved', 'refund.retry']) {
    t.ok(entries.some((e) => e.action === action && e.actor === 'operator:fiona'), `${action} audited under the operator`);
  }
});
