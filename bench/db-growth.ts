/**
 * `npm run bench:db`: how the embedded database's hot queries hold up as the orders collection grows.
 * Reports figures only (it asserts nothing about timings).
 *
 * For each server ("target") it loads orders shaped like server/src/orders/model.ts, with the
 * model's own indexes, and at 1k, 20k and 100k orders measures, single client and 50 concurrent:
 *   - cond. update: updateOne({ outTradeNo, status: 'PAYING' }, { $inc, $set }) (raw driver)
 *   - findOne({ outTradeNo })
 *   - list: find({ openid }).sort({ createdAt: -1, _id: -1 }).limit(20)
 * and, single client only, the notify fast path findOneAndUpdate({ outTradeNo, status, amount }) and
 * the expiry scan find({ status: { $in }, expiresAt: { $lt } }).sort({ expiresAt: 1 }).limit(100).
 * It prints ops/s (the best of up to 3 rounds) and the slowdown (rate at the smallest size / rate at each larger size: 1.0 is
 * flat), and for FerretDB targets whether SQLite answers each filter from an index (explain).
 *
 * Targets, side by side in one run, each on its own fresh server and temp dir:
 *   new  our FerretDB build (ferretdb-wxpay-mp.N: index-backed filters), the default of npm start / npm test
 *   old  the previous default (a `ferretdb` whose --version says wxpay-mp.1), up to --old-max orders
 *        (it scans every document per query, so 100k would take a long time)
 *   any  --target=name=mongodb://host:port/ (a server you started: MongoDB, FerretDB on PostgreSQL, ...)
 *
 * Shape: every order belongs to a buyer with ~20 orders (buyers grow with the collection), most
 * orders are settled (PAID, CLOSED, REFUNDED) and a constant live set (200 PAYING, 100 CREATED,
 * 20 FAILED, 20 PAID with a pending fulfilment) stays the same at every size, as in a shop whose
 * expiry job closes unpaid orders after 30 minutes.
 *
 * Options: --sizes=1000,20000,100000  --old-max=20000  --seconds=3 (per measurement)
 *          --concurrency=50  --only=new,old  --old-bin=/path/to/ferretdb  --target=name=uri (repeatable)
 *          --ops=condUpdate,findOne,list,notifyPath,expiryScan (a subset)
 *          --quick (sizes 500,2000; 1 s each)
 * Writes bench/results/db-growth.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mongoose from 'mongoose';
import { orderModels, type OrderDoc } from '../server/src/orders/model.js';
import { FERRETDB_PATCH_MARKER, findExecutable, findFerretdb, goBinDirs, startFerretdbServer } from '../server/src/local-services.js';
import { fmt, nowMs, round, table } from './stats.js';

export interface Target {
  name: string;
  uri: string;
  describe: string;
  /** largest size measured on it (it is skipped above) */
  maxSize: number;
  /** run once after the collection and the model's indexes exist, before any measurement */
  afterIndexes?: (db: mongoose.mongo.Db) => Promise<void>;
  stop?: () => Promise<void>;
}

export interface Options {
  sizes: number[];
  seconds: number;
  concurrency: number;
  seed: number;
  /** which operations to measure (all by default) */
  ops?: ReadonlySet<string>;
}

type OpName = 'condUpdate' | 'findOne' | 'list' | 'notifyPath' | 'expiryScan';
const OPS: Array<{ op: OpName; label: string; concurrent: boolean }> = [
  { op: 'condUpdate', label: "cond. update {outTradeNo, status}", concurrent: true },
  { op: 'findOne', label: 'findOne {outTradeNo}', concurrent: true },
  { op: 'list', label: 'list {openid} sort createdAt,_id limit 20', concurrent: true },
  { op: 'notifyPath', label: 'findOneAndUpdate {outTradeNo, status, amount}', concurrent: false },
  { op: 'expiryScan', label: 'expiry {status $in, expiresAt $lt} sort limit 100', concurrent: false },
];

