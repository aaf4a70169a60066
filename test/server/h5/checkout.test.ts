// The 公众号 H5 checkout on real services and the sandbox: OAuth (snsapi_base) → openid → buyer →
// H5 session → order priced on the server → JSAPI pay with the 公众号's appid → cashier → notify →
// PAID; each OAuth error page; and one person (one unionid) seeing mini-program and H5 orders alike.
import t, { type Test } from 'tap';
import { Types } from 'mongoose';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { verifySign } from '../../../server/src/wechat/index.js';
import { jsapiPayMessage, rsaVerify } from '../../../server/src/wechat/v3/crypto.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { notifyDelivered, onV3 } from '../../helpers/wechat-v3.js';
import { CookieBrowser, field, last, oaAppid, ownOaEnv, pageData } from './helpers.js';

const USER_COOKIE = 'sandbox_wx_user';
const newUnionid = () => `oU${randomBytes(12).toString('base64url')}`;

/** A browser that is `unionid` at WeChat, logged in to the H5 checkout at `path`. */
async function loggedIn(s: Stack, path = '/h5/checkout?sku=COFFEE-LATTE', unionid = newUnionid()) {
  const b = new CookieBrowser();
  b.setCookie(new URL(s.sandboxBase).origin, USER_COOKIE, unionid);
  const hops = await b.go(s.apiBase + path);
  return { b, hops, page: last(hops), unionid };
}

