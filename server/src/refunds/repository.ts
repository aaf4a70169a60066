import { Types, type UpdateQuery } from 'mongoose';
import type { RefundDoc, RefundModels, RefundRequestDoc, RefundStatus } from './model.js';

export type NewRefund = Pick<
  RefundDoc,
  'orderId' | 'outTradeNo' | 'transactionId' | 'outRefundNo' | 'amount' | 'totalFee' | 'reason' | 'requestedBy' | 'idemKey' | 'createdAt'
>;

export type RefundKey = { id: string | Types.ObjectId } | { outRefundNo: string };

function keyFilter(key: RefundKey): Record<string, unknown> | null {
  if ('outRefundNo' in key) return { outRefundNo: key.outRefundNo };
  if (key.id instanceof Types.ObjectId) return { _id: key.id };
  return Types.ObjectId.isValid(key.id) ? { _id: new Types.ObjectId(key.id) } : null;
}

export type RefundRepository = ReturnType<typeof createRefundRepository>;

export function createRefundRepository({ Refund, RefundRequest }: RefundModels) {
  return {
    async create(r: NewRefund): Promise<RefundDoc> {
      const doc = await Refund.create({ ...r, status: 'PENDING', attempts: 0, history: [], version: 0 });
      return doc.toObject();
    },

    async remove(id: Types.ObjectId): Promise<void> {
      await Refund.deleteOne({ _id: id, status: 'PENDING', refundId: { $exists: false } });
    },

    async find(key: RefundKey): Promise<RefundDoc | null> {
      const filter = keyFilter(key);
      return filter ? Refund.findOne(filter).lean<RefundDoc>() : null;
    },

    /** Refunds by out_refund_no, many at once (reconciliation's bill rows): one `$in` on the unique index. */
    async findByOutRefundNos(outRefundNos: readonly string[]): Promise<RefundDoc[]> {
      if (outRefundNos.length === 0) return [];
      return Refund.find({ outRefundNo: { $in: [...outRefundNos] } }).lean<RefundDoc[]>();
    },

    /** The refunds WeChat accepted on one Beijing day (yyyyMMdd, the acceptedDay index). */
    async acceptedOnDay(day: string): Promise<RefundDoc[]> {
      return Refund.find({ acceptedDay: day }).lean<RefundDoc[]>();
    },

    async findByIdemKey(idemKey: string): Promise<RefundDoc | null> {
      return Refund.findOne({ idemKey }).lean<RefundDoc>();
    },

    async listForOrder(orderId: Types.ObjectId): Promise<RefundDoc[]> {
      return Refund.find({ orderId }).sort({ createdAt: 1 }).lean<RefundDoc[]>();
    },

    async list(filter: { status?: RefundStatus }, limit: number): Promise<RefundDoc[]> {
      return Refund.find(filter.status ? { status: filter.status } : {})
        .sort({ createdAt: -1 })
        .limit(limit)
        .lean<RefundDoc[]>();
    },

    /** One atomic conditional update on the state the caller read; null to everyone but the winner. */
    async transition(
      id: Types.ObjectId,
      from: RefundStatus,
      to: RefundStatus,
      source: string,
      set: Record<string, unknown> = {},
      note?: string,
      now = new Date(),
    ): Promise<RefundDoc | null> {
      const update: UpdateQuery<RefundDoc> = {
        $set: { ...set, status: to },
        $push: { history: { from, to, at: now, source, ...(note ? { note } : {}) } },
        $inc: { version: 1 },
      };
      return Refund.findOneAndUpdate({ _id: id, status: from }, update, { returnDocument: 'after' }).lean<RefundDoc>();
    },

    /** A WeChat answer that did not move the refund: counted, kept for operators. */
    async noteAttempt(id: Types.ObjectId, error: { code: string; message: string }, waiting: boolean, now = new Date()): Promise<void> {
      await Refund.updateOne(
        { _id: id, status: 'PENDING' },
        { $inc: { attempts: 1, version: 1 }, $set: { lastError: { ...error, at: now }, ...(waiting ? {} : { waitingSince: null }) } },
      );
      if (waiting) await Refund.updateOne({ _id: id, status: 'PENDING', waitingSince: null }, { $set: { waitingSince: now } });
    },

    /** The order's side of a final state (count a success, free a closed refund's amount) is done. */
    async markApplied(id: Types.ObjectId): Promise<void> {
      await Refund.updateOne({ _id: id, applied: false }, { $set: { applied: true } });
    },

    /** Final refunds whose effect on the order a crash may have left undone. */
    async unapplied(limit = 200): Promise<RefundDoc[]> {
      return Refund.find({ applied: false }).limit(limit).lean<RefundDoc[]>();
    },

    /** Refunds in a state the background work must move: oldest first. */
    async inState(status: RefundStatus, olderThan: Date, limit = 200): Promise<RefundDoc[]> {
      return Refund.find({ status, createdAt: { $lt: olderThan } })
        .sort({ createdAt: 1 })
        .limit(limit)
        .lean<RefundDoc[]>();
    },

    // Buyers' refund requests.
    async createRequest(r: Pick<RefundRequestDoc, 'orderId' | 'openid' | 'reason' | 'createdAt'>): Promise<RefundRequestDoc | null> {
      try {
        const doc = await RefundRequest.create({ ...r, status: 'PENDING', openKey: `open:${r.orderId.toString()}` });
        return doc.toObject();
      } catch (err) {
        if ((err as { code?: number }).code === 11000) return null;
        throw err;
      }
    },

    async findRequest(id: string): Promise<RefundRequestDoc | null> {
      if (!Types.ObjectId.isValid(id)) return null;
      return RefundRequest.findOne({ _id: new Types.ObjectId(id) }).lean<RefundRequestDoc>();
    },

    async requestsForOrder(orderId: Types.ObjectId): Promise<RefundRequestDoc[]> {
      return RefundRequest.find({ orderId }).sort({ createdAt: 1 }).lean<RefundRequestDoc[]>();
    },

    async openRequests(limit = 100): Promise<RefundRequestDoc[]> {
      return RefundRequest.find({ status: 'PENDING' }).sort({ createdAt: 1 }).limit(limit).lean<RefundRequestDoc[]>();
    },

    /** Decides a PENDING request once (the open key is freed, so the buyer may ask again later). */
    async decideRequest(
      id: Types.ObjectId,
      decision: { status: 'APPROVED' | 'REJECTED'; decidedBy: string; note?: string; refundId?: Types.ObjectId },
      now = new Date(),
    ): Promise<RefundRequestDoc | null> {
      return RefundRequest.findOneAndUpdate(
        { _id: id, status: 'PENDING' },
        {
          $set: {
            status: decision.status,
            openKey: id.toString(),
            decidedBy: decision.decidedBy,
            decidedAt: now,
            ...(decision.note ? { decisionNote: decision.note } : {}),
            ...(decision.refundId ? { refundId: decision.refundId } : {}),
          },
        },
        { returnDocument: 'after' },
      ).lean<RefundRequestDoc>();
    },
  };
}
