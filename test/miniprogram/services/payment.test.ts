import t from 'tap';
import { createApi } from '../../../miniprogram/services/api.js';
import {
  CANCEL_ERR_MSG,
  createStopper,
  type PayPhase,
  type SimulatedPayParams,
} from '../../../miniprogram/services/payment.js';
import { BASE, deferred, fakeClock, fakeRequestPayment, fakeRequestSubscribe, fakeServer, memoryStorage } from '../helpers/fakes.js';

function setup(opts: { sleep?: (ms: number) => Promise<void>; failedGraceMs?: number; maxConfirmMs?: number; allowSandbox?: boolean } = {}) {
  const server = fakeServer();
  const clock = fakeClock();
  const rp = fakeRequestPayment();
  const simulated: SimulatedPayParams[] = [];
  const api = createApi(
    {
      baseUrl: BASE,
      appId: 'wxdemoappid',
      allowSandbox: opts.allowSandbox ?? true,
      ...(opts.failedGraceMs !== undefined ? { failedGraceMs: opts.failedGraceMs } : {}),
      ...(opts.maxConfirmMs !== undefined ? { maxConfirmMs: opts.maxConfirmMs } : {}),
    },
    {
      request: server.request,
      requestPayment: rp.fn,
      requestSubscribeMessage: fakeRequestSubscribe().fn,
      login: server.login,
      storage: memoryStorage(),
      sleep: opts.sleep ?? clock.sleep,
      now: clock.now,
      simulatedPay: async (p) => {
        simulated.push(p);
        return { errMsg: 'requestPayment:ok' };
      },
    },
  );
  const o = server.order('o1');
  return { server, clock, rp, api, simulated, order: o };
}

const GET_O1 = '/api/orders/o1';
const PAY_O1 = '/api/orders/o1/pay';

t.test('success → confirming → polls until the server says PAID', async (t) => {
  const s = setup();
  s.server.script('o1', ['PAYING', 'PAYING', 'PAID']);
  const phases: PayPhase[] = [];
  const r = await s.api.payment.pay('o1', { onPhase: (p) => phases.push(p) });
  t.match(r, { outcome: 'paid', order: { id: 'o1', status: 'PAID' }, errMsg: 'requestPayment:ok' });
  t.same(phases, ['requesting', 'paying', 'confirming']);
  t.equal(s.server.count('GET', GET_O1), 3);
  t.same(s.clock.sleeps, [1000, 1000], 'backoff starts at 1 s, 1 s');
  t.equal(s.server.count('POST', PAY_O1), 1);
  t.same(s.server.seen.find((r) => r.path === PAY_O1)!.body, {});
});

