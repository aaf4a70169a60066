import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface Session {
  openid: string;
  unionid?: string;
}

interface StoredSession extends Session {
  /** WeChat's session_key: kept server-side only (for decrypting wx data later), never sent or logged */
  sessionKey: string;
  createdAt: number;
}

// Redis holds a hash of the token, so a dump of Redis does not hand out working tokens.
const keyFor = (token: string) => `sess:${createHash('sha256').update(token).digest('hex')}`;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export type SessionStore = ReturnType<typeof createSessionStore>;

export function createSessionStore(redis: Redis, ttlSeconds: number) {
  return {
    ttlSeconds,
    async create(s: { openid: string; sessionKey: string; unionid?: string }): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      const stored: StoredSession = { ...s, createdAt: Date.now() };
      await redis.set(keyFor(token), JSON.stringify(stored), 'EX', ttlSeconds);
      return token;
    },
    async get(token: string): Promise<Session | null> {
      if (!TOKEN_RE.test(token)) return null;
      const raw = await redis.get(keyFor(token));
      if (!raw) return null;
      const { openid, unionid } = JSON.parse(raw) as StoredSession;
      return unionid ? { openid, unionid } : { openid };
    },
    async revoke(token: string): Promise<void> {
      if (TOKEN_RE.test(token)) await redis.del(keyFor(token));
    },
  };
}
