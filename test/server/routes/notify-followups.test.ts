// Money WeChat took is never lost from view: a signed payment that disagrees with its order is
// confirmed with orderquery, recorded with a flag, held from fulfilment and put in the follow-up queue.
import t, { type Test } from 'tap';
import { Types } from 'mongoose';
import { buildApp } from '../../../server/src/app.js';
import { parseXml, sign, toBeijingTime, toXml, type SignType } from '../../../server/src/wechat/index.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { onV3, paymentNotify } from '../../helpers/wechat-v3.js';

const SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

/** A PAYING order with a prepay; `tamper` runs after the prepay (what WeChat knows) and before the cashier. */
async function order(s: Stack, opts: { pay?: boolean; tamper?: Record<string, unknown> } = {}) {
  const { token, openid } = await s.login();
  const api = apiClient(s.apiBase, token);
  const created = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 2 }])).body;
  const params = (await api.pay(created.id)).body;
  const _id = new Types.ObjectId(created.id);
  // Only our own notifies settle it, and status polls never ask WeChat on their own.
  await s.faults({ notify: { action: 'drop', outTradeNo: created.outTradeNo } });
  await s.app.mongo.collection('orders').updateOne({ _id }, { $set: { lastQueryAt: new Date(Date.now() + 3600_000), ...opts.tamper } });
  if (opts.pay !== false) t.same(await s.cashier(params), { errMsg: 'requestPayment:ok' });
  return { api, created, openid, _id };
}

/** A payment notification as v2 fields and a v2 sign type; `post` words it in the server's API version. */
function notify(s: Stack, o: { outTradeNo: string; amount: number }, openid: string, extra: Record<string, string> = {}, signType: SignType = 'MD5') {
  const fields: Record<string, string> = {
    appid: s.config.wechat.appid,
    mch_id: s.config.pay.mchId,
    nonce_str: 'n' + Math.random().toString(36).slice(2, 14),
    result_code: 'SUCCESS',
    return_code: 'SUCCESS',
    openid,
    trade_type: 'JSAPI',
    bank_type: 'OTHERS',
    total_fee: String(o.amount),
    fee_type: 'CNY',
    cash_fee: String(o.amount),
    transaction_id: '4200001' + String(Math.floor(Math.random() * 1e15)).padStart(21, '0'),
    out_trade_no: o.outTradeNo,
    time_end: toBeijingTime(new Date()),
    ...(signType === 'HMAC-SHA256' ? { sign_type: 'HMAC-SHA256' } : {}),
    ...extra,
  };
  return { fields, signType };
}
type Notify = ReturnType<typeof notify>;

/** The v2 XML, signed with the API key the way `notify` asked. */
const v2Xml = (s: Stack, n: Notify) => toXml({ ...n.fields, sign: sign(n.fields, s.config.pay.apiKey, n.signType) });

async function post(s: Stack, n: Notify) {
  const m = paymentNotify(s, n.fields, { signType: n.signType });
  const res = await fetch(s.apiBase + m.path, { method: 'POST', headers: m.headers, body: m.body });
  return { status: res.status, text: await res.text() };
}

/** Stored, WeChat may stop: v2's SUCCESS XML with 200, v3's 204 with no body. */
function accepted(t: Test, r: { status: number; text: string }, what = 'stored, so WeChat stops retrying') {
  if (onV3()) t.same(r, { status: 204, text: '' }, what);
  else t.same(r, { status: 200, text: SUCCESS }, what);
}

/** Refused so that WeChat asks again: v2's FAIL XML, v3's {"code":"FAIL"} with a 4xx/5xx. */
function refused(t: Test, r: { status: number; text: string }, what = 'FAIL') {
  if (onV3()) {
    t.ok(r.status >= 400, `${what}: an error status (${r.status})`);
    t.equal((JSON.parse(r.text) as { code?: string }).code, 'FAIL', what);
  } else {
    t.equal(parseXml(r.text).return_code, 'FAIL', what);
  }
}

const doc = (s: Stack, _id: Types.ObjectId) => s.app.mongo.collection('orders').findOne({ _id });
const events = (s: Stack, _id: Types.ObjectId) => s.app.mongo.collection('fulfilment_events').countDocuments({ orderId: _id });