async function placeOrder(s: Stack, b: CookieBrowser, checkoutHtml: string, quantity: number) {
  const body = new URLSearchParams({ sku: field(checkoutHtml, 'sku'), quantity: String(quantity), _csrf: field(checkoutHtml, '_csrf'), key: field(checkoutHtml, 'key') });
  const posted = await b.hop(`${s.apiBase}/h5/orders`, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  return posted;
}

t.test('OAuth → order → pay → notify → PAID, with the 公众号 appid and openid', async (t) => {
  const logs: string[] = [];
  const s = await startStack({ env: ownOaEnv(), jobs: { workers: true }, logStream: { write: (line) => logs.push(line) } });
  t.teardown(() => s.close());
  const oa = oaAppid(s);
  const { b, hops, page, unionid } = await loggedIn(s);

  // 1. the entry sends the browser to WeChat's silent authorize, parameters in WeChat's order
  t.equal(hops[0]!.status, 302);
  const authorize = hops[0]!.location!;
  const prefix =
    `${s.sandboxBase}/connect/oauth2/authorize?appid=${oa}` +
    `&redirect_uri=${encodeURIComponent(`${s.apiBase}/h5/oauth/callback`)}&response_type=code&scope=snsapi_base&state=`;
  t.ok(authorize.startsWith(prefix), authorize);
  t.match(authorize.slice(prefix.length), /^[A-Za-z0-9]{32}#wechat_redirect$/);
  t.match(hops[0]!.headers.getSetCookie().join('\n'), /h5_oauth=[^;]+; Max-Age=86400; Path=\/h5\/; HttpOnly; SameSite=Lax/);
  // 2. the sandbox consents silently and comes back with a code; 3. the callback sets the session
  t.equal(hops[1]!.status, 302);
  t.match(hops[1]!.location, /\/h5\/oauth\/callback\?code=[A-Za-z0-9]{32}&state=[A-Za-z0-9]{32}$/);
  t.equal(hops[2]!.status, 303);
  t.equal(hops[2]!.location, `${s.apiBase}/h5/checkout?sku=COFFEE-LATTE`, 'back where the buyer was');
  t.match(hops[2]!.headers.getSetCookie().join('\n'), /h5_sid=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/h5\/; HttpOnly; SameSite=Lax/);
  t.equal(page.status, 200);
  t.match(page.text, /拿铁咖啡/);
  t.match(page.headers.get('content-security-policy'), /script-src 'self' http:\/\/127\.0\.0\.1:\d+; /);
  t.notMatch(page.headers.get('content-security-policy'), /unsafe-inline/);
  for (const h of hops) t.notMatch(`${h.location ?? ''}${h.text}`, s.config.apps.oa!.appsecret, 'the appsecret is in no page or URL');

  // 4. the order, priced by the server (the form carries a quantity, never a price)
  const posted = await placeOrder(s, b, page.text, 2);
  t.equal(posted.status, 303);
  const orderUrl = posted.location!;
  const id = new URL(orderUrl).searchParams.get('id')!;
  t.match(orderUrl, `${s.apiBase}/h5/order?id=`);
  const orderPage = await b.hop(orderUrl);
  t.equal(orderPage.status, 200);
  t.match(orderPage.text, /¥36\.00/);
  const data = pageData<{ csrf: string; api: { pay: string; order: string }; jssdk: { appId: string; timestamp: number; nonceStr: string; signature: string } }>(orderPage.text);

  // wx.config's signature is good for this very page, as the WeChat client checks it
  t.equal(data.jssdk.appId, oa);
  const verified = await fetch(`${s.sandboxBase}/sandbox/jssdk/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...data.jssdk, url: `${orderUrl}#anything` }),
  });
  t.same(await verified.json(), { errMsg: 'config:ok' });

  // a repeated form post (double tap) gives the same order
  const replay = await placeOrder(s, b, page.text, 2);
  t.equal(new URL(replay.location!).searchParams.get('id'), id, 'one order per form');

  // 5. pay: getBrandWCPayRequest's six values, for the 公众号's appid
  const noCsrf = await b.hop(`${s.apiBase}${data.api.pay}`, { method: 'POST' });
  t.equal(noCsrf.status, 403);
  t.match(JSON.parse(noCsrf.text), { code: 'CSRF_INVALID' });
  const payRes = await b.hop(`${s.apiBase}${data.api.pay}`, { method: 'POST', headers: { 'x-csrf-token': data.csrf } });
  t.equal(payRes.status, 200);
  const p = JSON.parse(payRes.text) as { appId: string; timeStamp: string; nonceStr: string; package: string; signType: 'MD5' | 'HMAC-SHA256' | 'RSA'; paySign: string };
  t.same(Object.keys(p).sort(), ['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
  t.equal(p.appId, oa);
  if (onV3()) {
    // a v3 prepay: RSA-SHA256 over appId, timeStamp, nonceStr, package with the merchant API certificate's key
    t.equal(p.signType, 'RSA');
    const cert = readFileSync(s.certs.merchants[s.config.pay.mchId]!.certPath, 'utf8');
    t.ok(rsaVerify(jsapiPayMessage(p.appId, p.timeStamp, p.nonceStr, p.package), p.paySign, cert), 'paySign verifies with the merchant certificate');
    t.notOk(rsaVerify(jsapiPayMessage(s.appid, p.timeStamp, p.nonceStr, p.package), p.paySign, cert), "and is not good for the mini-program's appid");
  } else {
    t.ok(verifySign({ appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType, sign: p.paySign }, s.config.pay.apiKey, p.signType as 'MD5' | 'HMAC-SHA256'));
  }

  // 6. the WeChat client pays; 7. the notify lands; 8. the page's poll reads PAID
  t.same(await s.cashier(p), { errMsg: 'requestPayment:ok' });
  const paid = await eventually(async () => JSON.parse((await b.hop(`${s.apiBase}${data.api.order}`)).text) as { status: string }, (o) => o.status === 'PAID');
  t.match(paid, { status: 'PAID', amount: 3600 });
  const doc = await s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(id) });
  t.match(doc, { channel: 'oa-h5', appid: oa, tradeType: 'JSAPI', status: 'PAID', amount: 3600 });
  const link = await s.app.mongo.collection('buyer_links').findOne({ appid: oa });
  t.ok(doc!.openid && doc!.openid === link?.openid, 'paid by the buyer\'s 公众号 openid');
  t.equal(link?.unionid, unionid);
  const notify = await notifyDelivered(s.sandboxBase, doc!.outTradeNo);
  t.ok(notify.ok, `settled by the notify (${notify.path})`);

  const result = await b.hop(`${s.apiBase}/h5/result?id=${id}`);
  t.match(result.text, /data-status="PAID"/);
  t.match(result.text, /已支付/);

  // no secret, code or session token in a log line
  const code = new URL(hops[1]!.location!).searchParams.get('code')!;
  const sid = b.cookie(new URL(s.apiBase).origin, 'h5_sid')!;
  const all = logs.join('');
  t.ok(all.length > 0, 'the server logged');
  for (const secret of [s.config.apps.oa!.appsecret, code, sid, data.csrf]) t.notOk(all.includes(secret), 'not in the logs');

  // someone else's order is not found, as a page and as JSON
  const other = await loggedIn(s);
  t.equal((await other.b.hop(orderUrl)).status, 404);
  t.equal((await other.b.hop(`${s.apiBase}${data.api.order}`)).status, 404);
});

t.test('each OAuth failure gets a Chinese page that says what happened, with a retry link', async (t) => {
  const s = await startStack({ env: ownOaEnv() });
  t.teardown(() => s.close());
  const entry = '/h5/checkout?sku=TEA-OOLONG';

  /** starts a login, stops at WeChat's answer: the callback URL (code + state) this browser would open */
  async function callbackFor(b: CookieBrowser) {
    const toWechat = await b.hop(s.apiBase + entry);
    const back = await b.hop(toWechat.location!);
    return new URL(back.location!);
  }
  const expectPage = (t: Test, hop: { status: number; text: string; headers: Headers }, status: number, code: string, zh: RegExp) => {
    t.equal(hop.status, status, code);
    t.equal(hop.headers.get('x-h5-error'), code);
    t.match(hop.text, `data-error-code="${code}"`);
    t.match(hop.text, zh);
    t.match(hop.text, /<a id="retry" class="button primary" href="[^"]+">重新进入/);
    t.match(hop.headers.get('content-type'), /^text\/html/);
    t.notMatch(hop.text, s.config.apps.oa!.appsecret);
  };

  const b = new CookieBrowser();
  const cb = await callbackFor(b);

  // state missing
  expectPage(t, await b.hop(`${s.apiBase}/h5/oauth/callback?code=${cb.searchParams.get('code')}`), 400, 'STATE_MISSING', /缺少 state/);

  // another browser opens this browser's callback: refused, and the state is spent
  const intruder = new CookieBrowser();
  await intruder.hop(s.apiBase + entry); // it has a binding of its own
  expectPage(t, await intruder.hop(cb.href), 400, 'STATE_FOREIGN', /不是在本浏览器中打开的/);
  expectPage(t, await b.hop(cb.href), 400, 'STATE_INVALID', /已使用或已过期/);

  // a good login, then its callback opened again (back button, refresh): the state is single use
  const cb2 = await callbackFor(b);
  const ok = await b.hop(cb2.href);
  t.equal(ok.status, 303);
  expectPage(t, await b.hop(cb2.href), 400, 'STATE_INVALID', /已使用或已过期/);

  // a code WeChat already redeemed, under a fresh state: 40163
  const fresh = new CookieBrowser();
  const cb3 = await callbackFor(fresh);
  const reused = `${s.apiBase}/h5/oauth/callback?code=${cb2.searchParams.get('code')}&state=${cb3.searchParams.get('state')}`;
  const used = await fresh.hop(reused);
  expectPage(t, used, 400, 'CODE_USED', /已被使用（40163）/);
  t.match(used.text, `href="/h5/checkout?sku=TEA-OOLONG"`, 'retry goes back to where the buyer was');

  // a code WeChat never issued: 40029
  const cb4 = await callbackFor(fresh);
  expectPage(t, await fresh.hop(`${s.apiBase}/h5/oauth/callback?code=${'Z'.repeat(32)}&state=${cb4.searchParams.get('state')}`), 400, 'CODE_INVALID', /无效或已过期（40029）/);

  // no code at all (the user refused, for snsapi_userinfo)
  const cb5 = await callbackFor(fresh);
  expectPage(t, await fresh.hop(`${s.apiBase}/h5/oauth/callback?state=${cb5.searchParams.get('state')}`), 400, 'CODE_MISSING', /未获得微信授权/);

  // a state nobody issued
  expectPage(t, await fresh.hop(`${s.apiBase}/h5/oauth/callback?code=x&state=${'A'.repeat(32)}`), 400, 'STATE_INVALID', /已使用或已过期/);

  // and none of it logged anyone in
  t.notOk(fresh.cookie(new URL(s.apiBase).origin, 'h5_sid'));
  t.notOk(intruder.cookie(new URL(s.apiBase).origin, 'h5_sid'));
});

t.test('one person, one unionid: the mini-program and the 公众号 orders in both lists', async (t) => {
  const s = await startStack({ env: ownOaEnv(), jobs: { workers: true } });
  t.teardown(() => s.close());
  const unionid = newUnionid();

  // the mini-program: a wx.login code for this person (the mini-program's own openid)
  const minted = (await (await fetch(`${s.sandboxBase}/sandbox/login-codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid: s.appid, unionid }) })).json()) as { code: string };
  const session = (await (await fetch(`${s.apiBase}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: minted.code }) })).json()) as { token: string };
  const mp = apiClient(s.apiBase, session.token);
  const mpOrder = (await mp.createOrder([{ sku: 'CAKE-CHEESE', quantity: 1 }])).body;
  t.same(await s.cashier((await mp.pay(mpOrder.id)).body), { errMsg: 'requestPayment:ok' });
  await eventually(() => mp.getOrder(mpOrder.id), (r) => r.body.status === 'PAID');

  // the 公众号: the same person in WeChat's browser
  const { b, page } = await loggedIn(s, '/h5/checkout?sku=COFFEE-AMERICANO', unionid);
  const orderUrl = (await placeOrder(s, b, page.text, 1)).location!;
  const data = pageData<{ csrf: string; api: { pay: string; order: string } }>((await b.hop(orderUrl)).text);
  const p = JSON.parse((await b.hop(`${s.apiBase}${data.api.pay}`, { method: 'POST', headers: { 'x-csrf-token': data.csrf } })).text);
  t.same(await s.cashier(p), { errMsg: 'requestPayment:ok' });
  const h5Id = new URL(orderUrl).searchParams.get('id')!;
  await eventually(async () => JSON.parse((await b.hop(`${s.apiBase}${data.api.order}`)).text) as { status: string }, (o) => o.status === 'PAID');

  const list = (await mp.call<{ items: { id: string; status: string }[] }>('GET', '/api/orders')).body.items;
  t.same(list.map((o) => o.id).sort(), [mpOrder.id, h5Id].sort(), 'the mini-program lists both');
  const h5List = (await b.hop(`${s.apiBase}/h5/orders`)).text;
  t.match(h5List, `data-order="${mpOrder.id}"`);
  t.match(h5List, `data-order="${h5Id}"`);
  t.equal((h5List.match(/data-status="PAID"/g) ?? []).length, 2, 'both paid, in the H5 list');

  const docs = await s.app.mongo.collection('orders').find({}).toArray();
  t.same(new Set(docs.map((d) => d.appid)), new Set([s.appid, oaAppid(s)]), 'each order kept its own appid');
  t.equal(new Set(docs.map((d) => d.buyerId)).size, 1, 'one buyer');
});

