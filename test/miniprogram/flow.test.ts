// The mini-program's services against the real server, MongoDB-compatible and
// Redis servers and the sandbox, over HTTP, through the wx shim: what a user in
// DevTools does, minus the screens.
import t, { type Test } from 'tap';
import type { CashierOutcome } from '../../shared/api.js';
import { createApi, type Api } from '../../miniprogram/services/api.js';
import { createStopper } from '../../miniprogram/services/payment.js';
import { depsFromWx } from '../../miniprogram/services/wx-adapter.js';
import { startStack } from '../helpers/stack.js';
import { createWxShim, type WxShim } from './helpers/wx-shim.js';

const stack = await startStack();
t.teardown(async () => {
  // The sandbox first: a notify still on its way keeps a keep-alive connection
  // to the app open, and the app's close then waits out Fastify's 72 s keepAliveTimeout.
  await stack.sandbox.close();
  await stack.close();
});

interface Client {
  api: Api;
  shim: WxShim;
  /** what the user picks in the simulated pay sheet */
  choose(outcome: CashierOutcome): void;
}

let openidSeq = 0;
function newClient(openid = `o_flow_${process.pid}_${++openidSeq}`): Client {
  let outcome: CashierOutcome = 'pay';
  const shim = createWxShim({
    mintCode: () => stack.mintCode(openid),
    sandboxBase: stack.sandboxBase,
    appId: stack.appid,
    outcome: () => outcome,
  });
  const deps = depsFromWx(shim);
  const api = createApi(
    {
      baseUrl: stack.apiBase,
      appId: stack.appid,
      allowSandbox: true,
      defaultSandboxBase: stack.sandboxBase,
      // real time here: short waits keep the file quick (the 1,1,2,2,3,5 s schedule is tested with a fake clock)
      pollScheduleSeconds: [0.1, 0.2, 0.3, 0.5],
      maxConfirmMs: 15_000,
    },
    { ...deps, chooseCashierOutcome: async () => outcome },
  );
  return { api, shim, choose: (o) => (outcome = o) };
}

async function newOrder(c: Client, quantity = 2) {
  const products = await c.api.products.list();
  const p = products[0];
  if (p === undefined) throw new Error('the server has no products');
  const order = await c.api.orders.create([{ sku: p.sku, quantity }]);
  return { order, product: p };
}

t.test('silent login, order at the server price, pay at the cashier → PAID', async (t) => {
  const c = newClient();
  const { order, product } = await newOrder(c, 2);
  t.equal(c.shim.logins, 1, 'one silent login');
  t.match(order, { status: 'CREATED', amount: product.price * 2 });
  const r = await c.api.payment.pay(order.id);
  t.match(r, { outcome: 'paid', errMsg: 'requestPayment:ok', order: { id: order.id, status: 'PAID' } });
  t.ok(r.order?.paidAt, 'paidAt set');
  t.ok(r.order?.transactionId, 'transactionId set');
  t.equal(c.shim.payments.length, 0, 'sandbox mode: the cashier, never wx.requestPayment');
  t.match(await c.api.orders.get(order.id), { status: 'PAID' });
  const list = await c.api.orders.list({ limit: 10 });
  t.ok(list.items.some((o) => o.id === order.id && o.status === 'PAID'));
  t.match(await c.api.payment.pay(order.id), { outcome: 'paid' }, 'paying a paid order again reports the truth, no second payment');
});

