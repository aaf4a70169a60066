import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Whether an Authorization header carries the operators' API token. Both sides are hashed first so
 * that the comparison takes the same time whatever the length or content of what was sent.
 */
export function isAdminToken(header: string | undefined, token: string): boolean {
  if (typeof header !== 'string') return false;
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
  if (!m) return false;
  return timingSafeEqual(digest(m[1]!), digest(token));
}
