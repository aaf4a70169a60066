import t from 'tap';
import { Types } from 'mongoose';
import { buildApp } from '../../../server/src/app.js';
import { ORDER_JOBS } from '../../../server/src/orders/jobs.js';
import { stackWith, queue, sandboxCalls, orders, statusOf, orderFor, expireInDb, noScans, until } from './helpers.js';

t.test('creating an order schedules its expiry; the job closes it at WeChat and here, and a payment WeChat took wins', async (t) => {
  const s = await stackWith(t, noScans);
  const expire = queue(t, s, ORDER_JOBS.expire);

  const paying = await orderFor(s);
  const pp = (await paying.api.pay(paying.order.id)).body;
  const job = await expire.getJob(`expire-${paying.order.id}`);
  t.equal(await job?.getState(), 'delayed', 'one job per order, waiting for expiresAt');
  t.same(job?.data, { orderId: paying.order.id }, 'the payload is the id, nothing else');

  // Fired early (a clock running ahead): the order is not due, the job waits again, no attempt spent.
  await job!.promote();
  const again = await until(() => expire.getJob(`expire-${paying.order.id}`), (j) => (j?.attemptsStarted ?? 0) >= 1 && j?.delay !== 0);
  t.equal(await again?.getState(), 'delayed');
  t.equal(again?.attemptsMade, 0);
  t.equal(await statusOf(s, paying.order.id), 'PAYING');

  const failed = await orderFor(s);
  await s.cashier((await failed.api.pay(failed.order.id)).body, 'fail');
  await orders(s).updateOne({ _id: new Types.ObjectId(failed.order.id) }, { $set: { status: 'FAILED' } });
  const paidLate = await orderFor(s);
  const pl = (await paidLate.api.pay(paidLate.order.id)).body;
  await s.faults({ notify: { action: 'drop', outTradeNo: paidLate.order.outTradeNo } });
  t.same(await s.cashier(pl), { errMsg: 'requestPayment:ok' });

  // The clock moves on past each order's expiry.
  for (const o of [paying, failed, paidLate]) {
    await expireInDb(s, o.order.id);
    await (await expire.getJob(`expire-${o.order.id}`))!.promote();
  }
  await until(
    async () => Promise.all([paying, failed, paidLate].map((o) => statusOf(s, o.order.id))),
    (st) => st.join() === 'CLOSED,CLOSED,PAID',
  );
  t.equal(await statusOf(s, paying.order.id), 'CLOSED');
  t.equal(await statusOf(s, failed.order.id), 'CLOSED');
  t.equal(await statusOf(s, paidLate.order.id), 'PAID', 'WeChat said ORDERPAID: the money wins');
  t.match(await s.cashier(pp), { errMsg: /^requestPayment:fail/ }, 'closed at WeChat: the cashier refuses it');
  const doc = await orders(s).findOne({ _id: new Types.ObjectId(paying.order.id) });
  t.match(doc!.history.at(-1), { to: 'CLOSED', source: 'expiry' });
  t.same(await s.app.jobs.deadLetters(), []);
});

t.test('a failing close backs off, is retried a limited number of times, then is a dead letter an operator can retry', async (t) => {
  const s = await stackWith(t, { ...noScans, expire: { attempts: 3, backoff: { type: 'exponential', delayMs: 3_600_000 }, concurrency: 1 } });
  const expire = queue(t, s, ORDER_JOBS.expire);
  const closeCalls = sandboxCalls(s, '/pay/closeorder');
  const { api, order } = await orderFor(s);
  const params = (await api.pay(order.id)).body;
  await s.faults({ payApi: { action: 'SYSTEMERROR', api: 'closeorder', count: 10_000 } });

  await expireInDb(s, order.id);
  const jobId = `expire-${order.id}`;
  await (await expire.getJob(jobId))!.promote();
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    const job = await until(() => expire.getJob(jobId), (j) => j?.attemptsMade === attempt);
    t.equal(await job!.getState(), 'delayed', `after failure ${attempt} the order waits out its backoff`);
    delays.push(job!.delay);
    t.equal(await statusOf(s, order.id), 'PAYING');
    await job!.promote();
  }
  t.same(delays, [3_600_000, 7_200_000], 'exponential backoff, per order');

  const [dead] = await until(() => s.app.jobs.deadLetters(), (d) => d.length === 1);
  t.match(dead, {
    id: `${ORDER_JOBS.expire}/${jobId}`,
    name: ORDER_JOBS.expire,
    payload: { orderId: order.id },
    error: /^WECHAT_UNAVAILABLE: /,
    attempts: 3,
    failedAt: Date,
  });
  t.equal(await statusOf(s, order.id), 'PAYING', 'not closed here while WeChat could not close it');
  const callsWhenDead = closeCalls();
  t.ok(callsWhenDead >= 3, 'each attempt called closeorder');

  // WeChat is back; the operator retries the dead letter.
  await s.clearFaults();
  t.equal(await s.app.jobs.retryDead(dead!.id), true);
  await until(() => statusOf(s, order.id), (st) => st === 'CLOSED');
  t.equal(await statusOf(s, order.id), 'CLOSED');
  t.match(await s.cashier(params), { errMsg: /^requestPayment:fail/ }, 'closed at WeChat too');
  t.same(await s.app.jobs.deadLetters(), []);
});

t.test('a pay holding the order lock defers the expiry without spending its attempts', async (t) => {
  const s = await stackWith(t, { ...noScans, busyRetryMs: 20, expire: { attempts: 1, backoff: { type: 'fixed', delayMs: 10 }, concurrency: 1 } });
  const expire = queue(t, s, ORDER_JOBS.expire);
  const { order } = await orderFor(s);
  await expireInDb(s, order.id);
  // A pay in progress on some instance: it holds lock:pay:<id>.
  await s.app.redis.set(`lock:pay:${order.id}`, 'another-request', 'PX', 60_000);
  await (await expire.getJob(`expire-${order.id}`))!.promote();
  const job = await until(() => expire.getJob(`expire-${order.id}`), (j) => (j?.attemptsStarted ?? 0) >= 3);
  t.equal(job?.attemptsMade, 0, 'deferred three times, no attempt spent (one attempt allowed: a failure would be dead)');
  t.equal(await statusOf(s, order.id), 'CREATED');

  await s.app.redis.del(`lock:pay:${order.id}`);
  await until(() => statusOf(s, order.id), (st) => st === 'CLOSED');
  t.equal(await statusOf(s, order.id), 'CLOSED');
  t.same(await s.app.jobs.deadLetters(), []);
});

t.test('jobs survive a restart: enqueued by an instance that stops, run by the next one', async (t) => {
  const s = await stackWith(t, noScans, { workers: false });
  const expire = queue(t, s, ORDER_JOBS.expire);
  const { api, order } = await orderFor(s);
  const params = (await api.pay(order.id)).body;
  await expireInDb(s, order.id);
  await (await expire.getJob(`expire-${order.id}`))!.promote();
  t.equal(await expire.getJobState(`expire-${order.id}`), 'waiting', 'due, and no worker to run it');

  const first = s.apps.shift()!;
  await first.close();
  const next = await buildApp({ ...s.appOptions, jobs: { workers: true, orders: noScans } });
  s.apps.push(next);
  const status = async () => (await next.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) }))!.status as string;
  await until(status, (st) => st === 'CLOSED');
  t.equal(await status(), 'CLOSED');
  t.match(await s.cashier(params), { errMsg: /^requestPayment:fail/ }, 'closed at WeChat by the new instance');
});
