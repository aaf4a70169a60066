import t, { type Test } from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { parseXml, sign, toBeijingTime, toXml } from '../../../server/src/wechat/index.js';
import { responseMessage, rsaSign } from '../../../server/src/wechat/v3/crypto.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { onV3, paymentNotify, sandboxWechatpayKey, transactionOf, v3Notification } from '../../helpers/wechat-v3.js';

const SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
type Message = { path: string; headers: Record<string, string>; body: string | Buffer };

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
  return send(base, { path: '/wxpay/notify', headers: { 'content-type': contentType }, body });
}

async function send(base: string, m: Message) {
  const res = await fetch(base + m.path, { method: 'POST', headers: m.headers, body: typeof m.body === 'string' ? m.body : new Uint8Array(m.body) });
  return { status: res.status, text: await res.text() };
}

/** Stored, WeChat may stop: v2's SUCCESS XML with 200, v3's 204 with no body. */
function accepted(t: Test, r: { status: number; text: string }, what = 'stored') {
  if (onV3()) {
    t.equal(r.status, 204, `${what}: 204`);
    t.equal(r.text, '', `${what}: no body`);
  } else {
    t.equal(r.status, 200, `${what}: 200`);
    t.equal(r.text, SUCCESS, `${what}: SUCCESS`);
  }
}

/** Refused, WeChat retries: v2's FAIL XML, v3's {"code":"FAIL"} with a 4xx/5xx. Returns the reason given. */
function refusal(r: { status: number; text: string }): { code: string | undefined; message: string | undefined } {
  if (!onV3()) {
    const x = parseXml(r.text);
    return { code: x.return_code, message: x.return_msg };
  }
  const j = JSON.parse(r.text) as { code?: string; message?: string };
  return { code: r.status >= 400 ? j.code : `status ${r.status}`, message: j.message };
}

/** A v3 notification over exactly `body` (whatever it holds), signed with the sandbox's key at `timestamp`. */
function signedV3(s: Stack, body: string | Buffer, signedText: string, timestamp = Math.floor(Date.now() / 1000)): Message {
  const key = sandboxWechatpayKey(s);
  const nonce = randomBytes(16).toString('hex');
  return {
    path: '/wxpay/v3/notify',
    headers: {
      'content-type': 'application/json',
      'wechatpay-timestamp': String(timestamp),
      'wechatpay-nonce': nonce,
      'wechatpay-serial': key.id,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      'wechatpay-signature': rsaSign(responseMessage(String(timestamp), nonce, signedText), key.privatePem),
    },
    body,
  };
}

/** After refused notifies: the order did not move, nothing was written, the server is healthy, each refusal was a security log line. */
async function unmovedAfterRefusals(t: Test, s: Stack, orderId: string, lines: string[], refusals: number) {
  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(orderId) });
  t.equal(doc!.status, 'PAYING', 'the order did not move');
  t.equal(doc!.version, 1, 'nor was it written');
  t.equal((await fetch(s.apiBase + '/healthz')).status, 200, 'server still healthy');
  const security = lines.map((l) => JSON.parse(l) as { security?: boolean }).filter((l) => l.security);
  t.ok(security.length >= refusals, `each rejection logged as a security event (${security.length})`);
}

t.test('50 concurrent duplicate notifies over two instances: one PAID transition, one fulfilment, all SUCCESS', async (t) => {
  const s = await startStack({ instances: 2, jobs: { workers: true } });
  t.teardown(() => s.close());
  const { api, order, openid } = await paidAtWechat(s);
  const message = paymentNotify(s, notifyFields(s, order, openid));
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => send(s.apiBases[i % 2]!, message)));
  t.same(new Set(replies.map((r) => r.text)), new Set([onV3() ? '' : SUCCESS]), 'every reply is SUCCESS');
  t.same(new Set(replies.map((r) => r.status)), new Set([onV3() ? 204 : 200]));

  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.status, 'PAID');
  t.equal(doc!.history.filter((h: { to: string }) => h.to === 'PAID').length, 1, 'one PAID transition');
  // The fulfilment event follows on the job queue, once.
  await eventually(() => s.app.mongo.collection('orders').findOne({ _id: doc!._id }), (d) => d?.fulfilment?.state === 'EMITTED');
  t.equal(await s.app.mongo.collection('fulfilment_events').countDocuments({ orderId: doc!._id }), 1, 'one fulfilment event');
  t.equal((await api.getOrder(order.id)).body.status, 'PAID');

  // A late duplicate for the settled order: SUCCESS, nothing changes.
  accepted(t, await send(s.apiBases[1]!, message), 'late duplicate');
  const before = await s.app.mongo.collection('orders').findOne({ _id: doc!._id });
  accepted(t, await send(s.apiBases[0]!, message), 'another');
  const again = await s.app.mongo.collection('orders').findOne({ _id: doc!._id });
  t.equal(again!.version, before!.version, 'a duplicate writes nothing');
});

