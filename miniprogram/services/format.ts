import type { OrderStatus } from '../../shared/api.js';
import { t } from '../i18n/index.js';

/** 1250 → "¥12.50"; amounts are integer fen from the server. */
export function formatFen(fen: number): string {
  if (!Number.isFinite(fen)) return '¥-';
  const n = Math.round(fen);
  const sign = n < 0 ? '-' : '';
  const abs = Math.abs(n);
  const yuan = Math.floor(abs / 100);
  const cents = abs % 100;
  return `${sign}¥${yuan}.${cents < 10 ? '0' : ''}${cents}`;
}

/** ISO 8601 → "2024-05-01 12:30" in the device's zone. */
export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (x: number): string => (x < 10 ? `0${x}` : String(x));
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

const STATUSES: readonly OrderStatus[] = ['CREATED', 'PAYING', 'PAID', 'CLOSED', 'FAILED', 'REFUNDING', 'REFUNDED', 'PARTIALLY_REFUNDED'];

/** The order's status in words (an unknown one from a newer server: shown as sent). */
export function statusText(status: OrderStatus): string {
  return STATUSES.includes(status) ? t(`status.${status}`) : String(status);
}

/** Orders the user may (try to) pay again: as the server has it (PAYABLE in server/src/orders/model.ts). */
export function isPayable(status: OrderStatus): boolean {
  return status === 'CREATED' || status === 'PAYING' || status === 'FAILED';
}

/** A line under the status where the status alone does not say enough ('' otherwise). FAILED: no money was taken. */
export function statusNote(status: OrderStatus): string {
  return status === 'FAILED' ? t('status.note.FAILED') : '';
}

/** The pay button of a payable order, when no payment is under way (重新支付 for a FAILED one: the same order again). */
export function payButtonText(status: OrderStatus): string {
  return status === 'FAILED' ? t('confirm.payAgain') : t('confirm.pay');
}