export interface Measurement {
  target: string;
  size: number;
  op: OpName;
  clients: number;
  ops: number;
  seconds: number;
  opsPerSec: number;
  /** ops whose result was not what the data says (a filter that missed, a wrong count): must be 0 */
  wrong: number;
  /** set when not run (too slow single-client to be worth 50 in flight) */
  skipped?: string;
}

export interface PlanCheck {
  target: string;
  size: number;
  op: OpName;
  /** 'index' | 'scan' | 'unknown', from explain */
  plan: string;
  detail: string;
}

/** Deterministic PRNG (mulberry32), so every target gets the same keys in the same order. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LIVE = { PAYING: 200, CREATED: 100, FAILED: 20, PENDING_FULFILMENT: 20 };
const ORDERS_PER_BUYER = 20;
const BASE_TIME = Date.parse('2026-01-01T00:00:00.000Z');

/** The data set, grown in steps; keys are kept to pick from. */
class Shop {
  seq = 0;
  buyers = 0;
  readonly paying: Array<{ outTradeNo: string; amount: number }> = [];
  readonly all: string[] = [];
  constructor(private readonly random: () => number) {}

  private order(status: OrderDoc['status'], openid: string, pendingFulfilment = false): Record<string, unknown> {
    const n = this.seq++;
    const createdAt = new Date(BASE_TIME + n * 60_000);
    const amount = 100 + Math.floor(this.random() * 9_900);
    const outTradeNo = `BENCH${String(n).padStart(10, '0')}`;
    const paid = status === 'PAID' || status === 'REFUNDED';
    const doc: Record<string, unknown> = {
      _id: new mongoose.Types.ObjectId(),
      openid,
      outTradeNo,
      status,
      amount,
      items: [
        { sku: 'latte', name: '拿铁', price: 2_800, quantity: 1 },
        { sku: 'cheesecake', name: '芝士蛋糕', price: amount - 2_800 > 0 ? amount - 2_800 : 100, quantity: 1 },
      ],
      clientIp: `10.${n % 250}.${(n >> 8) % 250}.${n % 7}`,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + 30 * 60_000),
      prepay:
        status === 'CREATED'
          ? null
          : { prepayId: `wx${n}prepay`, signType: 'MD5', createdAt, reuseUntil: new Date(createdAt.getTime() + 110 * 60_000) },
      flags: [],
      fulfilment: paid ? { state: pendingFulfilment ? 'PENDING' : 'EMITTED', createdAt, ...(pendingFulfilment ? {} : { emittedAt: createdAt }) } : null,
      history: [
        { from: 'CREATED', to: 'PAYING', at: createdAt, source: 'pay' },
        ...(status === 'CREATED' || status === 'PAYING' ? [] : [{ from: 'PAYING', to: status, at: createdAt, source: 'notify' }]),
      ],
      version: status === 'CREATED' ? 0 : status === 'PAYING' ? 1 : 2,
    };
    if (paid) Object.assign(doc, { paidAt: createdAt, transactionId: `4200${String(n).padStart(24, '0')}`, paidAmount: amount });
    this.all.push(outTradeNo);
    if (status === 'PAYING') this.paying.push({ outTradeNo, amount });
    return doc;
  }

  /** Orders to reach `size`; the first call also makes the constant live set. */
  grow(size: number): Record<string, unknown>[] {
    const docs: Record<string, unknown>[] = [];
    const buyer = () => `o-bench-${Math.floor(this.random() * this.buyers)}`;
    if (this.seq === 0) {
      this.buyers = Math.max(1, Math.ceil(size / ORDERS_PER_BUYER));
      for (let i = 0; i < LIVE.PAYING; i++) docs.push(this.order('PAYING', buyer()));
      for (let i = 0; i < LIVE.CREATED; i++) docs.push(this.order('CREATED', buyer()));
      for (let i = 0; i < LIVE.FAILED; i++) docs.push(this.order('FAILED', buyer()));
      for (let i = 0; i < LIVE.PENDING_FULFILMENT; i++) docs.push(this.order('PAID', buyer(), true));
    } else {
      this.buyers = Math.max(this.buyers, Math.ceil(size / ORDERS_PER_BUYER));
    }
    while (this.seq < size) {
      const r = this.random();
      docs.push(this.order(r < 0.8 ? 'PAID' : r < 0.95 ? 'CLOSED' : 'REFUNDED', buyer()));
    }
    return docs;
  }
}