t.test('a signed notify whose amount differs: confirmed by orderquery, recorded with AMOUNT_MISMATCH, held, SUCCESS', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  // WeChat's trade is for the prepay's amount; the order now says 100 fen more (a merchant-side change).
  const first = await order(s);
  const paidAtWechat = first.created.amount;
  await s.app.mongo.collection('orders').updateOne({ _id: first._id }, { $inc: { amount: 100 } });
  accepted(t, await post(s, notify(s, { outTradeNo: first.created.outTradeNo, amount: paidAtWechat }, first.openid)));
  const d = await doc(s, first._id);
  t.match(d, { status: 'PAID', paidAmount: paidAtWechat, amount: paidAtWechat + 100, flags: ['AMOUNT_MISMATCH'], followUp: 'OPEN' });
  t.equal(d!.fulfilment.state, 'HELD');
  t.ok(d!.transactionId, 'the transaction WeChat reported is kept');
  t.equal(await events(s, first._id), 0, 'not fulfilled');
  t.same((await s.app.orders.followUps()).map((o) => o.outTradeNo), [first.created.outTradeNo], 'in the follow-up queue');

  // A retry of the same notify changes nothing more.
  accepted(t, await post(s, notify(s, { outTradeNo: first.created.outTradeNo, amount: paidAtWechat }, first.openid, { transaction_id: d!.transactionId })), 'the retry');
  t.equal((await doc(s, first._id))!.version, d!.version);
});

t.test('a signed notify whose buyer or trade type differs is held the same way', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  for (const [flag, tamper] of [
    ['OPENID_MISMATCH', { openid: 'o-someone-else' }],
    ['TRADE_TYPE_MISMATCH', { tradeType: 'NATIVE' }],
  ] as const) {
    const o = await order(s, { tamper });
    accepted(t, await post(s, notify(s, o.created, o.openid)), `${flag}: SUCCESS once stored`);
    const d = await doc(s, o._id);
    t.match(d, { status: 'PAID', flags: [flag], followUp: 'OPEN' }, flag);
    t.equal(d!.fulfilment.state, 'HELD', `${flag}: held`);
    t.equal(await events(s, o._id), 0, `${flag}: not fulfilled`);
  }
});

t.test('a signed notify that orderquery contradicts records what WeChat says, or nothing at all', async (t) => {
  const lines: string[] = [];
  const s = await startStack({ logStream: { write: (l) => void lines.push(l) } });
  t.teardown(() => s.close());

  // Paid at WeChat for the right amount; the notify claims another amount and currency: WeChat's own answer wins.
  const paid = await order(s);
  accepted(t, await post(s, notify(s, { ...paid.created, amount: paid.created.amount - 1 }, paid.openid, { fee_type: 'USD' })));
  const d = await doc(s, paid._id);
  t.match(d, { status: 'PAID', paidAmount: paid.created.amount }, 'settled from orderquery');
  t.same(d!.flags, [], 'unflagged');
  t.equal(d!.fulfilment.state !== 'HELD', true, 'not held');
  t.ok(lines.some((l) => l.includes('"payment_report_mismatch"')), 'the disagreement is a security log event');

  // Not paid at WeChat at all: nothing is recorded and WeChat is told to retry.
  const unpaid = await order(s, { pay: false });
  refused(t, await post(s, notify(s, { ...unpaid.created, amount: unpaid.created.amount + 5 }, unpaid.openid)), 'not confirmed: FAIL');
  t.match(await doc(s, unpaid._id), { status: 'PAYING', version: 1 });
  t.ok(lines.some((l) => l.includes('"notify_not_confirmed"')));
});

t.test('a transaction that already paid another order does not fulfil a second one', async (t) => {
  const s = await startStack({ jobs: { workers: true } });
  t.teardown(() => s.close());
  const a = await order(s);
  accepted(t, await post(s, notify(s, a.created, a.openid, { transaction_id: '4200001111222233334444555566' })), 'the first order');
  const b = await order(s, { pay: false });
  await eventually(() => events(s, a._id), (n) => n === 1);
  accepted(t, await post(s, notify(s, b.created, b.openid, { transaction_id: '4200001111222233334444555566' })), 'the second order');
  const held = await eventually(() => doc(s, b._id), (d) => d?.fulfilment?.state === 'HELD');
  t.match(held, { status: 'PAID', flags: ['TRANSACTION_REUSED'], followUp: 'OPEN' });
  t.equal(held!.fulfilment.state, 'HELD');
  t.equal(await events(s, a._id), 1, 'the first order is fulfilled');
  t.equal(await events(s, b._id), 0, 'the second is not');
});

