import type { AdminRole } from '../../../server/src/admin/guard.js';
import { apiClient, eventually } from '../../helpers/api.js';
import type { Stack } from '../../helpers/stack.js';

export const PASSWORD = 'correct horse battery staple';

export async function makeOperator(s: Stack, name: string, role: AdminRole, password = PASSWORD): Promise<string> {
  const op = await s.app.operators.create({ name, role, password });
  if (op === 'exists') throw new Error(`operator ${name} exists`);
  return op._id.toString();
}

export interface ConsoleClient {
  status: number;
  body: unknown;
  cookie?: string;
  setCookie: string[];
  csrf?: string;
  call<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; text: string; headers: Headers }>;
}

/** Signs in over HTTP as the browser does; `call` then sends the session cookie (and the CSRF token unless told otherwise). */
export async function consoleLogin(base: string, name: string, password = PASSWORD, headers: Record<string, string> = {}): Promise<ConsoleClient> {
  const res = await fetch(`${base}/admin/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name, password }),
  });
  const body = (await res.json()) as { csrfToken?: string };
  const setCookie = res.headers.getSetCookie();
  const cookie = setCookie.find((c) => c.startsWith('wxpay_admin='))?.split(';')[0];
  const client: ConsoleClient = {
    status: res.status,
    body,
    setCookie,
    ...(cookie ? { cookie } : {}),
    ...(body.csrfToken ? { csrf: body.csrfToken } : {}),
    async call(method, path, payload, extra = {}) {
      const r = await fetch(base + path, {
        method,
        headers: {
          ...(client.cookie ? { cookie: client.cookie } : {}),
          ...(client.csrf && method !== 'GET' ? { 'x-csrf-token': client.csrf } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...extra,
        },
        body: payload === undefined ? undefined : JSON.stringify(payload),
      });
      const text = await r.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: r.status, body: parsed as never, text, headers: r.headers };
    },
  };
  return client;
}

/** An order paid through the sandbox's cashier (the notify has arrived and the order is PAID). */
export async function paidOrder(s: Stack, items = [{ sku: 'TEA-OOLONG', quantity: 2 }]) {
  const { token, openid } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder(items)).body;
  const params = (await api.pay(order.id)).body;
  await s.cashier(params);
  const paid = await eventually(
    () => api.getOrder(order.id),
    (r) => r.body.status === 'PAID',
  );
  if (paid.body.status !== 'PAID') throw new Error(`order not paid: ${paid.body.status}`);
  return { order: paid.body, token, openid, api };
}
