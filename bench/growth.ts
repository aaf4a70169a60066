/**
 * `npm run bench:growth`: the data path as the shop's data grows (1k, 20k, 100k orders in one
 * database). Reports figures and ratios measured in the same run; asserts nothing about timings.
 *
 * At each size, on the same database and server:
 *   - raw: the database's own conditional-update rate for the notify's write
 *     (findOneAndUpdate {outTradeNo, status: PAYING, amount, ...} → PAID), 50 at a time, through mongoose;
 *   - notify: signed payment notifies over HTTP to /wxpay/notify, 50 at a time, each for its own
 *     PAYING order: rate, latency, and the rate as a ratio of raw;
 *   - poll: GET /api/orders/:id of a paid order (session lookup in Redis + one find) 20 at a time,
 *     against a bare Fastify route doing the same Redis GET and the same indexed find, as a ratio;
 *   - growth: each figure at 100k as a ratio of the same figure at 1k (flat is 1.0).
 *
 * Options: --sizes=1000,20000,100000  --notifies=400  --polls=2000  --concurrency=50
 */
import Fastify from 'fastify';
import { createHash } from 'node:crypto';
import mongoose, { Types } from 'mongoose';
import type { AddressInfo } from 'node:net';
import { sign, toBeijingTime, toXml } from '../server/src/wechat/index.js';
import { startStack } from '../test/helpers/stack.js';
import { closeClient, request } from './http.js';
import { closeStack } from './teardown.js';
import { fmt, nowMs, pool, round, summarize, table, type Percentiles } from './stats.js';

const SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

function args() {
  const a = new Map<string, string>();
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}`);
    a.set(m[1]!, m[2]!);
  }
  const int = (name: string, def: number) => {
    const v = a.has(name) ? Number(a.get(name)) : def;
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive whole number`);
    return v;
  };
  const sizes = (a.get('sizes') ?? '1000,20000,100000').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1) || sizes.some((n, i) => i > 0 && n <= sizes[i - 1]!)) {
    throw new Error('--sizes must be growing whole numbers');
  }
  return { sizes, notifies: int('notifies', 400), polls: int('polls', 2000), concurrency: int('concurrency', 50) };
}

interface SizeResult {
  orders: number;
  rawPerSec: number;
  notifyPerSec: number;
  notifyRatio: number;
  notifyMs: Percentiles;
  notifyFailures: number;
  pollPerSec: number;
  barePerSec: number;
  pollRatio: number;
  pollMs: Percentiles;
}

