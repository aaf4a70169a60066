// In-test fakes of the mini-program's injected dependencies: a clock whose
// sleep advances time at once, a memory storage, and a tiny fake API server.
import type { Order, OrderStatus, PayParams, Refund, RefundRequest } from '../../../shared/api.js';
import type { Storage } from '../../../miniprogram/services/auth.js';
import type { HttpRequestOptions, HttpResponse, RequestFn } from '../../../miniprogram/services/http.js';
import type { PaymentCallbackResult, RequestPaymentParams } from '../../../miniprogram/services/payment.js';

export const BASE = 'http://api.test';

export function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
    async sleep(ms: number) {
      sleeps.push(ms);
      t += ms;
      await Promise.resolve();
    },
  };
}

export function memoryStorage(): Storage & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: (k) => map.get(k),
    set: (k, v) => void map.set(k, structuredClone(v)),
    remove: (k) => void map.delete(k),
  };
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}
export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface Seen {
  method: string;
  path: string;
  token: string | undefined;
  body: unknown;
}

type Override = (req: Seen) => HttpResponse | Promise<HttpResponse | 'network' | undefined> | 'network' | undefined;

/**
 * A fake of the server's HTTP API, enough for the client's logic: sessions,
 * orders with a status the test scripts, and pay params.
 */
export function fakeServer() {
  const seen: Seen[] = [];
  const tokens = new Set<string>();
  let tokenSeq = 0;
  let codeSeq = 0;
  const orders = new Map<string, Order>();
  /** statuses returned by successive GETs of an order (the last one repeats) */
  const statusScript = new Map<string, OrderStatus[]>();
  let payParams: Record<string, unknown> = {
    timeStamp: '1700000000',
    nonceStr: 'n0nce',
    package: 'prepay_id=wx201410272009395522657a690389285100',
    signType: 'HMAC-SHA256',
    paySign: 'ABCDEF0123',
  };
  const overrides: Override[] = [];
  const refunds = new Map<string, Refund[]>();
  const requests = new Map<string, RefundRequest[]>();
  let requestSeq = 0;

  function order(id: string, status: OrderStatus = 'CREATED'): Order {
    const o: Order = {
      id,
      outTradeNo: `T${id}`,
      amount: 1250,
      status,
      items: [{ sku: 'tea', name: 'Tea', price: 1250, quantity: 1 }],
      createdAt: new Date(0).toISOString(),
      expiresAt: new Date(3_600_000).toISOString(),
    };
    orders.set(id, o);
    return o;
  }

  const json = (statusCode: number, data: unknown): HttpResponse => ({ statusCode, data });
  const err = (statusCode: number, code: string) => json(statusCode, { statusCode, code, error: 'x', message: code });

  async function handle(req: Seen): Promise<HttpResponse> {
    for (const o of overrides) {
      const r = await o(req);
      if (r === 'network') throw { errMsg: 'request:fail timeout' };
      if (r !== undefined) return r;
    }
    if (req.method === 'POST' && req.path === '/api/session') {
      const code = (req.body as { code?: string } | undefined)?.code;
      if (typeof code !== 'string' || !code.startsWith('code-')) return err(400, 'INVALID_CODE');
      const token = `tok-${++tokenSeq}`;
      tokens.add(token);
      return json(200, { token, expiresIn: 7200 });
    }
    if (req.token === undefined || !tokens.has(req.token)) return err(401, 'UNAUTHORIZED');
    if (req.method === 'GET' && req.path === '/api/products') {
      return json(200, { items: [{ sku: 'tea', name: 'Tea', description: 'green', price: 1250 }] });
    }
    if (req.method === 'GET' && /^\/api\/orders(\?.*)?$/.test(req.path)) {
      const items = [...orders.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).map((o) => ({ ...o }));
      return json(200, { items });
    }
    const r = /^\/api\/orders\/([^/?]+)\/(refunds|refund-requests)$/.exec(req.path);
    if (r !== null) {
      const o = orders.get(decodeURIComponent(r[1]!));
      if (o === undefined) return err(404, 'NOT_FOUND');
      if (req.method === 'GET' && r[2] === 'refunds') return json(200, { items: structuredClone(refunds.get(o.id) ?? []) });
      if (req.method === 'GET') return json(200, { items: structuredClone(requests.get(o.id) ?? []) });
      if (req.method === 'POST') {
        const reason = (req.body as { reason?: unknown } | undefined)?.reason;
        if (typeof reason !== 'string' || reason.length < 1 || reason.length > 200) return err(400, 'VALIDATION_ERROR');
        const paid = o.status === 'PAID' || o.status === 'PARTIALLY_REFUNDED';
        if (!paid || (o.refundedAmount ?? 0) >= o.amount) return err(409, 'ORDER_NOT_REFUNDABLE');
        const list = requests.get(o.id) ?? [];
        if (list.some((x) => x.status === 'PENDING')) return err(409, 'REFUND_REQUEST_OPEN');
        const created: RefundRequest = {
          id: `rr${++requestSeq}`,
          orderId: o.id,
          reason,
          status: 'PENDING',
          createdAt: new Date(Date.UTC(2024, 4, 1, 4, requestSeq)).toISOString(),
        };
        requests.set(o.id, [...list, created]);
        return json(201, structuredClone(created));
      }
    }
    const m = /^\/api\/orders\/([^/?]+)(\/pay|\/cancel)?$/.exec(req.path);
    if (m !== null) {
      const o = orders.get(decodeURIComponent(m[1]!));
      if (o === undefined) return err(404, 'ORDER_NOT_FOUND');
      if (req.method === 'GET' && m[2] === undefined) {
        const script = statusScript.get(o.id);
        if (script !== undefined && script.length > 0) o.status = script.length > 1 ? script.shift()! : script[0]!;
        return json(200, { ...o });
      }
      if (req.method === 'POST' && m[2] === '/pay') {
        if (o.status === 'PAID') return err(409, 'ORDER_PAID');
        o.status = 'PAYING';
        return json(200, { ...payParams });
      }
      if (req.method === 'POST' && m[2] === '/cancel') {
        o.status = 'CLOSED';
        return json(200, { ...o });
      }
    }
    return err(404, 'NOT_FOUND');
  }

  const request: RequestFn = async (o: HttpRequestOptions) => {
    if (!o.url.startsWith(BASE)) throw { errMsg: 'request:fail unknown host' };
    const auth = o.header.Authorization;
    const req: Seen = {
      method: o.method,
      path: o.url.slice(BASE.length),
      token: auth?.startsWith('Bearer ') ? auth.slice(7) : undefined,
      body: o.data,
    };
    seen.push(req);
    return handle(req);
  };

  return {
    seen,
    tokens,
    orders,
    request,
    order,
    /** GETs of this order answer these statuses in turn, the last one forever */
    script(id: string, statuses: OrderStatus[]) {
      statusScript.set(id, [...statuses]);
    },
    setPayParams(p: Partial<PayParams> & Record<string, unknown>) {
      payParams = { ...payParams, ...p };
    },
    /** answers matching requests first (undefined: not this one); returns a function that removes it */
    override(o: Override) {
      overrides.push(o);
      return () => {
        const i = overrides.indexOf(o);
        if (i >= 0) overrides.splice(i, 1);
      };
    },
    /** a paid order, as the server returns one (paidAt, transactionId) */
    paidOrder(id: string, extra: Partial<Order> = {}): Order {
      const o = order(id, 'PAID');
      Object.assign(o, { paidAt: new Date(60_000).toISOString(), transactionId: `4200000000${id}`, ...extra });
      return o;
    },
    refunds,
    requests,
    /** a refund WeChat is working on (or done with) */
    addRefund(orderId: string, refund: Partial<Refund> & Pick<Refund, 'id' | 'amount' | 'status'>) {
      const full: Refund = { reason: 'buyer request', createdAt: new Date(120_000).toISOString(), ...refund };
      refunds.set(orderId, [...(refunds.get(orderId) ?? []), full]);
      return full;
    },
    /** the shop decides a request (an operator in the console) */
    decide(orderId: string, requestId: string, status: 'APPROVED' | 'REJECTED', decisionNote?: string) {
      const rq = (requests.get(orderId) ?? []).find((x) => x.id === requestId);
      if (rq === undefined) throw new Error(`no request ${requestId}`);
      Object.assign(rq, { status, decidedAt: new Date(180_000).toISOString(), ...(decisionNote !== undefined ? { decisionNote } : {}) });
    },
    revokeAll() {
      tokens.clear();
    },
    login: async () => `code-${++codeSeq}`,
    count(method: string, path: string | RegExp) {
      return seen.filter((s) => s.method === method && (typeof path === 'string' ? s.path === path : path.test(s.path))).length;
    },
  };
}

