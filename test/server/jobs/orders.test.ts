import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { Queue } from 'bullmq';
import { Types } from 'mongoose';
import { buildApp } from '../../../server/src/app.js';
import { enqueueFulfilment, ORDER_JOBS, type OrderJobSettings } from '../../../server/src/orders/jobs.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';

type Settings = Partial<OrderJobSettings>;
/** what the helpers need of a tap test */
type Teardown = { teardown(fn: () => unknown): void };

async function stackWith(t: Teardown, orders: Settings, more: { instances?: number; workers?: boolean } = {}) {
  const s = await startStack({ instances: more.instances, jobs: { workers: more.workers ?? true, orders } });
  t.teardown(() => s.close());
  return s;
}

/** A BullMQ handle on one of the stack's queues, to look at jobs and to move the clock on (promote). */
function queue(t: Teardown, s: Stack, name: string): Queue {
  const q = new Queue(name, { prefix: s.appOptions.jobsPrefix, connection: { url: s.config.redisUrl! } });
  t.teardown(() => q.close());
  return q;
}

/** Counts the calls a WeChat API gets at the sandbox. */
function sandboxCalls(s: Stack, path: string) {
  let n = 0;
  s.sandbox.server.on('request', (req: IncomingMessage) => {
    if (req.url === path) n++;
  });
  return () => n;
}

const orders = (s: Stack) => s.app.mongo.collection('orders');
const events = (s: Stack) => s.app.mongo.collection('fulfilment_events');
const statusOf = async (s: Stack, id: string) => (await orders(s).findOne({ _id: new Types.ObjectId(id) }))!.status as string;

async function orderFor(s: Stack) {
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'COFFEE-AMERICANO', quantity: 1 }])).body;
  return { api, order };
}

async function expireInDb(s: Stack, id: string, msAgo = 1_000) {
  await orders(s).updateOne({ _id: new Types.ObjectId(id) }, { $set: { expiresAt: new Date(Date.now() - msAgo) } });
}

/**
 * Orders as they stand after a Redis loss: in the database, no job in any queue. With a prepay
 * (PAYING) the close goes to WeChat; without (CREATED) it closes locally. Written in one insert,
 * as a pay under the order lock would have left them.
 */
async function orphanOrders(s: Stack, expiries: Date[], prepay: boolean): Promise<string[]> {
  const now = new Date();
  const docs = expiries.map((expiresAt) => {
    const _id = new Types.ObjectId();
    return {
      _id,
      openid: 'o_orphan',
      outTradeNo: `orphan${_id.toString()}`.slice(0, 32),
      status: prepay ? 'PAYING' : 'CREATED',
      amount: 100,
      items: [{ sku: 'COFFEE-AMERICANO', name: 'Americano', price: 100, quantity: 1 }],
      clientIp: '127.0.0.1',
      tradeType: 'JSAPI',
      idemKey: `order:orphan${_id.toString()}`,
      createdAt: new Date(expiresAt.getTime() - 30 * 60_000),
      expiresAt,
      prepay: prepay ? { prepayId: `wx${_id.toString()}`, signType: 'MD5', createdAt: now, reuseUntil: expiresAt } : null,
      flags: [],
      fulfilment: null,
      history: prepay ? [{ from: 'CREATED', to: 'PAYING', at: now, source: 'pay' }] : [],
      version: prepay ? 1 : 0,
    };
  });
  await orders(s).insertMany(docs);
  return docs.map((d) => d._id.toString());
}

/** Runs a scan now: promotes the scheduler's next run and waits until it is over. */
async function runScan(q: Queue) {
  const next = await eventually(() => q.getDelayed(), (d) => d.length === 1);
  const id = next[0]!.id;
  // With a short interval it may have become due by itself meanwhile: then it runs anyway.
  await next[0]!.promote().catch((err: Error) => {
    if (!/not in the delayed state/.test(err.message)) throw err;
  });
  // The scheduler queues the following run when this one starts; this one is over when nothing is active.
  await eventually(
    async () => ({ delayed: await q.getDelayed(), counts: await q.getJobCounts('active', 'waiting') }),
    (v) => v.delayed.length === 1 && v.delayed[0]!.id !== id && v.counts.active === 0 && v.counts.waiting === 0,
  );
}

