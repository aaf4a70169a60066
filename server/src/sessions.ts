import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Who calls: the buyer that owns orders, and the app (appid) and openid they logged in through. */
export interface Session {
  buyerId: string;
  appid: string;
  openid: string;
  unionid?: string;
}

/** What a login stores: the buyer, the app, and the app's own secret material (never sent or logged). */
export interface NewSession extends Session {
  /** mini-program: WeChat's session_key; kept server-side only (for decrypting wx data later) */
  sessionKey?: string;
}

interface StoredSession extends Partial<Session> {
  openid: string;
  sessionKey?: string;
  createdAt: number;
}

/** A session stored before buyers existed (openid alone): the auth plugin links it to its buyer. */
export type LegacySession = { openid: string; unionid?: string; buyerId?: undefined; appid?: undefined };

// Redis holds a hash of the token, so a dump of Redis does not hand out working tokens.
const keyFor = (token: string) => `sess:${createHash('sha256').update(token).digest('hex')}`;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export type SessionStore = ReturnType<typeof createSessionStore>;

/** A limit on new sessions per user: a fixed window counted in Redis under `key`. */
export interface SessionLimit {
  key: string;
  max: number;
  windowMs: number;
}

// Counts the login and stores the session in one step, so that a login over the limit stores nothing.
const CREATE_WITHIN_LIMIT = `
local n = redis.call('INCR', KEYS[2])
local ttl = redis.call('PTTL', KEYS[2])
if n == 1 or ttl < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]); ttl = tonumber(ARGV[3]) end
if n > tonumber(ARGV[4]) then return {0, ttl} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {1, ttl}`;

export function createSessionStore(redis: Redis, ttlSeconds: number) {
  return {
    ttlSeconds,
    async create(s: NewSession): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      const stored: StoredSession = { ...s, createdAt: Date.now() };
      await redis.set(keyFor(token), JSON.stringify(stored), 'EX', ttlSeconds);
      return token;
    },
    /** create(), unless this user already has `limit.max` sessions from the current window */
    async createWithinLimit(
      s: NewSession,
      limit: SessionLimit,
    ): Promise<{ token: string } | { limitedForMs: number }> {
      const token = randomBytes(32).toString('base64url');
      const stored: StoredSession = { ...s, createdAt: Date.now() };
      const [created, ttl] = (await redis.eval(
        CREATE_WITHIN_LIMIT,
        2,
        keyFor(token),
        limit.key,
        JSON.stringify(stored),
        String(ttlSeconds),
        String(limit.windowMs),
        String(limit.max),
      )) as [number, number];
      return created === 1 ? { token } : { limitedForMs: Math.max(ttl, 0) };
    },
    async get(token: string): Promise<Session | LegacySession | null> {
      if (!TOKEN_RE.test(token)) return null;
      const raw = await redis.get(keyFor(token));
      if (!raw) return null;
      const { openid, unionid, buyerId, appid } = JSON.parse(raw) as StoredSession;
      const extra = unionid ? { unionid } : {};
      if (buyerId && appid) return { buyerId, appid, openid, ...extra };
      return { openid, ...extra };
    },
    /** Completes a legacy session in place (same token, same remaining lifetime). */
    async upgrade(token: string, s: Session): Promise<void> {
      if (!TOKEN_RE.test(token)) return;
      const raw = await redis.get(keyFor(token));
      if (!raw) return;
      const stored = { ...(JSON.parse(raw) as StoredSession), ...s };
      await redis.set(keyFor(token), JSON.stringify(stored), 'KEEPTTL');
    },
    async revoke(token: string): Promise<void> {
      if (TOKEN_RE.test(token)) await redis.del(keyFor(token));
    },
  };
}
