// The orders domain's background jobs: closing orders past their expiry and emitting fulfilments
// a crash or a Redis loss left pending. Each job's payload is an order id; every handler is
// idempotent (the order's state decides what is left to do), so a repeat costs work, not money.
import type { Redis } from 'ioredis';
import { RetryLater, type Backoff, type JobLog, type JobPayload, type Jobs } from '../jobs/queue.js';
import type { OrderDoc } from './model.js';
import { Types } from 'mongoose';
import { scanCursor, type FulfilmentFacts, type OrderRepository, type ScanCursor } from './repository.js';
import type { OrderService } from './service.js';

export const ORDER_JOBS = {
  expire: 'orders.expire',
  expireScan: 'orders.expire-scan',
  fulfil: 'orders.fulfil',
  fulfilScan: 'orders.fulfil-scan',
  wechatClose: 'orders.wechat-close',
  wechatCloseScan: 'orders.wechat-close-scan',
} as const;

interface Retry {
  attempts: number;
  backoff: Backoff;
  concurrency: number;
}

export interface OrderJobSettings {
  /** ms between two runs of each scan, across all instances (0: no scans) */
  scanEveryMs: number;
  /** a fulfilment still PENDING this long after the PAID write is enqueued by the scan */
  fulfilAfterMs: number;
  expire: Retry;
  fulfil: Retry;
  /** ms before an expiry runs again when a pay holds the order's lock (no attempt used) */
  busyRetryMs: number;
  /** orders one scan run enqueues at most; the next run carries on from where it stopped */
  scanLimit: number;
  pageSize: number;
}

export const DEFAULT_ORDER_JOB_SETTINGS: OrderJobSettings = {
  scanEveryMs: 60_000,
  fulfilAfterMs: 30_000,
  // 30 s, 1, 2, 4, 8, 16, 32 min: about an hour of WeChat trouble before an operator is needed.
  expire: { attempts: 8, backoff: { type: 'exponential', delayMs: 30_000 }, concurrency: 4 },
  fulfil: { attempts: 10, backoff: { type: 'exponential', delayMs: 5_000 }, concurrency: 4 },
  busyRetryMs: 5_000,
  scanLimit: 2_000,
  pageSize: 100,
};

export interface OrderJobsDeps {
  jobs: Jobs;
  service: OrderService;
  orders: OrderRepository;
  redis: Redis;
  log: JobLog;
  settings?: Partial<OrderJobSettings>;
}

const expireJobId = (orderId: string) => `expire-${orderId}`;
const fulfilJobId = (orderId: string) => `fulfil-${orderId}`;
const wechatCloseJobId = (orderId: string) => `wxclose-${orderId}`;

function factsOf(orderId: string, p: JobPayload): FulfilmentFacts | undefined {
  const { outTradeNo, openid, amount, paidAmount, transactionId, paidAt } = p;
  if (typeof outTradeNo !== 'string' || typeof openid !== 'string' || typeof amount !== 'number') return undefined;
  if (typeof transactionId !== 'string' || typeof paidAt !== 'string' || !Types.ObjectId.isValid(orderId)) return undefined;
  return {
    _id: new Types.ObjectId(orderId),
    outTradeNo,
    openid,
    amount,
    ...(typeof paidAmount === 'number' ? { paidAmount } : {}),
    transactionId,
    paidAt: new Date(paidAt),
  };
}

function orderIdOf(payload: JobPayload): string | undefined {
  return typeof payload.orderId === 'string' ? payload.orderId : undefined;
}