t.test('requestPayment gets exactly the five params, timeStamp as a string', async (t) => {
  const s = setup();
  s.server.setPayParams({ timeStamp: 1700000123 as unknown as string, extra: 'x', appId: 'wxdemoappid' });
  s.server.script('o1', ['PAID']);
  await s.api.payment.pay('o1');
  t.equal(s.rp.calls.length, 1);
  const p = s.rp.calls[0]!;
  t.same(Object.keys(p).sort(), ['nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
  t.same(p, {
    timeStamp: '1700000123',
    nonceStr: 'n0nce',
    package: 'prepay_id=wx201410272009395522657a690389285100',
    signType: 'HMAC-SHA256',
    paySign: 'ABCDEF0123',
  });
  t.type(p.timeStamp, 'string');
  t.equal(s.simulated.length, 0);
});

t.test('a success from requestPayment is not "paid" while the server says otherwise', async (t) => {
  const s = setup();
  s.server.script('o1', ['PAYING']);
  const r = await s.api.payment.pay('o1');
  t.equal(r.outcome, 'timeout');
  t.not(r.outcome, 'paid');
  t.match(r.order, { status: 'PAYING' });
});

t.test('timeout: backoff 1,1,2,2,3,5,5… s, about a minute at most', async (t) => {
  const s = setup();
  s.server.script('o1', ['PAYING']);
  const start = s.clock.now();
  const r = await s.api.payment.pay('o1');
  t.equal(r.outcome, 'timeout');
  t.equal(r.retryable, false, '"do not pay again"');
  t.same(s.clock.sleeps.slice(0, 8), [1000, 1000, 2000, 2000, 3000, 5000, 5000, 5000]);
  const total = s.clock.sleeps.reduce((a, b) => a + b, 0);
  t.ok(total <= 60_000 && total >= 50_000, `waited ${total} ms in all`);
  t.ok(s.clock.now() - start <= 60_000);
  t.equal(s.server.count('GET', GET_O1), s.clock.sleeps.length + 1, 'one poll per wait, plus the first');
});

t.test('fail cancel → cancelled, no polling, still payable', async (t) => {
  const s = setup();
  s.rp.answerWith(() => ({ errMsg: CANCEL_ERR_MSG }));
  const r = await s.api.payment.pay('o1');
  t.match(r, { outcome: 'cancelled', retryable: true, errMsg: CANCEL_ERR_MSG });
  t.equal(s.server.count('GET', GET_O1), 0);
  t.same(s.clock.sleeps, []);
  // and it can be paid again
  s.rp.answerWith(() => ({ errMsg: 'requestPayment:ok' }));
  s.server.script('o1', ['PAID']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid' });
});

t.test('another failure → confirming: the server decides (PAID, FAILED)', async (t) => {
  const s = setup();
  s.rp.answerWith(() => ({ errMsg: 'requestPayment:fail (detail message)' }));
  s.server.script('o1', ['PAYING', 'PAID']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid', errMsg: 'requestPayment:fail (detail message)' });
  t.equal(s.server.count('GET', GET_O1), 2);

  const s2 = setup();
  s2.rp.answerWith(() => ({ errMsg: 'requestPayment:fail system error' }));
  s2.server.script('o1', ['PAYING', 'FAILED']);
  t.match(await s2.api.payment.pay('o1'), { outcome: 'failed', order: { status: 'FAILED' }, retryable: true });

  const s3 = setup();
  s3.rp.answerWith(() => {
    throw new Error('boom');
  });
  s3.server.script('o1', ['CLOSED']);
  t.match(await s3.api.payment.pay('o1'), { outcome: 'closed', errMsg: /requestPayment:fail boom/ });
});

t.test('FAILED is pending, then payable: asked about for failedGraceMs (6 s), then "failed", retryable', async (t) => {
  const s = setup();
  s.rp.answerWith(() => ({ errMsg: 'requestPayment:fail system error' }));
  s.server.script('o1', ['PAYING', 'FAILED']);
  const r = await s.api.payment.pay('o1');
  t.match(r, { outcome: 'failed', retryable: true, order: { status: 'FAILED' } });
  // FAILED first seen at 1 s; asked again at 2, 4, 6 and 9 s, which is 8 s ≥ 6 s after: then final
  t.same(s.clock.sleeps, [1000, 1000, 2000, 2000, 3000]);
  t.equal(s.server.count('GET', GET_O1), 6, 'the server was asked again through the grace');
  // and it is paid again, the same order
  s.rp.answerWith(() => ({ errMsg: 'requestPayment:ok' }));
  s.server.script('o1', ['PAID']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid' });
  t.equal(s.server.count('POST', PAY_O1), 2);
});

t.test('paid again after a failure: the stale FAILED does not end the poll before PAID arrives', async (t) => {
  const s = setup();
  s.server.order('o1', 'FAILED');
  // the server still shows the last attempt's FAILED until the new payment's notify lands
  s.server.script('o1', ['FAILED', 'FAILED', 'FAILED', 'PAID']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid', order: { status: 'PAID' } });
  t.equal(s.server.count('GET', GET_O1), 4);
});

t.test('FAILED, then another answer, then FAILED: the grace starts again', async (t) => {
  const s = setup();
  s.server.script('o1', ['FAILED', 'FAILED', 'PAYING', 'FAILED']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'failed', retryable: true });
  // FAILED at 0 and 1 s, PAYING at 2 s, FAILED again from 4 s: still asked at 6 and 9 s, final at 14 s
  t.same(s.clock.sleeps, [1000, 1000, 2000, 2000, 3000, 5000]);
});

t.test('failedGraceMs 0: the first FAILED is final; out of time on FAILED is "failed", not "do not pay again"', async (t) => {
  const s = setup({ failedGraceMs: 0 });
  s.server.script('o1', ['PAYING', 'FAILED']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'failed', retryable: true });
  t.equal(s.server.count('GET', GET_O1), 2);

  const s2 = setup({ failedGraceMs: 60_000, maxConfirmMs: 5_000 });
  s2.server.script('o1', ['PAYING', 'FAILED']);
  const r = await s2.api.payment.pay('o1');
  t.match(r, { outcome: 'failed', retryable: true, order: { status: 'FAILED' } });
  t.not(r.outcome, 'timeout');
});

t.test('a refusal on pay for an order that is FAILED is shown as the refusal, not as a final "failed"', async (t) => {
  const s = setup();
  s.order.status = 'FAILED';
  s.server.override((r) => (r.path === PAY_O1 ? { statusCode: 409, data: { code: 'ORDER_EXPIRED' } } : undefined));
  t.match(await s.api.payment.pay('o1'), { outcome: 'error', error: { code: 'ORDER_EXPIRED' }, order: { status: 'FAILED' } });
});

t.test('network error or 5xx on pay → error, retryable, no pay sheet', async (t) => {
  const s = setup();
  s.server.override((r) => (r.path === PAY_O1 ? 'network' : undefined));
  const r = await s.api.payment.pay('o1');
  t.match(r, { outcome: 'error', retryable: true, error: { kind: 'network' } });
  t.equal(s.rp.calls.length, 0);

  const s2 = setup();
  let fail = true;
  s2.server.override((r) => (r.path === PAY_O1 && fail ? { statusCode: 502, data: 'Bad Gateway' } : undefined));
  t.match(await s2.api.payment.pay('o1'), { outcome: 'error', retryable: true, error: { kind: 'server', statusCode: 502 } });
  t.equal(s2.rp.calls.length, 0);
  fail = false;
  s2.server.script('o1', ['PAID']);
  t.match(await s2.api.payment.pay('o1'), { outcome: 'paid' }, 'retry works');
});

t.test('bad pay params from the server → error, no pay sheet', async (t) => {
  const s = setup();
  s.server.setPayParams({ paySign: '' });
  t.match(await s.api.payment.pay('o1'), { outcome: 'error', error: { code: 'BAD_PAY_PARAMS' } });
  t.equal(s.rp.calls.length, 0);
});

t.test('a refusal (4xx) on pay looks at the order: already PAID is paid', async (t) => {
  const s = setup();
  s.order.status = 'PAID';
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid', retryable: false });
  t.equal(s.rp.calls.length, 0);
  const s2 = setup();
  s2.server.override((r) => (r.path === PAY_O1 ? { statusCode: 409, data: { code: 'ORDER_EXPIRED' } } : undefined));
  t.match(await s2.api.payment.pay('o1'), { outcome: 'error', retryable: false, error: { kind: 'client', code: 'ORDER_EXPIRED' } });
});

t.test('network errors and 5xx while polling are ridden out', async (t) => {
  const s = setup();
  let n = 0;
  s.server.override((r) => {
    if (r.method !== 'GET' || r.path !== GET_O1) return undefined;
    n++;
    if (n === 1) return 'network';
    if (n === 2) return { statusCode: 500, data: { code: 'INTERNAL' } };
    return undefined;
  });
  s.server.script('o1', ['PAID']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid' });
  t.equal(n, 3);
});

t.test('a 404 while polling ends with error', async (t) => {
  const s = setup();
  s.server.override((r) => (r.method === 'GET' && r.path === GET_O1 ? { statusCode: 404, data: { code: 'ORDER_NOT_FOUND' } } : undefined));
  t.match(await s.api.payment.pay('o1'), { outcome: 'error', error: { code: 'ORDER_NOT_FOUND' } });
  t.equal(s.server.count('GET', GET_O1), 1);
});

t.test('a 401 during pay logs in again silently', async (t) => {
  const s = setup();
  await s.api.auth.token();
  s.server.revokeAll();
  s.server.script('o1', ['PAID']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid' });
  t.equal(s.server.count('POST', '/api/session'), 2);
});

t.test('stop on hide: polling stops at once and nothing more is asked', async (t) => {
  // a sleep that only a stop can cut short: time does not pass by itself here
  const sleeping = deferred<void>();
  const s = setup({ sleep: () => sleeping.promise });
  s.server.script('o1', ['PAYING']);
  const stopper = createStopper();
  const p = s.api.payment.pay('o1', { signal: stopper.signal });
  // wait until the first poll went out and the loop is asleep
  while (s.server.count('GET', GET_O1) < 1) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.ok(s.api.payment.isBusy('o1'));
  stopper.stop();
  const r = await p;
  t.match(r, { outcome: 'stopped', order: { status: 'PAYING' } });
  sleeping.resolve();
  await new Promise((r) => setImmediate(r));
  t.equal(s.server.count('GET', GET_O1), 1, 'no poll after the stop');
  t.notOk(s.api.payment.isBusy('o1'));
});

t.test('a page already gone before the pay sheet: no pay sheet', async (t) => {
  const s = setup();
  const stopper = createStopper();
  stopper.stop();
  t.match(await s.api.payment.pay('o1', { signal: stopper.signal }), { outcome: 'stopped' });
  t.equal(s.rp.calls.length, 0);
  t.equal(s.server.count('POST', PAY_O1), 0);
});

t.test('a second pay while one is in flight is refused; nothing is double-submitted', async (t) => {
  const s = setup();
  const sheet = deferred<{ errMsg: string }>();
  s.rp.answerWith(() => sheet.promise);
  s.server.script('o1', ['PAID']);
  const first = s.api.payment.pay('o1');
  const second = await s.api.payment.pay('o1');
  t.match(second, { outcome: 'busy', retryable: false });
  t.match(await s.api.payment.launch('o1'), { outcome: 'busy' });
  s.server.order('o2');
  t.match(await s.api.payment.pay('o2'), { outcome: 'busy' }, 'one pay sheet at a time');
  t.ok(s.api.payment.isBusy());
  sheet.resolve({ errMsg: 'requestPayment:ok' });
  t.match(await first, { outcome: 'paid' });
  t.equal(s.server.count('POST', PAY_O1), 1);
  t.equal(s.rp.calls.length, 1);
  t.notOk(s.api.payment.isBusy());
  s.server.script('o2', ['PAID']);
  t.match(await s.api.payment.pay('o2'), { outcome: 'paid' }, 'free again once settled');
});

t.test('launch then confirm, as the pages do it', async (t) => {
  const s = setup();
  const l = await s.api.payment.launch('o1');
  t.match(l, { outcome: 'confirming', errMsg: 'requestPayment:ok' });
  t.equal(s.server.count('GET', GET_O1), 0, 'launch does not poll');
  s.server.script('o1', ['PAYING', 'PAID']);
  const c = s.api.payment.confirm('o1');
  t.match(await s.api.payment.launch('o1'), { outcome: 'busy' }, 'no new pay while this order is confirming');
  t.match(await c, { outcome: 'paid' });
});

t.test('sandbox: the simulated cashier, never wx.requestPayment', async (t) => {
  const s = setup();
  s.server.setPayParams({ sandbox: true, sandboxBase: 'http://sandbox.test:9' });
  s.server.script('o1', ['PAID']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid' });
  t.equal(s.rp.calls.length, 0);
  t.same(s.simulated, [
    {
      timeStamp: '1700000000',
      nonceStr: 'n0nce',
      package: 'prepay_id=wx201410272009395522657a690389285100',
      signType: 'HMAC-SHA256',
      paySign: 'ABCDEF0123',
      appId: 'wxdemoappid',
      sandboxBase: 'http://sandbox.test:9',
    },
  ]);
});

t.test('sandbox without an address and no default → error, no payment', async (t) => {
  const s = setup();
  s.server.setPayParams({ sandbox: true });
  t.match(await s.api.payment.pay('o1'), { outcome: 'error', error: { code: 'BAD_PAY_PARAMS' } });
  t.equal(s.simulated.length + s.rp.calls.length, 0);
});

t.test('a build without the sandbox (trial, release) never pays a sandbox answer: refused, nothing shown', async (t) => {
  const s = setup({ allowSandbox: false });
  s.server.setPayParams({ sandbox: true, sandboxBase: 'http://sandbox.test:9' });
  const r = await s.api.payment.pay('o1');
  t.match(r, { outcome: 'error', retryable: false, error: { kind: 'client', code: 'SANDBOX_NOT_ALLOWED' } });
  t.equal(s.simulated.length, 0, 'no simulated cashier');
  t.equal(s.rp.calls.length, 0, 'and no wx.requestPayment with params WeChat never issued');
  t.equal(s.server.count('GET', GET_O1), 0, 'nothing to confirm');
  s.server.setPayParams({ sandbox: false });
  s.server.script('o1', ['PAID']);
  t.match(await s.api.payment.pay('o1'), { outcome: 'paid' }, 'real pay params still pay');
  t.equal(s.rp.calls.length, 1);
});
