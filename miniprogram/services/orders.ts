import type { CreateOrderRequest, Order, OrderItemInput, OrderList } from '../../shared/api.js';
import type { Auth } from './auth.js';
import { queryString } from './http.js';

export interface ListOrdersOptions {
  limit?: number;
  /** the previous page's nextCursor */
  before?: string;
}

export interface CreateOrderOptions {
  /**
   * The same key for every attempt at one order (a retry after a timeout): the server then
   * answers with the order the first attempt made instead of creating a second one.
   */
  idempotencyKey?: string;
}

export interface OrdersService {
  create(items: OrderItemInput[], options?: CreateOrderOptions): Promise<Order>;
  list(options?: ListOrdersOptions): Promise<OrderList>;
  get(id: string): Promise<Order>;
  cancel(id: string): Promise<Order>;
}

function orderPath(id: string): string {
  return `/api/orders/${encodeURIComponent(id)}`;
}

export function createOrders(auth: Pick<Auth, 'send'>): OrdersService {
  return {
    create(items, options = {}) {
      const body: CreateOrderRequest = { items };
      const headers = options.idempotencyKey ? { 'Idempotency-Key': options.idempotencyKey } : undefined;
      return auth.send<Order>({ method: 'POST', path: '/api/orders', body, ...(headers ? { headers } : {}) });
    },
    async list(options = {}) {
      const path = `/api/orders${queryString({ limit: options.limit, before: options.before })}`;
      const res = await auth.send<OrderList>({ method: 'GET', path });
      const out: OrderList = { items: Array.isArray(res?.items) ? res.items : [] };
      if (typeof res?.nextCursor === 'string' && res.nextCursor !== '') out.nextCursor = res.nextCursor;
      return out;
    },
    get(id) {
      return auth.send<Order>({ method: 'GET', path: orderPath(id) });
    },
    cancel(id) {
      // an empty JSON object, not an empty body: wx.request sends Content-Type: application/json anyway
      return auth.send<Order>({ method: 'POST', path: `${orderPath(id)}/cancel`, body: {} });
    },
  };
}

/** A key for one checkout: unique enough per user (the server scopes keys to the user). */
export function newIdempotencyKey(now: number = Date.now(), random: () => number = Math.random): string {
  let tail = '';
  for (let i = 0; i < 12; i++) tail += Math.floor(random() * 36).toString(36);
  return `co-${now.toString(36)}-${tail}`;
}
