import type { CreateOrderRequest, Order, OrderItemInput, OrderList } from '../../shared/api.js';
import type { Auth } from './auth.js';
import { queryString } from './http.js';

export interface ListOrdersOptions {
  limit?: number;
  /** the previous page's nextCursor */
  before?: string;
}

export interface OrdersService {
  create(items: OrderItemInput[]): Promise<Order>;
  list(options?: ListOrdersOptions): Promise<OrderList>;
  get(id: string): Promise<Order>;
  cancel(id: string): Promise<Order>;
}

function orderPath(id: string): string {
  return `/api/orders/${encodeURIComponent(id)}`;
}

export function createOrders(auth: Pick<Auth, 'send'>): OrdersService {
  return {
    create(items) {
      const body: CreateOrderRequest = { items };
      return auth.send<Order>({ method: 'POST', path: '/api/orders', body });
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