const noScans: Settings = { scanEveryMs: 0 };

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
  const again = await eventually(() => expire.getJob(`expire-${paying.order.id}`), (j) => (j?.attemptsStarted ?? 0) >= 1 && j?.delay !== 0);
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
  await eventually(
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
    const job = await eventually(() => expire.getJob(jobId), (j) => j?.attemptsMade === attempt);
    t.equal(await job!.getState(), 'delayed', `after failure ${attempt} the order waits out its backoff`);
    delays.push(job!.delay);
    t.equal(await statusOf(s, order.id), 'PAYING');
    await job!.promote();
  }
  t.same(delays, [3_600_000, 7_200_000], 'exponential backoff, per order');

  const [dead] = await eventually(() => s.app.jobs.deadLetters(), (d) => d.length === 1);
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
  await eventually(() => statusOf(s, order.id), (st) => st === 'CLOSED');
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
  const job = await eventually(() => expire.getJob(`expire-${order.id}`), (j) => (j?.attemptsStarted ?? 0) >= 3);
  t.equal(job?.attemptsMade, 0, 'deferred three times, no attempt spent (one attempt allowed: a failure would be dead)');
  t.equal(await statusOf(s, order.id), 'CREATED');

  await s.app.redis.del(`lock:pay:${order.id}`);
  await eventually(() => statusOf(s, order.id), (st) => st === 'CLOSED');
  t.equal(await statusOf(s, order.id), 'CLOSED');
  t.same(await s.app.jobs.deadLetters(), []);
});

t.test('the expire scan walks expired unpaid orders oldest first, a page at a time, carrying on where it stopped', async (t) => {
  const s = await stackWith(t, { scanEveryMs: 3_600_000, pageSize: 2, scanLimit: 2 });
  const scan = queue(t, s, ORDER_JOBS.expireScan);
  await runScan(scan); // the run at boot, before any order exists
  const base = Date.now() - 3_600_000;
  // Inserted out of expiry order (rank 5 expired first, rank 1 last), and one not expired yet.
  const ids: Record<number, string> = {};
  for (const m of [5, 1, 4, 2, 3]) ids[m] = (await orphanOrders(s, [new Date(base + (6 - m) * 60_000)], false))[0]!;
  const [future] = await orphanOrders(s, [new Date(Date.now() + 600_000)], false);
  const statuses = async () => Promise.all([5, 4, 3, 2, 1].map((m) => statusOf(s, ids[m]!)));

  await runScan(scan);
  await eventually(statuses, (st) => st.filter((x) => x === 'CLOSED').length === 2);
  t.same(await statuses(), ['CLOSED', 'CLOSED', 'CREATED', 'CREATED', 'CREATED'], 'the two oldest first');
  await runScan(scan);
  await eventually(statuses, (st) => st.filter((x) => x === 'CLOSED').length === 4);
  t.same(await statuses(), ['CLOSED', 'CLOSED', 'CLOSED', 'CLOSED', 'CREATED'], 'then the next two, from the cursor');
  await runScan(scan);
  await eventually(statuses, (st) => st.every((x) => x === 'CLOSED'));
  t.same(await statuses(), ['CLOSED', 'CLOSED', 'CLOSED', 'CLOSED', 'CLOSED']);
  t.equal(await statusOf(s, future!), 'CREATED', 'an order not yet expired is left alone');
});

t.test('100 orders WeChat will not close do not stop a healthy expired order from closing; they back off, die and stay dead', async (t) => {
  const attempts = 3;
  const s = await stackWith(t, {
    scanEveryMs: 200,
    expire: { attempts, backoff: { type: 'exponential', delayMs: 20 }, concurrency: 8 },
  });
  const scan = queue(t, s, ORDER_JOBS.expireScan);
  await s.faults({ payApi: { action: 'SYSTEMERROR', api: 'closeorder', count: 10_000 } });
  const closeCalls = sandboxCalls(s, '/pay/closeorder');

  // The stuck ones expired first (the oldest), then the healthy one; none has a job (a Redis loss).
  const old = Date.now() - 3_600_000;
  const stuck = await orphanOrders(s, Array.from({ length: 100 }, (_, i) => new Date(old + i * 1_000)), true);
  const [healthy] = await orphanOrders(s, [new Date(Date.now() - 60_000)], false);

  await eventually(() => statusOf(s, healthy!), (st) => st === 'CLOSED', 30_000);
  t.equal(await statusOf(s, healthy!), 'CLOSED', 'the healthy order closed');

  const dead = await eventually(() => s.app.jobs.deadLetters({ limit: 200 }), (d) => d.length === 100, 60_000);
  t.equal(dead.length, 100, 'every stuck order is a dead letter');
  t.same(new Set(dead.map((d) => d.payload.orderId)), new Set(stuck));
  t.ok(dead.every((d) => d.attempts === attempts && d.name === ORDER_JOBS.expire && /^WECHAT_UNAVAILABLE: /.test(d.error)));
  const open = await orders(s).countDocuments({ _id: { $in: stuck.map((id) => new Types.ObjectId(id)) }, status: 'PAYING' });
  t.equal(open, 100, 'none was counted as closed');

  // Dead stays dead: two more scans see them and enqueue nothing; WeChat is not called again.
  const calls = closeCalls();
  await runScan(scan);
  await runScan(scan);
  t.match(await s.app.jobs.counts(), { [ORDER_JOBS.expire]: { waiting: 0, active: 0, delayed: 0, failed: 100 } });
  t.equal(closeCalls(), calls, 'no more closeorder calls for dead orders');
});

