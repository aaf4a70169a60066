import { Types, type UpdateQuery } from 'mongoose';
import type { OrderStatus } from '../../../shared/api.js';
import type { OrderDoc, OrderModels, PrepayDoc } from './model.js';

export interface NewOrder {
  openid: string;
  outTradeNo: string;
  amount: number;
  items: OrderDoc['items'];
  clientIp: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface PageCursor {
  createdAt: Date;
  id: string;
}

/** Where an order is looked up: by our id or by the out_trade_no WeChat knows it by. */
export type OrderKey = { id: string } | { outTradeNo: string };

function keyFilter(key: OrderKey): Record<string, unknown> | null {
  if ('id' in key) return Types.ObjectId.isValid(key.id) ? { _id: new Types.ObjectId(key.id) } : null;
  return { outTradeNo: key.outTradeNo };
}

export type OrderRepository = ReturnType<typeof createOrderRepository>;

export function createOrderRepository({ Order, FulfilmentEvent }: OrderModels) {
  return {
    async create(order: NewOrder): Promise<OrderDoc> {
      const doc = await Order.create({ ...order, status: 'CREATED', flags: [], history: [], version: 0 });
      return doc.toObject();
    },

    async find(key: OrderKey): Promise<OrderDoc | null> {
      const filter = keyFilter(key);
      return filter ? Order.findOne(filter).lean<OrderDoc>() : null;
    },

    /** Users only ever see their own orders: someone else's is simply not found. */
    async findForOwner(id: string, openid: string): Promise<OrderDoc | null> {
      const filter = keyFilter({ id });
      return filter ? Order.findOne({ ...filter, openid }).lean<OrderDoc>() : null;
    },

    async listForOwner(openid: string, limit: number, before?: PageCursor): Promise<OrderDoc[]> {
      const filter: Record<string, unknown> = { openid };
      if (before) {
        const id = new Types.ObjectId(before.id);
        filter.$or = [{ createdAt: { $lt: before.createdAt } }, { createdAt: before.createdAt, _id: { $lt: id } }];
      }
      return Order.find(filter).sort({ createdAt: -1, _id: -1 }).limit(limit).lean<OrderDoc[]>();
    },

    /**
     * The only way an order changes state: one atomic conditional update, filtered on the
     * states it may come from. Returns the updated order to the single winner, null to everyone else.
     */
    async transition(
      key: OrderKey,
      from: readonly OrderStatus[],
      to: OrderStatus,
      source: string,
      changes: { set?: Record<string, unknown>; addFlag?: string } = {},
      now = new Date(),
    ): Promise<OrderDoc | null> {
      const filter = keyFilter(key);
      if (!filter) return null;
      const current = await Order.findOne(filter, { status: 1 }).lean<Pick<OrderDoc, 'status'>>();
      if (!current || !from.includes(current.status)) return null;
      const update: UpdateQuery<OrderDoc> = {
        $set: { ...changes.set, status: to },
        $push: { history: { from: current.status, to, at: now, source } },
        $inc: { version: 1 },
      };
      if (changes.addFlag) update.$addToSet = { flags: changes.addFlag };
      // Filtering on the status just read (not the whole `from` list) keeps the history entry true.
      return Order.findOneAndUpdate({ ...filter, status: current.status }, update, { returnDocument: 'after' }).lean<OrderDoc>();
    },

    /** Stores a prepay for an order that is still payable, moving it to PAYING. */
    async attachPrepay(id: string, prepay: PrepayDoc, now = new Date()): Promise<OrderDoc | null> {
      const filter = keyFilter({ id });
      if (!filter) return null;
      const current = await Order.findOne(filter, { status: 1 }).lean<Pick<OrderDoc, 'status'>>();
      if (!current || !['CREATED', 'PAYING', 'FAILED'].includes(current.status)) return null;
      const update: UpdateQuery<OrderDoc> = { $set: { prepay, status: 'PAYING' }, $inc: { version: 1 } };
      if (current.status !== 'PAYING') {
        update.$push = { history: { from: current.status, to: 'PAYING', at: now, source: 'pay' } };
      }
      return Order.findOneAndUpdate({ ...filter, status: current.status }, update, { returnDocument: 'after' }).lean<OrderDoc>();
    },

    async addFlag(key: OrderKey, flag: string): Promise<void> {
      const filter = keyFilter(key);
      if (filter) await Order.updateOne(filter, { $addToSet: { flags: flag } });
    },

    async markQueried(id: string, at: Date): Promise<void> {
      const filter = keyFilter({ id });
      if (filter) await Order.updateOne(filter, { $set: { lastQueryAt: at } });
    },

    /**
     * Copies a paid order's pending fulfilment into the outbox collection (idempotent: one event per
     * order, by a unique index), then marks it emitted. Safe to repeat after any crash.
     */
    async emitFulfilment(order: OrderDoc, now = new Date()): Promise<void> {
      if (!order.transactionId || !order.paidAt) return;
      try {
        await FulfilmentEvent.updateOne(
          { orderId: order._id },
          {
            $setOnInsert: {
              orderId: order._id,
              outTradeNo: order.outTradeNo,
              openid: order.openid,
              amount: order.paidAmount ?? order.amount,
              transactionId: order.transactionId,
              paidAt: order.paidAt,
              createdAt: now,
            },
          },
          { upsert: true },
        );
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
      }
      await Order.updateOne(
        { _id: order._id, 'fulfilment.state': 'PENDING' },
        { $set: { 'fulfilment.state': 'EMITTED', 'fulfilment.emittedAt': now } },
      );
    },

    async pendingFulfilments(olderThan: Date, limit = 100): Promise<OrderDoc[]> {
      return Order.find({ 'fulfilment.state': 'PENDING', 'fulfilment.createdAt': { $lt: olderThan } })
        .limit(limit)
        .lean<OrderDoc[]>();
    },

    async fulfilmentEvents(orderId: Types.ObjectId) {
      return FulfilmentEvent.find({ orderId }).lean();
    },

    async expiredUnpaid(now: Date, limit = 100): Promise<OrderDoc[]> {
      return Order.find({ status: { $in: ['CREATED', 'PAYING', 'FAILED'] }, expiresAt: { $lt: now } })
        .limit(limit)
        .lean<OrderDoc[]>();
    },
  };
}
