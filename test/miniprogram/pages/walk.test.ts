// The README's DevTools walk, in Node: the real app.ts and pages under the page
// harness (WeChat's globals, page stack and lifecycle, a WXML renderer so that
// the test taps what a user sees), against the real server, databases and
// sandbox over HTTP. One user, one page stack, step after step.
import t, { type Test } from 'tap';
import type { Order, OrderList, Product } from '../../../shared/api.js';
import { develop as config } from '../../../miniprogram/config.js';
import { formatFen, isPayable, statusText } from '../../../miniprogram/services/format.js';
import { startStack } from '../../helpers/stack.js';
import { installPageHarness, type PageHandle } from '../helpers/page-harness.js';

const stack = await startStack();
t.teardown(async () => {
  // a request still in flight at close keeps its keep-alive socket, and close waits out the server's keepAliveTimeout
  await h.settle();
  await stack.close();
});

// What a developer edits in config.ts, done before app.ts is imported (it reads config once).
config.apiBase = stack.apiBase;
config.sandbox.base = stack.sandboxBase;
config.sandbox.appId = stack.appid;
config.sandbox.openid = `o_walk_${process.pid}`;
// real time: short waits keep the file quick (the 1,1,2,2,3,5 s schedule is tested with a fake clock)
config.pollScheduleSeconds = [0.05, 0.1, 0.2];
config.maxConfirmMs = 10_000;
// not shortened: past the server's 5 s orderquery interval, so that a stale FAILED after paying again cannot end the poll
config.failedGraceMs = 6_000;
config.pageSize = 3;
// the payment-success subscribe prompt is walked in new-pages-*.test.ts; here the pay sheet comes at once
config.subscribe.paidTemplateId = '';