/** A requestPayment fake that records its argument and answers errMsg. */
export function fakeRequestPayment(errMsg = 'requestPayment:ok') {
  const calls: RequestPaymentParams[] = [];
  let answer: () => Promise<PaymentCallbackResult> | PaymentCallbackResult = () => ({ errMsg });
  const fn = async (p: RequestPaymentParams) => {
    calls.push(p);
    return answer();
  };
  return {
    calls,
    fn,
    answerWith(a: () => Promise<PaymentCallbackResult> | PaymentCallbackResult) {
      answer = a;
    },
  };
}

/** A wx.requestSubscribeMessage fake: records each call's template ids, answers as scripted (default reject). */
export function fakeRequestSubscribe(answer: (templateId: string) => string | { errCode: number } = () => 'reject') {
  const calls: string[][] = [];
  const fn = async (templateIds: string[]): Promise<Record<string, unknown>> => {
    calls.push([...templateIds]);
    const out: Record<string, unknown> = { errMsg: 'requestSubscribeMessage:ok' };
    for (const id of templateIds) {
      const a = answer(id);
      if (typeof a !== 'string') throw { errCode: a.errCode, errMsg: `requestSubscribeMessage:fail ${a.errCode}` };
      out[id] = a;
    }
    return out;
  };
  return { calls, fn };
}
