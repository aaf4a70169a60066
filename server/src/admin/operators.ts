import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { Schema, Types, type Connection, type Model } from 'mongoose';
import { ADMIN_ROLES, type AdminRole } from './guard.js';

/** A console user. The password is kept only as an argon2id hash. */
export interface OperatorDoc {
  _id: Types.ObjectId;
  name: string;
  role: AdminRole;
  passwordHash: string;
  /** wrong passwords since the last good one (reset by a login or an unlock) */
  failedLogins: number;
  /** set when failedLogins reaches the limit: no login until then, or until an admin unlocks */
  lockedUntil?: Date | null;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

export const NAME_RE = /^[a-z0-9][a-z0-9._-]{1,31}$/;
export const LOCKOUT = { maxFailures: 20, lockMs: 60 * 60_000 } as const;

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane) is the library's default; stated so that a
// library upgrade cannot silently weaken it.
// (Algorithm is a const enum, which isolatedModules cannot read: 2 is its Argon2id.)
const ARGON2 = { algorithm: 2 as Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string) => hash(password, ARGON2);
export const verifyPassword = async (passwordHash: string, password: string) => {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
};
/** a hash to verify against when the name is unknown, so that a wrong name costs as long as a wrong password */
let dummyHash: Promise<string> | undefined;
export const dummyPasswordHash = () => (dummyHash ??= hashPassword('no such operator'));

/** what a password must be: long enough to resist guessing, short enough to hash cheaply */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 12) return 'must be at least 12 characters';
  if (password.length > 256) return 'must be at most 256 characters';
  return undefined;
}

const OperatorSchema = new Schema<OperatorDoc>(
  {
    name: { type: String, required: true },
    role: { type: String, required: true, enum: ADMIN_ROLES },
    passwordHash: { type: String, required: true },
    failedLogins: { type: Number, default: 0 },
    lockedUntil: { type: Date, default: null },
    disabled: { type: Boolean, default: false },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    version: { type: Number, default: 0 },
  },
  { collection: 'operators', versionKey: false },
);
OperatorSchema.index({ name: 1 }, { unique: true });

/** what the API shows of an operator: never the hash */
export function publicOperator(o: OperatorDoc) {
  return {
    id: o._id.toString(),
    name: o.name,
    role: o.role,
    disabled: o.disabled,
    locked: isLocked(o),
    failedLogins: o.failedLogins,
    createdAt: o.createdAt.toISOString(),
  };
}

export function isLocked(o: Pick<OperatorDoc, 'lockedUntil'>, now = new Date()): boolean {
  return !!o.lockedUntil && o.lockedUntil > now;
}

export type OperatorRepository = Awaited<ReturnType<typeof createOperatorRepository>>;

export async function createOperatorRepository(conn: Connection) {
  const Operator = (conn.models.Operator as Model<OperatorDoc> | undefined) ?? conn.model<OperatorDoc>('Operator', OperatorSchema);
  await Operator.createIndexes();
  const byId = (id: string) => (Types.ObjectId.isValid(id) ? { _id: new Types.ObjectId(id) } : null);
  return {
    async create(o: { name: string; role: AdminRole; password: string }, now = new Date()): Promise<OperatorDoc | 'exists'> {
      const passwordHash = await hashPassword(o.password);
      try {
        const doc = await Operator.create({ name: o.name, role: o.role, passwordHash, failedLogins: 0, disabled: false, createdAt: now, updatedAt: now });
        return doc.toObject();
      } catch (err) {
        if ((err as { code?: number }).code === 11000) return 'exists';
        throw err;
      }
    },
    async findByName(name: string): Promise<OperatorDoc | null> {
      return Operator.findOne({ name }).lean<OperatorDoc>();
    },
    async get(id: string): Promise<OperatorDoc | null> {
      const f = byId(id);
      return f ? Operator.findOne(f).lean<OperatorDoc>() : null;
    },
    async list(): Promise<OperatorDoc[]> {
      return Operator.find({}).sort({ name: 1 }).limit(500).lean<OperatorDoc[]>();
    },
    /** counts a wrong password; the one that reaches the limit locks the account (one atomic update each) */
    async recordFailure(id: Types.ObjectId, now = new Date()): Promise<OperatorDoc | null> {
      const after = await Operator.findOneAndUpdate(
        { _id: id },
        { $inc: { failedLogins: 1, version: 1 }, $set: { updatedAt: now } },
        { returnDocument: 'after' },
      ).lean<OperatorDoc>();
      if (after && after.failedLogins >= LOCKOUT.maxFailures && !isLocked(after, now)) {
        return Operator.findOneAndUpdate(
          { _id: id },
          { $set: { lockedUntil: new Date(now.getTime() + LOCKOUT.lockMs) }, $inc: { version: 1 } },
          { returnDocument: 'after' },
        ).lean<OperatorDoc>();
      }
      return after;
    },
    async recordSuccess(id: Types.ObjectId): Promise<void> {
      await Operator.updateOne({ _id: id, failedLogins: { $ne: 0 } }, { $set: { failedLogins: 0, lockedUntil: null } });
    },
    /** a lock that timed out: the count starts again */
    async clearExpiredLock(id: Types.ObjectId): Promise<void> {
      await Operator.updateOne({ _id: id }, { $set: { failedLogins: 0, lockedUntil: null } });
    },
    async update(id: string, set: Partial<Pick<OperatorDoc, 'role' | 'disabled' | 'failedLogins' | 'lockedUntil'>> & { password?: string }, now = new Date()) {
      const f = byId(id);
      if (!f) return null;
      const { password, ...rest } = set;
      const $set: Record<string, unknown> = { ...rest, updatedAt: now };
      if (password !== undefined) $set.passwordHash = await hashPassword(password);
      return Operator.findOneAndUpdate(f, { $set, $inc: { version: 1 } }, { returnDocument: 'after' }).lean<OperatorDoc>();
    },
    async activeAdmins(): Promise<number> {
      return (await Operator.find({ role: 'admin', disabled: false }, { _id: 1 }).limit(2).lean()).length;
    },
  };
}