t.test('the wx.requestPayment path: exactly five params, paySign accepted by the cashier', async (t) => {
  const c0 = newClient();
  const deps = depsFromWx(c0.shim);
  // the same services, with the sandbox answer routed through wx.requestPayment (the shim pays at the cashier)
  const api = createApi(
    { baseUrl: stack.apiBase, appId: stack.appid, allowSandbox: true, pollScheduleSeconds: [0.1, 0.2], maxConfirmMs: 15_000 },
    { ...deps, simulatedPay: ({ timeStamp, nonceStr, package: pkg, signType, paySign }) => deps.requestPayment({ timeStamp, nonceStr, package: pkg, signType, paySign }) },
  );
  const products = await api.products.list();
  const order = await api.orders.create([{ sku: products[0]!.sku, quantity: 1 }]);
  t.match(await api.payment.pay(order.id), { outcome: 'paid', errMsg: 'requestPayment:ok' });
  t.equal(c0.shim.payments.length, 1);
  t.same(Object.keys(c0.shim.payments[0]!).sort(), ['nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
  t.type(c0.shim.payments[0]!.timeStamp, 'string');
});

t.test('cancel in the pay sheet: not completed, no polling, still payable', async (t) => {
  const c = newClient();
  const { order } = await newOrder(c, 1);
  c.choose('cancel');
  const before = c.shim.requests.length;
  const r = await c.api.payment.pay(order.id);
  t.match(r, { outcome: 'cancelled', retryable: true, errMsg: 'requestPayment:fail cancel' });
  const gets = c.shim.requests.slice(before).filter((q) => q.method === 'GET' && q.url.endsWith(`/api/orders/${order.id}`));
  t.equal(gets.length, 0, 'no status polling after a cancel');
  const now = await c.api.orders.get(order.id);
  t.ok(now.status === 'CREATED' || now.status === 'PAYING', `still payable (${now.status})`);
  c.choose('pay');
  t.match(await c.api.payment.pay(order.id), { outcome: 'paid' }, 'and paying again works');
});

t.test('a failure in the pay sheet: confirmed with the server as FAILED, never "paid"; the same order then pays', async (t) => {
  const c = newClient();
  const { order } = await newOrder(c, 1);
  c.choose('fail');
  const r = await c.api.payment.pay(order.id);
  t.match(r, { outcome: 'failed', retryable: true, order: { status: 'FAILED' } }, 'no money taken, payable again');
  t.match(r.errMsg, /^requestPayment:fail/);
  t.match(await c.api.orders.get(order.id), { status: 'FAILED' });
  c.choose('pay');
  t.match(await c.api.payment.pay(order.id), { outcome: 'paid', order: { id: order.id, status: 'PAID' } }, 'paid again, the same order');
});

t.test('notify dropped by WeChat: polling still reaches PAID (orderquery)', async (t) => {
  const c = newClient();
  const { order } = await newOrder(c, 1);
  await stack.faults({ notify: { action: 'drop', outTradeNo: order.outTradeNo } });
  const r = await c.api.payment.pay(order.id);
  t.match(r, { outcome: 'paid', order: { status: 'PAID' } });
});

t.test('a token the server no longer knows: one silent re-login, the request succeeds', async (t) => {
  const c = newClient();
  await c.api.products.list();
  await newOrder(c, 1);
  t.equal(c.shim.logins, 1);
  const key = 'wxpay.session';
  const stored = c.shim.storage.get(key) as { token: string; expiresAt: number };
  c.shim.storage.set(key, { ...stored, token: `revoked-${stored.token.slice(0, 8)}x` });
  const list = await c.api.orders.list({ limit: 5 });
  t.ok(list.items.length >= 1);
  t.equal(c.shim.logins, 2, 'one fresh login');
  t.not((c.shim.storage.get(key) as { token: string }).token, stored.token);
});

t.test("another user's order is not found; a pay in flight refuses a second", async (t) => {
  const alice = newClient();
  const bob = newClient();
  const { order } = await newOrder(alice, 1);
  t.match(await bob.api.orders.get(order.id).catch((e: unknown) => e), { kind: 'client', statusCode: 404 });
  t.match(await bob.api.payment.pay(order.id), { outcome: 'error', retryable: false });
  const first = alice.api.payment.pay(order.id);
  t.match(await alice.api.payment.pay(order.id), { outcome: 'busy' });
  t.match(await first, { outcome: 'paid' });
});

/** A new client's order whose payment WeChat will not confirm: notify dropped, orderquery failing. */
async function silencedOrder(t: Test) {
  const c = newClient();
  const { order } = await newOrder(c, 1);
  await stack.faults({
    notify: { action: 'drop', outTradeNo: order.outTradeNo },
    payApi: { action: 'SYSTEMERROR', api: 'orderquery', count: 10_000 },
  });
  t.teardown(() => stack.clearFaults());
  return { c, order };
}

t.test('WeChat silent (notify lost, orderquery failing): timeout, never "paid"; later it resolves', async (t) => {
  const { c, order } = await silencedOrder(t);
  const deps = depsFromWx(c.shim);
  const impatient = createApi(
    { baseUrl: stack.apiBase, appId: stack.appid, allowSandbox: true, defaultSandboxBase: stack.sandboxBase, pollScheduleSeconds: [0.1, 0.2], maxConfirmMs: 1500 },
    { ...deps, chooseCashierOutcome: async () => 'pay' },
  );
  const r = await impatient.payment.pay(order.id);
  t.match(r, { outcome: 'timeout', retryable: false, errMsg: 'requestPayment:ok' });
  t.notMatch(r.order, { status: 'PAID' });
  await stack.clearFaults();
  t.match(await c.api.payment.confirm(order.id), { outcome: 'paid' }, 'once WeChat answers again, the order shows PAID');
});

t.test('the page hides while confirming: polling stops at once, and resumes on show', async (t) => {
  const { c, order } = await silencedOrder(t);
  const stopper = createStopper();
  const r = await c.api.payment.pay(order.id, {
    signal: stopper.signal,
    onPhase: (p) => {
      if (p === 'confirming') stopper.stop();
    },
  });
  t.match(r, { outcome: 'stopped' });
  const polls = () => c.shim.requests.filter((q) => q.method === 'GET' && q.url.endsWith(`/api/orders/${order.id}`)).length;
  const after = polls();
  await new Promise((res) => setTimeout(res, 500));
  t.equal(polls(), after, 'nothing asked after the stop');
  await stack.clearFaults();
  t.match(await c.api.payment.confirm(order.id), { outcome: 'paid' });
});
