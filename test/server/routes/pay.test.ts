import t from 'tap';
import { createVerify } from 'node:crypto';
import { Types } from 'mongoose';
import { sign, verifySign } from '../../../server/src/wechat/index.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { onV3 } from '../../helpers/wechat-v3.js';

async function orderFor(s: Stack) {
  const { token, openid } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'COFFEE-AMERICANO', quantity: 2 }])).body;
  return { api, order, openid, token };
}

const orders = (s: Stack) => s.app.mongo.collection('orders');
const events = (s: Stack) => s.app.mongo.collection('fulfilment_events');

// v2 signs pay params with the API key (MD5 or HMAC-SHA256, WECHATPAY_SIGN_TYPE); v3 always with the
// merchant certificate's private key (signType RSA), whatever WECHATPAY_SIGN_TYPE says.
for (const signType of ['MD5', 'HMAC-SHA256', 'RSA'] as const) {
  const skip = signType === 'RSA' ? !onV3() && 'API v3 pay params (signType RSA)' : onV3() && `v2 protocol: ${signType} pay params`;
  t.test(`happy path with ${signType}: order, pay, cashier, notify, PAID`, { skip }, async (t) => {
    const s = await startStack({ env: signType === 'RSA' ? {} : { WECHATPAY_SIGN_TYPE: signType }, jobs: { workers: true } });
    t.teardown(() => s.close());
    const { api, order } = await orderFor(s);

    const pay = await api.pay(order.id);
    t.equal(pay.status, 200);
    const p = pay.body;
    t.match(p, { appId: s.appid, timeStamp: /^\d{10}$/, nonceStr: /^[A-Za-z0-9]{1,32}$/, package: /^prepay_id=\S+$/, signType, sandbox: true, sandboxBase: s.sandboxBase });
    if (signType === 'RSA') {
      // paySign verifies as wx.requestPayment checks it: SHA256-RSA over appId, timeStamp, nonceStr and
      // package, one a line, with the merchant API certificate.
      const cert = s.certs.merchants[s.config.pay.mchId]!.certPem;
      const message = `${p.appId}\n${p.timeStamp}\n${p.nonceStr}\n${p.package}\n`;
      t.ok(createVerify('RSA-SHA256').update(message).verify(cert, p.paySign, 'base64'), 'paySign verifies');
      t.notOk(createVerify('RSA-SHA256').update(message.replace(p.nonceStr, p.nonceStr + 'x')).verify(cert, p.paySign, 'base64'), 'and only for these params');
    } else {
      // paySign verifies as wx.requestPayment checks it: the five params, the merchant key, the same sign type.
      const five = { appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType };
      t.ok(verifySign({ ...five, sign: p.paySign }, s.config.pay.apiKey, signType), 'paySign verifies');
      t.equal(p.paySign, sign(five, s.config.pay.apiKey, signType));
    }
    t.equal((await api.getOrder(order.id)).body.status, 'PAYING');

    t.same(await s.cashier(p), { errMsg: 'requestPayment:ok' });
    const paid = await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'PAID');
    t.match(paid.body, { status: 'PAID', amount: order.amount, transactionId: /^\d{28}$/, paidAt: String });

    // The fulfilment follows the PAID write (it may still be on its way when the poll sees PAID).
    const doc = await eventually(
      () => orders(s).findOne({ _id: new Types.ObjectId(order.id) }),
      (d) => d?.fulfilment?.state === 'EMITTED',
    );
    t.same(doc!.history.map((h: { to: string }) => h.to), ['PAYING', 'PAID']);
    t.equal(doc!.history[1].source, 'notify');
    t.equal(await events(s).countDocuments({ orderId: doc!._id }), 1, 'one fulfilment event');
    t.match(doc!.fulfilment, { state: 'EMITTED' });

    // A paid order cannot be paid again.
    const again = await api.pay(order.id);
    t.equal(again.status, 409);
    t.match(again.body, { code: 'ORDER_ALREADY_PAID' });
  });
}

