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

// Buyer-facing text is zh-CN first; these are the first strings moved (the rest is a later i18n pass).
/** FAILED: WeChat reported the attempt failed. No money was taken and the server takes a new attempt. */
export const FAILED_TEXT = '支付失败';
export const FAILED_NOTE = '未扣款，可重新支付';
export const PAY_AGAIN_TEXT = '重新支付';

const STATUS_TEXT: Record<OrderStatus, string> = {
  CREATED: 'Awaiting payment',
  PAYING: 'Awaiting payment',
  PAID: 'Paid',
  CLOSED: 'Closed',
  FAILED: FAILED_TEXT,
  REFUNDING: 'Refunding',
  REFUNDED: 'Refunded',
  PARTIALLY_REFUNDED: 'Partly refunded',
};

export function statusText(status: OrderStatus): string {
  return STATUS_TEXT[status] ?? status;
}

/** Orders the user may (try to) pay again: as the server has it (PAYABLE in server/src/orders/model.ts). */
export function isPayable(status: OrderStatus): boolean {
  return status === 'CREATED' || status === 'PAYING' || status === 'FAILED';
}

/** A line under the status where the status alone does not say enough ('' otherwise). */
export function statusNote(status: OrderStatus): string {
  return status === 'FAILED' ? FAILED_NOTE : '';
}

/** The pay button of a payable order, when no payment is under way. */
export function payButtonText(status: OrderStatus): string {
  return status === 'FAILED' ? PAY_AGAIN_TEXT : 'Pay';
}
