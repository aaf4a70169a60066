const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;
const BEIJING_RE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** yyyyMMddHHmmss in Beijing time (UTC+8, no DST), independent of the process TZ. */
export function toBeijingTime(d: Date): string {
  const ms = d instanceof Date ? d.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new RangeError('toBeijingTime: invalid date');
  const b = new Date(ms + BEIJING_OFFSET_MS);
  const year = b.getUTCFullYear();
  if (year < 1000 || year > 9999) throw new RangeError('toBeijingTime: year out of range');
  return (
    pad(year, 4) +
    pad(b.getUTCMonth() + 1) +
    pad(b.getUTCDate()) +
    pad(b.getUTCHours()) +
    pad(b.getUTCMinutes()) +
    pad(b.getUTCSeconds())
  );
}

/** Parses yyyyMMddHHmmss as Beijing time; throws RangeError on anything malformed or impossible (20240230...). */
export function fromBeijingTime(s: string): Date {
  const m = typeof s === 'string' ? BEIJING_RE.exec(s) : null;
  if (!m) throw new RangeError('fromBeijingTime: expected yyyyMMddHHmmss');
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    throw new RangeError('fromBeijingTime: field out of range');
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(utc);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) {
    throw new RangeError('fromBeijingTime: no such day');
  }
  return new Date(utc - BEIJING_OFFSET_MS);
}
