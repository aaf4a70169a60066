// What the order-detail and refund pages show of an order, its refunds and refund requests: plain
// data for setData, in the current language. Kept here so that it is tested without a page.
import type { Order, Refund, RefundRequest } from '../../shared/api.js';
import { t } from '../i18n/index.js';
import { formatFen, formatTime, isPayable, statusNote, statusText } from './format.js';
import { refundAvailability, type RefundAvailability } from './refunds.js';

export interface LineView {
  sku: string;
  name: string;
  quantityText: string;
  subtotalText: string;
}

export interface RefundView {
  id: string;
  status: string;
  statusText: string;
  amountText: string;
  reason: string;
  createdText: string;
  /** '' until the money is back */
  successText: string;
}

export interface RequestView {
  id: string;
  status: string;
  statusText: string;
  reasonText: string;
  /** the shop's note with its decision, '' without one */
  noteText: string;
  createdText: string;
}

export interface OrderView {
  id: string;
  outTradeNo: string;
  status: string;
  statusText: string;
  statusNote: string;
  amountText: string;
  createdText: string;
  /** '' while unpaid */
  paidText: string;
  transactionId: string;
  /** '' when nothing was refunded */
  refundedText: string;
  lines: LineView[];
  payable: boolean;
  payText: string;
}

const REFUND_STATUSES = ['PENDING', 'PROCESSING', 'SUCCESS', 'CHANGE', 'REFUNDCLOSE', 'FAILED'] as const;
const REQUEST_STATUSES = ['PENDING', 'APPROVED', 'REJECTED'] as const;

export function refundStatusText(status: string): string {
  const s = REFUND_STATUSES.find((x) => x === status);
  return s === undefined ? status : t(`refund.status.${s}`);
}

export function requestStatusText(status: string): string {
  const s = REQUEST_STATUSES.find((x) => x === status);
  return s === undefined ? status : t(`refundRequest.status.${s}`);
}

export function orderView(o: Order): OrderView {
  return {
    id: o.id,
    outTradeNo: o.outTradeNo,
    status: o.status,
    statusText: statusText(o.status),
    statusNote: statusNote(o.status),
    amountText: formatFen(o.amount),
    createdText: formatTime(o.createdAt),
    paidText: formatTime(o.paidAt),
    transactionId: o.transactionId ?? '',
    refundedText: o.refundedAmount !== undefined && o.refundedAmount > 0 ? formatFen(o.refundedAmount) : '',
    lines: o.items.map((i) => ({
      sku: i.sku,
      name: i.name,
      quantityText: t('order.quantity', { n: i.quantity }),
      subtotalText: formatFen(i.price * i.quantity),
    })),
    payable: isPayable(o.status),
    payText: o.status === 'FAILED' ? t('order.payAgain') : t('order.pay'),
  };
}

export function refundView(r: Refund): RefundView {
  return {
    id: r.id,
    status: r.status,
    statusText: refundStatusText(r.status),
    amountText: formatFen(r.amount),
    reason: r.reason,
    createdText: t('order.refundAt', { time: formatTime(r.createdAt) }),
    successText: r.successAt !== undefined ? t('order.refundSuccessAt', { time: formatTime(r.successAt) }) : '',
  };
}

export function requestView(r: RefundRequest): RequestView {
  return {
    id: r.id,
    status: r.status,
    statusText: requestStatusText(r.status),
    reasonText: t('order.requestReason', { reason: r.reason }),
    noteText: r.decisionNote !== undefined && r.decisionNote !== '' ? t('order.requestNote', { note: r.decisionNote }) : '',
    createdText: formatTime(r.createdAt),
  };
}

/** Newest first, as a buyer reads a history. */
export function newestFirst<T extends { createdAt: string }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

/** Why a refund cannot be asked for, in words ('' when it can). */
export function refundBlockedText(a: RefundAvailability): string {
  switch (a) {
    case 'allowed':
      return '';
    case 'notPaid':
      return t('refund.notAllowed');
    case 'fullyRefunded':
      return t('refund.fullyRefunded');
    case 'open':
      return t('refund.openRequest');
  }
}

export { refundAvailability };