t.test('two instances share the work: one close per order, one scan per interval', async (t) => {
  const s = await stackWith(t, { scanEveryMs: 150, expire: { attempts: 3, backoff: { type: 'fixed', delayMs: 10 }, concurrency: 4 } }, { instances: 2 });
  const expire = queue(t, s, ORDER_JOBS.expire);
  const closeCalls = sandboxCalls(s, '/pay/closeorder');
  const made: Array<{ id: string; params: object }> = [];
  for (let i = 0; i < 6; i++) {
    const { api, order } = await orderFor(s);
    made.push({ id: order.id, params: (await api.pay(order.id)).body });
  }
  // Their jobs are lost (a Redis loss), and they are all past expiry: only the scans can find them.
  for (const o of made) {
    await (await expire.getJob(`expire-${o.id}`))!.remove();
    await expireInDb(s, o.id);
  }

  await eventually(async () => Promise.all(made.map((o) => statusOf(s, o.id))), (st) => st.every((x) => x === 'CLOSED'), 20_000);
  // A few more scan intervals, in which both instances keep finding nothing to do.
  const scan = queue(t, s, ORDER_JOBS.expireScan);
  for (let i = 0; i < 3; i++) {
    const before = (await scan.getDelayed())[0]?.id;
    await eventually(() => scan.getDelayed(), (d) => d.length === 1 && d[0]!.id !== before);
  }
  for (const o of made) {
    const doc = await orders(s).findOne({ _id: new Types.ObjectId(o.id) });
    t.equal(doc!.history.filter((h: { to: string }) => h.to === 'CLOSED').length, 1);
  }
  t.equal(closeCalls(), made.length, 'one closeorder per order at WeChat, across both instances');
  t.equal(await scan.getJobSchedulersCount(), 1, 'both instances upserted one and the same schedule');
});

t.test('a fulfilment a crash left pending is emitted by the fulfil scan, exactly once', async (t) => {
  const s = await stackWith(t, { scanEveryMs: 150, fulfilAfterMs: 30_000 });
  const scan = queue(t, s, ORDER_JOBS.fulfilScan);
  const { api, order } = await orderFor(s);
  await s.cashier((await api.pay(order.id)).body);
  await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'PAID');
  const _id = new Types.ObjectId(order.id);
  await eventually(() => events(s).countDocuments({ orderId: _id }), (n) => n === 1);
  // A crash between the PAID update and the outbox write: no event, fulfilment PENDING for a minute.
  await events(s).deleteMany({ orderId: _id });
  await orders(s).updateOne({ _id }, { $set: { 'fulfilment.state': 'PENDING', 'fulfilment.createdAt': new Date(Date.now() - 60_000) } });
  // A payment just made (PENDING for less than fulfilAfterMs) is left to settle's own enqueue.
  const recent = await orderFor(s);
  await s.cashier((await recent.api.pay(recent.order.id)).body);
  await eventually(() => recent.api.getOrder(recent.order.id), (r) => r.body.status === 'PAID');
  const recentId = new Types.ObjectId(recent.order.id);
  await eventually(() => events(s).countDocuments({ orderId: recentId }), (n) => n === 1);
  await events(s).deleteMany({ orderId: recentId });
  await orders(s).updateOne({ _id: recentId }, { $set: { 'fulfilment.state': 'PENDING', 'fulfilment.createdAt': new Date() } });

  await eventually(async () => (await orders(s).findOne({ _id }))!.fulfilment.state, (st) => st === 'EMITTED');
  t.match((await orders(s).findOne({ _id }))!.fulfilment, { state: 'EMITTED' });
  await runScan(scan);
  await runScan(scan);
  t.equal(await events(s).countDocuments({ orderId: _id }), 1, 'one event, however many scans');
  t.match((await orders(s).findOne({ _id: recentId }))!.fulfilment, { state: 'PENDING' }, 'the recent one is not the scan’s yet');
});

t.test('enqueueFulfilment emits a paid order’s fulfilment, and never fails its caller', async (t) => {
  const s = await stackWith(t, noScans);
  const { api, order } = await orderFor(s);
  await s.cashier((await api.pay(order.id)).body);
  await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'PAID');
  const _id = new Types.ObjectId(order.id);
  await eventually(() => events(s).countDocuments({ orderId: _id }), (n) => n === 1);
  await events(s).deleteMany({ orderId: _id });
  await orders(s).updateOne({ _id }, { $set: { 'fulfilment.state': 'PENDING', 'fulfilment.createdAt': new Date() } });

  await enqueueFulfilment(s.app.jobs, order.id);
  await eventually(() => events(s).countDocuments({ orderId: _id }), (n) => n === 1);
  t.match((await orders(s).findOne({ _id }))!.fulfilment, { state: 'EMITTED' });

  // With the queue gone, it resolves all the same (the scan is the safety net).
  await s.app.jobs.close();
  await t.resolves(enqueueFulfilment(s.app.jobs, order.id));
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
  await eventually(status, (st) => st === 'CLOSED');
  t.equal(await status(), 'CLOSED');
  t.match(await s.cashier(params), { errMsg: /^requestPayment:fail/ }, 'closed at WeChat by the new instance');
});
