import type { Order, PayParams, SandboxCashierResponse, SessionResponse } from '../shared/api.js';
import type { Stack } from '../test/helpers/stack.js';
import { json, request, userAddress } from './http.js';
import { nowMs } from './stats.js';

export const CART = [
  { sku: 'COFFEE-LATTE', quantity: 2 },
  { sku: 'CAKE-CHEESE', quantity: 1 },
];

/** Milliseconds spent in each step of one user's purchase. */
export interface FlowTimings {
  login: number;
  createOrder: number;
  pay: number;
  cashier: number;
  /** from the cashier's requestPayment:ok until GET /api/orders/:id says PAID */
  paidVisible: number;
  /** all of the above, end to end */
  total: number;
  /** GETs it took to see PAID */
  polls: number;
}

export interface FlowOptions {
  /** loopback source-address group (each user gets 127.group.x.y) */
  group: number;
  /** delay between status polls, ms */
  pollMs: number;
  /** give up waiting for PAID after this long, ms */
  paidTimeoutMs: number;
  /** stop after the cashier (the storm setup pays but never polls) */
  skipPoll?: boolean;
}

/**
 * One user's purchase, as the mini-program does it: wx.login code → POST /api/session →
 * POST /api/orders → POST /api/orders/:id/pay → the cashier pays (sandbox, which then notifies the
 * server) → GET /api/orders/:id until PAID.
 */
export async function purchase(s: Stack, index: number, opts: FlowOptions): Promise<{ order: Order; t: FlowTimings }> {
  const ip = userAddress(opts.group, index);
  const start = nowMs();

  const code = await json<{ code: string }>(s.sandboxBase + '/sandbox/login-codes', { method: 'POST', body: { appid: s.appid } });
  const session = await json<SessionResponse>(s.apiBase + '/api/session', { method: 'POST', body: { code: code.body.code }, localAddress: ip });
  const token = session.body.token;
  const tLogin = nowMs();

  const created = await json<Order>(s.apiBase + '/api/orders', { method: 'POST', body: { items: CART }, token, localAddress: ip, expect: 201 });
  const order = created.body;
  const tOrder = nowMs();

  const pay = await json<PayParams & { appId: string }>(s.apiBase + `/api/orders/${order.id}/pay`, { method: 'POST', token, localAddress: ip });
  const tPay = nowMs();

  const { sandbox: _s, sandboxBase: _b, ...five } = pay.body;
  const cashier = await json<SandboxCashierResponse>(s.sandboxBase + '/sandbox/cashier', {
    method: 'POST',
    body: { ...five, appId: pay.body.appId ?? s.appid, outcome: 'pay' },
  });
  if (cashier.body.errMsg !== 'requestPayment:ok') throw new Error(`cashier: ${cashier.body.errMsg}`);
  const tCashier = nowMs();

  let polls = 0;
  let tPaid = tCashier;
  if (!opts.skipPoll) {
    const until = tCashier + opts.paidTimeoutMs;
    for (;;) {
      polls++;
      const res = await request(s.apiBase + `/api/orders/${order.id}`, { headers: { authorization: `Bearer ${token}` }, localAddress: ip });
      if (res.status !== 200) throw new Error(`GET order: HTTP ${res.status} ${res.text.slice(0, 200)}`);
      const status = (JSON.parse(res.text) as Order).status;
      tPaid = nowMs();
      if (status === 'PAID') break;
      if (tPaid > until) throw new Error(`order ${order.outTradeNo} not PAID after ${opts.paidTimeoutMs} ms (status ${status})`);
      await new Promise((r) => setTimeout(r, opts.pollMs));
    }
  }

  return {
    order,
    t: {
      login: tLogin - start,
      createOrder: tOrder - tLogin,
      pay: tPay - tOrder,
      cashier: tCashier - tPay,
      paidVisible: tPaid - tCashier,
      total: tPaid - start,
      polls,
    },
  };
}