// a buyer's phone set to Chinese (the harness default): every label below is what such a buyer reads
const h = installPageHarness();
const SHEET: Record<'Pay' | 'Cancel' | 'Fail', string> = { Pay: '支付', Cancel: '取消', Fail: '支付失败' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- what the server says, asked beside the app (not through it) -------------------

function token(): string {
  const s = h.shim.storage.get('wxpay.session') as { token?: unknown } | undefined;
  if (typeof s?.token !== 'string') throw new Error('no session in storage');
  return s.token;
}
async function server<T>(method: string, path: string, body?: object): Promise<T> {
  const res = await fetch(stack.apiBase + path, {
    method,
    headers: { authorization: `Bearer ${token()}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
const serverOrder = (id: string) => server<Order>('GET', `/api/orders/${id}`);

/** status polls the app made for this order */
const polls = (id: string) => h.shim.requests.filter((r) => r.method === 'GET' && r.url === `${stack.apiBase}/api/orders/${id}`).length;
const count = (method: string, suffix: string) => h.shim.requests.filter((r) => r.method === method && r.url.endsWith(suffix)).length;

let products: Product[] = [];
/** every order the walk placed, oldest first */
const placed: string[] = [];

// --- steps a user repeats ----------------------------------------------------------

async function loaded(p: PageHandle): Promise<PageHandle> {
  await h.waitFor(`${p.route} loaded`, () => p.data.loading === false);
  return p;
}

/** on the confirm page: tap Pay, check the sheet, pick; ends on the result page */
async function payThroughSheet(
  t: Test,
  confirm: PageHandle,
  choice: 'Pay' | 'Cancel' | 'Fail' | 'dismiss',
  button: RegExp = /^支付 ¥/,
): Promise<PageHandle> {
  const pays = count('POST', `/api/orders/${String(confirm.data.orderId)}/pay`);
  const tapped = confirm.tap(button);
  t.ok(tapped.fired, 'Pay tapped');
  const sheet = await h.nextDialog('actionSheet');
  t.match(sheet.options, { alertText: '模拟微信支付（沙箱）', itemList: ['支付', '取消', '支付失败'] }, 'the simulated pay sheet');
  t.match(confirm.data, { paying: true, payLabel: '等待微信支付…' }, 'the button is locked while the sheet is up');
  t.match(confirm.tap(/^等待微信支付… ¥/), { fired: false, reason: 'disabled' }, 'a second tap does nothing');
  await (confirm.instance.pay as () => Promise<void>).call(confirm.instance); // even past the disabled button
  t.equal(count('POST', `/api/orders/${String(confirm.data.orderId)}/pay`), pays + 1, 'one pay request');
  if (choice === 'dismiss') sheet.dismiss();
  else sheet.choose(SHEET[choice]);
  await tapped.result;
  await h.settle();
  t.ok(confirm.unloaded, 'the confirm page is gone (redirectTo)');
  const result = h.current();
  t.equal(result.route, 'pages/result/index');
  t.equal(result.query.id, confirm.data.orderId, 'the result page is opened for this order');
  return result;
}

// --- the walk ------------------------------------------------------------------------

t.test('launch: silent login with a sandbox login code, the goods page lists the catalog', async (t) => {
  const goods = await h.launch();
  t.equal(goods.route, 'pages/goods/index', 'the first page of app.json');
  t.same(goods.lifecycle, ['onLoad', 'onShow', 'onReady']);
  t.match(goods.text(), /加载中…/, 'loading shown at first');
  t.equal(goods.title, '商品', 'its title, in Chinese');
  await loaded(goods);
  t.equal(goods.data.error, '', 'no error');
  products = ((await (await fetch(`${stack.apiBase}/api/products`)).json()) as { items: Product[] }).items;
  t.ok(products.length >= 2, 'the server has products');
  t.same(
    (goods.data.items as Array<Record<string, unknown>>).map((i) => [i.sku, i.name, i.priceText, i.quantity]),
    products.map((p) => [p.sku, p.name, formatFen(p.price), 0]),
    'every product, at the server price, none chosen',
  );
  for (const p of products) t.match(goods.text(), p.name, `${p.name} shown`);
  t.equal(count('POST', '/sandbox/login-codes'), 1, 'one login code from the sandbox');
  t.equal(count('POST', '/api/session'), 1, 'one session, shared by onLaunch and the page');
  t.equal(h.shim.logins, 0, 'wx.login is not used in sandbox mode');
  t.type(token(), 'string', 'the token is in storage under wxpay.session');
});

t.test('choose quantities, checkout: the confirm page shows the server amount', async (t) => {
  const goods = h.current();
  t.match(goods.tap('去结算'), { fired: false, reason: 'disabled' }, 'Checkout is disabled with nothing chosen');
  (goods.instance.toConfirm as () => void).call(goods.instance);
  await h.settle();
  t.match(h.toasts.at(-1), { api: 'showToast', title: '请先选择商品' }, 'and says why when reached anyway');
  t.equal(h.pages().length, 1, 'no navigation');
  t.match(goods.tap('−'), { fired: false, reason: 'disabled' }, '− is disabled at zero');

  for (let i = 0; i < 3; i++) t.ok(goods.tap('+', { nth: 0 }).fired);
  t.ok(goods.tap('−', { nth: 0 }).fired);
  t.ok(goods.tap('+', { nth: 1 }).fired);
  const [p0, p1] = [products[0]!, products[1]!];
  t.match(goods.data, { count: 3, totalText: formatFen(p0.price * 2 + p1.price) });
  t.match(goods.text(), `共 3 件 · ${formatFen(p0.price * 2 + p1.price)}`);

  const creates = count('POST', '/api/orders');
  t.ok(goods.tap('去结算').fired);
  await h.settle();
  t.match(h.navigations.at(-1), { api: 'navigateTo', route: 'pages/confirm/index', query: {} });
  t.equal(goods.lifecycle.at(-1), 'onHide', 'goods hidden, kept in the stack');
  const confirm = await loaded(h.current());
  t.equal(confirm.route, 'pages/confirm/index');
  t.equal(count('POST', '/api/orders'), creates + 1, 'one order created');
  const order = await serverOrder(String(confirm.data.orderId));
  placed.push(order.id);
  t.equal(order.amount, p0.price * 2 + p1.price, 'the server priced the cart');
  t.match(confirm.data, { amountText: formatFen(order.amount), outTradeNo: order.outTradeNo, payable: true, paying: false });
  t.match(confirm.text(), `合计（以商家计算为准） ${formatFen(order.amount)}`);
  t.equal(confirm.title, '确认订单');
  t.match(confirm.text(), `${p0.name} × 2`);
  t.same(confirm.tappables(), [`支付 ${formatFen(order.amount)}`]);
  t.same((h.wx.getStorageSync as (k: string) => unknown)('wxpay.session') !== '', true);
  t.same((globalThis as unknown as { getApp(): { globalData: { cart: unknown[] } } }).getApp().globalData.cart, [], 'the cart is handed over once');
});

t.test('Pay → simulated sheet → Pay: "Paid" only once the server says PAID', async (t) => {
  const confirm = h.current();
  const id = String(confirm.data.orderId);
  const order = await serverOrder(id);
  // WeChat goes quiet: no notify, orderquery failing. The sandbox takes the money; the server cannot know yet.
  await stack.faults({
    notify: { action: 'drop', outTradeNo: order.outTradeNo },
    payApi: { action: 'SYSTEMERROR', api: 'orderquery', count: 10_000 },
  });
  t.teardown(() => stack.clearFaults());
  const result = await payThroughSheet(t, confirm, 'Pay');
  t.same(h.pages().map((p) => p.route), ['pages/goods/index', 'pages/result/index']);
  t.match(result.query, { id, state: 'confirming' });
  await h.waitFor('three polls', () => polls(id) >= 3);
  t.match(result.data, { state: 'confirming', title: '正在确认支付结果…', busy: true });
  t.notMatch(result.text(), '支付成功', 'not "Paid" while the server does not know');
  t.same(result.tappables(), [], 'no way out but back while confirming');
  t.not((await serverOrder(id)).status, 'PAID');

  await stack.clearFaults(); // WeChat answers again: the next poll's orderquery finds the payment
  await h.waitFor('paid', () => result.data.state === 'paid');
  t.equal((await serverOrder(id)).status, 'PAID', 'the server says PAID');
  t.match(result.data, { title: '支付成功', amountText: formatFen(order.amount), orderStatus: '已支付', canPayAgain: false, canRetry: false });
  t.match(result.text(), '支付成功');
  t.same(result.tappables(), ['查看订单', '我的订单', '返回商城']);
  const n = polls(id);
  await sleep(500);
  t.equal(polls(id), n, 'polling ended with the answer');
  t.equal(h.shim.payments.length, 0, 'sandbox: wx.requestPayment never called');
});

t.test('Cancel: "Payment not completed", nothing polled, Pay again and My orders → Pay both reach the order', async (t) => {
  const result = h.current();
  t.ok(result.tap('返回商城').fired);
  await h.settle();
  t.match(h.navigations.at(-1), { api: 'reLaunch', route: 'pages/goods/index' });
  t.ok(result.unloaded);
  const goods = await loaded(h.current());
  t.same(h.pages().map((p) => p.route), ['pages/goods/index'], 'a fresh stack');
  goods.tap('+', { nth: products.length - 1 });
  goods.tap('去结算');
  await h.settle();
  const confirm = await loaded(h.current());
  const id = String(confirm.data.orderId);
  placed.push(id);

  const cancelled = await payThroughSheet(t, confirm, 'Cancel');
  t.match(cancelled.query, { id, state: 'cancelled' });
  t.match(cancelled.data, { state: 'cancelled', title: '支付未完成', canPayAgain: true, busy: false });
  await sleep(300);
  t.equal(polls(id), 0, 'a cancel polls nothing');
  t.ok(['CREATED', 'PAYING'].includes((await serverOrder(id)).status), 'the order stays payable');
  t.same(cancelled.tappables(), ['重新支付', '查看订单', '我的订单', '返回商城']);

  // Pay again: the same order, no new one
  const creates = count('POST', '/api/orders');
  t.ok(cancelled.tap('重新支付').fired);
  await h.settle();
  t.match(h.navigations.at(-1), { api: 'redirectTo', route: 'pages/confirm/index', query: { orderId: id } });
  const again = await loaded(h.current());
  t.equal(again.data.orderId, id, 'the same order');
  t.equal(count('POST', '/api/orders'), creates, 'no order created');
  const dismissed = await payThroughSheet(t, again, 'dismiss');
  t.match(dismissed.data, { state: 'cancelled', title: '支付未完成' }, 'dismissing the sheet is a cancel');

  // My orders → its Pay
  t.ok(dismissed.tap('我的订单').fired);
  await h.settle();
  const orders = h.current();
  t.equal(orders.route, 'pages/orders/index');
  await h.waitFor('orders', () => orders.data.loading === false && (orders.data.rows as unknown[]).length > 0);
  const rows = orders.data.rows as Array<{ id: string; payable: boolean; statusText: string }>;
  const row = rows.find((r) => r.id === id);
  t.match(row, { payable: true, statusText: '待支付' });
  const nth = rows.filter((r) => r.payable).findIndex((r) => r.id === id);
  t.ok(orders.tap('去支付', { nth }).fired);
  await h.settle();
  t.match(h.navigations.at(-1), { api: 'navigateTo', route: 'pages/confirm/index', query: { orderId: id } });
  t.equal(orders.lifecycle.at(-1), 'onHide');
  const fromOrders = await loaded(h.current());
  t.equal(fromOrders.data.orderId, id);
  const paid = await payThroughSheet(t, fromOrders, 'Pay');
  await h.waitFor('paid', () => paid.data.state === 'paid');
  t.equal((await serverOrder(id)).status, 'PAID');

  // back to My orders: it reloads and shows the new status
  await h.back();
  t.ok(paid.unloaded);
  t.equal(h.current(), orders);
  await h.waitFor('reloaded', () => orders.data.loading === false);
  t.match((orders.data.rows as typeof rows).find((r) => r.id === id), { payable: false, statusText: '已支付' });
});

t.test('Fail: 支付失败, no money taken; 重新支付 reaches the same order, and from My orders it pays', async (t) => {
  await h.back(); // orders → goods
  const goods = h.current();
  t.equal(goods.route, 'pages/goods/index');
  t.ok(goods.tap('去结算').fired, 'the quantities chosen are still there');
  await h.settle();
  const confirm = await loaded(h.current());
  const id = String(confirm.data.orderId);
  const amount = String(confirm.data.amountText);
  placed.push(id);
  const result = await payThroughSheet(t, confirm, 'Fail');
  t.match(result.query, { state: 'confirming' });
  await h.waitFor('an answer', () => result.data.state !== 'confirming' && result.data.state !== 'stopped', 15_000);
  t.equal(result.data.state, 'failed', 'the server said FAILED, and kept saying it');
  t.equal((await serverOrder(id)).status, 'FAILED');
  t.notOk(result.patches.some((p) => p.state === 'paid' || p.title === 'Paid'), 'never showed "Paid"');
  t.match(result.data, { title: '支付失败', detail: '未扣款，可重新支付', canPayAgain: true, orderStatus: '支付失败', amountText: amount });
  t.match(result.text(), '支付失败');
  t.match(result.text(), '未扣款，可重新支付');
  t.same(result.tappables(), ['重新支付', '查看订单', '我的订单', '返回商城'], 'pay again, the same order');

  // 重新支付 on the result page: the confirm page of the same order, which says so
  const creates = count('POST', '/api/orders');
  t.ok(result.tap('重新支付').fired);
  await h.settle();
  t.match(h.navigations.at(-1), { api: 'redirectTo', route: 'pages/confirm/index', query: { orderId: id } });
  const again = await loaded(h.current());
  t.match(again.data, { orderId: id, payable: true, statusText: '支付失败', statusNote: '未扣款，可重新支付' });
  t.match(again.text(), '未扣款，可重新支付');
  t.same(again.tappables(), [`重新支付 ${amount}`]);
  t.equal(count('POST', '/api/orders'), creates, 'no order created');

  // My orders: the FAILED order says so and has 重新支付, which pays it
  await h.back(); // confirm → goods
  t.ok(h.current().tap('我的订单').fired);
  await h.settle();
  const orders = h.current();
  t.equal(orders.route, 'pages/orders/index');
  await h.waitFor('orders', () => orders.data.loading === false && (orders.data.rows as unknown[]).length > 0);
  const rows = orders.data.rows as Array<{ id: string; status: string; statusText: string; statusNote: string; payable: boolean; payText: string }>;
  t.match(rows.find((r) => r.id === id), { status: 'FAILED', statusText: '支付失败', statusNote: '未扣款，可重新支付', payable: true, payText: '重新支付' });
  t.match(orders.text(), '支付失败 未扣款，可重新支付');
  const nth = rows.filter((r) => r.payText === '重新支付').findIndex((r) => r.id === id);
  t.ok(orders.tap('重新支付', { nth }).fired);
  await h.settle();
  t.match(h.navigations.at(-1), { api: 'navigateTo', route: 'pages/confirm/index', query: { orderId: id } });
  const fromOrders = await loaded(h.current());
  t.equal(fromOrders.data.orderId, id);
  const paid = await payThroughSheet(t, fromOrders, 'Pay', /^重新支付 ¥/);
  await h.waitFor('paid', () => paid.data.state === 'paid', 15_000);
  t.equal((await serverOrder(id)).status, 'PAID', 'the server says PAID');
  t.match(paid.data, { title: '支付成功', orderStatus: statusText('PAID') });
  t.equal(count('POST', '/api/orders'), creates, 'still the same order');

  await h.back(); // result → My orders, which reloads
  t.equal(h.current(), orders);
  await h.waitFor('reloaded', () => orders.data.loading === false);
  t.match((orders.data.rows as typeof rows).find((r) => r.id === id), { status: 'PAID', payable: false });
});

t.test('My orders: newest first, the server statuses, pages of 3 until the end; Cancel', async (t) => {
  // four more, straight through the API, so that there are three pages
  for (let i = 0; i < 4; i++) {
    const o = await server<Order>('POST', '/api/orders', { items: [{ sku: products[0]!.sku, quantity: i + 1 }] });
    placed.push(o.id);
  }
  while (h.pages().length > 1) await h.back();
  t.ok(h.current().tap('我的订单').fired);
  await h.settle();
  const orders = h.current();
  t.equal(orders.route, 'pages/orders/index');
  await h.waitFor('first page', () => orders.data.loading === false && (orders.data.rows as unknown[]).length > 0);
  t.equal((orders.data.rows as unknown[]).length, 3, 'one page of config.pageSize');
  t.equal(orders.data.done, false);
  t.notMatch(orders.text(), '没有更多了');
  for (let i = 0; i < 5 && orders.data.done !== true; i++) {
    const before = (orders.data.rows as unknown[]).length;
    orders.reachBottom();
    await h.waitFor('next page', () => orders.data.loading === false && (orders.data.rows as unknown[]).length > before);
  }
  t.equal(orders.data.done, true, 'reached the end');
  t.match(orders.text(), '没有更多了');
  const rows = orders.data.rows as Array<{ id: string; status: string; statusText: string; amountText: string; payable: boolean }>;
  t.same(rows.map((r) => r.id), [...placed].reverse(), 'every order, newest first, none twice');
  const truth = await server<OrderList>('GET', '/api/orders?limit=50');
  t.same(
    rows.map((r) => [r.id, r.status, r.statusText, r.amountText, r.payable]),
    truth.items.map((o) => [o.id, o.status, statusText(o.status), formatFen(o.amount), isPayable(o.status)]),
    'as the server has them',
  );
  orders.reachBottom();
  await h.settle();
  t.equal((orders.data.rows as unknown[]).length, rows.length, 'nothing more past the end');

  // Cancel the newest
  const newest = rows[0]!;
  t.ok(newest.payable);
  const tapped = orders.tap('取消订单', { nth: 0 });
  t.ok(tapped.fired);
  t.equal(orders.data.cancelling, newest.id, 'its buttons are disabled meanwhile');
  t.match(orders.tap('取消订单', { nth: 0 }), { fired: false, reason: 'disabled' });
  await tapped.result;
  t.equal((await serverOrder(newest.id)).status, 'CLOSED');
  t.match((orders.data.rows as typeof rows)[0], { id: newest.id, status: 'CLOSED', statusText: '已关闭', payable: false });
  t.equal(orders.data.cancelling, '');

  // pull down: the first page again
  orders.pullDown();
  await h.waitFor('refreshed', () => orders.data.loading === false && h.toasts.some((x) => x.api === 'stopPullDownRefresh'));
  t.equal((orders.data.rows as unknown[]).length, 3, 'back to one page');
});

t.test('result page hidden while confirming: polling stops; shown again: it resumes; back: it stops', async (t) => {
  const orders = h.current();
  const rows = orders.data.rows as Array<{ id: string; payable: boolean; outTradeNo: string }>;
  const target = rows.find((r) => r.payable)!;
  t.ok(target, 'a payable order');
  await stack.faults({
    notify: { action: 'drop', outTradeNo: target.outTradeNo },
    payApi: { action: 'SYSTEMERROR', api: 'orderquery', count: 10_000 },
  });
  t.teardown(() => stack.clearFaults());
  t.ok(orders.tap('去支付', { nth: rows.filter((r) => r.payable).indexOf(target) }).fired);
  await h.settle();
  const confirm = await loaded(h.current());
  t.equal(confirm.data.orderId, target.id);
  const result = await payThroughSheet(t, confirm, 'Pay');
  await h.waitFor('polling', () => polls(target.id) >= 2);

  h.hideApp(); // Home
  t.equal(result.lifecycle.at(-1), 'onHide');
  await h.waitFor('stopped', () => result.data.state === 'stopped');
  t.match(result.data, { title: '正在确认支付结果…' }, 'still says confirming');
  const n = polls(target.id);
  await sleep(800); // four times the longest poll interval
  t.equal(polls(target.id), n, 'no GET /api/orders/:id while hidden');

  h.showApp();
  await h.waitFor('polling again', () => polls(target.id) >= n + 2);
  t.equal(result.data.state, 'confirming');
  await stack.clearFaults();
  await h.waitFor('paid', () => result.data.state === 'paid');

  // back while confirming: the page unloads and asks nothing more
  await h.back();
  t.ok(result.unloaded);
  await h.waitFor('orders reloaded', () => orders.data.loading === false);
  const next = (orders.data.rows as typeof rows).find((r) => r.payable)!;
  t.ok(next, 'another payable order');
  await stack.faults({
    notify: { action: 'drop', outTradeNo: next.outTradeNo },
    payApi: { action: 'SYSTEMERROR', api: 'orderquery', count: 10_000 },
  });
  t.ok(orders.tap('去支付', { nth: 0 }).fired);
  await h.settle();
  const result2 = await payThroughSheet(t, await loaded(h.current()), 'Pay');
  t.equal(result2.query.id, next.id);
  await h.waitFor('polling', () => polls(next.id) >= 2);
  await h.back();
  t.ok(result2.unloaded);
  t.equal(result2.lifecycle.at(-1), 'onUnload');
  await sleep(100);
  const m = polls(next.id);
  await sleep(800);
  t.equal(polls(next.id), m, 'no GET /api/orders/:id after unload');
});

t.test('WeChat unavailable at prepay: the error is shown with Retry payment, and the retry pays', async (t) => {
  await h.back(); // orders → goods
  const goods = h.current();
  t.equal(goods.route, 'pages/goods/index');
  t.ok(goods.tap('去结算').fired);
  await h.settle();
  const confirm = await loaded(h.current());
  const id = String(confirm.data.orderId);
  await stack.faults({ payApi: { action: 'SYSTEMERROR', api: 'unifiedorder', count: 10_000 } });
  t.teardown(() => stack.clearFaults());
  const sheets = h.dialogs.length;
  const tapped = confirm.tap(/^支付 ¥/);
  t.ok(tapped.fired);
  await tapped.result;
  await h.settle();
  t.equal(h.current(), confirm, 'still on the confirm page');
  t.equal(h.dialogs.length, sheets, 'no pay sheet without pay params');
  t.match(confirm.data, { paying: false, payLabel: '重试支付', payable: true });
  t.not(confirm.data.error, '', 'an error is shown');
  t.match(confirm.text(), String(confirm.data.error));
  t.same(confirm.tappables(), [`重试支付 ${String(confirm.data.amountText)}`]);
  t.ok(['CREATED', 'PAYING'].includes((await serverOrder(id)).status), 'nothing paid');

  await stack.clearFaults();
  const result = await payThroughSheet(t, confirm, 'Pay', /^重试支付 ¥/);
  await h.waitFor('paid', () => result.data.state === 'paid');
  t.equal((await serverOrder(id)).status, 'PAID');
});

t.test('a token the server no longer knows: My orders still loads, after one silent re-login', async (t) => {
  const result = h.current();
  const key = 'wxpay.session';
  const stored = h.shim.storage.get(key) as { token: string; expiresAt: number };
  h.shim.storage.set(key, { ...stored, token: 'made-up-token' });
  const sessions = count('POST', '/api/session');
  t.ok(result.tap('我的订单').fired);
  await h.settle();
  const orders = h.current();
  await h.waitFor('orders', () => orders.data.loading === false && (orders.data.rows as unknown[]).length > 0);
  t.equal(orders.data.error, '', 'no error shown');
  t.equal(count('POST', '/api/session'), sessions + 1, 'one new session');
  t.not((h.shim.storage.get(key) as { token: string }).token, 'made-up-token');
});

t.test('pay refused while another device is paying the same order: the refusal stays on screen', async (t) => {
  while (h.pages().length > 1) await h.back();
  const goods = h.current();
  t.ok(goods.tap('去结算').fired);
  await h.settle();
  const confirm = await loaded(h.current());
  const id = String(confirm.data.orderId);
  // the other device's pay request holds the order's pay lock while WeChat does not answer
  await stack.faults({ payApi: { action: 'hang', api: 'unifiedorder', count: 1 } });
  t.teardown(() => stack.clearFaults());
  const other = server<unknown>('POST', `/api/orders/${id}/pay`, {}).catch((e: unknown) => e);
  await sleep(300);
  const sheets = h.dialogs.length;
  const tapped = confirm.tap(/^支付 ¥/);
  t.ok(tapped.fired);
  await tapped.result;
  await h.settle();
  await h.waitFor('the order reloaded', () => confirm.data.loading === false);
  t.equal(h.current(), confirm, 'still on the confirm page');
  t.equal(h.dialogs.length, sheets, 'no pay sheet');
  t.match(confirm.data, { paying: false, loading: false, payable: true });
  t.match(confirm.data.error, /ORDER_BUSY/, 'the refusal is shown');
  t.match(confirm.text(), String(confirm.data.error));
  await other; // WeChat's silence times out on the server
  const result = await payThroughSheet(t, confirm, 'Pay');
  await h.waitFor('paid', () => result.data.state === 'paid');
});

t.test('a double tap on Checkout or on an order\'s Pay opens one page, and one order', async (t) => {
  while (h.pages().length > 1) await h.back();
  const goods = h.current();
  t.equal(goods.route, 'pages/goods/index');
  const creates = count('POST', '/api/orders');
  const pagesBefore = h.pages().length;
  t.ok(goods.tap('去结算').fired);
  goods.tap('去结算'); // the second tap lands before the first navigation is done
  await h.settle();
  t.equal(h.pages().length, pagesBefore + 1, 'one confirm page');
  const confirm = await loaded(h.current());
  await h.settle();
  t.equal(count('POST', '/api/orders'), creates + 1, 'one order');
  t.not(confirm.data.orderId, '');

  await h.back();
  t.ok(goods.tap('我的订单').fired);
  await h.settle();
  const orders = h.current();
  await h.waitFor('orders', () => orders.data.loading === false && (orders.data.rows as unknown[]).length > 0);
  const depth = h.pages().length;
  t.ok(orders.tap('去支付', { nth: 0 }).fired);
  orders.tap('去支付', { nth: 0 });
  await h.settle();
  t.equal(h.pages().length, depth + 1, 'one confirm page');
  await loaded(h.current());
  await h.back();
  t.equal(h.current(), orders);
  t.ok(orders.tap('去支付', { nth: 0 }).fired, 'and Pay works again once back');
  await h.settle();
  t.equal(h.pages().length, depth + 1);
  await loaded(h.current());
  await h.back();
});

t.test('the whole walk: no runtime warnings, every navigation accepted, no wx.requestPayment', async (t) => {
  t.same(h.warnings, [], 'no setData or wx:key warnings');
  t.same(h.navigations.filter((n) => n.error !== undefined), [], 'no navigation refused');
  t.equal(h.shim.payments.length, 0);
  t.equal(h.shim.logins, 0);
  t.equal(count('POST', '/api/session'), 2, 'two sessions in the whole walk: at launch, and after the token was lost');
});