async function timed(seconds: number, clients: number, minOps: number, once: () => Promise<boolean>): Promise<{ ops: number; wrong: number; seconds: number }> {
  let ops = 0;
  let wrong = 0;
  const started = nowMs();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (nowMs() < deadline || ops < minOps) {
      ops++;
      if (!(await once())) wrong++;
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  return { ops, wrong, seconds: (nowMs() - started) / 1000 };
}

function planOf(explain: Record<string, unknown>): { plan: string; detail: string } {
  const qp = explain.queryPlanner as Record<string, unknown> | undefined;
  const lines = (qp?.Plan as string[] | undefined) ?? [];
  if (lines.length > 0) {
    // FerretDB on SQLite: EXPLAIN QUERY PLAN rows
    const detail = lines.map((l) => l.replace(/^.*detail=/, '')).join('; ');
    const scans = lines.some((l) => /detail=SCAN /.test(l));
    return { plan: scans ? 'scan' : lines.some((l) => /USING (COVERING )?INDEX/.test(l)) ? 'index' : 'unknown', detail };
  }
  const winning = JSON.stringify(qp?.winningPlan ?? qp ?? {});
  if (/IXSCAN|Index Scan|Bitmap Index Scan|Index Only Scan/.test(winning)) return { plan: 'index', detail: winning.slice(0, 200) };
  if (/COLLSCAN|Seq Scan/.test(winning)) return { plan: 'scan', detail: winning.slice(0, 200) };
  return { plan: 'unknown', detail: winning.slice(0, 200) };
}

async function checkPlans(target: string, size: number, db: mongoose.mongo.Db, shop: Shop): Promise<PlanCheck[]> {
  const p = shop.paying[0]!;
  const filters: Array<[OpName, Record<string, unknown>, Record<string, unknown>?]> = [
    ['condUpdate', { outTradeNo: p.outTradeNo, status: 'PAYING' }],
    ['findOne', { outTradeNo: shop.all[0] }],
    ['list', { openid: 'o-bench-0' }, { createdAt: -1, _id: -1 }],
    ['notifyPath', { outTradeNo: p.outTradeNo, status: 'PAYING', amount: p.amount }],
    ['expiryScan', { status: { $in: ['CREATED', 'PAYING', 'FAILED'] }, expiresAt: { $lt: new Date() } }, { expiresAt: 1 }],
  ];
  const out: PlanCheck[] = [];
  for (const [op, filter, sort] of filters) {
    try {
      const explain = await db.command({ explain: { find: 'orders', filter, ...(sort ? { sort } : {}), limit: 20 }, verbosity: 'queryPlanner' });
      out.push({ target, size, op, ...planOf(explain) });
    } catch (err) {
      out.push({ target, size, op, plan: 'unknown', detail: `explain failed: ${(err as Error).message}` });
    }
  }
  return out;
}

export async function measureTarget(target: Target, opts: Options, log: (line: string) => void): Promise<{ results: Measurement[]; plans: PlanCheck[]; loadSeconds: Record<number, number> }> {
  const dbName = `bench_db_growth_${Date.now().toString(36)}`;
  const conn = await mongoose.createConnection(target.uri, { dbName, serverSelectionTimeoutMS: 10_000, maxPoolSize: opts.concurrency + 5 }).asPromise();
  const results: Measurement[] = [];
  const plans: PlanCheck[] = [];
  const loadSeconds: Record<number, number> = {};
  try {
    await orderModels(conn);
    const db = conn.db as mongoose.mongo.Db;
    const orders = db.collection('orders');
    const shop = new Shop(rng(opts.seed));
    let hookRan = false;
    for (const size of opts.sizes) {
      if (size > target.maxSize) {
        log(`${target.name}: skipping ${size} orders (above its --max of ${target.maxSize})`);
        continue;
      }
      const t0 = nowMs();
      const docs = shop.grow(size);
      for (let i = 0; i < docs.length; i += 1000) await orders.insertMany(docs.slice(i, i + 1000), { ordered: false });
      loadSeconds[size] = round((nowMs() - t0) / 1000, 1);
      if (!hookRan && target.afterIndexes) {
        await target.afterIndexes(db);
        hookRan = true;
      }
      const count = await orders.estimatedDocumentCount();
      log(`${target.name}: ${count} orders (loaded ${docs.length} in ${loadSeconds[size]} s)`);
      plans.push(...(await checkPlans(target.name, size, db, shop)));

      const random = rng(opts.seed + size);
      const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)]!;
      const run: Record<OpName, () => Promise<boolean>> = {
        condUpdate: async () => {
          const p = pick(shop.paying);
          const r = await orders.updateOne({ outTradeNo: p.outTradeNo, status: 'PAYING' }, { $inc: { version: 1 }, $set: { lastQueryAt: new Date() } });
          return r.matchedCount === 1;
        },
        findOne: async () => {
          const key = pick(shop.all);
          const doc = await orders.findOne({ outTradeNo: key });
          return doc?.outTradeNo === key;
        },
        list: async () => {
          const openid = `o-bench-${Math.floor(random() * shop.buyers)}`;
          const rows = await orders.find({ openid }).sort({ createdAt: -1, _id: -1 }).limit(20).toArray();
          return rows.every((r) => r.openid === openid);
        },
        notifyPath: async () => {
          const p = pick(shop.paying);
          const doc = await orders.findOneAndUpdate(
            { outTradeNo: p.outTradeNo, status: 'PAYING', amount: p.amount },
            { $inc: { version: 1 }, $set: { lastQueryAt: new Date() } },
            { returnDocument: 'after' },
          );
          return doc?.outTradeNo === p.outTradeNo;
        },
        expiryScan: async () => {
          const rows = await orders
            .find({ status: { $in: ['CREATED', 'PAYING', 'FAILED'] }, expiresAt: { $lt: new Date(BASE_TIME + 30 * 60_000 * 1000) } })
            .sort({ expiresAt: 1 })
            .limit(100)
            .toArray();
          return rows.length === 100;
        },
      };
      for (const { op, concurrent } of OPS) {
        if (opts.ops && !opts.ops.has(op)) continue;
        const single = await measure(target.name, size, op, 1, opts.seconds, run[op]);
        results.push(single);
        log(`${target.name} @ ${size}: ${op} x1 ${fmt(single.opsPerSec, 1)}/s${single.wrong ? ` (${single.wrong} WRONG)` : ''}`);
        if (!concurrent) continue;
        if (single.opsPerSec * opts.seconds < opts.concurrency) {
          results.push({ ...single, clients: opts.concurrency, ops: 0, seconds: 0, opsPerSec: Number.NaN, wrong: 0, skipped: 'too slow for 50 in flight' });
          continue;
        }
        const many = await measure(target.name, size, op, opts.concurrency, opts.seconds, run[op]);
        results.push(many);
        log(`${target.name} @ ${size}: ${op} x${opts.concurrency} ${fmt(many.opsPerSec, 1)}/s${many.wrong ? ` (${many.wrong} WRONG)` : ''}`);
      }
    }
  } finally {
    await conn.dropDatabase().catch(() => undefined);
    await conn.close();
  }
  return { results, plans, loadSeconds };
}