t.test('a second transaction for a paid order is recorded once, flagged, and the order stays as paid', async (t) => {
  const s = await startStack({ jobs: { workers: true } });
  t.teardown(() => s.close());
  const a = await order(s);
  accepted(t, await post(s, notify(s, a.created, a.openid, { transaction_id: '4200001000000000000000000001' })), 'the first transaction');
  const second = notify(s, a.created, a.openid, { transaction_id: '4200001000000000000000000002' });
  accepted(t, await post(s, second), 'the second transaction');
  accepted(t, await post(s, second), 'a retry');
  const d = await doc(s, a._id);
  t.match(d, { status: 'PAID', transactionId: '4200001000000000000000000001', flags: ['SECOND_TRANSACTION'], followUp: 'OPEN' });
  t.equal(d!.extraPayments.length, 1, 'recorded once');
  t.match(d!.extraPayments[0], { transactionId: '4200001000000000000000000002', totalFee: a.created.amount, source: 'notify' });
  t.equal(await eventually(() => events(s, a._id), (n) => n === 1), 1, 'the first payment is fulfilled once');
});

t.test('notifies verify with the sign type their trade was made with, across a switch of WECHATPAY_SIGN_TYPE', { skip: onV3() && 'v2 protocol: MD5 and HMAC-SHA256 sign types; v3 below' }, async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const o = await order(s, { pay: false }); // prepaid with MD5
  const other = await order(s, { pay: false });
  // The merchant switches to HMAC-SHA256 and restarts: this order's notifies are still MD5-signed.
  const switched = await buildApp({
    config: { ...s.config, pay: { ...s.config.pay, signType: 'HMAC-SHA256' } },
    dbName: s.dbName,
    jobsPrefix: s.appOptions.jobsPrefix,
  });
  t.teardown(() => switched.close());
  const inject = (body: string) => switched.inject({ method: 'POST', url: '/wxpay/notify', headers: { 'content-type': 'text/xml' }, payload: body });
  t.equal((await inject(v2Xml(s, notify(s, o.created, o.openid)))).body, SUCCESS, 'MD5 notify of an MD5 trade verifies after the switch');
  t.equal((await doc(s, o._id))!.status, 'PAID');

  // A notify signed with a sign type this trade never used is refused.
  const wrong = await inject(v2Xml(s, notify(s, other.created, other.openid, {}, 'HMAC-SHA256')));
  t.equal(parseXml(wrong.body).return_code, 'FAIL');
  t.match(await doc(s, other._id), { status: 'PAYING', version: 1 });
});

t.test('v3: a trade made over v3 takes only v3 notifies, across a switch of WECHATPAY_API_VERSION', { skip: !onV3() && 'v3 protocol: RSA-signed trades; v2 above' }, async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const o = await order(s, { pay: false }); // prepaid over v3
  const other = await order(s, { pay: false });
  t.same((await doc(s, o._id))!.signTypes, ['RSA'], 'the trade was made with RSA');

  // WeChat notifies in the version that created the trade: a v2 notify for it, though signed with our v2 key, is refused.
  for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
    const res = await fetch(s.apiBase + '/wxpay/notify', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: v2Xml(s, notify(s, other.created, other.openid, {}, signType)) });
    t.equal(res.status, 400, `${signType}: 400`);
    t.match(parseXml(await res.text()), { return_code: 'FAIL', return_msg: 'sign type' }, `${signType}: FAIL`);
  }
  t.match(await doc(s, other._id), { status: 'PAYING', version: 1 }, 'nothing changed');

  // The merchant switches back to v2 and restarts: this trade's v3 notifies still verify and settle it.
  const switched = await buildApp({
    config: { ...s.config, pay: { ...s.config.pay, apiVersion: 'v2' } },
    dbName: s.dbName,
    jobsPrefix: s.appOptions.jobsPrefix,
  });
  t.teardown(() => switched.close());
  const m = paymentNotify(s, notify(s, o.created, o.openid).fields);
  const res = await switched.inject({ method: 'POST', url: m.path, headers: m.headers, payload: m.body });
  t.equal(res.statusCode, 204, 'the v3 notify of a v3 trade verifies after the switch');
  t.match(await doc(s, o._id), { status: 'PAID', paidAmount: o.created.amount });
});
