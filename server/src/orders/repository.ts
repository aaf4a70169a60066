import { Types, type UpdateQuery } from 'mongoose';
import type { OrderStatus } from '../../../shared/api.js';
import { beijingDay } from '../wechat/beijing-datetime.js';
import type { OrderDoc, OrderModels, PrepayDoc } from './model.js';

export interface NewOrder {
  openid: string;
  outTradeNo: string;
  amount: number;
  items: OrderDoc['items'];
  clientIp: string;
  createdAt: Date;
  expiresAt: Date;
  tradeType: string;
  idemKey: string;
  idemBodyHash?: string;
}

/** What a verified payment report (notify or orderquery) says was paid. */
export interface PaymentFacts {
  transactionId: string;
  totalFee: number;
  paidAt: Date;
}

/** What a fulfilment event records: all of it is known the moment the order becomes PAID. */
export type FulfilmentFacts = Pick<OrderDoc, '_id' | 'outTradeNo' | 'openid' | 'amount' | 'paidAmount' | 'transactionId' | 'paidAt'>;

export interface TransitionChanges {
  set?: Record<string, unknown>;
  /** flags to raise; any flag also opens the order's follow-up */
  flags?: readonly string[];
}

export interface PageCursor {
  createdAt: Date;
  id: string;
}

/** What reconciliation compares of a day's payments. */
export type PaidOnDay = Pick<OrderDoc, '_id' | 'outTradeNo' | 'status' | 'amount' | 'paidAmount' | 'transactionId' | 'paidDay' | 'flags' | 'extraPayments'>;

/** Where an order is looked up: by our id or by the out_trade_no WeChat knows it by. */
export type OrderKey = { id: string } | { outTradeNo: string };

function keyFilter(key: OrderKey): Record<string, unknown> | null {
  if ('id' in key) return Types.ObjectId.isValid(key.id) ? { _id: new Types.ObjectId(key.id) } : null;
  return { outTradeNo: key.outTradeNo };
}

/** Where a scan stopped: the (time, id) of the last order it saw. */
export interface ScanCursor {
  at: Date;
  id: string;
}

export function scanCursor(at: Date, order: Pick<OrderDoc, '_id'>): ScanCursor {
  return { at, id: order._id.toString() };
}