async function main() {
  const opts = args();
  // Workers on: the fulfilment jobs a notify enqueues compete for the same database, as in production.
  const s = await startStack({ timeScale: 1, jobs: { workers: process.env.GROWTH_WORKERS !== '0' } });
  const Order = s.app.mongo.model('Order');
  // Seeding goes through a connection of its own with no socket timeout: loading 100k documents is
  // the bench's set-up, not a request, and must not trip the app's fail-fast timeouts.
  const seedConn = await mongoose.createConnection(s.config.mongodbUri!, { dbName: s.dbName, socketTimeoutMS: 0, autoIndex: false }).asPromise();
  const seedOrders = seedConn.collection('orders');
  const key = s.config.pay.apiKey;
  const { token, openid } = await s.login();
  const sessKey = `sess:${createHash('sha256').update(token).digest('hex')}`;

  // A bare route on the same connections: the floor a status poll can reach.
  const bare = Fastify({ logger: false });
  bare.get<{ Params: { id: string } }>('/bare/:id', async (req) => {
    const session = await s.app.redis.get(sessKey);
    if (!session) throw new Error('no session');
    return Order.findOne({ _id: new Types.ObjectId(req.params.id), openid }).lean();
  });
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const bareBase = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}`;

  let seq = 0;
  const now = Date.now();
  const shape = (status: string, who = `o-bench-${seq % 5000}`) => {
    const n = seq++;
    const outTradeNo = `G${String(now).slice(-9)}${String(n).padStart(12, '0')}`;
    return {
      _id: new Types.ObjectId(),
      openid: who,
      outTradeNo,
      status,
      amount: 1800 + (n % 7) * 100,
      items: [
        { sku: 'COFFEE-LATTE', name: '拿铁咖啡', price: 1800, quantity: 1 },
        { sku: 'CAKE-CHEESE', name: '芝士蛋糕', price: 2600, quantity: 1 },
      ],
      tradeType: 'JSAPI',
      idemKey: `order:${outTradeNo}`,
      signTypes: ['MD5'],
      clientIp: '127.0.0.1',
      createdAt: new Date(now - (200_000 - n) * 1000),
      expiresAt: new Date(now + 30 * 60_000),
      prepay: { prepayId: `wx${n}`, signType: 'MD5', createdAt: new Date(), reuseUntil: new Date(now + 3600_000) },
      flags: [],
      followUp: null,
      fulfilment: status === 'PAID' ? { state: 'EMITTED', createdAt: new Date() } : null,
      history: [],
      version: 1,
      ...(status === 'PAID' ? { paidAt: new Date(), transactionId: `42${String(n).padStart(26, '0')}`, paidAmount: 1800 } : {}),
    };
  };
  const seed = async (count: number, status: string, who?: string) => {
    const docs = [];
    for (let i = 0; i < count; i++) docs.push(shape(status, who));
    // Small batches: one insertMany must finish within the connection's socket timeout on a busy machine.
    for (let i = 0; i < docs.length; i += 250) await seedOrders.insertMany(docs.slice(i, i + 250), { ordered: false });
    return docs;
  };

  const pollTargets = (await seed(20, 'PAID', openid)).map((d) => d._id.toString());
  const results: SizeResult[] = [];
  let have = 20;
  for (const size of opts.sizes) {
    const t0 = nowMs();
    // Mostly settled history, as a shop's database is.
    await seed(Math.max(0, size - have - opts.notifies * 2), 'PAID');
    have = size - opts.notifies * 2;
    const seedSec = (nowMs() - t0) / 1000;

    // raw: the same conditional write as the notify's, straight through mongoose.
    const rawDocs = await seed(opts.notifies, 'PAYING');
    const r0 = nowMs();
    await pool(rawDocs.length, opts.concurrency, async (i) => {
      const d = rawDocs[i]!;
      const won = await Order.findOneAndUpdate(
        { outTradeNo: d.outTradeNo, status: 'PAYING', amount: d.amount, openid: d.openid, tradeType: 'JSAPI', signTypes: 'MD5' },
        { $set: { status: 'PAID', paidAt: new Date(), transactionId: `raw${i}`, paidAmount: d.amount }, $inc: { version: 1 } },
        { returnDocument: 'after' },
      ).lean();
      if (!won) throw new Error('raw update missed');
    });
    const rawPerSec = rawDocs.length / ((nowMs() - r0) / 1000);

    // notify: signed notifies over HTTP, one per PAYING order.
    const notifyDocs = await seed(opts.notifies, 'PAYING');
    const bodies = notifyDocs.map((d, i) => {
      const f: Record<string, string> = {
        appid: s.config.wechat.appid,
        mch_id: s.config.pay.mchId,
        nonce_str: `n${i}x${size}`,
        result_code: 'SUCCESS',
        return_code: 'SUCCESS',
        openid: d.openid,
        trade_type: 'JSAPI',
        bank_type: 'OTHERS',
        total_fee: String(d.amount),
        fee_type: 'CNY',
        cash_fee: String(d.amount),
        transaction_id: `4200${String(size).padStart(8, '0')}${String(i).padStart(16, '0')}`,
        out_trade_no: d.outTradeNo,
        time_end: toBeijingTime(new Date()),
      };
      return toXml({ ...f, sign: sign(f, key, 'MD5') });
    });
    const lat: number[] = [];
    let notifyFailures = 0;
    const n0 = nowMs();
    await pool(bodies.length, opts.concurrency, async (i) => {
      const started = nowMs();
      const res = await request(s.apiBase + '/wxpay/notify', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: bodies[i], timeoutMs: 60_000 }).catch(
        () => undefined,
      );
      lat.push(res?.ms ?? nowMs() - started);
      if (res?.text !== SUCCESS) notifyFailures++;
    });
    const notifyPerSec = bodies.length / ((nowMs() - n0) / 1000);
    have += opts.notifies * 2;

    // poll vs bare route, same requests, same concurrency.
    const timed = async (url: (i: number) => string, headers: Record<string, string>) => {
      const ms: number[] = [];
      const t = nowMs();
      await pool(opts.polls, 20, async (i) => {
        const res = await request(url(i), { headers });
        if (res.status !== 200) throw new Error(`poll: ${res.status} ${res.text.slice(0, 200)}`);
        ms.push(res.ms);
      });
      return { perSec: opts.polls / ((nowMs() - t) / 1000), ms };
    };
    const auth = { authorization: `Bearer ${token}` };
    await timed((i) => `${bareBase}/bare/${pollTargets[i % pollTargets.length]}`, auth); // warm both paths
    const poll = await timed((i) => `${s.apiBase}/api/orders/${pollTargets[i % pollTargets.length]}`, auth);
    const bareRun = await timed((i) => `${bareBase}/bare/${pollTargets[i % pollTargets.length]}`, auth);

    const r: SizeResult = {
      // (a count would decode every document on the embedded build: the bench knows how many it loaded)
      orders: have + 20,
      rawPerSec: round(rawPerSec, 1),
      notifyPerSec: round(notifyPerSec, 1),
      notifyRatio: round(notifyPerSec / rawPerSec, 2),
      notifyMs: summarize(lat),
      notifyFailures,
      pollPerSec: round(poll.perSec, 1),
      barePerSec: round(bareRun.perSec, 1),
      pollRatio: round(poll.perSec / bareRun.perSec, 2),
      pollMs: summarize(poll.ms),
    };
    results.push(r);
    console.error(`[growth] ${r.orders} orders (seeded in ${fmt(seedSec)} s): notify ${r.notifyPerSec}/s = ${r.notifyRatio} of raw ${r.rawPerSec}/s; poll ${r.pollPerSec}/s = ${r.pollRatio} of bare`);
  }

  console.log('\n== Growth: the notify and status-poll paths as the orders grow ==\n');
  console.log(
    table([
      ['orders', 'raw cond. update/s', 'notify/s', 'notify ÷ raw', 'notify p50 ms', 'p99 ms', 'max ms', 'not SUCCESS', 'poll/s', 'bare/s', 'poll ÷ bare', 'poll p99 ms'],
      ...results.map((r) => [
        String(r.orders),
        fmt(r.rawPerSec),
        fmt(r.notifyPerSec),
        fmt(r.notifyRatio, 2),
        fmt(r.notifyMs.p50),
        fmt(r.notifyMs.p99),
        fmt(r.notifyMs.max),
        String(r.notifyFailures),
        fmt(r.pollPerSec),
        fmt(r.barePerSec),
        fmt(r.pollRatio, 2),
        fmt(r.pollMs.p99),
      ]),
    ]),
  );
  const first = results[0]!;
  const last = results[results.length - 1]!;
  if (results.length > 1) {
    console.log(`\nlargest ÷ smallest (${last.orders} vs ${first.orders} orders; flat is 1.00, slower is below):`);
    console.log(
      table([
        ['raw', 'notify', 'poll', 'bare', 'notify p99 (largest ÷ smallest, lower is better)'],
        [
          fmt(last.rawPerSec / first.rawPerSec, 2),
          fmt(last.notifyPerSec / first.notifyPerSec, 2),
          fmt(last.pollPerSec / first.pollPerSec, 2),
          fmt(last.barePerSec / first.barePerSec, 2),
          fmt(last.notifyMs.p99 / first.notifyMs.p99, 2),
        ],
      ]),
    );
  }
  await seedConn.close();
  await bare.close();
  await closeStack(s);
  closeClient();
  if (results.some((r) => r.notifyFailures > 0)) process.exitCode = 1;
}

const watchdog = setTimeout(() => {
  console.error('[growth] did not finish within 20 minutes: stopped');
  process.exit(2);
}, 20 * 60_000);
watchdog.unref();
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
