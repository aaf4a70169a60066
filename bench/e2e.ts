import { startStack } from '../test/helpers/stack.js';
import { closeStack } from './teardown.js';
import { json } from './http.js';
import { purchase, type FlowTimings } from './flow.js';
import { nowMs, pool, summarize, type Percentiles } from './stats.js';

export interface E2eOptions {
  orders: number;
  concurrency: number;
  warmupOrders: number;
  pollMs: number;
}

export interface E2eResult {
  orders: number;
  concurrency: number;
  completed: number;
  errors: number;
  firstErrors: string[];
  wallSeconds: number;
  ordersPerSec: number;
  steps: Record<keyof Omit<FlowTimings, 'polls'>, Percentiles>;
  pollsPerOrder: Percentiles;
  /** which path turned each order PAID (history source): notify or orderquery */
  settledBy: Record<string, number>;
  /** the sandbox's notify deliveries for the measured orders (a failed one is retried later) */
  notifyAttempts: { total: number; failed: number };
  quarters: Array<{ orders: string; createOrder: Percentiles; total: Percentiles }>;
  /** CPU time of this Node process (load generator + sandbox + server) during the measured part */
  nodeCpuSeconds: number;
}

/** N full purchases with C users at a time, on one server instance + the sandbox. */
export async function runE2e(opts: E2eOptions): Promise<E2eResult> {
  // timeScale 1: the sandbox notifies as WeChat does (first attempt at once, 5 s attempt timeout,
  // retries 15 s later), not on the tests' compressed schedule, whose 200 ms attempt timeout would
  // turn every slow reply under load into an extra retry.
  const s = await startStack({ instances: 1, timeScale: 1 });
  try {
    // Warm-up: JIT, connection pools, indexes; its figures are dropped.
    await pool(opts.warmupOrders, opts.concurrency, async (i) => {
      await purchase(s, i, { group: 10, pollMs: opts.pollMs, paidTimeoutMs: 15_000 });
    });

    const timings: FlowTimings[] = [];
    const errors: string[] = [];
    const measured = new Set<string>();
    const byIndex: Array<FlowTimings | undefined> = [];
    const cpu0 = process.cpuUsage();
    const t0 = nowMs();
    await pool(opts.orders, opts.concurrency, async (i) => {
      try {
        const r = await purchase(s, i, { group: 11, pollMs: opts.pollMs, paidTimeoutMs: 15_000 });
        timings.push(r.t);
        byIndex[i] = r.t;
        measured.add(r.order.outTradeNo);
      } catch (err) {
        errors.push((err as Error).message);
      }
    });
    const wallSeconds = (nowMs() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    // The same figures per quarter of the run (by order number): shows whether latency grows with the data.
    const quarters = [0, 1, 2, 3].map((q) => {
      const lo = Math.floor((q * opts.orders) / 4);
      const hi = Math.floor(((q + 1) * opts.orders) / 4);
      const ts = byIndex.slice(lo, hi).filter((t): t is FlowTimings => t !== undefined);
      return { orders: `${lo + 1}-${hi}`, createOrder: summarize(ts.map((t) => t.createOrder)), total: summarize(ts.map((t) => t.total)) };
    });

    // The sandbox's delivery log: how many notify attempts the measured orders took.
    // An attempt is logged once its reply is in, which may be just after GET showed PAID.
    type Attempt = { outTradeNo: string; success: boolean };
    const logged = async () =>
      (await json<{ attempts: Attempt[] }>(s.sandboxBase + '/sandbox/notifications')).body.attempts.filter((a) => measured.has(a.outTradeNo));
    let attempts = await logged();
    for (let waited = 0; new Set(attempts.map((a) => a.outTradeNo)).size < measured.size && waited < 3_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      attempts = await logged();
    }
    const notifyAttempts = { total: attempts.length, failed: attempts.filter((a) => !a.success).length };

    const settledBy: Record<string, number> = {};
    const docs = await s.app.mongo.collection('orders').find({}, { projection: { history: 1, clientIp: 1 } }).toArray();
    for (const d of docs) {
      if (!String(d.clientIp).startsWith('127.11.')) continue; // warm-up orders are not counted
      for (const h of (d.history ?? []) as Array<{ to: string; source: string }>) {
        if (h.to === 'PAID') settledBy[h.source] = (settledBy[h.source] ?? 0) + 1;
      }
    }

    const pick = (k: keyof FlowTimings) => summarize(timings.map((t) => t[k]));
    return {
      orders: opts.orders,
      concurrency: opts.concurrency,
      completed: timings.length,
      errors: errors.length,
      firstErrors: [...new Set(errors)].slice(0, 5),
      wallSeconds,
      ordersPerSec: timings.length / wallSeconds,
      steps: {
        login: pick('login'),
        createOrder: pick('createOrder'),
        pay: pick('pay'),
        cashier: pick('cashier'),
        paidVisible: pick('paidVisible'),
        total: pick('total'),
      },
      pollsPerOrder: pick('polls'),
      settledBy,
      notifyAttempts,
      quarters,
      nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    const { forced } = await closeStack(s);
    if (forced) console.error(`bench e2e: connections still open 2 s after close were cut`);
  }
}
