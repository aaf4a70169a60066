// APP pay end to end on the real services and the sandbox: the mobile SDK's login code, an APP order,
// the seven PayReq params signed as WeChat's APP doc says, the sandbox's APP cashier, notify → PAID.
import t from 'tap';
import { Types } from 'mongoose';
import { createPayClient, sign, WxPayError, type SignType } from '../../../server/src/wechat/index.js';
import { readFileSync } from 'node:fs';
import { appPayMessage, rsaVerify } from '../../../server/src/wechat/v3/crypto.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { onV3 } from '../../helpers/wechat-v3.js';

type AppParams = { appid: string; partnerid: string; prepayid: string; package: string; noncestr: string; timestamp: string; sign: string; sandbox?: boolean; sandboxBase?: string };

async function sandboxPost(s: Stack, path: string, body: object) {
  const res = await fetch(s.sandboxBase + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The mobile app logging in: the SDK's SendAuth code (played by the sandbox), exchanged by our server. */
async function appLogin(s: Stack, unionid?: string) {
  const minted = await sandboxPost(s, '/sandbox/oauth-codes', { appid: s.config.apps.open!.appid, ...(unionid ? { unionid } : {}) });
  t.equal(minted.status, 200);
  const code = minted.body.code as string;
  const res = await apiClient(s.apiBase).call<{ token: string; expiresIn: number }>('POST', '/api/app/session', { code });
  t.equal(res.status, 200, 'app login');
  return { token: res.body.token, openid: minted.body.openid as string, code };
}

const APP_KEYS = ['appid', 'partnerid', 'prepayid', 'package', 'noncestr', 'timestamp'] as const;

for (const signType of ['MD5', 'HMAC-SHA256'] as SignType[]) {
  t.test(`APP params signed right (${signType}), paid at the APP cashier, notify → PAID`, async (t) => {
    const s = await startStack({ env: { WECHATPAY_SIGN_TYPE: signType } });
    t.teardown(() => s.close());
    const open = s.config.apps.open!;
    const { token, openid } = await appLogin(s);
    const session = await s.app.sessions.get(token);
    t.match(session, { appid: open.appid, openid, buyerId: /^[0-9a-f]{24}$/ });

    const api = apiClient(s.apiBase, token);
    const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 2 }])).body;
    const doc = await s.app.orderRepo.find({ id: order.id });
    t.match(doc, { channel: 'app', appid: open.appid, tradeType: 'APP', openid, buyerId: session!.buyerId });

    const paid = await api.call<AppParams>('POST', `/api/app/orders/${order.id}/pay`);
    t.equal(paid.status, 200);
    const p = paid.body;
    t.match(p, { appid: open.appid, partnerid: s.config.pay.mchId, prepayid: /^wx\d{14}[0-9a-f]{20}$/, package: 'Sign=WXPay', noncestr: /^[A-Za-z0-9]{16,32}$/, timestamp: /^\d{10}$/ });
    if (onV3()) {
      // API v3's APP 调起支付: RSA-SHA256 over appid, timestamp, noncestr, prepayid, with the merchant API certificate's key
      const cert = readFileSync(s.certs.merchants[s.config.pay.mchId]!.certPath, 'utf8');
      t.match(p.sign, /^[A-Za-z0-9+/]{342}==$/, 'an RSA-2048 signature, base64');
      t.ok(rsaVerify(appPayMessage(p.appid, p.timestamp, p.noncestr, p.prepayid), p.sign, cert), 'sign: RSA over the four values, verifiable with the merchant certificate');
      t.notOk(rsaVerify(appPayMessage(p.appid, String(Number(p.timestamp) + 1), p.noncestr, p.prepayid), p.sign, cert), 'and over these values only');
    } else {
      const five = Object.fromEntries(APP_KEYS.map((k) => [k, p[k]]));
      t.equal(p.sign, sign(five, s.config.pay.apiKey, signType), 'sign over the six lower-case keys with the API key and the order sign type');
    }
    t.same(Object.keys(p).sort(), [...APP_KEYS, 'sign', 'sandbox', 'sandboxBase'].sort(), 'nothing else (no paySign, no appId)');
    t.equal((await api.call<AppParams>('POST', `/api/app/orders/${order.id}/pay`)).body.prepayid, p.prepayid, 'the prepay is reused');

    // The SDK refuses params whose sign is not the merchant's.
    const forged = await sandboxPost(s, '/sandbox/app-cashier', { ...p, timestamp: String(Number(p.timestamp) + 1) });
    t.match(forged, { status: 400, body: { errCode: -1, code: 'SIGN_INVALID' } });
    const cancelled = await sandboxPost(s, '/sandbox/app-cashier', { ...p, outcome: 'cancel' });
    t.match(cancelled.body, { errCode: -2 });
    t.equal((await api.getOrder(order.id)).body.status, 'PAYING', 'a cancel pays nothing');

    t.match((await sandboxPost(s, '/sandbox/app-cashier', { ...p, openid })).body, { errCode: 0 });
    const after = await eventually(() => s.app.orderRepo.find({ id: order.id }), (o) => o?.status === 'PAID');
    t.match(after, { status: 'PAID', payerOpenid: openid });
    t.same(after!.flags, [], 'unflagged');
    t.equal(after!.fulfilment?.state, 'PENDING', 'and on its way to fulfilment');
    t.equal(after!.history.find((h) => h.to === 'PAID')?.source, 'notify', 'settled by the notify');
    t.equal((await api.getOrder(order.id)).body.status, 'PAID');
  });
}

