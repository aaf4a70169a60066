// The pages with no server to reach (the README's "server down"), and the page
// harness's own runtime rules (setData paths, refused navigations), so that the
// walk can trust them.
import t from 'tap';
import { develop } from '../../../miniprogram/config.js';
import { installPageHarness, parseDataPath, renderWxml, parseWxml } from '../helpers/page-harness.js';

// port 9 (discard): nothing listens there, the connection is refused at once
develop.apiBase = 'http://127.0.0.1:9';
develop.sandbox.base = 'http://127.0.0.1:9';

// a buyer's phone in Chinese (the harness's default language)
const h = installPageHarness();
const OFFLINE = '无法连接服务器，请检查网络后重试';

t.test('server down: goods says it could not reach the server, with Retry', async (t) => {
  const goods = await h.launch();
  await h.waitFor('goods settled', () => goods.data.loading === false);
  t.equal(goods.data.error, OFFLINE);
  t.match(goods.text(), OFFLINE);
  t.equal(goods.title, '商品', 'the title, in Chinese');
  t.same(goods.tappables(), ['我的订单', '重试', '去结算']);
  t.notMatch(goods.text(), '暂无商品', 'an error is not an empty shop');
  t.match(goods.tap('去结算'), { fired: false, reason: 'disabled' });
  const tapped = goods.tap('重试');
  t.ok(tapped.fired);
  t.equal(goods.data.loading, true, 'Retry loads again');
  await tapped.result;
  t.equal(goods.data.error, OFFLINE);
  t.equal(h.shim.payments.length, 0);
});

t.test('server down: My orders says so, with Retry; pull-down works where index.json enables it', async (t) => {
  const goods = h.current();
  t.ok(goods.tap('我的订单').fired);
  await h.settle();
  const orders = h.current();
  t.equal(orders.route, 'pages/orders/index');
  await h.waitFor('orders settled', () => orders.data.loading === false);
  t.equal(orders.data.error, OFFLINE);
  t.same(orders.tappables(), ['重试']);
  t.notMatch(orders.text(), '还没有订单', 'an error is not an empty list');
  const stops = h.toasts.filter((x) => x.api === 'stopPullDownRefresh').length;
  orders.pullDown();
  await h.waitFor('pull-down ends', () => h.toasts.filter((x) => x.api === 'stopPullDownRefresh').length === stops + 1);
  await h.back();
  t.equal(h.current(), goods);
  t.same(goods.lifecycle.slice(-2), ['onHide', 'onShow']);
});

t.test('server down: confirm with a cart says so, with Retry, and keeps the cart for it', async (t) => {
  const goods = h.current();
  goods.instance.setData({ items: [{ sku: 'x', name: 'X', description: '', price: 100, priceText: '¥1.00', quantity: 1 }], count: 1 });
  t.ok(goods.tap('去结算').fired);
  await h.settle();
  const confirm = h.current();
  await h.waitFor('confirm settled', () => confirm.data.loading === false);
  t.match(confirm.data, { orderId: '', error: OFFLINE });
  t.same(confirm.tappables(), ['重试'], 'no Pay button without an order');
  const app = (globalThis as unknown as { getApp(): { globalData: { cart: unknown[] } } }).getApp();
  t.same(app.globalData.cart, [{ sku: 'x', quantity: 1 }], 'the cart is kept for the retry');
  const retried = confirm.tap('重试');
  t.ok(retried.fired);
  t.equal(confirm.data.loading, true);
  await h.waitFor('retry settled', () => confirm.data.loading === false);
  t.match(confirm.data, { loading: false, error: OFFLINE });
});

