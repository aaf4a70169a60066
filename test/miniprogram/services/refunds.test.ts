// The buyer's refunds and refund requests (services/refunds.ts) against the fake server, and what
// the pages say of them (services/order-view.ts).
import t from 'tap';
import type { Order, RefundRequest } from '../../../shared/api.js';
import { setLocale } from '../../../miniprogram/i18n/index.js';
import { createApi } from '../../../miniprogram/services/api.js';
import { orderView, refundBlockedText, refundView, requestView, newestFirst } from '../../../miniprogram/services/order-view.js';
import { reasonProblem, refundAvailability, refundableFen } from '../../../miniprogram/services/refunds.js';
import { BASE, fakeClock, fakeRequestPayment, fakeRequestSubscribe, fakeServer, memoryStorage } from '../helpers/fakes.js';

function setup() {
  const server = fakeServer();
  const clock = fakeClock();
  const api = createApi(
    { baseUrl: BASE, appId: 'wxdemoappid', allowSandbox: false },
    {
      request: server.request,
      requestPayment: fakeRequestPayment().fn,
      requestSubscribeMessage: fakeRequestSubscribe().fn,
      login: server.login,
      storage: memoryStorage(),
      sleep: clock.sleep,
      now: clock.now,
    },
  );
  return { server, api };
}

const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

t.test('a paid order: a request with a reason is created PENDING; a second while it waits is REFUND_REQUEST_OPEN', async (t) => {
  const s = setup();
  s.server.paidOrder('p1');
  const created = await s.api.refunds.request('p1', '  不想要了  ');
  t.match(created, { orderId: 'p1', reason: '不想要了', status: 'PENDING' }, 'the reason is sent trimmed');
  t.same(s.server.seen.find((r) => r.method === 'POST' && r.path.endsWith('/refund-requests'))!.body, { reason: '不想要了' });
  t.match(await s.api.refunds.requests('p1'), [{ id: created.id, status: 'PENDING' }]);
  t.match(await rejection(s.api.refunds.request('p1', '再来一次')), { kind: 'client', statusCode: 409, code: 'REFUND_REQUEST_OPEN' });
  s.server.decide('p1', created.id, 'REJECTED', '已发货');
  t.match(await s.api.refunds.request('p1', '再来一次'), { status: 'PENDING' }, 'a new request once the last was decided');
});

t.test('refused before sending: an empty or too long reason', async (t) => {
  const s = setup();
  s.server.paidOrder('p1');
  for (const reason of ['', '   ', 'x'.repeat(201)]) {
    t.match(await rejection(s.api.refunds.request('p1', reason)), { kind: 'client', code: 'VALIDATION_ERROR' }, JSON.stringify(reason).slice(0, 20));
  }
  t.equal(s.server.count('POST', /refund-requests$/), 0, 'nothing sent');
  t.match(await s.api.refunds.request('p1', 'x'.repeat(200)), { status: 'PENDING' }, '200 characters is the limit, included');
  t.equal(reasonProblem(' '), 'required');
  t.equal(reasonProblem('退'.repeat(201)), 'tooLong');
  t.equal(reasonProblem('退'.repeat(200)), null);
});

t.test("the server's refusals come through: not refundable, someone else's order", async (t) => {
  const s = setup();
  s.server.order('unpaid');
  s.server.paidOrder('full', { status: 'REFUNDED', refundedAmount: 1250 });
  t.match(await rejection(s.api.refunds.request('unpaid', '不想要了')), { statusCode: 409, code: 'ORDER_NOT_REFUNDABLE' });
  t.match(await rejection(s.api.refunds.request('full', '不想要了')), { statusCode: 409, code: 'ORDER_NOT_REFUNDABLE' });
  t.match(await rejection(s.api.refunds.request('not-mine', '不想要了')), { statusCode: 404 });
  t.match(await rejection(s.api.refunds.list('not-mine')), { statusCode: 404 });
  t.match(await rejection(s.api.refunds.requests('not-mine')), { statusCode: 404 });
});

t.test('refunds list as the server has them', async (t) => {
  const s = setup();
  s.server.paidOrder('p1', { status: 'PARTIALLY_REFUNDED', refundedAmount: 250 });
  s.server.addRefund('p1', { id: 'r1', amount: 250, status: 'SUCCESS', successAt: new Date(200_000).toISOString() });
  s.server.addRefund('p1', { id: 'r2', amount: 300, status: 'PROCESSING' });
  t.match(await s.api.refunds.list('p1'), [{ id: 'r1', status: 'SUCCESS' }, { id: 'r2', status: 'PROCESSING' }]);
  await rejection(s.api.refunds.list('a/b?c'));
  t.equal(s.server.count('GET', '/api/orders/a%2Fb%3Fc/refunds'), 1, 'the id is sent encoded, never as a path of its own');
});