t.test('an APP order paid from another WeChat account on the phone is still an ordinary payment', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { token } = await appLogin(s);
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const p = (await api.call<AppParams>('POST', `/api/app/orders/${order.id}/pay`)).body;
  t.match((await sandboxPost(s, '/sandbox/app-cashier', p)).body, { errCode: 0 }, 'paid by a WeChat user the app never saw');
  const after = await eventually(() => s.app.orderRepo.find({ id: order.id }), (o) => o?.status === 'PAID');
  t.same(after!.flags, [], 'no OPENID_MISMATCH: APP does not bind the payer');
  t.not(after!.payerOpenid, after!.openid);
});

t.test("the app's own success is not proof: status only from notify / orderquery", async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { token } = await appLogin(s);
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const p = (await api.call<AppParams>('POST', `/api/app/orders/${order.id}/pay`)).body;
  // No route takes the app's word for it.
  for (const path of [`/api/app/orders/${order.id}/paid`, `/api/app/orders/${order.id}/result`, `/api/orders/${order.id}/paid`]) {
    t.equal((await api.call('POST', path, { errCode: 0 })).status, 404, `POST ${path} does not exist`);
  }
  t.equal((await api.getOrder(order.id)).body.status, 'PAYING');

  // Paid at WeChat, the notify lost: the next status poll asks WeChat (orderquery under the open appid).
  await s.faults({ notify: { action: 'drop', outTradeNo: order.outTradeNo } });
  t.match((await sandboxPost(s, '/sandbox/app-cashier', p)).body, { errCode: 0 });
  await s.app.mongo.collection('orders').updateOne({ _id: new Types.ObjectId(order.id) }, { $unset: { lastQueryAt: '' } });
  t.equal((await api.getOrder(order.id)).body.status, 'PAID');
  const doc = await s.app.orderRepo.find({ id: order.id });
  t.equal(doc!.history.find((h) => h.to === 'PAID')?.source, 'orderquery');
});

t.test('channels keep to their own pay route; APP with a mini-program appid is refused by WeChat (sandbox)', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const mp = apiClient(s.apiBase, (await s.login()).token);
  const mpOrder = (await mp.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  t.match(await mp.call('POST', `/api/app/orders/${mpOrder.id}/pay`), { status: 409, body: { code: 'WRONG_CHANNEL' } });
  const app = apiClient(s.apiBase, (await appLogin(s)).token);
  const appOrder = (await app.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  t.match(await app.call('POST', `/api/orders/${appOrder.id}/pay`), { status: 409, body: { code: 'WRONG_CHANNEL' } });
  t.match(await app.call('POST', `/api/app/orders/${mpOrder.id}/pay`), { status: 404 }, "another buyer's order is not found");

  // the server's own client on v3 (its default appid is the mini-program's); a bare v2 one on v2
  const client = onV3() ? s.app.wechat.pay : createPayClient({ appid: s.config.apps.mp!.appid, mchId: s.config.pay.mchId, key: s.config.pay.apiKey, signType: 'MD5', baseUrl: s.sandboxBase, retries: 0 });
  if (!onV3()) t.teardown(() => client.close());
  const req = { body: '测试', out_trade_no: `APPMP${Date.now()}`, total_fee: 1, spbill_create_ip: '127.0.0.1', notify_url: 'http://127.0.0.1/wxpay/notify', trade_type: 'APP' as const };
  const refused = await client.unifiedOrder(req).catch((e: unknown) => e);
  t.ok(refused instanceof WxPayError);
  t.match(refused, { code: 'PARAM_ERROR' });
  const ok = await client.unifiedOrder({ ...req, out_trade_no: `${req.out_trade_no}O` }, { appid: s.config.apps.open!.appid });
  t.match(ok, { trade_type: 'APP', prepay_id: /^wx/ }, 'the open appid may');
});

t.test('app login: codes are single use and errors are clear; one person (unionid) across app and mini-program', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const unionid = 'oU' + Math.random().toString(36).slice(2, 14);
  const first = await appLogin(s, unionid);
  const again = await apiClient(s.apiBase).call('POST', '/api/app/session', { code: first.code });
  t.match(again, { status: 400, body: { code: 'LOGIN_CODE_USED' } });
  t.match(await apiClient(s.apiBase).call('POST', '/api/app/session', { code: 'nosuchcode123' }), { status: 400, body: { code: 'LOGIN_INVALID_CODE' } });
  t.match(await apiClient(s.apiBase).call('POST', '/api/app/session', { code: 'bad code' }), { status: 400, body: { code: 'VALIDATION_ERROR' } });

  const mpCode = await sandboxPost(s, '/sandbox/login-codes', { appid: s.config.apps.mp!.appid, unionid });
  const mpLogin = await apiClient(s.apiBase).call<{ token: string }>('POST', '/api/session', { code: mpCode.body.code });
  const [a, m] = await Promise.all([s.app.sessions.get(first.token), s.app.sessions.get(mpLogin.body.token)]);
  t.equal(a!.buyerId, m!.buyerId, 'one buyer');
  const appApi = apiClient(s.apiBase, first.token);
  const mpApi = apiClient(s.apiBase, mpLogin.body.token);
  const o1 = (await appApi.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const o2 = (await mpApi.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  for (const api of [appApi, mpApi]) {
    const items = (await api.call<{ items: Array<{ id: string; channel?: string }> }>('GET', '/api/orders')).body.items;
    t.same(items.map((o) => o.id).sort(), [o1.id, o2.id].sort());
    t.same(Object.fromEntries(items.map((o) => [o.id, o.channel])), { [o1.id]: 'app', [o2.id]: 'mp' }, 'each says its channel');
  }
});
