import { createHmac, hash, timingSafeEqual } from 'node:crypto';

export type SignType = 'MD5' | 'HMAC-SHA256';

export const SIGN_TYPES: readonly SignType[] = Object.freeze(['MD5', 'HMAC-SHA256'] as const);

export function isSignType(v: unknown): v is SignType {
  return v === 'MD5' || v === 'HMAC-SHA256';
}

type SignParams = Record<string, string | number | undefined | null>;

/** The string WeChat signs, without the trailing `&key=...` (exported for tests and diagnostics; never log it with the key). */
export function signingString(params: SignParams): string {
  // Built as one string (no array of parts): this runs for every notify and every API call.
  let out = '';
  for (const name of Object.keys(params).sort()) {
    if (name === 'sign') continue;
    const raw = params[name];
    if (raw === undefined || raw === null) continue;
    if (typeof raw === 'number' && !Number.isFinite(raw)) {
      throw new TypeError(`sign: field ${name} is not a finite number`);
    }
    const value = typeof raw === 'string' ? raw : String(raw);
    if (value === '') continue;
    out = out === '' ? `${name}=${value}` : `${out}&${name}=${value}`;
  }
  return out;
}

/**
 * WeChat Pay v2: every non-empty param except `sign`, ASCII order by name, raw values k=v&...,
 * then &key=KEY; MD5 or HMAC-SHA256 keyed with KEY; upper-case hex.
 */
export function sign(params: SignParams, key: string, signType: SignType): string {
  if (typeof key !== 'string' || key === '') throw new TypeError('sign: empty key');
  const base = signingString(params);
  const text = base === '' ? `key=${key}` : `${base}&key=${key}`;
  switch (signType) {
    case 'MD5':
      // The one-shot crypto.hash skips creating a Hash object: a third of an MD5 sign's cost.
      return hash('md5', text, 'hex').toUpperCase();
    case 'HMAC-SHA256':
      return createHmac('sha256', key).update(text, 'utf8').digest('hex').toUpperCase();
    default:
      throw new TypeError(`sign: unsupported sign type ${String(signType)}`);
  }
}

/** Constant-time check of `params.sign`; false when it is missing or of another length. */
export function verifySign(params: Record<string, string | undefined>, key: string, signType: SignType): boolean {
  const given = params.sign;
  if (typeof given !== 'string' || given === '') return false;
  if (!isSignType(signType)) return false;
  const expected = Buffer.from(sign(params, key, signType), 'utf8');
  const actual = Buffer.from(given, 'utf8');
  if (actual.length !== expected.length) return false;
  return timingSafeEqual(actual, expected);
}