t.test('a repeated pay reuses the prepay_id; a stale one is replaced', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { api, order } = await orderFor(s);
  const first = (await api.pay(order.id)).body;
  const second = (await api.pay(order.id)).body;
  t.equal(second.package, first.package, 'same prepay_id within its life');
  t.not(second.nonceStr, first.nonceStr, 'freshly signed');
  const _id = new Types.ObjectId(order.id);
  const kept = (await orders(s).findOne({ _id }))!;
  t.equal((await orders(s).findOne({ _id }))!.version, kept.version, 'reuse wrote nothing');
  // Concurrent pay requests for one order all get a valid prepay, and only one is stored.
  const staleSince = new Date(Date.now() - 1000);
  await orders(s).updateOne({ _id }, { $set: { 'prepay.reuseUntil': staleSince, 'prepay.createdAt': new Date(Date.now() - 111 * 60_000) } });
  const results = await Promise.all([api.pay(order.id), api.pay(order.id), api.pay(order.id)]);
  const ok = results.filter((r) => r.status === 200);
  t.equal(ok.length, 3, 'every concurrent pay request got params (the others waited for the first prepay)');
  // A new unifiedorder was made and stored once: a fresh prepay with a life of its own.
  const replaced = (await orders(s).findOne({ _id }))!;
  t.ok(replaced.prepay.createdAt.getTime() > kept.prepay.createdAt.getTime(), 'a new prepay was stored');
  t.ok(replaced.prepay.reuseUntil.getTime() > Date.now(), 'and it is live');
  t.equal(replaced.version, kept.version + 1, 'stored once, not three times');
  // WeChat answers the same prepay_id for the same out_trade_no and parameters within 2 hours.
  t.same(new Set(ok.map((r) => r.body.package)), new Set([`prepay_id=${replaced.prepay.prepayId}`]));
});

t.test('SYSTEMERROR from unifiedorder is retried with the same out_trade_no', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { api, order } = await orderFor(s);
  await s.faults({ payApi: { action: 'SYSTEMERROR', api: 'unifiedorder', count: 2 } });
  const pay = await api.pay(order.id);
  t.equal(pay.status, 200, 'third attempt succeeded');
  t.same(await s.cashier(pay.body), { errMsg: 'requestPayment:ok' });

  const { api: api2, order: order2 } = await orderFor(s);
  await s.faults({ payApi: { action: 'SYSTEMERROR', api: 'unifiedorder', count: 3 } });
  const failed = await api2.pay(order2.id);
  t.equal(failed.status, 502);
  t.match(failed.body, { code: 'WECHAT_UNAVAILABLE' });
  t.equal((await api2.getOrder(order2.id)).body.status, 'CREATED', 'order left payable');
  t.equal((await api2.pay(order2.id)).status, 200, 'and payable once WeChat recovers');
});

t.test('notify dropped: polling the order still reaches PAID through orderquery', async (t) => {
  const s = await startStack({ jobs: { workers: true } });
  t.teardown(() => s.close());
  const { api, order } = await orderFor(s);
  const p = (await api.pay(order.id)).body;
  await s.faults({ notify: { action: 'drop' } });
  t.same(await s.cashier(p), { errMsg: 'requestPayment:ok' });
  const res = await api.getOrder(order.id);
  t.equal(res.body.status, 'PAID', 'the very first poll asked WeChat');
  const doc = await orders(s).findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.history.at(-1).source, 'orderquery');
  t.equal(await eventually(() => events(s).countDocuments({ orderId: doc!._id }), (n) => n === 1), 1, 'one fulfilment event');
  const log = (await (await fetch(`${s.sandboxBase}/sandbox/notifications?out_trade_no=${order.outTradeNo}`)).json()) as unknown;
  t.match(log, { attempts: [{ dropped: true }] }, 'the sandbox really dropped it');
});

t.test('status polls ask WeChat at most once per interval', async (t) => {
  const s = await startStack({ env: { ORDER_QUERY_INTERVAL_SECONDS: '60' } });
  t.teardown(() => s.close());
  const { api, order } = await orderFor(s);
  await api.pay(order.id);
  t.equal((await api.getOrder(order.id)).body.status, 'PAYING');
  const queried = (await orders(s).findOne({ _id: new Types.ObjectId(order.id) }))!.lastQueryAt as Date;
  t.type(queried, Date);
  // Ten concurrent polls inside the interval: none reaches WeChat (a hung orderquery would show).
  await s.faults({ payApi: { action: 'hang', api: 'orderquery', count: 1 } });
  const polls = await Promise.all(Array.from({ length: 10 }, () => api.getOrder(order.id)));
  t.same(new Set(polls.map((r) => r.status)), new Set([200]));
  const after = (await orders(s).findOne({ _id: new Types.ObjectId(order.id) }))!.lastQueryAt as Date;
  t.equal(after.getTime(), queried.getTime(), 'no new query');
});