/**
 * Up to 3 rounds of seconds/3 each (fewer when a round already took `seconds`: a slow server), and the
 * best round's rate: other work on a shared machine only ever makes a round slower.
 */
async function measure(target: string, size: number, op: OpName, clients: number, seconds: number, once: () => Promise<boolean>): Promise<Measurement> {
  await timed(0, Math.min(clients, 5), Math.min(clients, 5), once); // warm-up: connections, caches
  let ops = 0;
  let wrong = 0;
  let spent = 0;
  let best = 0;
  for (let i = 0; i < 3 && (i === 0 || spent < seconds); i++) {
    const r = await timed(seconds / 3, clients, i === 0 ? 3 : 1, once);
    ops += r.ops;
    wrong += r.wrong;
    spent += r.seconds;
    best = Math.max(best, r.ops / r.seconds);
  }
  return { target, size, op, clients, ops, seconds: round(spent, 2), opsPerSec: best, wrong };
}

function versionOf(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  } catch {
    return '';
  }
}

/** The previous default: a `ferretdb` built with the wxpay-mp.1 patch (scans, atomic writes). */
async function findOldFerretdb(explicit?: string): Promise<string | undefined> {
  if (explicit) return explicit;
  const dirs = await goBinDirs();
  for (const name of ['ferretdb-wxpay-mp.1', 'ferretdb']) {
    const bin = await findExecutable(name, dirs);
    if (bin && versionOf(bin).includes('package: wxpay-mp.1')) return bin;
  }
  return undefined;
}

