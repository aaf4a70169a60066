// Native QR pay on the real services and the sandbox: a desktop checkout order, its code_url as a QR
// code (decoded back from the PNG), paid by a scan → notify → PAID; the QR renewed when its prepay ends;
// NATIVE without product_id refused by the sandbox; the page and the status JSON only with the token.
import t from 'tap';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { Types } from 'mongoose';
import { sign, toXml } from '../../../server/src/wechat/index.js';
import { eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';

// jsqr is CommonJS with `exports.default`: under NodeNext its default import is the module object.
const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule.default }).default ?? jsQRModule) as typeof jsQRModule.default;

async function sandboxPost(s: Stack, path: string, body: object) {
  const res = await fetch(s.sandboxBase + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function newNativeOrder(s: Stack, sku = 'COFFEE-LATTE', quantity = 1) {
  const res = await fetch(s.apiBase + '/pay/native/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku, quantity }) });
  t.equal(res.status, 201);
  const body = (await res.json()) as { id: string; url: string };
  const token = new URL(body.url, s.apiBase).searchParams.get('t')!;
  return { ...body, token };
}

/** What the QR code in the PNG says. */
async function decodePng(s: Stack, path: string): Promise<string> {
  const res = await fetch(s.apiBase + path);
  t.equal(res.status, 200, `GET ${path}`);
  t.equal(res.headers.get('content-type'), 'image/png');
  const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
  const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  if (!found) throw new Error('no QR code in the PNG');
  return found.data;
}

const status = async (s: Stack, id: string, token: string) => (await fetch(`${s.apiBase}/pay/native/orders/${id}/status?t=${token}`)).json() as Promise<{ status: string; paid: boolean; validUntil?: string; codeVersion?: string }>;

t.test('a Native order: its code_url in a QR code, paid by a scan, PAID from the notify', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const product = s.app.catalog.get('COFFEE-LATTE')!;
  const checkout = await fetch(`${s.apiBase}/pay/native/checkout?sku=COFFEE-LATTE`);
  t.equal(checkout.status, 200);
  const checkoutHtml = await checkout.text();
  t.match(checkoutHtml, '<html lang="zh-CN">');
  t.match(checkoutHtml, '微信扫码支付');
  t.match(checkoutHtml, `¥${(product.price / 100).toFixed(2)}`);

  const { id, url, token } = await newNativeOrder(s, 'COFFEE-LATTE', 2);
  const order = await s.app.orderRepo.find({ id });
  t.match(order, { channel: 'native', tradeType: 'NATIVE', productId: 'COFFEE-LATTE', appid: s.config.apps.oa!.appid, openid: '', amount: product.price * 2 });
  t.equal(order!.buyerId, undefined, 'a desktop buyer is nobody we know');
  t.notOk(JSON.stringify(order).includes(token), 'only the hash of the token is stored');

  const pageRes = await fetch(s.apiBase + url);
  t.equal(pageRes.status, 200);
  t.equal(pageRes.headers.get('cache-control'), 'no-store');
  t.equal(pageRes.headers.get('referrer-policy'), 'no-referrer');
  const html = await pageRes.text();
  t.match(html, '请打开微信，扫一扫二维码付款');
  t.match(html, `/pay/native/orders/${id}/qr.svg?t=${token}`);

  const codeUrl = await decodePng(s, `/pay/native/orders/${id}/qr.png?t=${token}`);
  const stored = await s.app.orderRepo.find({ id });
  t.equal(stored!.status, 'PAYING');
  t.equal(codeUrl, stored!.prepay!.codeUrl, 'the QR code carries the prepay code_url');
  t.match(codeUrl, /^weixin:\/\/wxpay\/bizpayurl\?pr=[0-9a-f]{16}$/);
  const svg = await fetch(`${s.apiBase}/pay/native/orders/${id}/qr.svg?t=${token}`);
  t.equal(svg.headers.get('content-type'), 'image/svg+xml');
  t.match(await svg.text(), /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.match(await status(s, id, token), { status: 'PAYING', paid: false, codeVersion: /^[0-9a-f]{12}$/, codeUrl });
  t.match(await (await fetch(s.apiBase + url)).text(), `<code id="code-url">${codeUrl}</code>`, 'sandbox mode prints the code_url to play the scan');

  // Without its token (or with another order's) nothing is shown.
  const other = await newNativeOrder(s);
  for (const path of [`/pay/native/orders/${id}?t=${other.token}`, `/pay/native/orders/${id}/status?t=${other.token}`, `/pay/native/orders/${id}/qr.png?t=${other.token}`]) {
    t.equal((await fetch(s.apiBase + path)).status, 404, path);
  }
  t.equal((await fetch(`${s.apiBase}/pay/native/orders/${id}`)).status, 400, 'no token at all: refused');

  const scanned = await sandboxPost(s, '/sandbox/scan', { codeUrl });
  t.match(scanned, { status: 200, body: { result: 'paid', outTradeNo: stored!.outTradeNo } });
  const final = await eventually(() => status(s, id, token), (v) => v.paid);
  t.match(final, { status: 'PAID', paid: true });
  const paid = await s.app.orderRepo.find({ id });
  t.same(paid!.flags, [], 'unflagged');
  t.equal(paid!.payerOpenid, scanned.body.openid, 'the scanner is the payer');
  t.equal(paid!.history.find((h) => h.to === 'PAID')?.source, 'notify');
  t.match(await sandboxPost(s, '/sandbox/scan', { codeUrl }), { status: 400, body: { code: 'ORDER_PAID' } }, 'a paid code cannot be paid twice');
  t.match(await (await fetch(s.apiBase + url)).text(), '支付成功');
});

t.test('the QR code is renewed once its prepay is over, and the old code no longer pays', async (t) => {
  let skew = 0;
  const s = await startStack({ env: { ORDER_PAY_WINDOW_MINUTES: '1440' }, sandboxNow: () => Date.now() + skew });
  t.teardown(() => s.close());
  const { id, token } = await newNativeOrder(s);
  const first = await decodePng(s, `/pay/native/orders/${id}/qr.png?t=${token}`);
  const v1 = (await status(s, id, token)).codeVersion;
  t.equal(await decodePng(s, `/pay/native/orders/${id}/qr.png?t=${token}`), first, 'reused while it lives');

  // Two hours later: WeChat's prepay is gone, and ours has passed its reuse window.
  skew = 2 * 3600_000 + 1000;
  await s.app.mongo.collection('orders').updateOne({ _id: new Types.ObjectId(id) }, { $set: { 'prepay.reuseUntil': new Date(Date.now() - 1000) } });
  const due = await status(s, id, token);
  t.ok(Date.parse(due.validUntil!) <= Date.now(), 'the status says the code is over (the page then reloads it)');
  const second = await decodePng(s, `/pay/native/orders/${id}/qr.png?t=${token}`);
  t.not(second, first, 'a new code_url');
  t.not((await status(s, id, token)).codeVersion, v1);
  t.match(await sandboxPost(s, '/sandbox/scan', { codeUrl: first }), { status: 404, body: { code: 'CODE_URL_NOT_FOUND' } });
  t.match(await sandboxPost(s, '/sandbox/scan', { codeUrl: second }), { status: 200, body: { result: 'paid' } });
  t.match(await eventually(() => status(s, id, token), (v) => v.paid), { status: 'PAID' });
});

t.test('the sandbox: NATIVE without product_id is LACK_PARAMS; with one it answers a code_url', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const fields: Record<string, string> = {
    appid: s.config.apps.oa!.appid,
    mch_id: s.config.pay.mchId,
    nonce_str: 'nonce' + Date.now(),
    body: '测试',
    out_trade_no: `NAT${Date.now()}`,
    total_fee: '1',
    spbill_create_ip: '127.0.0.1',
    notify_url: 'http://127.0.0.1/wxpay/notify',
    trade_type: 'NATIVE',
  };
  const post = async (f: Record<string, string>) => {
    const res = await fetch(`${s.sandboxBase}/pay/unifiedorder`, { method: 'POST', body: toXml({ ...f, sign: sign(f, s.config.pay.apiKey, 'MD5') }) });
    return { header: res.headers.get('x-sandbox-error'), text: await res.text() };
  };
  const lacking = await post(fields);
  t.equal(lacking.header, 'LACK_PARAMS');
  t.match(lacking.text, /<return_code><!\[CDATA\[FAIL\]\]><\/return_code>/);
  const ok = await post({ ...fields, product_id: 'TILL-7' });
  t.match(ok.text, /<code_url><!\[CDATA\[weixin:\/\/wxpay\/bizpayurl\?pr=[0-9a-f]{16}\]\]><\/code_url>/);
  t.match(await sandboxPost(s, '/sandbox/scan', { codeUrl: 'https://example.com/' }), { status: 400, body: { code: 'NOT_A_CODE_URL' } });
});

t.test('Native checkout input errors are clear 4xx', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const post = (body: unknown) => fetch(s.apiBase + '/pay/native/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const unknown = await post({ sku: 'NOPE', quantity: 1 });
  t.equal(unknown.status, 400);
  t.match(await unknown.json(), { code: 'UNKNOWN_SKU' });
  t.match(await (await post({ sku: 'TEA-OOLONG', quantity: 0 })).json(), { code: 'VALIDATION_ERROR' });
  t.match(await (await post({ sku: 'TEA-OOLONG', quantity: 1, price: 1 })).json(), { code: 'VALIDATION_ERROR' });
  const page = await fetch(`${s.apiBase}/pay/native/checkout?sku=NOPE`);
  t.equal(page.status, 404);
  t.match(await page.text(), '商品不存在');
});