/** Defines the four jobs and (when scans are on) their schedules. Every instance calls it alike. */
export async function defineOrderJobs(deps: OrderJobsDeps): Promise<OrderJobSettings> {
  const { jobs, service, orders, redis, log } = deps;
  const s: OrderJobSettings = { ...DEFAULT_ORDER_JOB_SETTINGS, ...deps.settings };

  jobs.define(
    ORDER_JOBS.expire,
    async (payload) => {
      const orderId = orderIdOf(payload);
      if (!orderId) return { outcome: 'bad_payload' };
      const r = await service.expire(orderId);
      if (r.outcome === 'busy') throw new RetryLater(s.busyRetryMs, 'a payment holds the order lock');
      if (r.outcome === 'not_due') throw new RetryLater(r.dueAt.getTime() - Date.now(), 'not expired yet');
      if (r.outcome === 'closed') log.info({ job: ORDER_JOBS.expire, orderId }, 'expired order closed');
      if (r.outcome === 'settled' && r.status !== 'CLOSED') log.info({ job: ORDER_JOBS.expire, orderId, status: r.status }, 'expiring order was paid meanwhile');
      return r;
    },
    { attempts: s.expire.attempts, backoff: s.expire.backoff, concurrency: s.expire.concurrency },
  );

  jobs.define(
    ORDER_JOBS.fulfil,
    async (payload) => {
      const orderId = orderIdOf(payload);
      if (!orderId) return { outcome: 'bad_payload' };
      // Enqueued by settle with the facts of the payment: the event is written without a read.
      const facts = factsOf(orderId, payload);
      if (facts) return { outcome: await orders.emitFulfilment(facts) };
      // Enqueued by the scan: the order says what is left to do.
      const order = await orders.find({ id: orderId });
      if (!order || order.fulfilment?.state !== 'PENDING') return { outcome: 'nothing_pending' };
      return { outcome: await orders.emitFulfilment(order) };
    },
    { attempts: s.fulfil.attempts, backoff: s.fulfil.backoff, concurrency: s.fulfil.concurrency },
  );

  /**
   * Walks a query oldest first, page by page, enqueueing one job per order (a jobId per order, so
   * one already queued, retrying or dead is left as it is), at most scanLimit per run; the cursor
   * is kept in Redis so that the next run carries on behind this one.
   */
  const scan = (name: string, list: (after: ScanCursor | undefined) => Promise<OrderDoc[]>, at: (o: OrderDoc) => Date, enqueue: (batch: OrderDoc[]) => Promise<void>) => {
    const key = `${jobs.prefix}:cursor:${name}`;
    return async () => {
      const saved = await redis.get(key);
      let after: ScanCursor | undefined;
      if (saved) {
        const c = JSON.parse(saved) as { at: string; id: string };
        after = { at: new Date(c.at), id: c.id };
      }
      let seen = 0;
      for (;;) {
        const batch = await list(after);
        if (batch.length > 0) {
          await enqueue(batch);
          seen += batch.length;
          const last = batch[batch.length - 1]!;
          after = scanCursor(at(last), last);
        }
        if (batch.length < s.pageSize) {
          await redis.del(key);
          return { seen, finished: true };
        }
        if (seen >= s.scanLimit) {
          await redis.set(key, JSON.stringify(after), 'PX', 24 * 3600_000);
          return { seen, finished: false };
        }
      }
    };
  };

  jobs.define(
    ORDER_JOBS.expireScan,
    scan(
      ORDER_JOBS.expireScan,
      (after) => orders.expiredUnpaid(new Date(), { after, limit: s.pageSize }),
      (o) => o.expiresAt,
      (batch) =>
        jobs.enqueueMany(
          ORDER_JOBS.expire,
          batch.map((o) => ({ payload: { orderId: o._id.toString() }, jobId: expireJobId(o._id.toString()) })),
        ),
    ),
    // A failed run is simply the next run's work: no retries, few dead letters kept.
    { attempts: 1, keepDead: 20 },
  );

  jobs.define(
    ORDER_JOBS.fulfilScan,
    scan(
      ORDER_JOBS.fulfilScan,
      (after) => orders.pendingFulfilments(new Date(Date.now() - s.fulfilAfterMs), { after, limit: s.pageSize }),
      (o) => o.fulfilment?.createdAt ?? o.paidAt ?? o.createdAt,
      (batch) =>
        jobs.enqueueMany(
          ORDER_JOBS.fulfil,
          batch.map((o) => ({ payload: { orderId: o._id.toString() }, jobId: fulfilJobId(o._id.toString()) })),
        ),
    ),
    { attempts: 1, keepDead: 20 },
  );

  // closeorder for orders cancelled before WeChat allowed it: 30 s, 1, 2, 4 ... min, then a dead letter.
  jobs.define(
    ORDER_JOBS.wechatClose,
    async (payload) => {
      const orderId = orderIdOf(payload);
      if (!orderId) return { outcome: 'bad_payload' };
      return { outcome: await service.closeAtWechat(orderId) };
    },
    { attempts: s.expire.attempts, backoff: s.expire.backoff, concurrency: s.expire.concurrency },
  );
  jobs.define(
    ORDER_JOBS.wechatCloseScan,
    async () => {
      const pending = await orders.wechatClosePending(s.scanLimit);
      await jobs.enqueueMany(
        ORDER_JOBS.wechatClose,
        pending.map((o) => ({ payload: { orderId: o._id.toString() }, jobId: wechatCloseJobId(o._id.toString()) })),
      );
      return { seen: pending.length };
    },
    { attempts: 1, keepDead: 20 },
  );

  await jobs.every(ORDER_JOBS.expireScan, s.scanEveryMs);
  await jobs.every(ORDER_JOBS.wechatCloseScan, s.scanEveryMs);
  await jobs.every(ORDER_JOBS.fulfilScan, s.scanEveryMs);
  return s;
}

