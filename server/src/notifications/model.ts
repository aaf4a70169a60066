import { Schema, type Connection, type Model, type Types } from 'mongoose';

/**
 * One payment-success subscribe message per order: the unique index on orderId is what makes it
 * once. SENDING while attempts are under way (retriable failures keep it there, with lastError);
 * SENT once WeChat took it; FAILED when WeChat refused it for good (43101 the user did not
 * subscribe, 40037, 47003, …): never tried again.
 */
export interface PaidMessageDoc {
  _id: Types.ObjectId;
  orderId: Types.ObjectId;
  templateId: string;
  state: 'SENDING' | 'SENT' | 'FAILED';
  attempts: number;
  lastError?: { code: string; errcode?: number; at: Date } | null;
  sentAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

const PaidMessageSchema = new Schema<PaidMessageDoc>(
  {
    orderId: { type: Schema.Types.ObjectId, required: true },
    templateId: { type: String, required: true },
    state: { type: String, required: true, enum: ['SENDING', 'SENT', 'FAILED'] },
    attempts: { type: Number, default: 0 },
    lastError: { type: new Schema({ code: String, errcode: Number, at: Date }, { _id: false }), default: null },
    sentAt: Date,
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'paid_messages', versionKey: false },
);
PaidMessageSchema.index({ orderId: 1 }, { unique: true });

export async function paidMessageModel(conn: Connection): Promise<Model<PaidMessageDoc>> {
  const M = (conn.models.PaidMessage as Model<PaidMessageDoc> | undefined) ?? conn.model<PaidMessageDoc>('PaidMessage', PaidMessageSchema);
  await M.createIndexes();
  return M;
}
