import { Schema, type Connection, type Model, type Types } from 'mongoose';

/** One operator action that moved money or changed access: who, when, what, why, from where. */
export interface AuditEntryDoc {
  _id: Types.ObjectId;
  at: Date;
  /** operator:<name> or api-token */
  actor: string;
  action: string;
  target: { kind: string; id: string };
  before?: unknown;
  after?: unknown;
  reason?: string;
  ip: string;
}

const AuditSchema = new Schema<AuditEntryDoc>(
  {
    at: { type: Date, required: true },
    actor: { type: String, required: true },
    action: { type: String, required: true },
    target: { type: new Schema({ kind: String, id: String }, { _id: false }), required: true },
    before: Schema.Types.Mixed,
    after: Schema.Types.Mixed,
    reason: String,
    ip: { type: String, required: true },
  },
  { collection: 'audit_log', versionKey: false },
);
AuditSchema.index({ at: -1 });
AuditSchema.index({ 'target.id': 1 });

export type AuditLog = Awaited<ReturnType<typeof createAuditLog>>;

/** Append-only: there is no way here to change or remove an entry. */
export async function createAuditLog(conn: Connection) {
  const Audit = (conn.models.AuditEntry as Model<AuditEntryDoc> | undefined) ?? conn.model<AuditEntryDoc>('AuditEntry', AuditSchema);
  await Audit.createIndexes();
  return {
    async record(entry: Omit<AuditEntryDoc, '_id' | 'at'>, at = new Date()): Promise<void> {
      await Audit.create({ ...entry, at });
    },
    async list(opts: { limit: number; targetId?: string }): Promise<AuditEntryDoc[]> {
      return Audit.find(opts.targetId ? { 'target.id': opts.targetId } : {})
        .sort({ at: -1 })
        .limit(opts.limit)
        .lean<AuditEntryDoc[]>();
    },
  };
}
