// OAuth's `state`: a one-time CSRF token bound to the browser that started the login. The browser
// holds a random binding in an httpOnly cookie; Redis holds, under the state, a hash of that binding
// and the page to return to, taken once (GETDEL): a replayed, expired or foreign state is refused.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { nonceStr } from '../wechat/nonce.js';

export const STATE_TTL_SECONDS = 10 * 60;
const BINDING_RE = /^[A-Za-z0-9_-]{43}$/;
const STATE_RE = /^[A-Za-z0-9]{32}$/;

const hash = (binding: string) => createHash('sha256').update(`h5-oauth-binding\n${binding}`).digest();
const keyOf = (state: string) => `h5:oauth:state:${state}`;

export type TakenState =
  | { ok: true; next: string }
  /** missing: no state at all; unknown: never issued, already used or expired; foreign: started in another browser */
  | { ok: false; reason: 'missing' | 'unknown' | 'foreign'; next?: string };

export function newBinding(): string {
  return randomBytes(32).toString('base64url');
}

export function isBinding(value: string | undefined): value is string {
  return value !== undefined && BINDING_RE.test(value);
}

export function createOauthStates(redis: Redis, ttlSeconds = STATE_TTL_SECONDS) {
  return {
    /** A state for this browser's binding, remembering where to go after the login. */
    async issue(binding: string, next: string): Promise<string> {
      const state = nonceStr(32);
      await redis.set(keyOf(state), JSON.stringify({ b: hash(binding).toString('hex'), next }), 'EX', ttlSeconds);
      return state;
    },
    /** Takes the state once; it is gone afterwards whatever the outcome, so a replay always fails. */
    async take(state: string | undefined, binding: string | undefined): Promise<TakenState> {
      if (state === undefined || state === '') return { ok: false, reason: 'missing' };
      if (!STATE_RE.test(state)) return { ok: false, reason: 'unknown' };
      const raw = await redis.getdel(keyOf(state));
      if (raw === null) return { ok: false, reason: 'unknown' };
      const stored = JSON.parse(raw) as { b: string; next: string };
      if (!isBinding(binding)) return { ok: false, reason: 'foreign', next: stored.next };
      const same = timingSafeEqual(Buffer.from(stored.b, 'hex'), hash(binding));
      return same ? { ok: true, next: stored.next } : { ok: false, reason: 'foreign', next: stored.next };
    },
  };
}
export type OauthStates = ReturnType<typeof createOauthStates>;
