// The one printed code (/pay/scan/:code): WeChat goes into the 公众号 H5 flow, anything else gets a
// Chinese page naming the apps that can pay it; the routing is a list of Scanners.
import Fastify from 'fastify';
import t from 'tap';
import { createCatalog } from '../../../server/src/catalog.js';
import scanRoutes from '../../../server/src/channels/scan/routes.js';
import { H5_CHECKOUT_PATH, type Scanner } from '../../../server/src/channels/scan/scanners.js';
import { testConfig } from '../../helpers/services.js';
import { artifactDir, chromiumPath, launchBrowser, noChromiumReason } from '../../helpers/browser.js';
import { join } from 'node:path';
import { startStack } from '../../helpers/stack.js';

const WECHAT_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN';
const SAFARI_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const ALIPAY_UA = `${SAFARI_UA} AlipayClient/10.5.0`;

t.test('the scan URL: WeChat into the 公众号 H5 flow, other apps a page saying which apps can pay', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const open = (ua: string, code = 'COFFEE-LATTE') => fetch(`${s.apiBase}/pay/scan/${code}`, { headers: { 'user-agent': ua }, redirect: 'manual' });

  const wechat = await open(WECHAT_UA);
  t.equal(wechat.status, 302);
  t.equal(wechat.headers.get('location'), `${H5_CHECKOUT_PATH}?sku=COFFEE-LATTE`);

  for (const ua of [SAFARI_UA, ALIPAY_UA, '']) {
    const res = await open(ua);
    t.equal(res.status, 200, `UA ${ua || '(none)'}`);
    const html = await res.text();
    t.match(html, '<html lang="zh-CN">');
    t.match(html, '请用以下应用扫码付款');
    t.match(html, '<li>微信 WeChat</li>');
    t.match(html, '拿铁咖啡');
  }
  const unknown = await open(WECHAT_UA, 'NO-SUCH-CODE');
  t.equal(unknown.status, 404);
  t.match(await unknown.text(), '付款码无效');
  t.equal((await open(SAFARI_UA, 'bad%20code')).status, 400);

  // The code to print: a QR code of this very URL.
  const qr = await fetch(`${s.apiBase}/pay/scan/COFFEE-LATTE/qr.svg`);
  t.equal(qr.headers.get('content-type'), 'image/svg+xml');
});

t.test('another wallet is one more Scanner in the list', async (t) => {
  const config = testConfig();
  const app = Fastify();
  app.decorate('config', config);
  app.decorate('catalog', createCatalog());
  const alipay: Scanner = {
    name: 'alipay',
    label: '支付宝 Alipay',
    matches: (ua) => /AlipayClient\//.test(ua),
    handle: (ctx, reply) => reply.redirect(`/alipay/checkout?sku=${ctx.product.sku}`, 302),
  };
  const wechat: Scanner = { name: 'wechat', label: '微信 WeChat', matches: (ua) => ua.includes('MicroMessenger/'), handle: (_c, reply) => reply.code(204).send() };
  await app.register(scanRoutes, { scanners: [wechat, alipay] });
  t.teardown(() => app.close());
  const res = await app.inject({ url: '/pay/scan/TEA-OOLONG', headers: { 'user-agent': ALIPAY_UA } });
  t.equal(res.headers.location, '/alipay/checkout?sku=TEA-OOLONG');
  t.equal((await app.inject({ url: '/pay/scan/TEA-OOLONG', headers: { 'user-agent': WECHAT_UA } })).statusCode, 204);
  const other = await app.inject({ url: '/pay/scan/TEA-OOLONG', headers: { 'user-agent': SAFARI_UA } });
  t.match(other.body, '<li>微信 WeChat</li><li>支付宝 Alipay</li>');
});

t.test('in Chromium: the scan URL as WeChat and as another browser, and the Native checkout paid by a scan', { skip: chromiumPath() ? false : noChromiumReason }, async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const dir = artifactDir('channels');

  const other = await browser.newPage({ userAgent: SAFARI_UA, viewport: { width: 390, height: 844 } });
  await other.goto(`${s.apiBase}/pay/scan/COFFEE-LATTE`);
  t.equal(await other.textContent('h1'), '请用以下应用扫码付款');
  t.equal(await other.textContent('#apps'), '微信 WeChat');
  await other.screenshot({ path: join(dir, 'scan-other-browser.png'), fullPage: true });

  const inWechat = await browser.newPage({ userAgent: WECHAT_UA, viewport: { width: 390, height: 844 } });
  const landed = await inWechat.goto(`${s.apiBase}/pay/scan/COFFEE-LATTE`);
  t.equal(new URL(landed!.url()).pathname + new URL(landed!.url()).search, `${H5_CHECKOUT_PATH}?sku=COFFEE-LATTE`, 'WeChat lands on the H5 checkout');
  await inWechat.screenshot({ path: join(dir, 'scan-wechat.png'), fullPage: true });

  const desk = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await desk.goto(`${s.apiBase}/pay/native/checkout?sku=CAKE-CHEESE`);
  await desk.screenshot({ path: join(dir, 'native-1-checkout.png'), fullPage: true });
  await Promise.all([desk.waitForURL(/\/pay\/native\/orders\/[0-9a-f]{24}\?t=/), desk.click('#go')]);
  await desk.waitForFunction(() => {
    const img = document.getElementById('qr') as HTMLImageElement | null;
    return !!img && img.complete && img.naturalWidth > 0;
  });
  t.equal(await desk.textContent('#status'), '请打开微信，扫一扫二维码付款');
  await desk.screenshot({ path: join(dir, 'native-2-qr.png'), fullPage: true });

  const id = /orders\/([0-9a-f]{24})/.exec(desk.url())![1]!;
  const order = await s.app.orderRepo.find({ id });
  const scan = await fetch(`${s.sandboxBase}/sandbox/scan`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ codeUrl: order!.prepay!.codeUrl }) });
  t.equal(scan.status, 200);
  await desk.waitForFunction(() => document.getElementById('status')?.textContent?.includes('支付成功'), undefined, { timeout: 20_000 });
  t.equal(await desk.isHidden('#qr'), true, 'the QR code goes once paid');
  await desk.screenshot({ path: join(dir, 'native-3-paid.png'), fullPage: true });
});
