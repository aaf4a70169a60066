import type { Order, PayParams } from '../../shared/api.js';

/** A small JSON client for the server's HTTP API, as the mini-program or an outside tool uses it. */
export function apiClient(base: string, token?: string) {
  const call = async <T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json as T, text };
  };
  return {
    call,
    createOrder: (items: Array<{ sku: string; quantity: number }>) => call<Order>('POST', '/api/orders', { items }),
    getOrder: (id: string) => call<Order>('GET', `/api/orders/${id}`),
    pay: (id: string) => call<PayParams & { appId: string }>('POST', `/api/orders/${id}/pay`),
    cancel: (id: string) => call<Order>('POST', `/api/orders/${id}/cancel`),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` holds or the time is up; returns the last value either way. */
export async function eventually<T>(get: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let v = await get();
  while (!check(v) && Date.now() < until) {
    await sleep(50);
    v = await get();
  }
  return v;
}
