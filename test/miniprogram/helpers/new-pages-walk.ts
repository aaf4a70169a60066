// The new pages walked as a buyer would, in one language: My orders (empty, then full, pull to
// refresh), the order detail (items, amount, status in words, payment time, transaction id, refunds
// and requests), the refund request (reason, one tap, its state as the server reports it, the
// refusals), the subscribe ask before paying, the loading and network-error states. Against the
// fake server (test/miniprogram/helpers/fakes.ts, which speaks the lead's refunds contract), so it
// runs before the server has those routes; pages/new-pages.zh.test.ts and pages/new-pages.en.test.ts run it.
import t from 'tap';
import type { Order } from '../../../shared/api.js';
import { develop, SANDBOX_PAID_TEMPLATE_ID } from '../../../miniprogram/config.js';
import { catalogs, type Locale, type MessageKey } from '../../../miniprogram/i18n/index.js';
import { BASE, deferred, fakeServer } from './fakes.js';
import { installPageHarness, type PageHandle } from './page-harness.js';

/** What a buyer of that language reads, spelled out (the walk also checks every label against the catalog). */
export interface Spot {
  language: string;
  locale: Locale;
  ordersTitle: string;
  detailTitle: string;
  refundTitle: string;
  paid: string;
  refundButton: string;
  refundSuccess: string;
  waiting: string;
  notFound: string;
  offline: string;
}