function args() {
  const a = new Map<string, string[]>();
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}`);
    a.set(m[1]!, [...(a.get(m[1]!) ?? []), m[2] ?? 'true']);
  }
  const one = (k: string) => a.get(k)?.at(-1);
  const quick = a.has('quick');
  const num = (k: string, def: number) => {
    const v = one(k) === undefined ? def : Number(one(k));
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${k} must be a positive number`);
    return v;
  };
  const sizes = (one('sizes') ?? (quick ? '500,2000' : '1000,20000,100000')).split(',').map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < 400) || sizes.some((s, i) => i > 0 && s <= sizes[i - 1]!)) {
    throw new Error('--sizes: increasing whole numbers, each at least 400 (the live set is 340 orders)');
  }
  const ops = one('ops') === undefined ? undefined : new Set(one('ops')!.split(','));
  for (const o of ops ?? []) if (!OPS.some((x) => x.op === o)) throw new Error(`--ops: unknown operation ${o}`);
  const targets = (a.get('target') ?? []).map((t) => {
    const m = /^([\w.-]+)=(mongodb(?:\+srv)?:\/\/.+)$/.exec(t);
    if (!m) throw new Error(`--target must be name=mongodb://host:port/, got ${t}`);
    return { name: m[1]!, uri: m[2]! };
  });
  return {
    sizes,
    seconds: num('seconds', quick ? 1 : 3),
    concurrency: Math.round(num('concurrency', 50)),
    oldMax: num('old-max', 20_000),
    only: new Set((one('only') ?? (targets.length ? '' : 'new,old')).split(',').filter(Boolean)),
    oldBin: one('old-bin'),
    ops,
    targets,
    seed: 20260101,
  };
}

export function printResults(results: Measurement[], plans: PlanCheck[], sizes: number[], targets: string[]): void {
  const base = sizes[0]!;
  console.log(`\nops/s; slowdown = rate at ${base} / rate at the larger size (1.0 = flat; higher = slower as orders grow)\n`);
  for (const { op, label, concurrent } of OPS) {
    for (const clients of concurrent ? [1, Math.max(...results.map((r) => r.clients))] : [1]) {
      const rows: string[][] = [['target', ...sizes.map(String), ...sizes.slice(1).map((s) => `slowdown ${s}`)]];
      for (const target of targets) {
        const at = (size: number) => results.find((r) => r.target === target && r.size === size && r.op === op && r.clients === clients);
        const rate = (size: number) => at(size)?.opsPerSec ?? Number.NaN;
        rows.push([
          target,
          ...sizes.map((s) => (at(s)?.skipped ? 'skipped' : fmt(rate(s), 1) + (at(s)?.wrong ? ' WRONG' : ''))),
          ...sizes.slice(1).map((s) => (Number.isFinite(rate(s)) && Number.isFinite(rate(base)) ? `${fmt(rate(base) / rate(s), 2)}x` : '-')),
        ]);
      }
      console.log(`${label}, ${clients} client${clients > 1 ? 's' : ''}:\n`);
      console.log(table(rows));
      console.log('');
    }
  }
  const largest = new Map<string, number>();
  for (const p of plans) largest.set(p.target, Math.max(largest.get(p.target) ?? 0, p.size));
  console.log('query plans (explain) at each target\'s largest size:\n');
  console.log(
    table([
      ['target', 'query', 'plan', 'detail'],
      ...plans.filter((p) => p.size === largest.get(p.target)).map((p) => [p.target, p.op, p.plan, p.detail.slice(0, 110)]),
    ]),
  );
}

