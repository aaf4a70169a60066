// Shared by the orders-jobs tests: a stack with job workers, a look into its queues, orders set up
// as the scans find them.
import type { IncomingMessage } from 'node:http';
import { Queue } from 'bullmq';
import { Types } from 'mongoose';
import type { OrderJobSettings } from '../../../server/src/orders/jobs.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { isPayCall } from '../../helpers/wechat-v3.js';

export type Settings = Partial<OrderJobSettings>;

/** Waits for what the workers do; long enough for a loaded machine (a pass returns as soon as it holds). */
export const until = <T>(get: () => Promise<T>, check: (v: T) => boolean) => eventually(get, check, 60_000);
/** what the helpers need of a tap test */
export type Teardown = { teardown(fn: () => unknown): void };

export async function stackWith(t: Teardown, orders: Settings, more: { instances?: number; workers?: boolean } = {}) {
  const s = await startStack({ instances: more.instances, jobs: { workers: more.workers ?? true, orders } });
  t.teardown(() => s.close());
  return s;
}

/** A BullMQ handle on one of the stack's queues, to look at jobs and to move the clock on (promote). */
export function queue(t: Teardown, s: Stack, name: string): Queue {
  const q = new Queue(name, { prefix: s.appOptions.jobsPrefix, connection: { url: s.config.redisUrl! } });
  t.teardown(() => q.close());
  return q;
}

/** Counts the calls a WeChat API gets at the sandbox. */
/** Counts the sandbox's calls of v2 API `path` (e.g. /pay/closeorder), or of its v3 counterpart when the server is on v3. */
export function sandboxCalls(s: Stack, path: string) {
  let n = 0;
  s.sandbox.server.on('request', (req: IncomingMessage) => {
    if (isPayCall(req, path)) n++;
  });
  return () => n;
}

export const orders = (s: Stack) => s.app.mongo.collection('orders');
export const events = (s: Stack) => s.app.mongo.collection('fulfilment_events');
export const statusOf = async (s: Stack, id: string) => (await orders(s).findOne({ _id: new Types.ObjectId(id) }))!.status as string;

export async function orderFor(s: Stack) {
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'COFFEE-AMERICANO', quantity: 1 }])).body;
  return { api, order };
}

export async function expireInDb(s: Stack, id: string, msAgo = 1_000) {
  await orders(s).updateOne({ _id: new Types.ObjectId(id) }, { $set: { expiresAt: new Date(Date.now() - msAgo) } });
}

/**
 * Orders as they stand after a Redis loss: in the database, no job in any queue. With a prepay
 * (PAYING) the close goes to WeChat; without (CREATED) it closes locally. Written in one insert,
 * as a pay under the order lock would have left them.
 */
export async function orphanOrders(s: Stack, expiries: Date[], prepay: boolean): Promise<string[]> {
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
export async function runScan(q: Queue) {
  const next = await until(() => q.getDelayed(), (d) => d.length === 1);
  const id = next[0]!.id;
  // With a short interval it may have become due by itself meanwhile: then it runs anyway.
  await next[0]!.promote().catch((err: Error) => {
    if (!/not in the delayed state/.test(err.message)) throw err;
  });
  // The scheduler queues the following run when this one starts; this one is over when nothing is active.
  await until(
    async () => ({ delayed: await q.getDelayed(), counts: await q.getJobCounts('active', 'waiting') }),
    (v) => v.delayed.length === 1 && v.delayed[0]!.id !== id && v.counts.active === 0 && v.counts.waiting === 0,
  );
}

export const noScans: Settings = { scanEveryMs: 0 };
