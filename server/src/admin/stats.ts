import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { channelOf, createOrderSearch } from './order-search.js';

/** what one dashboard read may scan of each collection (the window's newest first) */
export const STATS_SCAN_LIMIT = 20_000;

const Bucket = Type.Object({
  key: Type.String(),
  attempts: Type.Integer(),
  paidCount: Type.Integer(),
  paidAmount: Type.Integer(),
  successRate: Type.Union([Type.Number(), Type.Null()]),
  notifies: Type.Integer(),
  notifyFailures: Type.Integer(),
  notifyLatencyAvgMs: Type.Union([Type.Integer(), Type.Null()]),
  notifyLatencyP95Ms: Type.Union([Type.Integer(), Type.Null()]),
  refundCount: Type.Integer(),
  refundAmount: Type.Integer(),
});

export const StatsSchema = Type.Object({
  bucket: Type.String(),
  from: Type.String(),
  to: Type.String(),
  /** true when a collection held more in the window than one read scans (figures are of the newest) */
  truncated: Type.Boolean(),
  series: Type.Array(Bucket),
  byChannel: Type.Array(
    Type.Object({ channel: Type.String(), attempts: Type.Integer(), paidCount: Type.Integer(), paidAmount: Type.Integer(), successRate: Type.Union([Type.Number(), Type.Null()]) }),
  ),
  totals: Bucket,
});
type Stats = Static<typeof StatsSchema>;
type BucketFigures = Static<typeof Bucket>;

const BEIJING_MS = 8 * 3600_000;
/** the Beijing day (YYYY-MM-DD) or hour (YYYY-MM-DD HH) of an instant: how the shop counts */
export function bucketKey(at: Date, bucket: 'day' | 'hour'): string {
  const iso = new Date(at.getTime() + BEIJING_MS).toISOString();
  return bucket === 'day' ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 13)}`;
}

const empty = (key: string): BucketFigures & { latencies: number[] } => ({
  key,
  attempts: 0,
  paidCount: 0,
  paidAmount: 0,
  successRate: null,
  notifies: 0,
  notifyFailures: 0,
  notifyLatencyAvgMs: null,
  notifyLatencyP95Ms: null,
  refundCount: 0,
  refundAmount: 0,
  latencies: [],
});

function finish(b: ReturnType<typeof empty>): BucketFigures {
  const { latencies, ...rest } = b;
  const sorted = [...latencies].sort((x, y) => x - y);
  return {
    ...rest,
    successRate: b.attempts > 0 ? Math.min(1, b.paidCount / b.attempts) : null,
    notifyLatencyAvgMs: sorted.length ? Math.round(sorted.reduce((s, x) => s + x, 0) / sorted.length) : null,
    notifyLatencyP95Ms: sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!) : null,
  };
}

/**
 * The dashboard's figures over the last `days`: per Beijing day or hour, pay attempts (orders that
 * got a prepay), payments (count, fen), success rate, notifies received, failed and their delivery
 * latency (time_end to receipt), refunds; and payments by channel.
 */
export async function computeStats(app: FastifyInstance, opts: { days: number; bucket: 'day' | 'hour' }, now = new Date()): Promise<Stats> {
  const since = new Date(now.getTime() - opts.days * 86_400_000);
  const [orders, notifies, refunds] = await Promise.all([
    createOrderSearch(app.mongo).createdSince(since, STATS_SCAN_LIMIT),
    app.activity.notifiesSince(since, STATS_SCAN_LIMIT),
    app.refunds.list({}, STATS_SCAN_LIMIT),
  ]);
  const buckets = new Map<string, ReturnType<typeof empty>>();
  // every bucket of the window, so that a quiet hour shows as zero rather than missing
  const step = opts.bucket === 'day' ? 86_400_000 : 3600_000;
  for (let t = since.getTime(); t <= now.getTime() + step; t += step) {
    const k = bucketKey(new Date(Math.min(t, now.getTime())), opts.bucket);
    if (!buckets.has(k)) buckets.set(k, empty(k));
  }
  const at = (d: Date) => {
    const k = bucketKey(d, opts.bucket);
    let b = buckets.get(k);
    if (!b) buckets.set(k, (b = empty(k)));
    return b;
  };
  const total = empty('total');
  const channels = new Map<string, ReturnType<typeof empty>>();
  for (const o of orders) {
    const attempted = !!o.prepay || !!o.paidAt || o.status !== 'CREATED';
    const ch = channels.get(channelOf(o)) ?? empty(channelOf(o));
    channels.set(channelOf(o), ch);
    if (attempted) for (const b of [at(o.createdAt), total, ch]) b.attempts++;
    if (o.paidAt && o.transactionId) {
      const fen = o.paidAmount ?? o.amount;
      for (const b of [at(o.paidAt), total, ch]) {
        b.paidCount++;
        b.paidAmount += fen;
      }
    }
  }
  for (const n of notifies) {
    for (const b of [at(n.at), total]) {
      b.notifies++;
      if (n.reply.code !== 'SUCCESS') b.notifyFailures++;
      if (n.latencyMs !== undefined) b.latencies.push(n.latencyMs);
    }
  }
  for (const r of refunds) {
    if (r.createdAt < since) continue;
    for (const b of [at(r.createdAt), total]) {
      b.refundCount++;
      if (r.status === 'SUCCESS') b.refundAmount += r.amount;
    }
  }
  return {
    bucket: opts.bucket,
    from: since.toISOString(),
    to: now.toISOString(),
    truncated: orders.length >= STATS_SCAN_LIMIT || notifies.length >= STATS_SCAN_LIMIT || refunds.length >= STATS_SCAN_LIMIT,
    series: [...buckets.values()].sort((a, b) => a.key.localeCompare(b.key)).map(finish),
    byChannel: [...channels.values()].map((c) => {
      const f = finish(c);
      return { channel: c.key, attempts: f.attempts, paidCount: f.paidCount, paidAmount: f.paidAmount, successRate: f.successRate };
    }),
    totals: finish(total),
  };
}