export async function walkNewPages(spot: Spot): Promise<void> {
  const m = catalogs[spot.locale];
  const L = (k: MessageKey) => m[k];
  const server = fakeServer();

  // a develop build against a server of its own, without the sandbox: real wx.login, wx.requestPayment
  // and wx.requestSubscribeMessage (the harness's)
  develop.apiBase = BASE;
  develop.sandbox.enabled = false;
  develop.pollScheduleSeconds = [0.01];
  develop.pageSize = 10;
  develop.subscribe.paidTemplateId = SANDBOX_PAID_TEMPLATE_ID;

  const h = installPageHarness({
    language: spot.language,
    mintCode: server.login,
    request: server.request,
    subscribe: () => 'reject',
  });

  const loaded = async (p: PageHandle) => {
    await h.waitFor(`${p.route} loaded`, () => p.data.loading === false);
    await h.settle();
    return p;
  };
  const open = async (url: string) => {
    (h.wx.navigateTo as (o: { url: string }) => void)({ url });
    await h.settle();
    return loaded(h.current());
  };

  t.test(`${spot.language}: My orders, empty, then pulled down to a full list`, async (t) => {
    const goods = await loaded(await h.launch());
    t.equal(goods.title, L('goods.title'));
    t.match(goods.text(), L('goods.shop'));
    t.ok(goods.tap(L('common.myOrders')).fired);
    await h.settle();
    const orders = h.current();
    await h.waitFor('orders', () => orders.data.loading === false && orders.data.done === true);
    t.equal(orders.title, spot.ordersTitle);
    t.match(orders.text(), L('orders.empty'), 'the empty state');
    t.same(orders.tappables(), [L('common.backToShop')], 'and a way back to the shop');

    server.paidOrder('p1', { outTradeNo: 'TP1', createdAt: new Date(3_000).toISOString() });
    server.paidOrder('p2', { outTradeNo: 'TP2', status: 'REFUNDED', refundedAmount: 1250, createdAt: new Date(2_000).toISOString() });
    server.order('u1').createdAt = new Date(1_000).toISOString();
    orders.pullDown();
    await h.waitFor('refreshed', () => orders.data.loading === false && (orders.data.rows as unknown[]).length === 3);
    t.ok(h.toasts.some((x) => x.api === 'stopPullDownRefresh'), 'the pull-down ends');
    t.match(orders.data.rows, [
      { id: 'p1', statusText: spot.paid },
      { id: 'p2', statusText: L('status.REFUNDED') },
      { id: 'u1', statusText: L('status.CREATED'), payable: true, payText: L('orders.pay') },
    ]);
    t.match(orders.text(), L('common.allLoaded'));
  });

  t.test(`${spot.language}: the order detail of a paid order, from My orders`, async (t) => {
    const orders = h.current();
    // the detail's first answer is held back: its loading state shows meanwhile
    const gate = deferred<void>();
    const release = server.override(async (r) => {
      if (r.method === 'GET' && r.path === '/api/orders/p1') await gate.promise;
      return undefined;
    });
    t.ok(orders.tap(/TP1$/).fired, 'a tap on the order opens it');
    await h.waitFor('detail open', () => h.current().route === 'pages/order-detail/index');
    const detail = h.current();
    t.equal(detail.query.id, 'p1');
    t.match(detail.text(), L('common.loading'), 'loading');
    gate.resolve();
    release();
    await loaded(detail);
    t.equal(detail.title, spot.detailTitle);
    const text = detail.text();
    for (const shown of [spot.paid, '¥12.50', 'Tea', L('order.paidAt'), detail.data.order && (detail.data.order as { paidText: string }).paidText, '4200000000p1', L('order.noRefunds')]) {
      t.match(text, String(shown), `shows ${String(shown)}`);
    }
    t.match(detail.data.order, { statusText: spot.paid, amountText: '¥12.50', transactionId: '4200000000p1', paidText: /^\d{4}-\d\d-\d\d \d\d:\d\d$/ });
    t.same(detail.tappables(), [spot.refundButton], 'a paid order can be refunded, not paid again');
  });

  t.test(`${spot.language}: a refund request: a reason, one tap, and its state as the server says`, async (t) => {
    const detail = h.current();
    t.ok(detail.tap(spot.refundButton).fired);
    await h.settle();
    const refund = await loaded(h.current());
    t.equal(refund.route, 'pages/refund/index');
    t.equal(refund.title, spot.refundTitle);
    t.match(refund.text(), 'TP1');
    t.match(refund.text(), '¥12.50');
    const choices = [L('refund.reason.changedMind'), L('refund.reason.wrongItem'), L('refund.reason.quality'), L('refund.reason.other')];
    t.same(refund.tappables(), [...choices, L('refund.submit')]);

    // no reason: refused on the page, nothing sent
    await refund.tap(L('refund.submit')).result;
    t.equal(refund.data.submitError, L('refund.reasonRequired'));
    t.equal(server.count('POST', '/api/orders/p1/refund-requests'), 0);

    t.ok(refund.tap(choices[0]!).fired);
    t.equal(refund.data.chosen, 'changedMind');
    refund.input('  尺码不合适 ');
    t.equal(refund.data.countText, `${choices[0]!.length + 1 + '尺码不合适'.length}/200`);
    refund.input('x'.repeat(500));
    t.equal((refund.data.detail as string).length, 200, 'the textarea stops at 200 (maxlength), not at WeChat default 140');
    await refund.tap(L('refund.submit')).result;
    t.equal(refund.data.submitError, L('refund.reasonTooLong'), 'the preset and the text together are too long');
    t.equal(server.count('POST', '/api/orders/p1/refund-requests'), 0, 'nothing sent');
    refund.input('尺码不合适');

    // the first tap meets the rate limit; the reason is kept and the tap can be repeated
    const limited = server.override((r) =>
      r.method === 'POST' && r.path.endsWith('/refund-requests') ? { statusCode: 429, data: { statusCode: 429, code: 'RATE_LIMITED', error: 'x', message: 'x' } } : undefined,
    );
    await refund.tap(L('refund.submit')).result;
    t.match(refund.data.submitError, L('error.code.RATE_LIMITED'));
    t.match(refund.data.submitError, 'RATE_LIMITED');
    t.equal(refund.data.availability, 'allowed', 'still allowed');
    limited();
    const offline = server.override((r) => (r.method === 'POST' && r.path.endsWith('/refund-requests') ? 'network' : undefined));
    await refund.tap(L('refund.submit')).result;
    t.equal(refund.data.submitError, spot.offline);
    offline();

    const tapped = refund.tap(L('refund.submit'));
    t.ok(tapped.fired);
    t.equal(refund.data.submitting, true);
    t.match(refund.tap(L('refund.submitting')), { fired: false, reason: 'disabled' }, 'a second tap while sending does nothing');
    await tapped.result;
    const posted = server.seen.filter((r) => r.method === 'POST' && r.path === '/api/orders/p1/refund-requests');
    t.same(posted.at(-1)!.body, { reason: `${choices[0]}：尺码不合适` }, 'the reason as chosen and written');
    t.match(refund.data, { submitting: false, availability: 'open', request: { statusText: spot.waiting } });
    t.match(h.toasts.at(-1), { api: 'showToast', title: L('refund.submitted') });
    t.match(refund.text(), spot.waiting);
    t.match(refund.text(), L('refund.openRequest'));
    t.same(refund.tappables(), [L('refund.backToOrder')], 'no second request while this one waits');

    t.ok(refund.tap(L('refund.backToOrder')).fired);
    await h.settle();
    const detail2 = await loaded(h.current());
    t.equal(detail2, detail, 'back on the order');
    await h.waitFor('reloaded with the request', () => (detail.data.requests as unknown[]).length === 1);
    t.match(detail.text(), spot.waiting);
    t.match(detail.text(), L('refund.openRequest'));
    t.same(detail.tappables(), [], 'no refund button while a request waits');
  });

  t.test(`${spot.language}: the shop approves and WeChat refunds: pull down, the detail says so`, async (t) => {
    const detail = h.current();
    const rq = server.requests.get('p1')![0]!;
    server.decide('p1', rq.id, 'APPROVED');
    server.addRefund('p1', { id: 'rf1', amount: 500, status: 'SUCCESS', successAt: new Date(240_000).toISOString() });
    Object.assign(server.orders.get('p1')!, { status: 'PARTIALLY_REFUNDED', refundedAmount: 500 } satisfies Partial<Order>);
    detail.pullDown();
    await h.waitFor('refreshed', () => (detail.data.refunds as unknown[]).length === 1);
    await h.settle();
    t.match(detail.data.order, { statusText: L('status.PARTIALLY_REFUNDED'), refundedText: '¥5.00' });
    t.match(detail.data.refunds, [{ statusText: spot.refundSuccess, amountText: '¥5.00' }]);
    t.match(detail.data.requests, [{ statusText: L('refundRequest.status.APPROVED') }]);
    t.match(detail.text(), spot.refundSuccess);
    t.same(detail.tappables(), [spot.refundButton], 'some is left to refund: another request may be made');
    await h.back();
  });

  t.test(`${spot.language}: a fully refunded order, someone else's order: no request`, async (t) => {
    const full = await open('/pages/order-detail/index?id=p2');
    t.match(full.data.order, { statusText: L('status.REFUNDED') });
    t.equal(full.data.refundBlocked, L('refund.fullyRefunded'));
    t.same(full.tappables(), []);
    const refundFull = await open('/pages/refund/index?id=p2');
    t.match(refundFull.data, { availability: 'fullyRefunded' });
    t.same(refundFull.tappables(), [L('refund.backToOrder')], 'no submit');
    await h.back();
    await h.back();

    const foreign = await open('/pages/order-detail/index?id=someone-elses');
    t.match(foreign.data, { notFound: true, order: null });
    t.equal(foreign.text(), `${spot.notFound} ${L('common.myOrders')}`);
    const refundForeign = await open('/pages/refund/index?id=someone-elses');
    t.match(refundForeign.data, { notFound: true });
    t.same(refundForeign.tappables(), [], 'nothing to tap: no request for an order that is not the buyer\'s');
    t.equal(server.count('POST', '/api/orders/someone-elses/refund-requests'), 0);
    await h.back();
    await h.back();
  });

  t.test(`${spot.language}: a network error on the detail, then Retry`, async (t) => {
    const cut = server.override((r) => (r.path === '/api/orders/p2' ? 'network' : undefined));
    const detail = await open('/pages/order-detail/index?id=p2');
    t.match(detail.data, { error: spot.offline, order: null, notFound: false });
    t.same(detail.tappables(), [L('common.retry')]);
    cut();
    await detail.tap(L('common.retry')).result;
    t.match(detail.data, { error: '', order: { id: 'p2' } });
    await h.back();
  });

  t.test(`${spot.language}: paying an unpaid order from its detail: the subscribe ask first, a refusal does not stop it`, async (t) => {
    const detail = await open('/pages/order-detail/index?id=u1');
    t.match(detail.data, { order: { payable: true }, paid: false });
    t.same(detail.tappables(), [L('order.pay')]);
    t.ok(detail.tap(L('order.pay')).fired);
    await h.settle();
    const confirm = await loaded(h.current());
    t.equal(confirm.route, 'pages/confirm/index');
    server.script('u1', ['PAYING', 'PAID']);
    const pays = server.count('POST', '/api/orders/u1/pay');
    const tapped = confirm.tap(new RegExp(`^${L('confirm.pay')} ¥`));
    t.ok(tapped.fired);
    t.same(h.shim.subscribeRequests, [[SANDBOX_PAID_TEMPLATE_ID]], 'asked at once, inside the tap');
    await tapped.result;
    await h.settle();
    t.equal(server.count('POST', '/api/orders/u1/pay'), pays + 1, 'the user said no, and the payment went on');
    t.equal(h.shim.payments.length, 1, 'wx.requestPayment was called');
    const result = h.current();
    t.equal(result.route, 'pages/result/index');
    await h.waitFor('paid', () => result.data.state === 'paid');
    t.equal(result.data.title, L('result.paid.title'));
    t.ok(result.tap(L('common.viewOrder')).fired, 'from the result page to the order');
    await h.settle();
    const after = await loaded(h.current());
    t.equal(after.route, 'pages/order-detail/index');
    t.match(after.data.order, { id: 'u1', statusText: spot.paid });
  });

  t.test(`${spot.language}: the whole walk: no runtime warnings, every navigation accepted`, async (t) => {
    t.same(h.warnings, []);
    t.same(h.navigations.filter((n) => n.error !== undefined), []);
    t.same(h.lateSetData, [], 'no setData on a page already gone');
  });
}
