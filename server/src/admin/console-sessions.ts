import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

/** An operator's console session, in Redis under a hash of its token. */
export interface ConsoleSession {
  operatorId: string;
  /** the CSRF token of this session: every state-changing request carries it in x-csrf-token */
  csrf: string;
  createdAt: number;
}

export const SESSION_COOKIE = 'wxpay_admin';
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
// A dump of Redis must not hand out working sessions: the key is a hash of the cookie's value.
const keyFor = (token: string) => `admsess:${createHash('sha256').update(token).digest('hex')}`;
// An operator's live sessions, so that disabling them or changing their password ends every one.
const setFor = (operatorId: string) => `admsess-of:${operatorId}`;

export type ConsoleSessionStore = ReturnType<typeof createConsoleSessionStore>;

export function createConsoleSessionStore(redis: Redis, ttlSeconds: number) {
  return {
    ttlSeconds,
    /** a new session with a new token and a new CSRF token (never one the client chose) */
    async create(operatorId: string): Promise<{ token: string; session: ConsoleSession }> {
      const token = randomBytes(32).toString('base64url');
      const session: ConsoleSession = { operatorId, csrf: randomBytes(32).toString('base64url'), createdAt: Date.now() };
      const key = keyFor(token);
      await redis
        .multi()
        .set(key, JSON.stringify(session), 'EX', ttlSeconds)
        .sadd(setFor(operatorId), key)
        .expire(setFor(operatorId), ttlSeconds)
        .exec();
      return { token, session };
    },
    /** the live session of this token, its lifetime renewed (sessions end after ttlSeconds unused) */
    async get(token: string | undefined): Promise<ConsoleSession | null> {
      if (!token || !TOKEN_RE.test(token)) return null;
      const key = keyFor(token);
      const raw = await redis.get(key);
      if (!raw) return null;
      await redis.expire(key, ttlSeconds);
      return JSON.parse(raw) as ConsoleSession;
    },
    async destroy(token: string | undefined): Promise<void> {
      if (!token || !TOKEN_RE.test(token)) return;
      const key = keyFor(token);
      const raw = await redis.get(key);
      await redis.del(key);
      if (raw) await redis.srem(setFor((JSON.parse(raw) as ConsoleSession).operatorId), key);
    },
    async destroyAllOf(operatorId: string): Promise<void> {
      const keys = await redis.smembers(setFor(operatorId));
      if (keys.length > 0) await redis.del(...keys);
      await redis.del(setFor(operatorId));
    },
  };
}

export function csrfMatches(session: ConsoleSession, header: unknown): boolean {
  if (typeof header !== 'string' || header.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(header), Buffer.from(session.csrf));
}