t.test('server down: the order detail and the refund request say so, with Retry; nothing is requested', async (t) => {
  while (h.pages().length > 1) await h.back();
  const wx = h.wx as Record<string, (o: object) => void>;
  wx.navigateTo!({ url: '/pages/order-detail/index?id=0123456789abcdef01234567' });
  await h.settle();
  const detail = h.current();
  t.equal(detail.route, 'pages/order-detail/index');
  await h.waitFor('detail settled', () => detail.data.loading === false);
  t.match(detail.data, { error: OFFLINE, notFound: false, order: null });
  t.equal(detail.title, '订单详情');
  t.same(detail.tappables(), ['重试'], 'no pay or refund button without an order');
  t.notMatch(detail.text(), '订单不存在', 'a network error is not a missing order');
  const retried = detail.tap('重试');
  t.ok(retried.fired);
  await retried.result;
  t.equal(detail.data.error, OFFLINE);

  wx.navigateTo!({ url: '/pages/refund/index?id=0123456789abcdef01234567' });
  await h.settle();
  const refund = h.current();
  await h.waitFor('refund settled', () => refund.data.loading === false);
  t.match(refund.data, { error: OFFLINE, availability: '' });
  t.equal(refund.title, '申请退款');
  t.same(refund.tappables(), ['重试'], 'no submit button without an order');
  await h.back();
  await h.back();
});

t.test('setData: dotted and indexed paths, synchronous, and warnings for undefined', async (t) => {
  t.same(parseDataPath('items[0].quantity'), ['items', 0, 'quantity']);
  t.same(parseDataPath('a.b[2][1].c'), ['a', 'b', 2, 1, 'c']);
  t.throws(() => parseDataPath('a..b'));
  t.throws(() => parseDataPath(''));
  const page = h.current();
  const inst = page.instance;
  inst.setData({ items: [{ sku: 'a', quantity: 1 }, { sku: 'b', quantity: 2 }] });
  inst.setData({ 'items[1].quantity': 5, 'extra.deep.value': 'x', 'list[2]': 'z' });
  t.same(inst.data.items, [{ sku: 'a', quantity: 1 }, { sku: 'b', quantity: 5 }], 'one item changed in place');
  t.same(inst.data.extra, { deep: { value: 'x' } }, 'missing objects are created');
  t.same(inst.data.list, [undefined, undefined, 'z'], 'a missing array is created');
  let called = false;
  inst.setData({ count: 2 }, () => (called = true));
  t.equal(inst.data.count, 2, 'this.data is updated at once');
  t.notOk(called, 'the callback runs after rendering');
  await h.settle();
  t.ok(called);
  const before = h.warnings.length;
  inst.setData({ nope: undefined });
  t.equal(h.warnings.length, before + 1, 'undefined warns');
  h.warnings.splice(before);
});

t.test('navigation: unknown pages, tabs and going back past the first page are refused', async (t) => {
  const results: string[] = [];
  const record = (r: { errMsg: string }) => results.push(r.errMsg);
  const wx = h.wx as Record<string, (o: object) => void>;
  wx.navigateTo!({ url: '/pages/nope/index', fail: record });
  wx.switchTab!({ url: '/pages/goods/index', fail: record });
  await h.settle();
  while (h.pages().length > 1) await h.back();
  wx.navigateBack!({ fail: record });
  wx.navigateTo!({ url: '../orders/index?x=1&y=a%20b', success: record });
  await h.settle();
  t.same(results, [
    'navigateTo:fail page "pages/nope/index" is not found',
    'switchTab:fail can not switch to no-tabBar page',
    'navigateBack:fail cannot navigate back at first page.',
    'navigateTo:ok',
  ]);
  t.match(h.current(), { route: 'pages/orders/index', query: { x: '1', y: 'a b' } }, 'relative url and query');
  t.throws(() => (h.wx as Record<string, unknown>).openLocation, /not provided by the page harness/);
});

t.test('the renderer: wx:if chains, wx:for names, data-* and a repeated wx:key', async (t) => {
  const warnings: string[] = [];
  const root = renderWxml(
    parseWxml(
      '<view wx:if="{{a}}">A</view><view wx:elif="{{b}}">B</view><view wx:else>C</view>' +
        '<block wx:for="{{rows}}" wx:for-item="r" wx:for-index="i" wx:key="id"><text data-row-id="{{r.id}}" data-n="3">{{i}}:{{r.id}}</text></block>',
    ),
    { a: false, b: true, rows: [{ id: 'x' }, { id: 'x' }] },
    (w) => warnings.push(w),
  );
  const texts = root.children.map((c) => (typeof c === 'string' ? c : c.children.join('')));
  t.same(texts, ['B', '0:x', '1:x']);
  const first = root.children[1];
  t.match(typeof first === 'object' ? first.dataset : {}, { rowId: 'x', n: '3' });
  t.equal(warnings.length, 1, 'the repeated key is reported');
});