t.test('unverified or mismatched notifies change nothing, get FAIL, and never crash the server', { skip: onV3() && 'v2 protocol: XML, MD5 signatures; v3 below' }, async (t) => {
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
  await unmovedAfterRefusals(t, s, order.id, lines, cases.length);

  // And the genuine one still settles it.
  t.equal((await post(s.apiBase, signed(good, key))).text, SUCCESS);
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) }))!.status, 'PAID');
});

t.test('a correctly signed notify whose bytes are not valid UTF-8 is refused and changes nothing', { skip: onV3() && 'v2 protocol: XML; v3 below' }, async (t) => {
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
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) }))!.status, 'PAID');
});

t.test('v3: unverified or mismatched notifies change nothing, get FAIL, and never crash the server', { skip: !onV3() && 'v3 protocol: /wxpay/v3/notify; v2 above' }, async (t) => {
  const lines: string[] = [];
  const s = await startStack({ logStream: { write: (l) => void lines.push(l) } });
  t.teardown(() => s.close());
  const { order, openid } = await paidAtWechat(s);
  const good = notifyFields(s, order, openid);
  const tx = transactionOf(good);
  const notification = (resource: object, opts: Parameters<typeof v3Notification>[2] = {}): Message => ({ path: '/wxpay/v3/notify', ...v3Notification(s, resource, opts) });
  const genuine = notification(tx);
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const now = Math.floor(Date.now() / 1000);
  const without = (m: Message, header: string): Message => ({ ...m, headers: Object.fromEntries(Object.entries(m.headers).filter(([k]) => k !== header)) });
  const withHeader = (m: Message, header: string, value: string): Message => ({ ...m, headers: { ...m.headers, [header]: value } });
  const signedText = (text: string) => signedV3(s, text, text);

  const cases: Array<[string, Message, string]> = [
    ['forged signature', notification(tx, { signWith: otherKey }), 'BAD_SIGN'],
    ['tampered after signing', { ...genuine, body: String(genuine.body).replace(/"id":"[0-9a-f]+"/, '"id":"00000000000000000000000000000000"') }, 'BAD_SIGN'],
    ['no signature', without(genuine, 'wechatpay-signature'), 'BAD_SIGN'],
    ['no timestamp', without(genuine, 'wechatpay-timestamp'), 'BAD_SIGN'],
    ['unknown serial', withHeader(genuine, 'wechatpay-serial', 'PUB_KEY_ID_0000000000000000000000000000'), 'BAD_SIGN'],
    ['unknown signature type', withHeader(genuine, 'wechatpay-signature-type', 'HMAC-SHA256'), 'BAD_SIGN'],
    ['stale timestamp, correctly signed', notification(tx, { timestamp: now - 600 }), 'STALE'],
    ['future timestamp, correctly signed', notification(tx, { timestamp: now + 600 }), 'STALE'],
    ['resource under another APIv3 key', notification(tx, { apiV3Key: 'k'.repeat(32) }), 'BAD_RESOURCE'],
    ['a refund resource at the payment endpoint', notification(tx, { originalType: 'refund' }), 'BAD_RESOURCE'],
    ['wrong mchid, correctly signed', notification(transactionOf({ ...good, mch_id: '1900000109' })), 'MCHID_MISMATCH'],
    ['wrong appid, correctly signed', notification(transactionOf({ ...good, appid: 'wx0000000000000000' })), 'APPID_MISMATCH'],
    ['unknown order, correctly signed', notification(transactionOf({ ...good, out_trade_no: '99999999999999999999' })), 'unknown order'],
    ['non-integer amount', notification({ ...tx, amount: { ...(tx.amount as object), total: 12.5 } }), 'BAD_FIELD'],
    ['amount as a string', notification({ ...tx, amount: { ...(tx.amount as object), total: String(order.amount) } }), 'BAD_FIELD'],
    ['no transaction_id', notification(transactionOf({ ...good, transaction_id: '' })), 'MISSING_FIELD'],
    ['XML, correctly signed', signedText(signed(good, s.config.pay.apiKey)), 'BAD_RESOURCE'],
    ['not JSON, correctly signed', signedText('return_code=SUCCESS'), 'BAD_RESOURCE'],
    ['empty body, correctly signed', signedText(''), 'BAD_RESOURCE'],
    ['oversize body', signedText(JSON.stringify({ junk: 'A'.repeat(200_000) })), 'body too large'],
  ];
  for (const [name, message, reason] of cases) {
    const res = await send(s.apiBase, message);
    t.ok(res.status >= 400 && res.status < 500, `${name}: a 4xx (${res.status})`);
    t.same(refusal(res), { code: 'FAIL', message: reason }, `${name}: FAIL reply, ${reason}`);
  }
  await unmovedAfterRefusals(t, s, order.id, lines, cases.length);

  // And the genuine one still settles it.
  accepted(t, await send(s.apiBase, genuine), 'genuine');
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) }))!.status, 'PAID');
});