/**
 * Schedules an order's expiry for its expiresAt (the scan is the safety net). Never throws: a
 * failure is logged and the expire scan finds the order later.
 */
export async function enqueueExpiry(jobs: Jobs, order: Pick<OrderDoc, '_id' | 'expiresAt'>): Promise<void> {
  const orderId = order._id.toString();
  try {
    await jobs.enqueue(ORDER_JOBS.expire, { orderId }, { jobId: expireJobId(orderId), delayMs: order.expiresAt.getTime() - Date.now() });
  } catch (err) {
    jobs.log.warn({ job: ORDER_JOBS.expire, orderId, err: { message: (err as Error).message } }, 'expiry not enqueued; the expire scan will find the order');
  }
}

/**
 * Asks for a paid order's fulfilment to be emitted (settle calls it right after the winning PAID
 * update). Never throws and never takes long (the queue's commands time out): a failure is logged
 * and the fulfil scan enqueues the order once its fulfilment has been pending fulfilAfterMs.
 */
export async function enqueueFulfilment(jobs: Jobs, order: FulfilmentFacts): Promise<void> {
  const orderId = order._id.toString();
  try {
    await jobs.enqueue(
      ORDER_JOBS.fulfil,
      {
        orderId,
        outTradeNo: order.outTradeNo,
        openid: order.payerOpenid || order.openid,
        amount: order.amount,
        paidAmount: order.paidAmount ?? order.amount,
        transactionId: order.transactionId ?? null,
        paidAt: order.paidAt?.toISOString() ?? null,
      },
      { jobId: fulfilJobId(orderId) },
    );
  } catch (err) {
    jobs.log.warn({ job: ORDER_JOBS.fulfil, orderId, err: { message: (err as Error).message } }, 'fulfilment not enqueued; the fulfil scan will pick it up');
  }
}

/** Schedules closeorder for an order cancelled here, for when WeChat allows it. Never throws (the scan is the net). */
export async function enqueueWechatClose(jobs: Jobs, order: Pick<OrderDoc, '_id'>, due: Date): Promise<void> {
  const orderId = order._id.toString();
  try {
    await jobs.enqueue(ORDER_JOBS.wechatClose, { orderId }, { jobId: wechatCloseJobId(orderId), delayMs: due.getTime() - Date.now() });
  } catch (err) {
    jobs.log.warn({ job: ORDER_JOBS.wechatClose, orderId, err: { message: (err as Error).message } }, 'closeorder not enqueued; the scan will find the order');
  }
}
