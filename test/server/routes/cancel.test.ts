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

t.test('cancel within closeorder\'s 5 minutes: closed here at once, at WeChat when allowed, through the queue', async (t) => {
  let clock = Date.now();
  const s = await startStack({ closeorderMinAgeSeconds: 300, sandboxNow: () => clock });
  t.teardown(() => s.close());
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);

  // No prepay was ever made: nothing to close at WeChat.
  const unpaid = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const res0 = await api.cancel(unpaid.id);
  t.equal(res0.body.status, 'CLOSED');
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(unpaid.id) }))!.wechatClose, null, 'no closeorder owed');

  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const params = (await api.pay(order.id)).body;
  const res = await api.cancel(order.id);
  t.equal(res.status, 200, 'cancel works although WeChat refuses closeorder for 5 minutes');
  t.equal(res.body.status, 'CLOSED');
  const _id = new Types.ObjectId(order.id);
  t.equal((await s.app.mongo.collection('orders').findOne({ _id }))!.wechatClose, 'PENDING', 'closeorder is owed');
  const counts = await s.app.jobs.counts();
  t.equal(counts['orders.wechat-close']?.delayed, 1, 'closeorder is queued for when WeChat allows it');

  // Too early still: the job's attempt fails and will be retried.
  await t.rejects(s.app.orders.closeAtWechat(order.id));
  // Five minutes later at WeChat: the job closes the trade there; the buyer can no longer pay it.
  clock += 301_000;
  t.equal(await s.app.orders.closeAtWechat(order.id), 'done');
  t.equal((await s.app.mongo.collection('orders').findOne({ _id }))!.wechatClose, 'DONE');
  const paid = await s.cashier(params);
  t.not(paid.errMsg, 'requestPayment:ok', 'WeChat refuses to take money for the closed trade');
});

t.test('a payment WeChat took before its closeorder ran is recorded and held, not lost', async (t) => {
  const clock = Date.now();
  const s = await startStack({ closeorderMinAgeSeconds: 300, sandboxNow: () => clock });
  t.teardown(() => s.close());
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const params = (await api.pay(order.id)).body;
  const _id = new Types.ObjectId(order.id);
  await s.faults({ notify: { action: 'drop', outTradeNo: order.outTradeNo } });
  t.equal((await api.cancel(order.id)).body.status, 'CLOSED');
  t.same(await s.cashier(params), { errMsg: 'requestPayment:ok' }, 'the buyer paid with the old params meanwhile');
  t.equal(await s.app.orders.closeAtWechat(order.id), 'paid');
  const d = await s.app.mongo.collection('orders').findOne({ _id });
  t.match(d, { status: 'PAID', flags: ['PAID_AFTER_CLOSE'], followUp: 'OPEN', wechatClose: 'DONE' });
  t.equal(d!.fulfilment.state, 'HELD');
});