t.test('ORDERPAID from unifiedorder settles the order as PAID, not an error', async (t) => {
  const s = await startStack({ jobs: { workers: true } });
  t.teardown(() => s.close());
  const { api, order } = await orderFor(s);
  const p = (await api.pay(order.id)).body;
  await s.faults({ notify: { action: 'drop' } });
  await s.cashier(p);
  // Forget the prepay locally, so the next pay asks WeChat again; and suppress the status refresh.
  await orders(s).updateOne(
    { _id: new Types.ObjectId(order.id) },
    { $set: { 'prepay.reuseUntil': new Date(0), lastQueryAt: new Date(Date.now() + 3600_000) } },
  );
  const res = await api.pay(order.id);
  t.equal(res.status, 409);
  t.match(res.body, { code: 'ORDER_ALREADY_PAID' });
  const doc = await orders(s).findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.status, 'PAID');
  t.equal(await eventually(() => events(s).countDocuments({ orderId: doc!._id }), (n) => n === 1), 1, 'one fulfilment event');
});

t.test('cancel: closes at WeChat and locally; a paid order stays PAID', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());

  // No prepay yet: closed locally.
  const a = await orderFor(s);
  const closedA = await a.api.cancel(a.order.id);
  t.match(closedA.body, { status: 'CLOSED' });
  t.match((await a.api.pay(a.order.id)).body, { code: 'ORDER_NOT_PAYABLE' });
  t.match((await a.api.cancel(a.order.id)).body, { status: 'CLOSED' }, 'cancel is idempotent');

  // With a prepay: closed at WeChat too, so the cashier can no longer pay it.
  const b = await orderFor(s);
  const pb = (await b.api.pay(b.order.id)).body;
  t.match((await b.api.cancel(b.order.id)).body, { status: 'CLOSED' });
  t.match(await s.cashier(pb), { errMsg: /^requestPayment:fail/ });
  t.equal((await b.api.getOrder(b.order.id)).body.status, 'CLOSED');

  // Paid at WeChat but the notify is late: cancel finds ORDERPAID and the order becomes PAID.
  const c = await orderFor(s);
  const pc = (await c.api.pay(c.order.id)).body;
  await s.faults({ notify: { action: 'drop' } });
  t.same(await s.cashier(pc), { errMsg: 'requestPayment:ok' });
  const cancelled = await c.api.cancel(c.order.id);
  t.equal(cancelled.status, 200);
  t.match(cancelled.body, { status: 'PAID', transactionId: /^\d{28}$/ });
});

t.test('cancel racing a payment ends PAID, never CLOSED with money taken', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  for (let i = 0; i < 6; i++) {
    const { api, order } = await orderFor(s);
    const p = (await api.pay(order.id)).body;
    const [paid, cancelled] = await Promise.all([s.cashier(p), api.cancel(order.id)]);
    const final = await eventually(
      () => api.getOrder(order.id),
      (r) => r.body.status === 'PAID' || paid.errMsg !== 'requestPayment:ok',
    );
    if (paid.errMsg === 'requestPayment:ok') {
      t.equal(final.body.status, 'PAID', `round ${i}: the cashier took the money, the order is PAID (cancel said ${cancelled.body.status})`);
    } else {
      t.equal(final.body.status, 'CLOSED', `round ${i}: closed first, the cashier refused (${paid.errMsg})`);
    }
  }
});

t.test('an order past its pay window is closed and cannot be paid', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { api, order } = await orderFor(s);
  await orders(s).updateOne({ _id: new Types.ObjectId(order.id) }, { $set: { expiresAt: new Date(Date.now() + 60_000) } });
  const res = await api.pay(order.id);
  t.equal(res.status, 409);
  t.match(res.body, { code: 'ORDER_EXPIRED' });
  t.equal((await api.getOrder(order.id)).body.status, 'CLOSED');

  // An unpaid CREATED order past expiry reads as CLOSED.
  const other = await orderFor(s);
  await orders(s).updateOne({ _id: new Types.ObjectId(other.order.id) }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
  t.equal((await other.api.getOrder(other.order.id)).body.status, 'CLOSED');
});

