import t from 'tap';
import { Types } from 'mongoose';
import { ORDER_JOBS } from '../../../server/src/orders/jobs.js';
import { stackWith, queue, sandboxCalls, orders, statusOf, orderFor, expireInDb, orphanOrders, runScan, until } from './helpers.js';

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
  await until(statuses, (st) => st.filter((x) => x === 'CLOSED').length === 2);
  t.same(await statuses(), ['CLOSED', 'CLOSED', 'CREATED', 'CREATED', 'CREATED'], 'the two oldest first');
  await runScan(scan);
  await until(statuses, (st) => st.filter((x) => x === 'CLOSED').length === 4);
  t.same(await statuses(), ['CLOSED', 'CLOSED', 'CLOSED', 'CLOSED', 'CREATED'], 'then the next two, from the cursor');
  await runScan(scan);
  await until(statuses, (st) => st.every((x) => x === 'CLOSED'));
  t.same(await statuses(), ['CLOSED', 'CLOSED', 'CLOSED', 'CLOSED', 'CLOSED']);
  t.equal(await statusOf(s, future!), 'CREATED', 'an order not yet expired is left alone');
});

t.test('100 orders WeChat will not close do not stop a healthy expired order from closing; they back off, die and stay dead', async (t) => {
  const attempts = 3;
  const s = await stackWith(t, {
    scanEveryMs: 1_000,
    expire: { attempts, backoff: { type: 'exponential', delayMs: 20 }, concurrency: 8 },
  });
  const scan = queue(t, s, ORDER_JOBS.expireScan);
  await s.faults({ payApi: { action: 'SYSTEMERROR', api: 'closeorder', count: 10_000 } });
  const closeCalls = sandboxCalls(s, '/pay/closeorder');

  // The stuck ones expired first (the oldest), then the healthy one; none has a job (a Redis loss).
  const old = Date.now() - 3_600_000;
  const stuck = await orphanOrders(s, Array.from({ length: 100 }, (_, i) => new Date(old + i * 1_000)), true);
  const [healthy] = await orphanOrders(s, [new Date(Date.now() - 60_000)], false);

  await until(() => statusOf(s, healthy!), (st) => st === 'CLOSED');
  t.equal(await statusOf(s, healthy!), 'CLOSED', 'the healthy order closed');

  const dead = await until(() => s.app.jobs.deadLetters({ limit: 200 }), (d) => d.length === 100);
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

  await until(async () => Promise.all(made.map((o) => statusOf(s, o.id))), (st) => st.every((x) => x === 'CLOSED'));
  // A few more scan intervals, in which both instances keep finding nothing to do.
  const scan = queue(t, s, ORDER_JOBS.expireScan);
  for (let i = 0; i < 3; i++) {
    const before = (await scan.getDelayed())[0]?.id;
    await until(() => scan.getDelayed(), (d) => d.length === 1 && d[0]!.id !== before);
  }
  for (const o of made) {
    const doc = await orders(s).findOne({ _id: new Types.ObjectId(o.id) });
    t.equal(doc!.history.filter((h: { to: string }) => h.to === 'CLOSED').length, 1);
  }
  t.equal(closeCalls(), made.length, 'one closeorder per order at WeChat, across both instances');
  t.equal(await scan.getJobSchedulersCount(), 1, 'both instances upserted one and the same schedule');
});