const order = (o: Partial<Order>): Order => ({
  id: 'o',
  outTradeNo: 'T1',
  amount: 1250,
  status: 'PAID',
  items: [{ sku: 'tea', name: '绿茶', price: 625, quantity: 2 }],
  createdAt: '2024-05-01T04:00:00.000Z',
  expiresAt: '2024-05-01T04:30:00.000Z',
  ...o,
});
const req = (status: RefundRequest['status'], createdAt = '2024-05-01T05:00:00.000Z'): RefundRequest => ({ id: `r-${createdAt}`, orderId: 'o', reason: 'x', status, createdAt });

t.test('whether a refund can be asked for', async (t) => {
  t.equal(refundAvailability(order({}), []), 'allowed');
  t.equal(refundAvailability(order({ status: 'PARTIALLY_REFUNDED', refundedAmount: 250 }), [req('APPROVED')]), 'allowed', 'some left, nothing waiting');
  t.equal(refundAvailability(order({}), [req('REJECTED'), req('PENDING')]), 'open');
  t.equal(refundAvailability(order({ status: 'REFUNDED', refundedAmount: 1250 }), []), 'fullyRefunded');
  t.equal(refundAvailability(order({ status: 'PARTIALLY_REFUNDED', refundedAmount: 1250 }), []), 'fullyRefunded', 'nothing left whatever the status says');
  for (const status of ['CREATED', 'PAYING', 'FAILED', 'CLOSED'] as const) t.equal(refundAvailability(order({ status }), []), 'notPaid', status);
  t.equal(refundableFen(order({ refundedAmount: 250 })), 1000);
  t.equal(refundableFen(order({ refundedAmount: 5000 })), 0);
});

t.test('what the detail page shows, in 简体中文 and in English', async (t) => {
  t.teardown(() => setLocale('zh-CN'));
  const paid = order({ status: 'PARTIALLY_REFUNDED', refundedAmount: 250, paidAt: '2024-05-01T04:01:00.000Z', transactionId: '4200000001' });
  const v = orderView(paid);
  t.match(v, {
    statusText: '部分退款',
    amountText: '¥12.50',
    refundedText: '¥2.50',
    transactionId: '4200000001',
    paidText: /^2024-05-01 \d\d:01$/,
    payable: false,
    lines: [{ name: '绿茶', quantityText: '× 2', subtotalText: '¥12.50' }],
  });
  t.match(orderView(order({ status: 'CREATED' })), { paidText: '', transactionId: '', refundedText: '', payable: true, payText: '去支付' });
  t.match(orderView(order({ status: 'FAILED' })), { statusText: '支付失败', statusNote: '未扣款，可重新支付', payText: '重新支付' });
  const refunds = [
    { id: 'a', amount: 250, status: 'SUCCESS' as const, reason: 'r', createdAt: '2024-05-01T05:00:00.000Z', successAt: '2024-05-01T05:10:00.000Z' },
    { id: 'b', amount: 100, status: 'CHANGE' as const, reason: 'r', createdAt: '2024-05-01T06:00:00.000Z' },
  ];
  t.match(refunds.map(refundView), [
    { statusText: '退款成功', amountText: '¥2.50', successText: /^到账于 / },
    { statusText: '退款异常，商家处理中', successText: '' },
  ]);
  t.match(requestView({ ...req('REJECTED'), decisionNote: '商品已使用' }), { statusText: '商家已拒绝', noteText: '商家说明：商品已使用', reasonText: '原因：x' });
  t.same(newestFirst(refunds).map((r) => r.id), ['b', 'a']);
  t.equal(refundBlockedText('fullyRefunded'), '该订单已全额退款');
  t.equal(refundBlockedText('allowed'), '');

  setLocale('en');
  t.match(orderView(paid), { statusText: 'Partly refunded', amountText: '¥12.50' });
  t.match(refundView(refunds[0]!), { statusText: 'Refunded', successText: /^Returned / });
  t.match(requestView(req('PENDING')), { statusText: 'Waiting for the shop', reasonText: 'Reason: x' });
  t.equal(refundBlockedText('open'), 'A refund request is already waiting for the shop');
});
