import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import type { SessionLimit } from './sessions.js';

/**
 * How POST /api/session is limited. Buyers behind one carrier NAT or load balancer share an IP, so
 * the per-IP limit on all login requests is a high ceiling that only floods reach. What marks an
 * abuser is failed code exchanges: a wx.login code from a real client does not fail, so those are
 * limited tightly per IP (and each costs a call to WeChat, whose quota is the whole app's). A real
 * user logs in a few times a day, so successful logins are limited per openid.
 */
export const LOGIN_LIMITS = {
  /** every login request, per client IP (@fastify/rate-limit) */
  perIp: { max: 600, windowMs: 60_000 },
  /** code exchanges WeChat refused (invalid, used, risky), per client IP */
  failedPerIp: { max: 10, windowMs: 5 * 60_000 },
  /** successful logins, per WeChat user (openid) */
  perUser: { max: 20, windowMs: 60 * 60_000 },
} as const;

// A fixed window: the first hit starts it; answers [hits in the window, ms until it ends].
const HIT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;
const PEEK = `return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}`;

export interface LimitState {
  count: number;
  /** ms until the window ends */
  resetMs: number;
}

/**
 * Who a client is for the failed-login count: its IPv4 address, or the /64 of its IPv6 address (one
 * host, or one subscriber's network, gets a whole /64, and could otherwise walk through it).
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

const hashed = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);

export function createLoginLimits(redis: Redis, nameSpace: string, limits = LOGIN_LIMITS) {
  const failedKey = (ip: string) => `${nameSpace}login:failed:${clientKey(ip)}`;
  // openids are personal data: Redis keys hold a hash of them.
  const userKey = (openid: string) => `${nameSpace}login:user:${hashed(openid)}`;
  const state = (reply: unknown): LimitState => {
    const [count, ttl] = reply as [number, number];
    return { count, resetMs: Math.max(ttl, 0) };
  };
  return {
    limits,
    /** refused before asking WeChat: this IP has used up its failed exchanges */
    async failuresExhausted(ip: string): Promise<LimitState | undefined> {
      const s = state(await redis.eval(PEEK, 1, failedKey(ip)));
      return s.count >= limits.failedPerIp.max ? s : undefined;
    },
    async recordFailure(ip: string): Promise<void> {
      await redis.eval(HIT, 1, failedKey(ip), String(limits.failedPerIp.windowMs));
    },
    /** the per-user limit on new sessions (counted by the session store as it creates one) */
    perUser(openid: string): SessionLimit {
      return { key: userKey(openid), max: limits.perUser.max, windowMs: limits.perUser.windowMs };
    },
  };
}

/** "in 42 seconds" for the error message, and the Retry-After header's seconds */
export function retryAfterSeconds(resetMs: number): number {
  return Math.max(1, Math.ceil(resetMs / 1000));
}
