import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// 62 * 4 = 248: bytes at or above it are dropped so every character is equally likely.
const LIMIT = ALPHABET.length * Math.floor(256 / ALPHABET.length);

/** A nonce from the CSPRNG, [A-Za-z0-9], 1..32 characters (WeChat's limit), 32 by default. */
export function nonceStr(length = 32): string {
  if (!Number.isInteger(length) || length < 1 || length > 32) {
    throw new RangeError('nonceStr: length must be an integer from 1 to 32');
  }
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= LIMIT) continue;
      out += ALPHABET[byte % ALPHABET.length];
      if (out.length === length) break;
    }
  }
  return out;
}
