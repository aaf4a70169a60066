import { Schema, type Connection, type Model, type Types } from 'mongoose';
import { beijingDay } from '../wechat/beijing-datetime.js';

/**
 * PENDING: recorded (and its amount reserved on the order), not yet accepted by WeChat;
 * PROCESSING: WeChat accepted it; SUCCESS: the money is back with the buyer;
 * CHANGE: WeChat could not return it (the buyer's card is closed, ...): an operator must act;
 * REFUNDCLOSE: WeChat closed it without refunding; FAILED: WeChat refused it for good (its words kept).
 */
export const REFUND_STATUSES = ['PENDING', 'PROCESSING', 'SUCCESS', 'CHANGE', 'REFUNDCLOSE', 'FAILED'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];
/** States whose amount still counts against what the order can refund. */
export const REFUND_HOLDS_AMOUNT: readonly RefundStatus[] = ['PENDING', 'PROCESSING', 'SUCCESS', 'CHANGE'];
export const REFUND_FINAL: readonly RefundStatus[] = ['SUCCESS', 'REFUNDCLOSE', 'FAILED'];

export interface RefundTransitionDoc {
  from: RefundStatus;
  to: RefundStatus;
  at: Date;
  source: string;
  note?: string;
}

export interface RefundDoc {
  _id: Types.ObjectId;
  orderId: Types.ObjectId;
  outTradeNo: string;
  transactionId: string;
  /** ours, unique per merchant, sent byte for byte on every retry */
  outRefundNo: string;
  /** refund_fee, fen */
  amount: number;
  /** total_fee of the payment it refunds, fen */
  totalFee: number;
  reason: string;
  /** who asked: operator:<name>, api-token, buyer-request:<id>, ... */
  requestedBy: string;
  /** one refund per (order, Idempotency-Key); refunds made without a key get a value of their own */
  idemKey: string;
  status: RefundStatus;
  /** WeChat's refund_id, once accepted */
  refundId?: string;
  /** the last answer WeChat gave that did not move it forward (err_code, err_code_des) */
  lastError?: { code: string; message: string; at: Date } | null;
  /** set while WeChat answers NOTENOUGH (merchant balance too low): retried for hours */
  waitingSince?: Date | null;
  attempts: number;
  /** false from a final state until its effect on the order (count the success, free the amount) is done */
  applied?: boolean;
  successAt?: Date;
  recvAccount?: string;
  /**
   * The Beijing day (yyyyMMdd) WeChat accepted it (it left PENDING for anything but FAILED): the day's
   * bill lists it. Indexed, so that reconciliation finds a day's refunds without a scan.
   */
  acceptedDay?: string;
  createdAt: Date;
  history: RefundTransitionDoc[];
  version: number;
}

/** A buyer's request for a refund of their own paid order, approved or rejected by an operator. */
export interface RefundRequestDoc {
  _id: Types.ObjectId;
  orderId: Types.ObjectId;
  openid: string;
  reason: string;
  status: 'PENDING' | 'APPROVED' | 'REJECTED';
  /** one open request per order: `open:<orderId>` while PENDING, the request's own id after */
  openKey: string;
  refundId?: Types.ObjectId;
  decidedBy?: string;
  decisionNote?: string;
  decidedAt?: Date;
  createdAt: Date;
}

const RefundSchema = new Schema<RefundDoc>(
  {
    orderId: { type: Schema.Types.ObjectId, required: true },
    outTradeNo: { type: String, required: true },
    transactionId: { type: String, required: true },
    outRefundNo: { type: String, required: true },
    amount: { type: Number, required: true },
    totalFee: { type: Number, required: true },
    reason: { type: String, required: true },
    requestedBy: { type: String, required: true },
    idemKey: { type: String, required: true },
    status: { type: String, required: true, enum: REFUND_STATUSES },
    refundId: String,
    lastError: { type: new Schema({ code: String, message: String, at: Date }, { _id: false }), default: null },
    waitingSince: { type: Date, default: null },
    attempts: { type: Number, default: 0 },
    applied: Boolean,
    successAt: Date,
    recvAccount: String,
    acceptedDay: String,
    createdAt: { type: Date, required: true },
    history: {
      type: [new Schema<RefundTransitionDoc>({ from: String, to: String, at: Date, source: String, note: String }, { _id: false })],
      default: [],
    },
    version: { type: Number, default: 0 },
  },
  { collection: 'refunds', versionKey: false },
);
RefundSchema.index({ outRefundNo: 1 }, { unique: true });
RefundSchema.index({ idemKey: 1 }, { unique: true });
RefundSchema.index({ orderId: 1 });
RefundSchema.index({ status: 1, createdAt: 1 });
RefundSchema.index({ applied: 1 });
RefundSchema.index({ acceptedDay: 1 });

const RefundRequestSchema = new Schema<RefundRequestDoc>(
  {
    orderId: { type: Schema.Types.ObjectId, required: true },
    openid: { type: String, required: true },
    reason: { type: String, required: true },
    status: { type: String, required: true },
    openKey: { type: String, required: true },
    refundId: Schema.Types.ObjectId,
    decidedBy: String,
    decisionNote: String,
    decidedAt: Date,
    createdAt: { type: Date, required: true },
  },
  { collection: 'refund_requests', versionKey: false },
);
RefundRequestSchema.index({ openKey: 1 }, { unique: true });
RefundRequestSchema.index({ orderId: 1 });
RefundRequestSchema.index({ status: 1, createdAt: 1 });

export interface RefundModels {
  Refund: Model<RefundDoc>;
  RefundRequest: Model<RefundRequestDoc>;
}

export async function refundModels(conn: Connection): Promise<RefundModels> {
  const Refund = (conn.models.Refund as Model<RefundDoc> | undefined) ?? conn.model<RefundDoc>('Refund', RefundSchema);
  const RefundRequest =
    (conn.models.RefundRequest as Model<RefundRequestDoc> | undefined) ?? conn.model<RefundRequestDoc>('RefundRequest', RefundRequestSchema);
  await migrateAcceptedDays(Refund);
  await Refund.createIndexes();
  await RefundRequest.createIndexes();
  return { Refund, RefundRequest };
}

/** Refunds accepted before acceptedDay existed get it from their history (when they left PENDING), once. */
async function migrateAcceptedDays(Refund: Model<RefundDoc>): Promise<void> {
  const marks = Refund.db.collection<{ _id: string; at: Date }>('migrations');
  if (await marks.findOne({ _id: 'refunds.acceptedDay' })) return;
  const cursor = Refund.find({ acceptedDay: { $exists: false } }, { _id: 1, history: 1 }).lean<Pick<RefundDoc, '_id' | 'history'>[]>().cursor();
  for await (const r of cursor) {
    const accepted = r.history.find((h) => h.from === 'PENDING' && h.to !== 'FAILED');
    if (accepted) await Refund.updateOne({ _id: r._id, acceptedDay: { $exists: false } }, { $set: { acceptedDay: beijingDay(accepted.at) } });
  }
  await marks.updateOne({ _id: 'refunds.acceptedDay' }, { $set: { at: new Date() } }, { upsert: true });
}
