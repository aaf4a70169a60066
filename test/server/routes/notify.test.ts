import t from 'tap';
import { Types } from 'mongoose';
import { parseXml, sign, toBeijingTime, toXml } from '../../../server/src/wechat/index.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';

const SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

/** A PAYING order whose payment WeChat took, with the notify held back so the test can send its own. */
async function paidAtWechat(s: Stack) {
  const { token, openid } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 3 }])).body;
  const p = (await api.pay(order.id)).body;
  await s.faults({ notify: { action: 'drop', outTradeNo: order.outTradeNo } });
  t.same(await s.cashier(p), { errMsg: 'requestPayment:ok' });
  // Keep status polls from asking WeChat, so only notifies can settle it.
  await s.app.mongo.collection('orders').updateOne(
    { _id: new Types.ObjectId(order.id) },
    { $set: { lastQueryAt: new Date(Date.now() + 3600_000) } },
  );
  return { api, order, openid };
}

function notifyFields(s: Stack, order: { outTradeNo: string; amount: number }, openid: string, extra: Record<string, string> = {}) {
  const fields: Record<string, string> = {
    appid: s.config.wechat.appid,
    mch_id: s.config.pay.mchId,
    nonce_str: 'n' + Math.random().toString(36).slice(2, 14),
    result_code: 'SUCCESS',
    return_code: 'SUCCESS',
    openid,
    is_subscribe: 'N',
    trade_type: 'JSAPI',
    bank_type: 'OTHERS',
    total_fee: String(order.amount),
    fee_type: 'CNY',
    cash_fee: String(order.amount),
    transaction_id: '4200000' + '1'.repeat(21),
    out_trade_no: order.outTradeNo,
    time_end: toBeijingTime(new Date()),
    ...extra,
  };
  return fields;
}

const signed = (fields: Record<string, string>, key: string) => toXml({ ...fields, sign: sign(fields, key, 'MD5') });

async function post(base: string, body: string, contentType = 'text/xml') {
  const res = await fetch(base + '/wxpay/notify', { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, text: await res.text() };
}

t.test('50 concurrent duplicate notifies over two instances: one PAID transition, one fulfilment, all SUCCESS', async (t) => {
  const s = await startStack({ instances: 2, jobs: { workers: true } });
  t.teardown(() => s.close());
  const { api, order, openid } = await paidAtWechat(s);
  const body = signed(notifyFields(s, order, openid), s.config.pay.apiKey);
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => post(s.apiBases[i % 2]!, body)));
  t.same(new Set(replies.map((r) => r.text)), new Set([SUCCESS]), 'every reply is SUCCESS');
  t.same(new Set(replies.map((r) => r.status)), new Set([200]));

  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.status, 'PAID');
  t.equal(doc!.history.filter((h: { to: string }) => h.to === 'PAID').length, 1, 'one PAID transition');
  // The fulfilment event follows on the job queue, once.
  await eventually(() => s.app.mongo.collection('orders').findOne({ _id: doc!._id }), (d) => d?.fulfilment?.state === 'EMITTED');
  t.equal(await s.app.mongo.collection('fulfilment_events').countDocuments({ orderId: doc!._id }), 1, 'one fulfilment event');
  t.equal((await api.getOrder(order.id)).body.status, 'PAID');

  // A late duplicate for the settled order: SUCCESS, nothing changes.
  const late = await post(s.apiBases[1]!, body);
  t.equal(late.text, SUCCESS);
  const before = await s.app.mongo.collection('orders').findOne({ _id: doc!._id });
  t.equal((await post(s.apiBases[0]!, body)).text, SUCCESS);
  const again = await s.app.mongo.collection('orders').findOne({ _id: doc!._id });
  t.equal(again!.version, before!.version, 'a duplicate writes nothing');
});