async function main(): Promise<number> {
  const opts = args();
  const log = (line: string) => process.stderr.write(`[db-growth] ${line}\n`);
  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
  };
  console.log(`wxpay-mp db-growth bench, ${machine.date}; node ${machine.node}, ${machine.cpus} x ${machine.cpuModel}; load average ${machine.loadAverageAtStart.join(' ')}`);
  const started = nowMs();
  const targets: Target[] = [];
  const scratch: string[] = [];
  try {
    if (opts.only.has('new')) {
      const bin = await findFerretdb();
      if (!bin) throw new Error(`no ferretdb-${FERRETDB_PATCH_MARKER}: run \`bash scripts/build-ferretdb.sh\``);
      const dir = mkdtempSync(join(os.tmpdir(), 'wxpay-mp-bench-new-'));
      scratch.push(dir);
      const s = await startFerretdbServer(bin, dir);
      targets.push({ name: 'new', uri: s.uri, describe: s.describe, maxSize: Infinity, stop: s.stop });
    }
    if (opts.only.has('old')) {
      const bin = await findOldFerretdb(opts.oldBin);
      if (!bin) {
        log('old: no ferretdb built with the wxpay-mp.1 patch found (give --old-bin=...), skipped');
      } else {
        const dir = mkdtempSync(join(os.tmpdir(), 'wxpay-mp-bench-old-'));
        scratch.push(dir);
        const s = await startFerretdbServer(bin, dir);
        targets.push({ name: 'old', uri: s.uri, describe: s.describe, maxSize: opts.oldMax, stop: s.stop });
      }
    }
    for (const t of opts.targets) targets.push({ name: t.name, uri: t.uri, describe: t.uri, maxSize: Infinity });
    if (targets.length === 0) throw new Error('no target to measure');
    for (const t of targets) console.log(`target ${t.name}: ${t.describe}${Number.isFinite(t.maxSize) ? ` (up to ${t.maxSize} orders)` : ''}`);

    const all: Measurement[] = [];
    const plans: PlanCheck[] = [];
    const loads: Record<string, Record<number, number>> = {};
    // One target at a time, so they do not compete for the 2 cores.
    for (const t of targets) {
      const r = await measureTarget(t, opts, log);
      all.push(...r.results);
      plans.push(...r.plans);
      loads[t.name] = r.loadSeconds;
      await t.stop?.();
    }
    printResults(all, plans, opts.sizes, targets.map((t) => t.name));
    const wrong = all.reduce((n, r) => n + r.wrong, 0);
    const totalSeconds = round((nowMs() - started) / 1000, 1);
    const loadAverageAtEnd = os.loadavg().map((v) => round(v, 2));
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'db-growth.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ machine, options: { ...opts, only: [...opts.only], ops: opts.ops ? [...opts.ops] : 'all' }, targets: targets.map((t) => ({ name: t.name, describe: t.describe })), loadSeconds: loads, results: all, plans, totalSeconds, loadAverageAtEnd }, null, 2) + '\n');
    console.log(`\nload average at end: ${loadAverageAtEnd.join(' ')}; total ${fmt(totalSeconds, 1)} s; figures written to ${out}`);
    if (wrong > 0) console.log(`db-growth: ${wrong} operations returned a wrong result (see WRONG above)`);
    return wrong > 0 ? 1 : 0;
  } finally {
    for (const t of targets) await t.stop?.().catch(() => undefined);
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(1);
    },
  );
}
