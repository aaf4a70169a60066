import { Type } from '@sinclair/typebox';
import { ADMIN_ROLES } from '../admin/guard.js';
import { ErrorSchema, errorResponses } from './schemas.js';
import type { NotifyLogDoc, QueryLogDoc } from '../admin/activity-log.js';

/** the errors an /admin/api route can answer: the shared ones, a role too weak (403), a locked account (423) */
export const adminErrorResponses = { ...errorResponses, 403: ErrorSchema, 423: ErrorSchema };

export const RoleSchema = Type.Union(ADMIN_ROLES.map((r) => Type.Literal(r)));

export const OperatorSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  disabled: Type.Boolean(),
  locked: Type.Boolean(),
  failedLogins: Type.Integer(),
  createdAt: Type.String(),
});

export const OperatorName = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{1,31}$', description: '2-32 lower-case letters, digits, . _ -' });
export const Password = Type.String({ minLength: 12, maxLength: 256 });
export const Reason = Type.String({ minLength: 1, maxLength: 200 });

export const NotifyEntrySchema = Type.Object({
  at: Type.String(),
  transactionId: Type.Optional(Type.String()),
  totalFee: Type.Optional(Type.String()),
  resultCode: Type.Optional(Type.String()),
  verification: Type.String(),
  httpStatus: Type.Integer(),
  reply: Type.Object({ code: Type.String(), msg: Type.Optional(Type.String()) }),
  latencyMs: Type.Optional(Type.Integer()),
  ip: Type.String(),
});

export const QueryEntrySchema = Type.Object({
  at: Type.String(),
  tradeState: Type.Optional(Type.String()),
  transactionId: Type.Optional(Type.String()),
  totalFee: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
  ms: Type.Integer(),
});

export function toNotifyEntry(n: NotifyLogDoc) {
  return {
    at: n.at.toISOString(),
    ...(n.transactionId ? { transactionId: n.transactionId } : {}),
    ...(n.totalFee ? { totalFee: n.totalFee } : {}),
    ...(n.resultCode ? { resultCode: n.resultCode } : {}),
    verification: n.verification,
    httpStatus: n.httpStatus,
    reply: { code: n.reply.code, ...(n.reply.msg ? { msg: n.reply.msg } : {}) },
    ...(n.latencyMs !== undefined ? { latencyMs: Math.round(n.latencyMs) } : {}),
    ip: n.ip ?? '',
  };
}

export function toQueryEntry(q: QueryLogDoc) {
  return {
    at: q.at.toISOString(),
    ...(q.tradeState ? { tradeState: q.tradeState } : {}),
    ...(q.transactionId ? { transactionId: q.transactionId } : {}),
    ...(q.totalFee !== undefined ? { totalFee: q.totalFee } : {}),
    ...(q.error ? { error: q.error } : {}),
    ms: Math.round(q.ms ?? 0),
  };
}
