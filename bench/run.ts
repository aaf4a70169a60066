/**
 * `npm run bench`: reports figures (it asserts nothing about timings). Three parts, all on loopback:
 *   1. protocol microbenchmarks (sign, verifySign, toXml, parseXml, verifyPayNotify)
 *   2. end to end over HTTP: login → order → pay → cashier → notify → PAID, N orders, C at a time
 *   3. notify storm: signed duplicate and re-signed notifies against 2 server instances, with a
 *      correctness check (one PAID transition and one fulfilment event per order) and memory
 * Prints tables to stdout and writes bench/results/latest.json.
 *
 * Options: --only=micro,e2e,storm  --orders=200 --concurrency=10 --storm-orders=100 --storm-per-order=5
 *          --storm-concurrency=20 --quick (a smaller run, for trying the harness)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runE2e, type E2eResult } from './e2e.js';
import { closeClient } from './http.js';
import { sample } from './memory.js';
import { runMicro, type MicroResult } from './micro.js';
import { fmt, nowMs, round, table, type Percentiles } from './stats.js';
import { runStorm, type StormResult } from './storm.js';

const HARD_LIMIT_MS = 180_000;

function args() {
  const a = new Map<string, string>();
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}`);
    a.set(m[1]!, m[2] ?? 'true');
  }
  const quick = a.has('quick');
  const int = (name: string, def: number, max: number) => {
    const v = a.has(name) ? Number(a.get(name)) : def;
    if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`--${name} must be a whole number from 1 to ${max}`);
    return v;
  };
  const only = new Set((a.get('only') ?? 'micro,e2e,storm').split(','));
  for (const o of only) if (!['micro', 'e2e', 'storm'].includes(o)) throw new Error(`--only: unknown part ${o}`);
  return {
    only,
    micro: quick ? { warmupMs: 100, roundMs: 50, rounds: 3 } : { warmupMs: 300, roundMs: 200, rounds: 7 },
    e2e: { orders: int('orders', quick ? 30 : 200, 2000), concurrency: int('concurrency', 10, 100), warmupOrders: quick ? 5 : 20, pollMs: 5 },
    storm: {
      orders: int('storm-orders', quick ? 20 : 100, 1000),
      perOrder: int('storm-per-order', 5, 50),
      concurrency: int('storm-concurrency', 20, 200),
      instances: 2,
      setupConcurrency: 10,
      seed: 20240501,
    },
  };
}

const ms = (v: number) => fmt(v, 1);
const pctRow = (name: string, p: Percentiles) => [name, String(p.n), ms(p.p50), ms(p.p95), ms(p.p99), ms(p.max), ms(p.mean)];

function printMicro(r: MicroResult[]) {
  console.log('\n== 1. Protocol microbenchmarks (median of rounds; spread = (slowest - fastest) / median) ==\n');
  console.log(
    table([
      ['operation', 'ops/s', 'µs/op', 'min µs', 'max µs', 'spread', 'rounds x ops'],
      ...r.map((m) => [m.name, fmt(m.opsPerSec, 0), fmt(m.usPerOp, 2), fmt(m.usPerOpMin, 2), fmt(m.usPerOpMax, 2), `±${fmt(m.spreadPct / 2, 1)}%`, `${m.rounds} x ${m.opsPerRound}`]),
    ]),
  );
}

function printE2e(r: E2eResult) {
  console.log(`\n== 2. End to end over HTTP: ${r.orders} orders, ${r.concurrency} users at a time, 1 server instance ==\n`);
  console.log(
    table([
      ['step (ms)', 'n', 'p50', 'p95', 'p99', 'max', 'mean'],
      pctRow('login (code + POST /api/session)', r.steps.login),
      pctRow('create order (POST /api/orders)', r.steps.createOrder),
      pctRow('pay (POST /api/orders/:id/pay)', r.steps.pay),
      pctRow('cashier pays (sandbox)', r.steps.cashier),
      pctRow('cashier ok -> PAID seen by GET', r.steps.paidVisible),
      pctRow('whole purchase', r.steps.total),
    ]),
  );
  const settled = Object.entries(r.settledBy)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `\nthroughput: ${fmt(r.ordersPerSec, 1)} orders/s (${r.completed} completed in ${fmt(r.wallSeconds, 2)} s, ${r.errors} errors); ` +
      `GETs to see PAID: p50 ${r.pollsPerOrder.p50}, max ${r.pollsPerOrder.max}; PAID set by: ${settled || '-'}; ` +
      `sandbox notify attempts: ${r.notifyAttempts.total} (${r.notifyAttempts.failed} failed or timed out)`,
  );
  console.log(`node process CPU during the run: ${fmt(r.nodeCpuSeconds, 1)} s of ${fmt(r.wallSeconds, 1)} s wall (the rest of the 2 cores: the database and Redis)`);
  console.log('\nby quarter of the run (order number), ms:\n');
  console.log(
    table([
      ['orders', 'create p50', 'create p95', 'purchase p50', 'purchase p95'],
      ...r.quarters.map((q) => [q.orders, ms(q.createOrder.p50), ms(q.createOrder.p95), ms(q.total.p50), ms(q.total.p95)]),
    ]),
  );
  for (const e of r.firstErrors) console.log(`  error: ${e}`);
}

function printStorm(r: StormResult) {
  console.log(
    `\n== 3. Notify storm: ${r.notifies} signed notifies for ${r.orders} orders (${r.mix.exactDuplicates} exact duplicates, ${r.mix.resignedRetries} re-signed retries), ${r.instances} instances, ${r.concurrency} in flight ==\n`,
  );
  console.log(table([['reply latency (ms)', 'n', 'p50', 'p95', 'p99', 'max', 'mean'], pctRow('POST /wxpay/notify', r.latencyMs)]));
  console.log(`\nthroughput: ${fmt(r.repliesPerSec, 1)} replies/s (${fmt(r.wallSeconds, 2)} s; setup of the paid orders took ${fmt(r.setupSeconds, 1)} s)`);
  console.log(`node process CPU during the storm: ${fmt(r.nodeCpuSeconds, 1)} s of ${fmt(r.wallSeconds, 2)} s wall`);
  console.log(`replies: ${Object.entries(r.replies).map(([k, v]) => `${k} x${v}`).join(', ')}`);
  const c = r.correctness;
  console.log(
    `correctness: ${c.ok ? 'OK' : 'FAILED'}: ${c.ordersPaid}/${r.orders} orders PAID, ${c.ordersWithOnePaidTransition}/${r.orders} with exactly one PAID transition, ` +
      `${c.ordersWithOneFulfilmentEvent}/${r.orders} with exactly one fulfilment event (${c.fulfilmentEventsTotal} events in all), ${c.successReplies}/${r.notifies} replies 200 SUCCESS`,
  );
  for (const p of c.problems) console.log(`  problem: ${p}`);
  const m = r.memory;
  console.log('\nmemory of this process (sandbox + 2 server instances + load generator), MiB:\n');
  console.log(
    table([
      ['when', 'rss', 'heapUsed', 'heapTotal', 'external'],
      ...(
        [
          ['before storm', m.beforeRaw],
          ['before storm, after GC', m.before],
          ['after storm', m.after],
          ['after storm, after GC', m.afterGc],
        ] as const
      ).map(([k, v]) => [k, fmt(v.rssMiB, 1), fmt(v.heapUsedMiB, 1), fmt(v.heapTotalMiB, 1), fmt(v.externalMiB, 1)]),
    ]),
  );
}

async function main(): Promise<number> {
  const opts = args();
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${HARD_LIMIT_MS / 1000} s, giving up`);
    process.exit(2);
  }, HARD_LIMIT_MS);
  watchdog.unref();

  const cpus = os.cpus();
  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    availableParallelism: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    /** 1/5/15-minute load averages at the start: other work on the machine skews every figure */
    loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
  };
  console.log(`wxpay-mp bench, ${machine.date}`);
  console.log(`node ${machine.node}, ${machine.platform}, ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB`);
  console.log(`load average at start: ${machine.loadAverageAtStart.join(' ')}`);
  console.log('services: MongoDB-compatible at MONGODB_URI, Redis at REDIS_URL (started by scripts/with-services.ts when unset); all traffic on loopback');

  const started = nowMs();
  const results: {
    machine: typeof machine;
    options: Omit<typeof opts, 'only'> & { only: string[] };
    micro?: MicroResult[];
    e2e?: E2eResult;
    storm?: StormResult;
    memoryAtStart: ReturnType<typeof sample>;
    memoryAtEnd?: ReturnType<typeof sample>;
    totalSeconds?: number;
    loadAverageAtEnd?: number[];
  } = { machine, options: { ...opts, only: [...opts.only] }, memoryAtStart: sample(false) };

  let ok = true;
  if (opts.only.has('micro')) {
    results.micro = runMicro(opts.micro);
    printMicro(results.micro);
  }
  if (opts.only.has('e2e')) {
    results.e2e = await runE2e(opts.e2e);
    printE2e(results.e2e);
    if (results.e2e.errors > 0) ok = false;
  }
  if (opts.only.has('storm')) {
    results.storm = await runStorm(opts.storm);
    printStorm(results.storm);
    if (!results.storm.correctness.ok) ok = false;
  }
  closeClient();
  results.memoryAtEnd = sample(false);
  results.totalSeconds = (nowMs() - started) / 1000;
  results.loadAverageAtEnd = os.loadavg().map((v) => round(v, 2));

  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nload average at end: ${results.loadAverageAtEnd.join(' ')}`);
  console.log(`total ${fmt(results.totalSeconds, 1)} s; figures written to ${out}`);
  if (!ok) console.log('bench: some purchases failed or the storm left orders in a wrong state (see above)');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