t.test('pages under the payment directory only; bad input is a clear 4xx page', async (t) => {
  const s = await startStack({ env: ownOaEnv() });
  t.teardown(() => s.close());
  const { b } = await loggedIn(s);
  const unknown = await b.hop(`${s.apiBase}/h5/checkout?sku=NOPE`);
  t.equal(unknown.status, 404);
  t.equal(unknown.headers.get('x-h5-error'), 'UNKNOWN_SKU');
  // WeChat's own parameters on a shared link do not break the page
  t.equal((await b.hop(`${s.apiBase}/h5/checkout?sku=COFFEE-LATTE&from=singlemessage&isappinstalled=0`)).status, 200);
  const page = (await b.hop(`${s.apiBase}/h5/checkout?sku=COFFEE-LATTE`)).text;
  const body = new URLSearchParams({ sku: 'COFFEE-LATTE', quantity: '0', _csrf: field(page, '_csrf'), key: field(page, 'key') });
  const zero = await b.hop(`${s.apiBase}/h5/orders`, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(zero.status, 400);
  t.match(zero.text, 'data-error-code="VALIDATION_ERROR"');
  body.set('quantity', '1');
  body.set('_csrf', 'forged');
  const forged = await b.hop(`${s.apiBase}/h5/orders`, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(forged.status, 403);
  t.equal(forged.headers.get('x-h5-error'), 'CSRF_INVALID');
  t.equal(await s.app.mongo.collection('orders').countDocuments({}), 0, 'nothing ordered');
  const noOrder = await b.hop(`${s.apiBase}/h5/order?id=${'0'.repeat(24)}`);
  t.equal(noOrder.status, 404);
  t.match(noOrder.text, /订单不存在/);
  // a mini-program token is no H5 session
  const { token } = await s.login();
  const mpCookie = await fetch(`${s.apiBase}/h5/orders`, { redirect: 'manual', headers: { cookie: `h5_sid=${token}` } });
  t.equal(mpCookie.status, 302, 'sent to the 公众号 login');
});

t.test('with real WeChat, a browser that is not WeChat\'s is told to open the page in WeChat', async (t) => {
  // real mode, its WeChat hosts still the sandbox's
  const s = await startStack({ env: ownOaEnv(), tweak: (c) => ({ ...c, sandbox: { ...c.sandbox, enabled: false } }) });
  t.teardown(() => s.close());
  const desktop = await fetch(`${s.apiBase}/h5/checkout?sku=COFFEE-LATTE`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0' } });
  t.equal(desktop.status, 200);
  t.equal(desktop.headers.get('x-h5-error'), 'OPEN_IN_WECHAT');
  t.match(await desktop.text(), /请在微信中打开此页面/);
  const wechat = await fetch(`${s.apiBase}/h5/checkout?sku=COFFEE-LATTE`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (iPhone) MicroMessenger/8.0.47 NetType/WIFI Language/zh_CN' } });
  t.equal(wechat.status, 302);
  t.match(wechat.headers.get('location'), `${s.config.wechat.openBase}/connect/oauth2/authorize?appid=`);
  t.match(wechat.headers.get('content-security-policy'), "script-src 'self' https://res.wx.qq.com;", 'the JS-SDK from WeChat, no sandbox script');
});

t.test('another payment directory (H5_PAY_PATH): the pages, the OAuth return and the printed code move with it', async (t) => {
  const s = await startStack({ env: { ...ownOaEnv(), H5_PAY_PATH: '/pay/h5/' } });
  t.teardown(() => s.close());
  const b = new CookieBrowser();
  const scan = await b.hop(`${s.apiBase}/pay/scan/COFFEE-LATTE`, { headers: { 'user-agent': 'Mozilla/5.0 (iPhone) MicroMessenger/8.0.47 NetType/WIFI Language/zh_CN' } });
  t.equal(scan.status, 302);
  t.equal(scan.location, `${s.apiBase}/pay/h5/checkout?sku=COFFEE-LATTE`, 'WeChat scanners go to the checkout in the payment directory');
  const hops = await b.go(scan.location!);
  t.match(hops[0]!.location, `&redirect_uri=${encodeURIComponent(`${s.apiBase}/pay/h5/oauth/callback`)}&`);
  t.equal(last(hops).status, 200);
  t.match(last(hops).text, /拿铁咖啡/);
  t.match(last(hops).text, 'action="/pay/h5/orders"');
  t.equal((await b.hop(`${s.apiBase}/h5/checkout?sku=COFFEE-LATTE`)).status, 404, 'nothing left at the default directory');
});
