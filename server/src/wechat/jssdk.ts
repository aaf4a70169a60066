// The JS-SDK: wx.config's signature, and the jsapi_ticket it is made with, from
// /cgi-bin/ticket/getticket with the 公众号's access token, cached in Redis and refreshed by one
// caller across instances (as mp-client.ts does the access token itself).
import { createHash, randomBytes } from 'node:crypto';
import { WxLoginError, loginCodeFor } from './errors.js';
import { HttpError, request, sleep, type FetchLike } from './http.js';
import type { TokenCacheRedis } from './mp-client.js';
import { nonceStr as makeNonce } from './nonce.js';

export interface JssdkSignInput {
  jsapi_ticket: string;
  noncestr: string;
  timestamp: string | number;
  /** the page's full URL; a #fragment is cut off, as WeChat's client signs without it */
  url: string;
}

/** SHA1 over jsapi_ticket=…&noncestr=…&timestamp=…&url=… (these four, in this order, values raw), lower-case hex. */
export function jssdkSignature(input: JssdkSignInput): string {
  const url = input.url.split('#')[0] ?? '';
  const text = `jsapi_ticket=${input.jsapi_ticket}&noncestr=${input.noncestr}&timestamp=${input.timestamp}&url=${url}`;
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** What a page passes to wx.config (besides debug and jsApiList). */
export interface JssdkConfig {
  appId: string;
  timestamp: number;
  nonceStr: string;
  signature: string;
}

export function jssdkConfig(opts: { appid: string; ticket: string; url: string; now?: Date; nonce?: string }): JssdkConfig {
  const timestamp = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const nonceStr = opts.nonce ?? makeNonce(16);
  return { appId: opts.appid, timestamp, nonceStr, signature: jssdkSignature({ jsapi_ticket: opts.ticket, noncestr: nonceStr, timestamp, url: opts.url }) };
}

export interface TicketClientOptions {
  /** the 公众号's appid: names the cache key */
  appid: string;
  baseUrl: string;
  /** the 公众号's own access token (its mp-client) */
  getAccessToken(): Promise<string>;
  invalidateAccessToken(token: string): Promise<void>;
  redis?: TokenCacheRedis;
  timeoutMs?: number;
  fetch?: FetchLike;
  /** refresh this many seconds before WeChat's expiry; default 300 */
  marginSec?: number;
  lockWaitMs?: number;
}

export interface TicketClient {
  /** A valid jsapi_ticket, from the cache when fresh; fetched by one caller at a time across instances. Throws WxLoginError. */
  getTicket(): Promise<string>;
  /** Drop a ticket (e.g. the page reported "invalid signature"); a newer one is kept. */
  invalidateTicket(ticket: string): Promise<void>;
}

const COMPARE_AND_DEL = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export function createTicketClient(opts: TicketClientOptions): TicketClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const marginSec = opts.marginSec ?? 300;
  const lockWaitMs = opts.lockWaitMs ?? 2 * timeoutMs + 1_000;
  const redis = opts.redis;
  const cacheKey = `wx:jsapi_ticket:${opts.appid}`;
  const lockKey = `${cacheKey}:lock`;
  const what = 'getticket';

  async function callOnce(token: string): Promise<{ errcode: number; errmsg: string; ticket?: string; expiresIn?: number }> {
    const url = `${base}/cgi-bin/ticket/getticket?${new URLSearchParams({ access_token: token, type: 'jsapi' }).toString()}`;
    let res;
    try {
      res = await request(fetchImpl, url, { method: 'GET', headers: { accept: 'application/json' } }, timeoutMs);
    } catch (err) {
      // Never pass the URL on: its query carries the access token.
      if (err instanceof HttpError && err.failure.kind === 'timeout') throw new WxLoginError('TIMEOUT', `${what}: no answer within ${timeoutMs} ms`);
      throw new WxLoginError('NETWORK', `${what}: network error`);
    }
    if (res.status >= 500) throw new WxLoginError('WECHAT_BUSY', `${what}: HTTP ${res.status}`);
    if (res.status !== 200) throw new WxLoginError('BAD_RESPONSE', `${what}: HTTP ${res.status}`);
    let body: Record<string, unknown>;
    try {
      const json: unknown = JSON.parse(res.body.toString('utf8'));
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
      body = json as Record<string, unknown>;
    } catch {
      throw new WxLoginError('BAD_RESPONSE', `${what}: response is not a JSON object`);
    }
    const errcode = body.errcode === undefined ? 0 : Number(body.errcode);
    if (!Number.isInteger(errcode)) throw new WxLoginError('BAD_RESPONSE', `${what}: malformed errcode`);
    const errmsg = typeof body.errmsg === 'string' ? body.errmsg.slice(0, 200) : '';
    if (errcode !== 0) return { errcode, errmsg };
    const { ticket, expires_in: expiresIn } = body;
    if (typeof ticket !== 'string' || ticket === '' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw new WxLoginError('BAD_RESPONSE', `${what}: no ticket/expires_in`);
    }
    return { errcode, errmsg, ticket, expiresIn };
  }

  async function fetchTicket(): Promise<{ ticket: string; expiresIn: number }> {
    let token = await opts.getAccessToken();
    let answer = await callOnce(token);
    if (answer.errcode === 40001 || answer.errcode === 42001) {
      // the token was replaced elsewhere or expired early: once more with a fresh one
      await opts.invalidateAccessToken(token);
      token = await opts.getAccessToken();
      answer = await callOnce(token);
    }
    if (answer.errcode !== 0 || answer.ticket === undefined || answer.expiresIn === undefined) {
      throw new WxLoginError(loginCodeFor(answer.errcode), `${what}: WeChat errcode ${answer.errcode}${answer.errmsg ? ` (${answer.errmsg})` : ''}`, {
        errcode: answer.errcode,
      });
    }
    return { ticket: answer.ticket, expiresIn: answer.expiresIn };
  }

  const ttlMs = (expiresIn: number) => Math.max(1_000, Math.floor((expiresIn - Math.min(marginSec, expiresIn / 2)) * 1000));

  let local: { ticket: string; until: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function refreshShared(r: TokenCacheRedis): Promise<string> {
    const deadline = Date.now() + lockWaitMs;
    const me = randomBytes(16).toString('hex');
    while (true) {
      const cached = await r.get(cacheKey);
      if (cached) return cached;
      if ((await r.set(lockKey, me, 'PX', 2 * timeoutMs + 2_000, 'NX')) === 'OK') {
        try {
          const again = await r.get(cacheKey);
          if (again) return again;
          const { ticket, expiresIn } = await fetchTicket();
          await r.set(cacheKey, ticket, 'PX', ttlMs(expiresIn));
          return ticket;
        } finally {
          await r.eval(COMPARE_AND_DEL, 1, lockKey, me).catch(() => undefined);
        }
      }
      if (Date.now() > deadline) throw new WxLoginError('TIMEOUT', `${what}: another instance is still fetching the ticket`);
      await sleep(50 + Math.floor(Math.random() * 50));
    }
  }

  async function refreshLocal(): Promise<string> {
    if (local && local.until > Date.now()) return local.ticket;
    const { ticket, expiresIn } = await fetchTicket();
    local = { ticket, until: Date.now() + ttlMs(expiresIn) };
    return ticket;
  }

  return {
    async getTicket() {
      if (!redis && local && local.until > Date.now()) return local.ticket;
      if (inFlight) return inFlight;
      inFlight = (redis ? refreshShared(redis) : refreshLocal()).finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    async invalidateTicket(ticket) {
      if (local?.ticket === ticket) local = undefined;
      if (redis) await redis.eval(COMPARE_AND_DEL, 1, cacheKey, ticket);
    },
  };
}
