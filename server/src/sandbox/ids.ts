import { createHash, randomBytes, randomInt } from 'node:crypto';
import { toBeijingTime } from '../wechat/time.js';

const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function pick(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

function digits(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String(randomInt(10));
  return out;
}

/**
 * Six characters derived from the appid, carried at openid[1..7). Real openids are per appid;
 * the tag lets the sandbox tell whose openid it is even after a restart lost its memory.
 */
export function appTag(appid: string): string {
  const h = createHash('sha256').update(`sandbox-openid:${appid}`).digest();
  let out = '';
  for (let i = 0; i < 6; i++) out += URL_SAFE[(h[i] ?? 0) % URL_SAFE.length];
  return out;
}

/** An openid as WeChat shapes them: 28 chars, starting with `o`, [A-Za-z0-9_-]. */
export function newOpenid(appid: string): string {
  return `o${appTag(appid)}${pick(URL_SAFE, 21)}`;
}

/** A session_key: base64 of 16 random bytes (24 chars), like WeChat's. */
export function newSessionKey(): string {
  return randomBytes(16).toString('base64');
}

/** A wx.login code: 32 chars of [A-Za-z0-9]. */
export function newLoginCode(): string {
  return pick(ALNUM, 32);
}

/** prepay_id: `wx` + Beijing yyyyMMddHHmmss + 20 hex chars (36 in all), as WeChat's look. */
export function newPrepayId(now: number): string {
  return `wx${toBeijingTime(new Date(now))}${randomBytes(10).toString('hex')}`;
}

/** transaction_id: 28 digits, `4200` + 6 digits + Beijing yyyyMMdd + 10 digits. */
export function newTransactionId(now: number): string {
  return `4200${digits(6)}${toBeijingTime(new Date(now)).slice(0, 8)}${digits(10)}`;
}

/** An access_token: long, opaque, URL-safe. */
export function newAccessToken(): string {
  return pick(URL_SAFE, 136);
}

/** WeChat appends a request id to its errmsg ("invalid code, rid: ..."). */
export function rid(): string {
  return `${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
}
