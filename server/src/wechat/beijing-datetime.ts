// WeChat writes some times as "yyyy-MM-dd HH:mm:ss" (refund success_time, refund_success_time_$n, bill
// rows) rather than the yyyyMMddHHmmss of time_end; both are Beijing time (UTC+8).
import { fromBeijingTime, toBeijingTime } from './time.js';

const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const DATE_RE = /^\d{8}$/;

/** Parses "yyyy-MM-dd HH:mm:ss" as Beijing time; throws RangeError on anything else. */
export function fromBeijingDateTime(s: string): Date {
  const m = typeof s === 'string' ? DATETIME_RE.exec(s) : null;
  if (!m) throw new RangeError('fromBeijingDateTime: expected yyyy-MM-dd HH:mm:ss');
  return fromBeijingTime(m.slice(1).join(''));
}

/** "yyyy-MM-dd HH:mm:ss" in Beijing time. */
export function toBeijingDateTime(d: Date): string {
  const t = toBeijingTime(d);
  return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)} ${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}`;
}

/** The Beijing calendar day of an instant, yyyyMMdd (downloadbill's bill_date). */
export function beijingDay(d: Date): string {
  return toBeijingTime(d).slice(0, 8);
}

/** Whether s is a real calendar day written yyyyMMdd. */
export function isBillDate(s: unknown): s is string {
  if (typeof s !== 'string' || !DATE_RE.test(s)) return false;
  try {
    fromBeijingTime(`${s}000000`);
    return true;
  } catch {
    return false;
  }
}

/** The instant a Beijing day (yyyyMMdd) starts. */
export function beijingDayStart(day: string): Date {
  if (!isBillDate(day)) throw new RangeError('beijingDayStart: expected yyyyMMdd');
  return fromBeijingTime(`${day}000000`);
}
