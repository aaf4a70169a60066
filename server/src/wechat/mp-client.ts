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

/** POST /cgi-bin/message/subscribe/send, field names as WeChat spells them. */
export interface SubscribeMessage {
  touser: string;
  template_id: string;
  /** the mini-program page the card opens, with its query (e.g. pages/order-detail/index?id=…) */
  page?: string;
  /** keyword → value, e.g. { amount2: { value: '¥12.34' } } */
  data: Record<string, { value: string }>;
  miniprogram_state?: 'developer' | 'trial' | 'formal';
  lang?: 'zh_CN' | 'en_US' | 'zh_HK' | 'zh_TW';
}

/**
 * What a subscribe send can end in. Final (never retried): NOT_SUBSCRIBED 43101 (the user did not
 * accept, or the one send they granted was used), INVALID_TEMPLATE 40037, INVALID_DATA 47003,
 * INVALID_OPENID 40003, INVALID_PAGE 41030. Retriable later: WECHAT_BUSY -1, QUOTA 45009,
 * TOKEN_INVALID (40001/42001 still after one refresh), NETWORK, TIMEOUT, TOKEN_UNAVAILABLE when the
 * token itself cannot be had for a transient reason.
 */
export type WxSubscribeErrorCode =
  | 'NOT_SUBSCRIBED'
  | 'INVALID_TEMPLATE'
  | 'INVALID_DATA'
  | 'INVALID_OPENID'
  | 'INVALID_PAGE'
  | 'WECHAT_BUSY'
  | 'QUOTA'
  | 'TOKEN_INVALID'
  | 'TOKEN_UNAVAILABLE'
  | 'WECHAT_ERROR'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'BAD_RESPONSE';

const SUBSCRIBE_ERRCODES: ReadonlyMap<number, WxSubscribeErrorCode> = new Map([
  [43101, 'NOT_SUBSCRIBED'],
  [40037, 'INVALID_TEMPLATE'],
  [47003, 'INVALID_DATA'],
  [40003, 'INVALID_OPENID'],
  [41030, 'INVALID_PAGE'],
  [-1, 'WECHAT_BUSY'],
  [45009, 'QUOTA'],
  [40001, 'TOKEN_INVALID'],
  [42001, 'TOKEN_INVALID'],
]);
const RETRIABLE_SUBSCRIBE: ReadonlySet<WxSubscribeErrorCode> = new Set(['WECHAT_BUSY', 'QUOTA', 'TOKEN_INVALID', 'NETWORK', 'TIMEOUT']);

export class WxSubscribeError extends Error {
  readonly code: WxSubscribeErrorCode;
  readonly errcode: number | undefined;
  /** a later attempt may succeed (the job queue retries it); false: final */
  readonly retriable: boolean;
  constructor(code: WxSubscribeErrorCode, message: string, opts: { errcode?: number; retriable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WxSubscribeError';
    this.code = code;
    this.errcode = opts.errcode;
    this.retriable = opts.retriable ?? RETRIABLE_SUBSCRIBE.has(code);
  }
}

export interface MpClient {
  code2Session(code: string): Promise<Code2SessionResult>;
  /**
   * Sends a subscribe message with the cached access token; a token WeChat calls invalid or expired
   * (40001/42001) is dropped and the call made once more with a fresh one. Throws WxSubscribeError.
   */
  sendSubscribeMessage(msg: SubscribeMessage): Promise<void>;
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

  async function postSubscribe(token: string, msg: SubscribeMessage): Promise<{ errcode: number; errmsg: string }> {
    const url = `${base}/cgi-bin/message/subscribe/send?${new URLSearchParams({ access_token: token }).toString()}`;
    let res;
    try {
      res = await request(
        fetchImpl,
        url,
        { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(msg) },
        timeoutMs,
      );
    } catch (err) {
      // Never pass the URL on: its query carries the access token.
      if (err instanceof HttpError && err.failure.kind === 'timeout') {
        throw new WxSubscribeError('TIMEOUT', `sendSubscribeMessage: no answer within ${timeoutMs} ms`);
      }
      throw new WxSubscribeError('NETWORK', 'sendSubscribeMessage: network error');
    }
    if (res.status >= 500) throw new WxSubscribeError('WECHAT_BUSY', `sendSubscribeMessage: HTTP ${res.status}`);
    if (res.status !== 200) throw new WxSubscribeError('BAD_RESPONSE', `sendSubscribeMessage: HTTP ${res.status}`, { retriable: false });
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new WxSubscribeError('BAD_RESPONSE', 'sendSubscribeMessage: response is not JSON', { retriable: true });
    }
    const errcode = typeof body === 'object' && body !== null ? (body as WxJson).errcode : undefined;
    const n = typeof errcode === 'number' ? errcode : Number(errcode);
    if (!Number.isInteger(n)) throw new WxSubscribeError('BAD_RESPONSE', 'sendSubscribeMessage: no errcode', { retriable: true });
    const errmsg = (body as WxJson).errmsg;
    return { errcode: n, errmsg: typeof errmsg === 'string' ? errmsg.slice(0, 200) : '' };
  }

  async function tokenFor(what: string): Promise<string> {
    try {
      return await client.getAccessToken();
    } catch (err) {
      const e = err as WxLoginError;
      throw new WxSubscribeError('TOKEN_UNAVAILABLE', `${what}: no access token (${e.code ?? 'error'})`, { retriable: e.retriable === true, cause: err });
    }
  }

  const client: MpClient = {
    async sendSubscribeMessage(msg) {
      for (const [name, v] of [['touser', msg.touser], ['template_id', msg.template_id]] as const) {
        if (typeof v !== 'string' || v === '') throw new TypeError(`sendSubscribeMessage: ${name} is required`);
      }
      let token = await tokenFor('sendSubscribeMessage');
      let answer = await postSubscribe(token, msg);
      if (answer.errcode === 40001 || answer.errcode === 42001) {
        // WeChat no longer takes this token (refreshed elsewhere, or expired early): once more with a new one
        await client.invalidateAccessToken(token);
        token = await tokenFor('sendSubscribeMessage');
        answer = await postSubscribe(token, msg);
      }
      if (answer.errcode === 0) return;
      const code = SUBSCRIBE_ERRCODES.get(answer.errcode) ?? 'WECHAT_ERROR';
      throw new WxSubscribeError(code, `sendSubscribeMessage: WeChat errcode ${answer.errcode}${answer.errmsg ? ` (${answer.errmsg})` : ''}`, {
        errcode: answer.errcode,
      });
    },

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
  return client;
}
