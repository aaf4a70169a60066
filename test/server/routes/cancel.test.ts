import t from 'tap';
import { Types } from 'mongoose';
import { withLock } from '../../../server/src/lock.js';
import { apiClient } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';

t.test('cancel takes the order pay lock: it never closes an order while a pay request talks to WeChat', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  t.equal((await api.pay(order.id)).status, 200);
  const _id = new Types.ObjectId(order.id);
  const held = await withLock(s.app.redis, `lock:pay:${order.id}`, 10_000, async () => {
    const res = await api.cancel(order.id);
    t.equal(res.status, 409, 'busy while the pay lock is held');
    t.match(res.body, { code: 'ORDER_BUSY' });
    t.equal((await s.app.mongo.collection('orders').findOne({ _id }))!.status, 'PAYING', 'not closed under a pay');
  });
  t.ok(held.acquired);
  const res = await api.cancel(order.id);
  t.equal(res.status, 200);
  t.equal(res.body.status, 'CLOSED', 'closed once the lock is free');
});
