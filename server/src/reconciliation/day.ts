// Beijing calendar days as the reconciliation API writes them (YYYY-MM-DD) and as WeChat and our
// indexed day fields do (yyyyMMdd).
import { beijingDay, beijingDayStart, isBillDate } from '../wechat/beijing-datetime.js';

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 24 * 3600 * 1000;

/** Whether s is a real calendar day written YYYY-MM-DD. */
export function isDay(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = DAY_RE.exec(s);
  return m !== null && isBillDate(`${m[1]}${m[2]}${m[3]}`);
}

/** YYYY-MM-DD -> yyyyMMdd (bill_date, paidDay, acceptedDay). */
export function compactDay(day: string): string {
  return day.replace(/-/g, '');
}

/** yyyyMMdd -> YYYY-MM-DD */
export function isoDay(compact: string): string {
  return `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}`;
}

/** The Beijing day of an instant, YYYY-MM-DD. */
export function dayOf(d: Date): string {
  return isoDay(beijingDay(d));
}

/** The day `n` days before `day` (YYYY-MM-DD). */
export function daysBefore(day: string, n: number): string {
  return dayOf(new Date(beijingDayStart(compactDay(day)).getTime() - n * DAY_MS));
}

/** Minutes since midnight Beijing time. */
export function beijingMinuteOfDay(d: Date): number {
  const ms = d.getTime() - beijingDayStart(beijingDay(d)).getTime();
  return Math.floor(ms / 60_000);
}