// (field, _id) strictly after the cursor, within `range` on field.
function afterFilter(field: string, range: Record<string, unknown>, after?: ScanCursor): Record<string, unknown> {
  if (!after) return { [field]: range };
  const id = new Types.ObjectId(after.id);
  return {
    [field]: range,
    $or: [{ [field]: { $gt: after.at } }, { [field]: after.at, _id: { $gt: id } }],
  };
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
     * The only way an order changes state: one atomic conditional update on the state the caller
     * read. Returns the updated order to the single winner, null to everyone else (re-read and decide).
     */
    async transition(
      id: Types.ObjectId,
      from: OrderStatus,
      to: OrderStatus,
      source: string,
      changes: TransitionChanges = {},
      now = new Date(),
    ): Promise<OrderDoc | null> {
      const update: UpdateQuery<OrderDoc> = {
        $set: { ...changes.set, status: to },
        $push: { history: { from, to, at: now, source } },
        $inc: { version: 1 },
      };
      if (changes.flags && changes.flags.length > 0) {
        update.$addToSet = { flags: { $each: [...changes.flags] } };
        (update.$set as Record<string, unknown>).followUp = 'OPEN';
      }
      return Order.findOneAndUpdate({ _id: id, status: from }, update, { returnDocument: 'after' }).lean<OrderDoc>();
    },

    /**
     * The common case of a payment, in one conditional write: the order is PAYING, for exactly this
     * amount, buyer and trade type, and its prepays were signed the way the report was. Anything else
     * misses (null) and the caller takes the careful path.
     */
    async settlePaidFast(
      match: { outTradeNo: string; amount: number; openid: string; tradeType: string; signType?: string },
      paid: PaymentFacts,
      source: string,
      now = new Date(),
    ): Promise<OrderDoc | null> {
      const filter: Record<string, unknown> = {
        outTradeNo: match.outTradeNo,
        status: 'PAYING',
        amount: match.amount,
        openid: match.openid,
        tradeType: match.tradeType,
      };
      if (match.signType) filter.signTypes = match.signType;
      return Order.findOneAndUpdate(
        filter,
        {
          $set: {
            status: 'PAID',
            paidAt: paid.paidAt,
            paidDay: beijingDay(paid.paidAt),
            transactionId: paid.transactionId,
            paidAmount: paid.totalFee,
            fulfilment: { state: 'PENDING', createdAt: now },
          },
          $push: { history: { from: 'PAYING', to: 'PAID', at: now, source } },
          $inc: { version: 1 },
        },
        { returnDocument: 'after' },
      ).lean<OrderDoc>();
    },

    /** Stores a prepay for an order still in the payable state the caller read, moving it to PAYING. */
    async attachPrepay(order: Pick<OrderDoc, '_id' | 'status'>, prepay: PrepayDoc, now = new Date()): Promise<OrderDoc | null> {
      if (!['CREATED', 'PAYING', 'FAILED'].includes(order.status)) return null;
      const update: UpdateQuery<OrderDoc> = {
        $set: { prepay, status: 'PAYING' },
        $addToSet: { signTypes: prepay.signType },
        $inc: { version: 1 },
      };
      if (order.status !== 'PAYING') {
        update.$push = { history: { from: order.status, to: 'PAYING', at: now, source: 'pay' } };
      }
      return Order.findOneAndUpdate({ _id: order._id, status: order.status }, update, { returnDocument: 'after' }).lean<OrderDoc>();
    },

    /**
     * Records a payment WeChat reported for an order already paid by another transaction: the money
     * must go back, so it is kept on the order, flagged, and opens the follow-up. Idempotent.
     */
    async recordExtraPayment(id: Types.ObjectId, paid: PaymentFacts, source: string, now = new Date()): Promise<boolean> {
      const res = await Order.updateOne(
        { _id: id, transactionId: { $ne: paid.transactionId }, 'extraPayments.transactionId': { $ne: paid.transactionId } },
        {
          $push: { extraPayments: { ...paid, reportedAt: now, source } },
          $addToSet: { flags: 'SECOND_TRANSACTION' },
          $set: { followUp: 'OPEN' },
          $inc: { version: 1 },
        },
      );
      return res.modifiedCount === 1;
    },

    async markQueried(id: string, at: Date): Promise<void> {
      const filter = keyFilter({ id });
      if (filter) await Order.updateOne(filter, { $set: { lastQueryAt: at } });
    },

    /**
     * Records a paid order's fulfilment in the outbox collection (one insert, one event per order by a
     * unique index), then marks it emitted. Safe to repeat after any crash. A transaction that already
     * fulfilled another order is not fulfilled twice: the order is held for an operator instead.
     */
    async emitFulfilment(order: FulfilmentFacts | OrderDoc, now = new Date()): Promise<'emitted' | 'held' | 'skipped'> {
      if (!order.transactionId || !order.paidAt) return 'skipped';
      if ('fulfilment' in order && order.fulfilment?.state !== 'PENDING') return 'skipped';
      try {
        await FulfilmentEvent.create({
          orderId: order._id,
          outTradeNo: order.outTradeNo,
          openid: order.openid,
          amount: order.paidAmount ?? order.amount,
          transactionId: order.transactionId,
          paidAt: order.paidAt,
          createdAt: now,
        });
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
        const mine = await FulfilmentEvent.exists({ orderId: order._id });
        if (!mine) {
          await Order.updateOne(
            { _id: order._id, 'fulfilment.state': 'PENDING' },
            { $set: { 'fulfilment.state': 'HELD', followUp: 'OPEN' }, $addToSet: { flags: 'TRANSACTION_REUSED' }, $inc: { version: 1 } },
          );
          return 'held';
        }
      }
      await Order.updateOne(
        { _id: order._id, 'fulfilment.state': 'PENDING' },
        { $set: { 'fulfilment.state': 'EMITTED', 'fulfilment.emittedAt': now } },
      );
      return 'emitted';
    },

    /**
     * Reserves `amount` of a paid order for a refund, so that refunds never add up past the payment,
     * whatever runs at once on however many instances: a compare-and-set on the order's version.
     */
    async reserveRefund(orderId: Types.ObjectId, refundId: Types.ObjectId, amount: number): Promise<'reserved' | 'exceeds' | 'not_refundable' | 'gone'> {
      for (;;) {
        const o = await Order.findOne({ _id: orderId }).lean<OrderDoc>();
        if (!o) return 'gone';
        if (o.reservedRefunds?.some((r) => r.equals(refundId))) return 'reserved';
        if (!['PAID', 'PARTIALLY_REFUNDED'].includes(o.status)) return 'not_refundable';
        if ((o.refundReserved ?? 0) + amount > (o.paidAmount ?? o.amount)) return 'exceeds';
        const res = await Order.updateOne(
          { _id: orderId, version: o.version },
          { $inc: { refundReserved: amount, version: 1 }, $push: { reservedRefunds: refundId } },
        );
        if (res.modifiedCount === 1) return 'reserved';
      }
    },

    /** Gives back a reservation whose refund ended without money moving (closed, refused). Idempotent. */
    async releaseRefund(orderId: Types.ObjectId, refundId: Types.ObjectId, amount: number): Promise<void> {
      await Order.updateOne(
        { _id: orderId, reservedRefunds: refundId },
        { $inc: { refundReserved: -amount, version: 1 }, $pull: { reservedRefunds: refundId } },
      );
    },

    /** Counts a succeeded refund once: refundedAmount grows and the order becomes PARTIALLY_REFUNDED or REFUNDED. */
    async applyRefundSuccess(orderId: Types.ObjectId, refundId: Types.ObjectId, amount: number, now = new Date()): Promise<OrderDoc | null> {
      for (;;) {
        const o = await Order.findOne({ _id: orderId }).lean<OrderDoc>();
        if (!o) return null;
        if (o.succeededRefunds?.some((r) => r.equals(refundId))) return o;
        const refunded = (o.refundedAmount ?? 0) + amount;
        const to = refunded >= (o.paidAmount ?? o.amount) ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
        const update: UpdateQuery<OrderDoc> = {
          $set: { refundedAmount: refunded, status: to },
          $push: { succeededRefunds: refundId },
          $inc: { version: 1 },
        };
        if (to !== o.status) (update.$push as Record<string, unknown>).history = { from: o.status, to, at: now, source: 'refund' };
        const won = await Order.findOneAndUpdate({ _id: orderId, version: o.version }, update, { returnDocument: 'after' }).lean<OrderDoc>();
        if (won) return won;
      }
    },

    /** An operator dealt with a held order (refunded it, or released it). */
    async resolveFollowUp(orderId: Types.ObjectId): Promise<boolean> {
      const res = await Order.updateOne({ _id: orderId, followUp: 'OPEN' }, { $set: { followUp: 'RESOLVED' }, $inc: { version: 1 } });
      return res.modifiedCount === 1;
    },

    async markWechatClosed(id: Types.ObjectId): Promise<void> {
      await Order.updateOne({ _id: id, wechatClose: 'PENDING' }, { $set: { wechatClose: 'DONE' } });
    },

    /** Orders closed here whose trade WeChat has not closed yet. */
    async wechatClosePending(limit = 200): Promise<OrderDoc[]> {
      return Order.find({ wechatClose: 'PENDING' }).limit(limit).lean<OrderDoc[]>();
    },

    /** The follow-up queue: orders an operator must look at, oldest first. */
    async openFollowUps(limit = 100): Promise<OrderDoc[]> {
      return Order.find({ followUp: 'OPEN' }).sort({ createdAt: 1 }).limit(limit).lean<OrderDoc[]>();
    },

    /** Orders by out_trade_no, many at once (reconciliation's bill rows): one `$in` on the unique index. */
    async findByOutTradeNos(outTradeNos: readonly string[]): Promise<OrderDoc[]> {
      if (outTradeNos.length === 0) return [];
      return Order.find({ outTradeNo: { $in: [...outTradeNos] } }).lean<OrderDoc[]>();
    },

    /** The payments of one Beijing day (yyyyMMdd, the paidDay index), with what reconciliation compares. */
    async paidOnDay(day: string): Promise<PaidOnDay[]> {
      return Order.find({ paidDay: day }, { _id: 1, outTradeNo: 1, status: 1, amount: 1, paidAmount: 1, transactionId: 1, paidDay: 1, flags: 1, extraPayments: 1 }).lean<PaidOnDay[]>();
    },

    async findByIdemKey(idemKey: string): Promise<OrderDoc | null> {
      return Order.findOne({ idemKey }).lean<OrderDoc>();
    },

    /**
     * Paid orders whose fulfilment is still PENDING since before `olderThan`, oldest first, a page
     * at a time: pass the last one's cursor (scanCursor) as `after` for the next page.
     */
    async pendingFulfilments(olderThan: Date, page: { after?: ScanCursor; limit?: number } = {}): Promise<OrderDoc[]> {
      const filter: Record<string, unknown> = {
        'fulfilment.state': 'PENDING',
        ...afterFilter('fulfilment.createdAt', { $lt: olderThan }, page.after),
      };
      return Order.find(filter)
        .sort({ 'fulfilment.createdAt': 1, _id: 1 })
        .limit(page.limit ?? 100)
        .lean<OrderDoc[]>();
    },

    async fulfilmentEvents(orderId: Types.ObjectId) {
      return FulfilmentEvent.find({ orderId }).lean();
    },

    /**
     * Unpaid orders (CREATED, PAYING, FAILED) past their expiry, oldest expiry first, a page at a
     * time: pass the last one's cursor (scanCursor) as `after`, so orders that stay unpaid (a close
     * failing at WeChat) never hide the ones behind them.
     */
    async expiredUnpaid(now: Date, page: { after?: ScanCursor; limit?: number } = {}): Promise<OrderDoc[]> {
      const filter: Record<string, unknown> = {
        status: { $in: ['CREATED', 'PAYING', 'FAILED'] },
        ...afterFilter('expiresAt', { $lt: now }, page.after),
      };
      return Order.find(filter).sort({ expiresAt: 1, _id: 1 }).limit(page.limit ?? 100).lean<OrderDoc[]>();
    },
  };
}
