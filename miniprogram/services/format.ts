import type { OrderStatus } from '../../shared/api.js';

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

const STATUS_TEXT: Record<OrderStatus, string> = {
  CREATED: 'Awaiting payment',
  PAYING: 'Awaiting payment',
  PAID: 'Paid',
  CLOSED: 'Closed',
  FAILED: 'Payment failed',
  REFUNDING: 'Refunding',
  REFUNDED: 'Refunded',
  PARTIALLY_REFUNDED: 'Partly refunded',
};

export function statusText(status: OrderStatus): string {
  return STATUS_TEXT[status] ?? status;
}

/** Orders the user may (try to) pay again. */
export function isPayable(status: OrderStatus): boolean {
  return status === 'CREATED' || status === 'PAYING';
}
