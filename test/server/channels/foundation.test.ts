// One merchant, many apps: notifies for each of the merchant's appids, an unknown appid, a notify whose
// appid is not its order's, one buyer across apps by unionid, and the migration of older orders.
import { createHash } from 'node:crypto';
import t from 'tap';
import { Types } from 'mongoose';
import { buildApp } from '../../../server/src/app.js';
import type { OrderDoc } from '../../../server/src/orders/model.js';
import type { Payer } from '../../../server/src/orders/service.js';
import { toBeijingTime } from '../../../server/src/wechat/index.js';
import { apiClient } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { onV3, paymentNotify } from '../../helpers/wechat-v3.js';

const SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

async function sandboxOpenid(s: Stack, appid: string, unionid?: string): Promise<{ code: string; openid: string }> {
  const res = await fetch(`${s.sandboxBase}/sandbox/login-codes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ appid, ...(unionid ? { unionid } : {}) }),
  });
  t.equal(res.status, 200);
  return (await res.json()) as { code: string; openid: string };
}

/** What WeChat reports paid for `order` under `appid` (v2's notify fields; sent in the server's API version). */
function notifyFields(s: Stack, order: OrderDoc, appid: string, openid: string): Record<string, string> {
  return {
    appid,
    mch_id: s.config.pay.mchId,
    nonce_str: 'n' + Math.random().toString(36).slice(2, 14),
    result_code: 'SUCCESS',
    return_code: 'SUCCESS',
    openid,
    is_subscribe: 'N',
    trade_type: order.tradeType ?? 'JSAPI',
    bank_type: 'OTHERS',
    total_fee: String(order.amount),
    fee_type: 'CNY',
    cash_fee: String(order.amount),
    transaction_id: '4200' + String(Date.now()).padStart(14, '0') + String(Math.floor(Math.random() * 1e10)).padStart(10, '0'),
    out_trade_no: order.outTradeNo,
    time_end: toBeijingTime(new Date()),
  };
}

/** The notify, signed with the merchant's own keys: v2 XML to /wxpay/notify, or v3 JSON to /wxpay/v3/notify. */
async function postNotify(s: Stack, fields: Record<string, string>) {
  const n = paymentNotify(s, fields);
  const res = await fetch(s.apiBase + n.path, { method: 'POST', headers: n.headers, body: n.body });
  return { status: res.status, text: await res.text() };
}

/** An order of this channel with a prepay at the sandbox (PAYING), as its pay route leaves it. */
async function payingOrder(s: Stack, payer: Payer): Promise<OrderDoc> {
  const { order } = await s.app.orders.create(payer, [{ sku: 'TEA-OOLONG', quantity: 1 }], '127.0.0.1');
  if (payer.channel === 'app') await s.app.orders.payApp(order);
  else if (payer.channel === 'native') await s.app.orders.payNative(order);
  else await s.app.orders.pay(order);
  const fresh = await s.app.orderRepo.find({ id: order._id.toString() });
  t.equal(fresh?.status, 'PAYING');
  return fresh!;
}

t.test('a notify for each of the merchant appids settles its order', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { mp, oa, open } = s.config.apps;
  t.ok(mp && oa && open, 'sandbox mode has all three apps');
  t.equal(new Set([mp!.appid, oa!.appid, open!.appid]).size, 3, 'each with its own appid');
  t.equal(s.config.wechat.appid, mp!.appid, 'config.wechat.appid is the mini-program');

  const cases: Array<[string, Payer]> = [];
  for (const [app, channel] of [
    [mp!, 'mp'],
    [oa!, 'oa-h5'],
    [open!, 'app'],
  ] as const) {
    const { openid } = await sandboxOpenid(s, app.appid);
    cases.push([channel, { appid: app.appid, openid, channel }]);
  }
  cases.push(['native', { appid: oa!.appid, channel: 'native', productId: 'TILL-1' }]);
  for (const [label, payer] of cases) {
    const order = await payingOrder(s, payer);
    t.equal(order.appid, payer.appid, `${label}: the order records its appid`);
    t.equal(order.channel, payer.channel);
    t.equal(order.tradeType, { mp: 'JSAPI', 'oa-h5': 'JSAPI', app: 'APP', native: 'NATIVE' }[payer.channel]);
    const payerOpenid = payer.openid ?? (await sandboxOpenid(s, payer.appid)).openid;
    const reply = await postNotify(s, notifyFields(s, order, payer.appid, payerOpenid));
    if (onV3()) t.match(reply, { status: 204, text: '' }, `${label}: 204, stored`);
    else t.equal(reply.text, SUCCESS, `${label}: SUCCESS`);
    const after = await s.app.orderRepo.find({ id: order._id.toString() });
    t.match(after, { status: 'PAID', flags: [], payerOpenid }, `${label}: PAID, unflagged`);
    if (label === 'native') t.equal(after!.productId, 'TILL-1');
  }
});

t.test('a notify for an appid the merchant does not have, or for another of its apps, changes nothing', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const oa = s.config.apps.oa!;
  const { openid } = await sandboxOpenid(s, oa.appid);
  const order = await payingOrder(s, { appid: oa.appid, openid, channel: 'oa-h5' });
  const before = await s.app.orderRepo.find({ id: order._id.toString() });

  // Signed with the merchant's own key, but for a stranger's appid: refused at verification.
  const stranger = await postNotify(s, notifyFields(s, order, 'wx00000000000000ff', openid));
  t.equal(stranger.status, 400);
  t.match(stranger.text, /FAIL/);
  t.match(stranger.text, /APPID_MISMATCH/);
  if (onV3()) t.same(JSON.parse(stranger.text), { code: 'FAIL', message: 'APPID_MISMATCH' }, "v3's FAIL body");

  // One of the merchant's apps, but not this order's: confirmed with orderquery (under the order's
  // appid) first; the trade is unpaid there, so nothing is recorded and WeChat is asked to retry.
  const other = await postNotify(s, notifyFields(s, order, s.config.apps.mp!.appid, openid));
  t.equal(other.status, 503);
  t.match(other.text, /FAIL/);
  if (onV3()) t.match(JSON.parse(other.text), { code: 'FAIL' }, "v3's FAIL body");

  const after = await s.app.orderRepo.find({ id: order._id.toString() });
  t.equal(after!.status, 'PAYING');
  t.equal(after!.version, before!.version, 'nothing written');
  t.same(after!.flags, []);
});

t.test('one person in two apps (same unionid) is one buyer and sees both orders', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const unionid = 'oUnion' + Math.random().toString(36).slice(2, 12);
  const mp = s.config.apps.mp!;
  const oa = s.config.apps.oa!;
  const login = await sandboxOpenid(s, mp.appid, unionid);
  const res = await fetch(s.apiBase + '/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: login.code }) });
  t.equal(res.status, 200);
  const { token } = (await res.json()) as { token: string };
  const session = await s.app.sessions.get(token);
  t.match(session, { appid: mp.appid, openid: login.openid, unionid, buyerId: /^[0-9a-f]{24}$/ });
  const api = apiClient(s.apiBase, token);
  const mpOrder = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;

  // The same person in the 公众号: another openid, the same unionid, the same buyer.
  const oaUser = await sandboxOpenid(s, oa.appid, unionid);
  const linked = await s.app.buyers.link({ appid: oa.appid, openid: oaUser.openid, unionid });
  t.equal(linked.buyerId, session!.buyerId);
  t.same(await s.app.buyers.link({ appid: oa.appid, openid: oaUser.openid }), linked, 'linking again gives the same buyer');
  const { order: oaOrder } = await s.app.orders.create({ buyerId: linked.buyerId, appid: oa.appid, openid: oaUser.openid, channel: 'oa-h5' }, [{ sku: 'COFFEE-LATTE', quantity: 1 }], '127.0.0.1');

  const list = await api.call<{ items: Array<{ id: string }> }>('GET', '/api/orders');
  t.same(list.body.items.map((o) => o.id).sort(), [mpOrder.id, oaOrder._id.toString()].sort(), 'both orders in one list');
  t.equal((await api.getOrder(oaOrder._id.toString())).status, 200, 'and the 公众号 order opens');

  // Someone else (no unionid) is another buyer.
  const stranger = await sandboxOpenid(s, oa.appid);
  t.not((await s.app.buyers.link({ appid: oa.appid, openid: stranger.openid })).buyerId, linked.buyerId);

  // Concurrent first logins of one (appid, openid) agree on one buyer.
  const fresh = await sandboxOpenid(s, oa.appid);
  const ids = await Promise.all(Array.from({ length: 8 }, () => s.app.buyers.link({ appid: oa.appid, openid: fresh.openid, unionid: unionid + 'x' })));
  t.equal(new Set(ids.map((r) => r.buyerId)).size, 1);
});

t.test('orders and sessions from before buyers existed are migrated at boot, once', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { token, openid } = await s.login();
  const api = apiClient(s.apiBase, token);
  const created = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 2 }])).body;
  const orders = s.app.mongo.collection('orders');
  const _id = new Types.ObjectId(created.id);
  // What an older release stored: no buyer, no channel, no appid; and a session with the openid alone.
  await orders.updateOne({ _id }, { $unset: { buyerId: '', channel: '', appid: '' } });
  await s.app.mongo.collection('buyer_links').deleteMany({});
  const legacyToken = 'L'.repeat(43);
  const key = `sess:${createHash('sha256').update(legacyToken).digest('hex')}`;
  await s.app.redis.set(key, JSON.stringify({ openid, sessionKey: 'x', createdAt: Date.now() }), 'EX', 600);

  const next = await buildApp(s.appOptions);
  t.teardown(() => next.close());
  const migrated = await orders.findOne({ _id });
  t.match(migrated, { buyerId: /^[0-9a-f]{24}$/, channel: 'mp', appid: s.config.apps.mp!.appid, tradeType: 'JSAPI' });
  t.equal(await next.buyers.find(s.config.apps.mp!.appid, openid), migrated!.buyerId, 'linked to the buyer of (mp appid, openid)');

  // Booting again changes nothing.
  const again = await buildApp(s.appOptions);
  await again.close();
  t.same(await orders.findOne({ _id }), migrated);

  // The old session keeps working, sees the order, and now carries its buyer.
  const res = await next.inject({ method: 'GET', url: '/api/orders', headers: { authorization: `Bearer ${legacyToken}` } });
  t.equal(res.statusCode, 200);
  t.same(res.json().items.map((o: { id: string }) => o.id), [created.id]);
  t.match(await next.sessions.get(legacyToken), { buyerId: migrated!.buyerId, appid: s.config.apps.mp!.appid, openid });
  t.ok((await s.app.redis.pttl(key)) > 0, 'with its lifetime kept');
});