t.test('v3: a correctly signed notify whose bytes are not valid UTF-8 is refused and changes nothing', { skip: !onV3() && 'v3 protocol: /wxpay/v3/notify; v2 above' }, async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { order, openid } = await paidAtWechat(s);
  // Signed over the text a lenient decoder would read (U+FFFD for the bad bytes), then sent with the bad bytes.
  const envelope = JSON.parse(v3Notification(s, transactionOf(notifyFields(s, order, openid))).body) as Record<string, unknown>;
  const text = JSON.stringify({ ...envelope, summary: 'ab\uFFFDcd' });
  const good = Buffer.from(text, 'utf8');
  const replacement = Buffer.from('\uFFFD', 'utf8');
  const at = good.indexOf(replacement);
  t.ok(at > 0, 'the body holds the replacement character');
  for (const bad of [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe4, 0xb8])]) {
    const m = signedV3(s, Buffer.concat([good.subarray(0, at), bad, good.subarray(at + replacement.length)]), text);
    const res = await s.app.inject({ method: 'POST', url: m.path, headers: m.headers, payload: m.body });
    t.equal(res.statusCode, 400, `bytes ${bad.toString('hex')}: 400`);
    t.match(res.json(), { code: 'FAIL', message: 'NOT_UTF8' }, `bytes ${bad.toString('hex')}: FAIL`);
  }
  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.status, 'PAYING', 'the order did not move');
  t.equal(doc!.version, 1, 'nor was it written');
  // The same notify in valid UTF-8 settles it: the refusal was the bytes, not the rest.
  const m = signedV3(s, good, text);
  const ok = await s.app.inject({ method: 'POST', url: m.path, headers: m.headers, payload: m.body });
  t.equal(ok.statusCode, 204);
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) }))!.status, 'PAID');
});

t.test('a payment that arrives for a CLOSED order is recorded as PAID, flagged and held: a cancelled order is not shipped', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { order, openid } = await paidAtWechat(s);
  const _id = new Types.ObjectId(order.id);
  await s.app.mongo.collection('orders').updateOne({ _id }, { $set: { status: 'CLOSED' } });
  accepted(t, await send(s.apiBase, paymentNotify(s, notifyFields(s, order, openid))));
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
  // v3 words a failed payment as trade_state PAYERROR (v2: result_code FAIL, err_code BANKERROR).
  const fields = notifyFields(s, order, openid, { result_code: 'FAIL', err_code: onV3() ? 'PAYERROR' : 'BANKERROR', err_code_des: 'bank' });
  accepted(t, await send(s.apiBase, paymentNotify(s, fields)), 'acknowledged');
  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) });
  t.equal(doc!.status, 'FAILED');
  t.equal((await api.pay(order.id)).status, 200, 'the user may try again');
});

t.test('storage down: notify answers FAIL so that WeChat retries, and the retry settles it', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { order, openid } = await paidAtWechat(s);
  const message = paymentNotify(s, notifyFields(s, order, openid));
  const Order = s.app.mongo.model('Order');
  const original = Order.findOneAndUpdate;
  Order.findOneAndUpdate = (() => {
    throw new Error('storage unavailable');
  }) as unknown as typeof original;
  const down = await send(s.apiBase, message);
  Order.findOneAndUpdate = original;
  t.equal(refusal(down).code, 'FAIL');
  if (onV3()) t.ok(down.status >= 500, `a 5xx, so that WeChat retries (${down.status})`);
  t.equal((await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(order.id) }))!.status, 'PAYING');
  accepted(t, await send(s.apiBase, message), 'the retry');
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
    ...(s.config.pay.v3 ? [['APIv3 key', s.config.pay.v3.apiV3Key] as const] : []),
  ] as const) {
    t.notOk(all.includes(secret), `${name} is not logged`);
  }
  t.notMatch(all, /session_key/i);
});
