// What every v3 API file shares at the wire boundary: v3's RFC 3339 times against v2's Beijing
// yyyyMMddHHmmss, JSON answers flattened into v2's string `raw` records, and argument errors.
import { fromBeijingDateTime, toBeijingDateTime } from '../beijing-datetime.js';
import { WxPayError } from '../errors.js';
import { fromBeijingTime, toBeijingTime } from '../time.js';

export function invalid(field: string, message: string, api?: string): WxPayError {
  return new WxPayError('INVALID_ARGUMENT', `${field}: ${message}`, { field, retriable: false, ...(api ? { api } : {}) });
}

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** yyyyMMddHHmmss (Beijing) as RFC 3339 with WeChat's +08:00; throws RangeError on a malformed time. */
export function rfc3339FromBeijingCompact(s: string): string {
  fromBeijingTime(s);
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(8, 10)}:${s.slice(10, 12)}:${s.slice(12, 14)}+08:00`;
}

/** An instant as v3 writes it: RFC 3339, Beijing time, whole seconds (2026-12-02T10:34:56+08:00). */
export function rfc3339Beijing(at: Date | number): string {
  return rfc3339FromBeijingCompact(toBeijingTime(new Date(at)));
}

/** An RFC 3339 time as an instant; throws RangeError unless it is one (offset required, real day). */
export function parseRfc3339(s: string): Date {
  const m = typeof s === 'string' ? RFC3339_RE.exec(s) : null;
  if (!m) throw new RangeError('expected an RFC 3339 time');
  // The calendar fields must name a real moment in their own offset.
  const local = fromBeijingTime(m.slice(1, 7).join(''));
  const offset = m[8] === 'Z' ? 0 : (m[8]!.startsWith('-') ? -1 : 1) * (Number(m[8]!.slice(1, 3)) * 60 + Number(m[8]!.slice(4, 6)));
  const fraction = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  // `local` read the fields as +08:00: move them to their own offset.
  return new Date(local.getTime() + (8 * 60 - offset) * 60_000 + fraction);
}

/** An RFC 3339 time as v2's yyyyMMddHHmmss, Beijing time. */
export function beijingCompactFromRfc3339(s: string): string {
  return toBeijingTime(parseRfc3339(s));
}

/** An RFC 3339 time as v2's "yyyy-MM-dd HH:mm:ss", Beijing time. */
export function beijingDateTimeFromRfc3339(s: string): string {
  const out = toBeijingDateTime(parseRfc3339(s));
  fromBeijingDateTime(out);
  return out;
}

/** A JSON value's scalars as strings under dotted keys ("amount.total", "promotion_detail.0.amount"). */
export function flatten(value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (value === null || value === undefined) return out;
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return out;
  }
  if (prefix) out[prefix] = String(value);
  return out;
}
