// A buyer's refunds and refund requests for one of their own orders.
import type { Order, Refund, RefundList, RefundRequest, RefundRequestBody, RefundRequestList } from '../../shared/api.js';
import type { Auth } from './auth.js';
import { ApiClientError } from './http.js';

/** What the server takes (1..200 characters, counted as it counts them: UTF-16 units). */
export const REFUND_REASON_MAX = 200;

export interface RefundsService {
  list(orderId: string): Promise<Refund[]>;
  requests(orderId: string): Promise<RefundRequest[]>;
  /** Asks the shop for a refund; the reason is trimmed and checked first (400 VALIDATION_ERROR otherwise, unsent). */
  request(orderId: string, reason: string): Promise<RefundRequest>;
}

const path = (id: string, tail: string) => `/api/orders/${encodeURIComponent(id)}/${tail}`;

export type ReasonProblem = 'required' | 'tooLong';

export function reasonProblem(reason: string): ReasonProblem | null {
  const r = reason.trim();
  if (r === '') return 'required';
  if (r.length > REFUND_REASON_MAX) return 'tooLong';
  return null;
}

export function createRefunds(auth: Pick<Auth, 'send'>): RefundsService {
  return {
    async list(orderId) {
      const res = await auth.send<RefundList>({ method: 'GET', path: path(orderId, 'refunds') });
      return Array.isArray(res?.items) ? res.items : [];
    },
    async requests(orderId) {
      const res = await auth.send<RefundRequestList>({ method: 'GET', path: path(orderId, 'refund-requests') });
      return Array.isArray(res?.items) ? res.items : [];
    },
    async request(orderId, reason) {
      const problem = reasonProblem(reason);
      if (problem !== null) throw new ApiClientError('client', 'VALIDATION_ERROR', `reason ${problem}`, { statusCode: 400 });
      const body: RefundRequestBody = { reason: reason.trim() };
      return auth.send<RefundRequest>({ method: 'POST', path: path(orderId, 'refund-requests'), body });
    },
  };
}

/** What is left to refund, in fen. */
export function refundableFen(order: Pick<Order, 'amount' | 'refundedAmount'>): number {
  return Math.max(0, order.amount - (order.refundedAmount ?? 0));
}

export type RefundAvailability =
  /** a request can be made now */
  | 'allowed'
  /** not paid (or closed, failed…) */
  | 'notPaid'
  | 'fullyRefunded'
  /** one request is already waiting for the shop */
  | 'open';

/**
 * Whether the buyer may ask for a refund, as far as the client can tell (the server decides:
 * ORDER_NOT_REFUNDABLE / REFUND_REQUEST_OPEN are its words, and the page shows them).
 */
export function refundAvailability(order: Pick<Order, 'status' | 'amount' | 'refundedAmount'>, requests: readonly RefundRequest[]): RefundAvailability {
  if (order.status === 'REFUNDED') return 'fullyRefunded';
  if (order.status !== 'PAID' && order.status !== 'PARTIALLY_REFUNDED' && order.status !== 'REFUNDING') return 'notPaid';
  if (refundableFen(order) <= 0) return 'fullyRefunded';
  if (requests.some((r) => r.status === 'PENDING')) return 'open';
  return 'allowed';
}