t.test('unverified or mismatched notifies change nothing, get FAIL, and never crash the server', async (t) => {
  const lines: string[] = [];
  const s = await startStack({ logStream: { write: (l) => void lines.push(l) } });
  t.teardown(() => s.close());
  const { order, openid } = await paidAtWechat(s);
  const key = s.config.pay.apiKey;
  const good = notifyFields(s, order, openid);

  const cases: Array<[string, string, string?]> = [
    ['forged signature', signed(good, 'f'.repeat(32))],
    ['tampered after signing', signed(good, key).replace(`<total_fee><![CDATA[${order.amount}]]>`, '<total_fee><![CDATA[1]]>')],
    ['no signature', toXml(good)],
    ['wrong mch_id, correctly signed', signed({ ...good, mch_id: '1900000109' }, key)],
    ['wrong appid, correctly signed', signed({ ...good, appid: 'wx0000000000000000' }, key)],
    ['unknown order, correctly signed', signed({ ...good, out_trade_no: '99999999999999999999' }, key)],
    ['non-integer amount', signed({ ...good, total_fee: '12.5' }, key)],
    ['DOCTYPE payload', `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + signed(good, key)],
    ['oversize body', `<xml><junk><![CDATA[${'A'.repeat(200_000)}]]></junk></xml>`],
    ['not XML at all', '{"return_code":"SUCCESS"}', 'application/json'],
    ['empty body', ''],
    ['nested tags', signed(good, key).replace('<openid>', '<openid><x>1</x>')],
    ['duplicate tags', signed(good, key).replace('</xml>', '<total_fee>1</total_fee></xml>')],
  ];
  for (const [name, body, type] of cases) {
    const res = await post(s.apiBase, body, type);
    t.not(res.status, 200, `${name}: not a 200`);
    t.not(res.status, 500, `${name}: not a crash`);
    const reply = parseXml(res.text);
    t.equal(reply.return_code, 'FAIL', `${name}: FAIL reply`);
  }
  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.status, 'PAYING', 'the order did not move');
  t.equal(doc!.version, 1, 'nor was it written');
  t.equal((await fetch(s.apiBase + '/healthz')).status, 200, 'server still healthy');

  const security = lines.map((l) => JSON.parse(l) as { security?: boolean }).filter((l) => l.security);
  t.ok(security.length >= cases.length, `each rejection logged as a security event (${security.length})`);

  // And the genuine one still settles it.
  t.equal((await post(s.apiBase, signed(good, key))).text, SUCCESS);
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: doc!._id }))!.status, 'PAID');
});

t.test('a correctly signed notify whose bytes are not valid UTF-8 is refused and changes nothing', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { order, openid } = await paidAtWechat(s);
  // Signed over the text a lenient decoder would read (U+FFFD for the bad bytes), then sent with the bad bytes.
  const fields = notifyFields(s, order, openid, { attach: 'ab\uFFFDcd' });
  const good = Buffer.from(signed(fields, s.config.pay.apiKey), 'utf8');
  const replacement = Buffer.from('\uFFFD', 'utf8');
  const at = good.indexOf(replacement);
  t.ok(at > 0, 'the value holds the replacement character');
  for (const bad of [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe4, 0xb8])]) {
    const body = Buffer.concat([good.subarray(0, at), bad, good.subarray(at + replacement.length)]);
    const res = await s.app.inject({ method: 'POST', url: '/wxpay/notify', headers: { 'content-type': 'text/xml' }, payload: body });
    t.equal(res.statusCode, 400, `bytes ${bad.toString('hex')}: 400`);
    t.match(parseXml(res.body), { return_code: 'FAIL', return_msg: 'XML_MALFORMED' }, `bytes ${bad.toString('hex')}: FAIL`);
  }
  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.status, 'PAYING', 'the order did not move');
  t.equal(doc!.version, 1, 'nor was it written');
  // The same notify in valid UTF-8 settles it: the refusal was the bytes, not the rest.
  const ok = await s.app.inject({ method: 'POST', url: '/wxpay/notify', headers: { 'content-type': 'text/xml' }, payload: good });
  t.equal(ok.body, SUCCESS);
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: doc!._id }))!.status, 'PAID');
});

t.test('a payment that arrives for a CLOSED order is recorded as PAID, flagged and held: a cancelled order is not shipped', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { order, openid } = await paidAtWechat(s);
  const _id = new Types.ObjectId(order.id);
  await s.app.mongo.collection('orders').updateOne({ _id }, { $set: { status: 'CLOSED' } });
  const res = await post(s.apiBase, signed(notifyFields(s, order, openid), s.config.pay.apiKey));
  t.equal(res.text, SUCCESS);
  const doc = await s.app.mongo.collection('orders').findOne({ _id });
  t.equal(doc!.status, 'PAID');
  t.same(doc!.flags, ['PAID_AFTER_CLOSE']);
  t.equal(doc!.fulfilment.state, 'HELD', 'held for an operator');
  t.equal(doc!.followUp, 'OPEN', 'in the follow-up queue');
  t.same((await s.app.orders.followUps()).map((o) => o.outTradeNo), [order.outTradeNo]);
  // Whatever background work runs, a held payment is never fulfilled automatically.
  await s.app.orderRepo.emitFulfilment((await s.app.orderRepo.find({ id: order.id }))!);
  t.equal(await s.app.mongo.collection('fulfilment_events').countDocuments({ orderId: _id }), 0, 'no fulfilment event');
});

t.test('a FAIL result notify marks the attempt failed and the order stays payable', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { token, openid } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  await api.pay(order.id);
  const fields = notifyFields(s, order, openid, { result_code: 'FAIL', err_code: 'BANKERROR', err_code_des: 'bank' });
  const res = await post(s.apiBase, signed(fields, s.config.pay.apiKey));
  t.equal(res.text, SUCCESS, 'acknowledged');
  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.status, 'FAILED');
  t.equal((await api.pay(order.id)).status, 200, 'the user may try again');
});

t.test('storage down: notify answers FAIL so that WeChat retries, and the retry settles it', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { order, openid } = await paidAtWechat(s);
  const body = signed(notifyFields(s, order, openid), s.config.pay.apiKey);
  const Order = s.app.mongo.model('Order');
  const original = Order.findOneAndUpdate;
  Order.findOneAndUpdate = (() => {
    throw new Error('storage unavailable');
  }) as unknown as typeof original;
  const down = await post(s.apiBase, body);
  Order.findOneAndUpdate = original;
  t.equal(parseXml(down.text).return_code, 'FAIL');
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) }))!.status, 'PAYING');
  t.equal((await post(s.apiBase, body)).text, SUCCESS);
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) }))!.status, 'PAID');
});

t.test('no secret reaches a log line or a response on the whole flow', async (t) => {
  const lines: string[] = [];
  const s = await startStack({ logStream: { write: (l) => void lines.push(l) } });
  t.teardown(() => s.close());
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'COFFEE-LATTE', quantity: 1 }])).body;
  const pay = await api.pay(order.id);
  await s.cashier(pay.body);
  await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'PAID');
  await api.call('GET', '/api/orders', undefined, { authorization: `Bearer ${token}` });
  const all = lines.join('\n') + pay.text;
  t.ok(lines.length > 5, 'something was logged');
  for (const [name, secret] of [
    ['API key', s.config.pay.apiKey],
    ['appsecret', s.config.wechat.appsecret],
    ['session token', token],
  ] as const) {
    t.notOk(all.includes(secret), `${name} is not logged`);
  }
  t.notMatch(all, /session_key/i);
});
