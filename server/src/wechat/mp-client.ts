import { randomBytes } from 'node:crypto';
import { loginCodeFor, WxLoginError } from './errors.js';
import { HttpError, request, sleep, type FetchLike } from './http.js';

export interface Code2SessionResult {
  openid: string;
  session_key: string;
  unionid?: string;
}

/**
 * The few Redis commands the token cache uses; an ioredis client (including @fastify/redis's
 * `app.redis`, whichever ioredis copy it was built with) fits.
 */
export interface TokenCacheRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>;
  set(key: string, value: string, px: 'PX', ms: number): Promise<'OK'>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface MpClientOptions {
  appid: string;
  secret: string;
  /** e.g. https://api.weixin.qq.com or the sandbox's root. */
  baseUrl: string;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
  fetch?: FetchLike;
  /** Shares the access token (and its refresh lock) across instances; in-process cache without it. */
  redis?: TokenCacheRedis;
  /** Refresh this many seconds before WeChat's expiry. Default 300. */
  tokenMarginSec?: number;
  /** How long a caller waits for another instance's refresh before trying itself. Default timeoutMs + 1 s. */
  lockWaitMs?: number;
}

export interface MpClient {
  code2Session(code: string): Promise<Code2SessionResult>;
  /** A valid access token, from the cache when it is fresh; refreshed by one caller at a time. */
  getAccessToken(): Promise<string>;
  /** Drop a token WeChat refused (40001/42001) so the next getAccessToken fetches a new one; a newer token is kept. */
  invalidateAccessToken(token: string): Promise<void>;
}

const CODE_RE = /^[A-Za-z0-9_\-]{1,128}$/;

// Delete the key only if it still holds our value (lock release / stale-token invalidation).
const COMPARE_AND_DEL = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

interface WxJson {
  errcode?: unknown;
  errmsg?: unknown;
  [k: string]: unknown;
}

export function createMpClient(opts: MpClientOptions): MpClient {
  for (const [name, v] of [
    ['appid', opts.appid],
    ['secret', opts.secret],
    ['baseUrl', opts.baseUrl],
  ] as const) {
    if (typeof v !== 'string' || v === '') throw new TypeError(`createMpClient: ${name} is required`);
  }
  const base = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const marginSec = opts.tokenMarginSec ?? 300;
  const lockWaitMs = opts.lockWaitMs ?? timeoutMs + 1_000;
  const redis = opts.redis;
  const cacheKey = `wx:access_token:${opts.appid}`;
  const lockKey = `${cacheKey}:lock`;

  async function getJson(path: string, query: Record<string, string>, what: string): Promise<WxJson> {
    const url = `${base}${path}?${new URLSearchParams(query).toString()}`;
    let res;
    try {
      res = await request(fetchImpl, url, { method: 'GET', headers: { accept: 'application/json' } }, timeoutMs);
    } catch (err) {
      // Never pass the URL on: its query carries the appsecret.
      if (err instanceof HttpError && err.failure.kind === 'timeout') {
        throw new WxLoginError('TIMEOUT', `${what}: no answer within ${timeoutMs} ms`);
      }
      throw new WxLoginError('NETWORK', `${what}: network error`);
    }
    if (res.status >= 500) throw new WxLoginError('WECHAT_BUSY', `${what}: HTTP ${res.status}`);
    if (res.status !== 200) throw new WxLoginError('BAD_RESPONSE', `${what}: HTTP ${res.status}`);
    let json: unknown;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new WxLoginError('BAD_RESPONSE', `${what}: response is not JSON`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new WxLoginError('BAD_RESPONSE', `${what}: response is not a JSON object`);
    }
    const body = json as WxJson;
    if (body.errcode !== undefined && body.errcode !== 0) {
      const errcode = typeof body.errcode === 'number' ? body.errcode : Number(body.errcode);
      if (!Number.isInteger(errcode)) throw new WxLoginError('BAD_RESPONSE', `${what}: malformed errcode`);
      const errmsg = typeof body.errmsg === 'string' ? body.errmsg.slice(0, 200) : '';
      throw new WxLoginError(loginCodeFor(errcode), `${what}: WeChat errcode ${errcode}${errmsg ? ` (${errmsg})` : ''}`, {
        errcode,
      });
    }
    return body;
  }

  async function fetchToken(): Promise<{ token: string; expiresIn: number }> {
    const body = await getJson(
      '/cgi-bin/token',
      { grant_type: 'client_credential', appid: opts.appid, secret: opts.secret },
      'getAccessToken',
    );
    const token = body.access_token;
    const expiresIn = body.expires_in;
    if (typeof token !== 'string' || token === '' || typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new WxLoginError('BAD_RESPONSE', 'getAccessToken: no access_token/expires_in');
    }
    return { token, expiresIn };
  }

  function ttlMs(expiresIn: number): number {
    const margin = Math.min(marginSec, expiresIn / 2);
    return Math.max(1_000, Math.floor((expiresIn - margin) * 1000));
  }

  // In-process cache (no Redis) and in-process single flight (always).
  let local: { token: string; until: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function refreshLocal(): Promise<string> {
    if (local && local.until > Date.now()) return local.token;
    const { token, expiresIn } = await fetchToken();
    local = { token, until: Date.now() + ttlMs(expiresIn) };
    return token;
  }

  async function refreshShared(r: TokenCacheRedis): Promise<string> {
    const deadline = Date.now() + lockWaitMs + timeoutMs;
    const me = randomBytes(16).toString('hex');
    const lockTtl = timeoutMs + 2_000;
    while (true) {
      const cached = await r.get(cacheKey);
      if (cached) return cached;
      const won = await r.set(lockKey, me, 'PX', lockTtl, 'NX');
      if (won === 'OK') {
        try {
          // Someone may have stored a token between our read and our lock.
          const again = await r.get(cacheKey);
          if (again) return again;
          const { token, expiresIn } = await fetchToken();
          await r.set(cacheKey, token, 'PX', ttlMs(expiresIn));
          return token;
        } finally {
          await r.eval(COMPARE_AND_DEL, 1, lockKey, me).catch(() => undefined);
        }
      }
      if (Date.now() > deadline) {
        throw new WxLoginError('TIMEOUT', 'getAccessToken: another instance is still refreshing the token');
      }
      await sleep(50 + Math.floor(Math.random() * 50));
    }
  }

  return {
    async code2Session(code) {
      if (typeof code !== 'string' || !CODE_RE.test(code)) {
        throw new WxLoginError('INVALID_CODE', 'code2Session: the login code is malformed');
      }
      // No retry: a code is single use, and a retry after a lost answer would only get 40163.
      const body = await getJson(
        '/sns/jscode2session',
        { appid: opts.appid, secret: opts.secret, js_code: code, grant_type: 'authorization_code' },
        'code2Session',
      );
      const { openid, session_key: sessionKey, unionid } = body;
      if (typeof openid !== 'string' || openid === '' || typeof sessionKey !== 'string' || sessionKey === '') {
        throw new WxLoginError('BAD_RESPONSE', 'code2Session: no openid/session_key');
      }
      const result: Code2SessionResult = { openid, session_key: sessionKey };
      if (typeof unionid === 'string' && unionid !== '') result.unionid = unionid;
      return result;
    },

    async getAccessToken() {
      if (!redis && local && local.until > Date.now()) return local.token;
      if (inFlight) return inFlight;
      inFlight = (redis ? refreshShared(redis) : refreshLocal()).finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },

    async invalidateAccessToken(token) {
      if (local?.token === token) local = undefined;
      if (redis) await redis.eval(COMPARE_AND_DEL, 1, cacheKey, token);
    },
  };
}
