import { Types, type Connection, type Model } from 'mongoose';
import type { OrderDoc } from '../orders/model.js';

export interface OrderSearch {
  /** an exact id: our order id, out_trade_no, transaction_id or a buyer's openid */
  q?: string;
  status?: string;
  channel?: string;
  from?: Date;
  to?: Date;
  minAmount?: number;
  maxAmount?: number;
  limit: number;
  /** the page after this (createdAt, id) cursor */
  before?: { createdAt: Date; id: string };
}

/** the channel an order came through; orders from before channels existed are the mini-program's */
/** the channel an order was paid through (orders from before channels existed are the mini-program's, 'mp') */
export const channelOf = (o: OrderDoc) => (o as OrderDoc & { channel?: string }).channel ?? 'mp';

/**
 * The operators' order search. An exact id is looked up through an index (the embedded FerretDB
 * build pushes down only a lone _id or an index's first key equality), then the other criteria are
 * applied to what it found. Without one, the criteria are a filtered scan, newest first, a page at
 * a time (limit + cursor), so that it never reads more than it shows.
 */
export function createOrderSearch(conn: Connection) {
  const Order = () => conn.models.Order as Model<OrderDoc>;

  const matches = (o: OrderDoc, s: OrderSearch) =>
    (!s.status || o.status === s.status) &&
    (!s.channel || channelOf(o) === s.channel) &&
    (!s.from || o.createdAt >= s.from) &&
    (!s.to || o.createdAt < s.to) &&
    (s.minAmount === undefined || o.amount >= s.minAmount) &&
    (s.maxAmount === undefined || o.amount <= s.maxAmount);

  async function byExactId(q: string): Promise<OrderDoc[]> {
    const found = new Map<string, OrderDoc>();
    const add = (list: OrderDoc[]) => list.forEach((o) => found.set(o._id.toString(), o));
    if (/^[0-9a-f]{24}$/i.test(q)) add(await Order().find({ _id: new Types.ObjectId(q) }).lean<OrderDoc[]>());
    add(await Order().find({ outTradeNo: q }).lean<OrderDoc[]>());
    add(await Order().find({ transactionId: q }).limit(10).lean<OrderDoc[]>());
    add(await Order().find({ openid: q }).sort({ createdAt: -1 }).limit(500).lean<OrderDoc[]>());
    return [...found.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b._id.toString().localeCompare(a._id.toString()));
  }

  return {
    async search(s: OrderSearch): Promise<{ items: OrderDoc[]; next?: string }> {
      let items: OrderDoc[];
      if (s.q) {
        items = (await byExactId(s.q)).filter((o) => matches(o, s));
        if (s.before) {
          const b = s.before;
          items = items.filter((o) => o.createdAt < b.createdAt || (o.createdAt.getTime() === b.createdAt.getTime() && o._id.toString() < b.id));
        }
        items = items.slice(0, s.limit + 1);
      } else {
        const filter: Record<string, unknown> = {};
        if (s.status) filter.status = s.status;
        if (s.from || s.to) filter.createdAt = { ...(s.from ? { $gte: s.from } : {}), ...(s.to ? { $lt: s.to } : {}) };
        if (s.minAmount !== undefined || s.maxAmount !== undefined) {
          filter.amount = { ...(s.minAmount !== undefined ? { $gte: s.minAmount } : {}), ...(s.maxAmount !== undefined ? { $lte: s.maxAmount } : {}) };
        }
        if (s.channel) filter.$and = [s.channel === 'mp' ? { $or: [{ channel: 'mp' }, { channel: { $exists: false } }] } : { channel: s.channel }];
        if (s.before) {
          const id = new Types.ObjectId(s.before.id);
          filter.$or = [{ createdAt: { $lt: s.before.createdAt } }, { createdAt: s.before.createdAt, _id: { $lt: id } }];
        }
        items = await Order().find(filter).sort({ createdAt: -1, _id: -1 }).limit(s.limit + 1).lean<OrderDoc[]>();
      }
      const page = items.slice(0, s.limit);
      const last = page.at(-1);
      return { items: page, ...(items.length > s.limit && last ? { next: `${last.createdAt.toISOString()}_${last._id.toString()}` } : {}) };
    },
    /** orders created since `since`, at most `limit` (the dashboard's window; a scan, capped) */
    async createdSince(since: Date, limit: number): Promise<OrderDoc[]> {
      return Order()
        .find({ createdAt: { $gte: since } }, { items: 0, history: 0 })
        .sort({ createdAt: -1 })
        .limit(limit)
        .lean<OrderDoc[]>();
    },
  };
}

export function parseCursor(s: string | undefined): { createdAt: Date; id: string } | undefined | 'bad' {
  if (s === undefined) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)_([0-9a-f]{24})$/.exec(s);
  if (!m) return 'bad';
  return { createdAt: new Date(m[1]!), id: m[2]! };
}
