// The stale-payment sweeper: an order WeChat was paid for is PAID through orderquery alone, with no
// notify and no client polling; an unpaid one is asked about on a backoff, not in a loop.
import t from 'tap';
import { Types } from 'mongoose';
import { nextPaymentCheckDelay, ORDER_JOBS } from '../../../server/src/orders/jobs.js';
import { stackWith, queue, orders, orderFor, orphanOrders, runScan, sandboxCalls, statusOf, until, noScans } from './helpers.js';

const quick = { firstAfterMs: 200, minDelayMs: 200, maxDelayMs: 400, attempts: 3, backoff: { type: 'fixed' as const, delayMs: 100 }, concurrency: 4 };

t.test('a dropped notify and no client polling: the sweeper alone makes the order PAID', async (t) => {
  const s = await stackWith(t, { ...noScans, paymentCheck: quick });
  const queries = sandboxCalls(s, '/pay/orderquery');
  const { api, order } = await orderFor(s);
  await s.faults({ notify: { action: 'drop', outTradeNo: order.outTradeNo } });
  const params = (await api.pay(order.id)).body;
  t.equal(await statusOf(s, order.id), 'PAYING');
  await s.cashier(params);
  // Nobody reads the order through the API from here on: only the job asks WeChat.
  await until(() => statusOf(s, order.id), (st) => st === 'PAID');
  const doc = (await orders(s).findOne({ _id: new Types.ObjectId(order.id) }))!;
  t.ok(doc.transactionId, 'WeChat’s transaction id recorded');
  t.ok(
    doc.history.some((h: { to: string; source: string }) => h.to === 'PAID' && h.source === 'sweeper'),
    'the PAID transition says the sweeper found it',
  );
  t.ok(queries() >= 1, 'found through orderquery');
  const seen = queries();
  // Paid: the job is done, no more questions.
  await new Promise((r) => setTimeout(r, 1_000));
  t.equal(queries(), seen, 'no orderquery after PAID');
});

t.test('an unpaid order is asked about on backoff until it is paid, then left alone', async (t) => {
  const s = await stackWith(t, { ...noScans, paymentCheck: quick });
  const queries = sandboxCalls(s, '/pay/orderquery');
  const { api, order } = await orderFor(s);
  const params = (await api.pay(order.id)).body;
  await until(async () => queries(), (n) => n >= 3);
  t.equal(await statusOf(s, order.id), 'PAYING', 'still unpaid at WeChat: still PAYING');
  await s.faults({ notify: { action: 'drop', outTradeNo: order.outTradeNo } });
  await s.cashier(params);
  await until(() => statusOf(s, order.id), (st) => st === 'PAID');
});

t.test('orderquery failing (SYSTEMERROR): the check backs off and retries, then settles', async (t) => {
  const s = await stackWith(t, { ...noScans, paymentCheck: quick });
  const { api, order } = await orderFor(s);
  await s.faults({ notify: { action: 'drop', outTradeNo: order.outTradeNo } });
  const params = (await api.pay(order.id)).body;
  await s.cashier(params);
  await s.faults({ payApi: { action: 'SYSTEMERROR', api: 'orderquery', count: 2 } });
  await until(() => statusOf(s, order.id), (st) => st === 'PAID');
  t.same(await s.app.jobs.deadLetters({ name: ORDER_JOBS.paymentCheck }), [], 'no dead letter: the retries were enough');
});

t.test('the scan finds PAYING orders whose check was lost (a Redis loss), and only those', async (t) => {
  const s = await stackWith(t, { scanEveryMs: 3_600_000, paymentCheck: { ...quick, firstAfterMs: 60_000 } });
  const scan = queue(t, s, ORDER_JOBS.paymentCheckScan);
  const checks = queue(t, s, ORDER_JOBS.paymentCheck);
  const queries = sandboxCalls(s, '/pay/orderquery');
  // A real order paid at WeChat whose notify was dropped and whose check job is gone.
  const { api, order } = await orderFor(s);
  await s.faults({ notify: { action: 'drop', outTradeNo: order.outTradeNo } });
  const params = (await api.pay(order.id)).body;
  await s.cashier(params);
  await checks.obliterate({ force: true });
  // Its prepay is two minutes old; another order's prepay is fresh (not the scan's yet).
  await orders(s).updateOne({ _id: new Types.ObjectId(order.id) }, { $set: { 'prepay.createdAt': new Date(Date.now() - 120_000) } });
  const [fresh] = await orphanOrders(s, [new Date(Date.now() + 20 * 60_000)], true);
  await runScan(scan);
  await until(() => statusOf(s, order.id), (st) => st === 'PAID');
  t.equal(await statusOf(s, fresh!), 'PAYING');
  t.equal(queries(), 1, 'one orderquery: the stale order only');
});

t.test('nextPaymentCheckDelay: a quarter of the prepay’s age, within its bounds', async (t) => {
  const b = { minDelayMs: 60_000, maxDelayMs: 180_000 };
  const at = new Date(1_000_000);
  t.equal(nextPaymentCheckDelay(at, at.getTime() + 30_000, b), 60_000);
  t.equal(nextPaymentCheckDelay(at, at.getTime() + 400_000, b), 100_000);
  t.equal(nextPaymentCheckDelay(at, at.getTime() + 3_600_000, b), 180_000);
  t.equal(nextPaymentCheckDelay(at, at.getTime() - 5_000, b), 60_000, 'a clock behind the prepay waits the minimum');
});
