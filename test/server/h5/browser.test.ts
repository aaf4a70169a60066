// The H5 flow walked in headless Chromium, as a buyer in WeChat's browser would, with the sandbox
// playing WeChat: the silent OAuth redirects, goods, order, the pay sheet (WeixinJSBridge from the
// sandbox script), the result page polling until the server's PAID; a cancelled pay; an OAuth error
// page. A screenshot of each step goes to test-artifacts/h5/. No CSP violation may occur.
import t from 'tap';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { artifactDir, chromiumPath, launchBrowser, noChromiumReason } from '../../helpers/browser.js';
import { startStack } from '../../helpers/stack.js';
import { notifyDelivered } from '../../helpers/wechat-v3.js';
import { ownOaEnv } from './helpers.js';

const WECHAT_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN';

t.test('the H5 checkout in Chromium', { skip: chromiumPath() ? false : noChromiumReason }, async (t) => {
  const s = await startStack({ env: ownOaEnv(), jobs: { workers: true } });
  t.teardown(() => s.close());
  const shots = artifactDir('h5');
  let browser: Browser | undefined = await launchBrowser();
  t.teardown(() => browser?.close());
  const context = await browser.newContext({ userAgent: WECHAT_UA, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, locale: 'zh-CN', isMobile: true, hasTouch: true });
  const unionid = `oU${randomBytes(12).toString('base64url')}`;
  const sandbox = new URL(s.sandboxBase);
  await context.addCookies([{ name: 'sandbox_wx_user', value: unionid, domain: sandbox.hostname, path: '/', httpOnly: true, sameSite: 'Lax' }]);
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => cspViolations.push(`page error: ${e.message}`));
  const shot = (p: Page, name: string) => p.screenshot({ path: join(shots, name), fullPage: true });

  // the printed code's target: OAuth runs silently, the buyer lands on the goods
  const visited: string[] = [];
  page.on('request', (r) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) visited.push(r.url());
  });
  await page.goto(`${s.apiBase}/h5/checkout?sku=COFFEE-LATTE`);
  // a redirect without a fragment keeps the one before it: the browser ends on …#wechat_redirect
  await page.waitForURL((u) => `${u.origin}${u.pathname}${u.search}` === `${s.apiBase}/h5/checkout?sku=COFFEE-LATTE`);
  t.ok(visited.some((u) => u.startsWith(`${s.sandboxBase}/connect/oauth2/authorize?appid=`)), 'through WeChat\'s (the sandbox\'s) authorize');
  t.match(await page.locator('h1').innerText(), /确认商品/);
  t.match(await page.locator('.card .name').innerText(), /拿铁咖啡/);
  await shot(page, '01-checkout.png');

  await page.fill('#quantity', '2');
  await page.click('#place-order');
  await page.waitForURL(/\/h5\/order\?id=[0-9a-f]{24}$/);
  const orderUrl = page.url();
  t.match(await page.locator('#amount').innerText(), '¥36.00');
  // wx.config was checked by the (sandbox) WeChat client against its ticket and this page's URL
  await page.waitForSelector('body[data-jssdk]:not([data-jssdk="pending"])');
  t.equal(await page.getAttribute('body', 'data-jssdk'), 'ready', 'wx.config: ok');
  await page.waitForSelector('#pay:not([disabled])');
  await shot(page, '02-order.png');

  // first try: the buyer closes the pay sheet
  await page.click('#pay');
  const sheet = page.frameLocator('#wx-sandbox-client');
  await sheet.locator('#wx-pay').waitFor();
  await sheet.locator('#fee').filter({ hasText: '¥36.00' }).waitFor();
  await shot(page, '03-pay-sheet.png');
  await sheet.locator('#wx-cancel').click();
  await page.locator('#message').filter({ hasText: '支付未完成' }).waitFor();
  t.equal(page.url(), orderUrl, 'still on the order page');
  await shot(page, '04-cancelled.png');

  // WeChat pays only from a page in a registered payment directory (支付授权目录)
  const register = async (directories: string[]) => {
    const r = await fetch(`${s.sandboxBase}/sandbox/pay-directories`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mchId: s.config.pay.mchId, directories }) });
    t.equal(r.status, 200);
  };
  await register([`${s.apiBase}/h5/x/`]);
  const refused = await page.evaluate(async () => {
    const data = JSON.parse(document.getElementById('h5-data')!.textContent!) as { csrf: string; api: { pay: string } };
    const params = await (await fetch(data.api.pay, { method: 'POST', headers: { 'x-csrf-token': data.csrf } })).json();
    const bridge = (window as unknown as { WeixinJSBridge: { invoke(n: string, p: unknown, cb: (r: unknown) => void): void } }).WeixinJSBridge;
    return new Promise((resolve) => bridge.invoke('getBrandWCPayRequest', params, resolve));
  });
  t.match(refused, { err_msg: 'get_brand_wcpay_request:fail', err_desc: `当前页面的URL未注册：${orderUrl}` }, 'a page outside the registered directory cannot pay');
  await register([`${s.apiBase}/h5/`]);

  // then pays: the result page shows PAID only when the server says so
  await page.click('#pay');
  await sheet.locator('#wx-pay').click();
  await page.waitForURL(/\/h5\/result\?id=/);
  await page.waitForSelector('body[data-outcome="PAID"]', { timeout: 30_000 });
  t.match(await page.locator('#message').innerText(), /支付成功/);
  t.match(await page.locator('#status').innerText(), /已支付/);
  await shot(page, '05-result-paid.png');
  const id = new URL(orderUrl).searchParams.get('id')!;
  const doc = await s.app.mongo.collection('orders').findOne({ outTradeNo: { $exists: true }, status: 'PAID' });
  t.equal(doc?._id.toString(), id);
  t.match(doc, { channel: 'oa-h5', appid: s.config.apps.oa!.appid });
  // paid by the notify WeChat sends in the server's API version
  const notify = await notifyDelivered(s.sandboxBase, doc!.outTradeNo);
  t.ok(notify.ok, `settled by the notify (${notify.path})`);

  await page.goto(`${s.apiBase}/h5/orders`);
  t.equal(await page.locator(`[data-order="${id}"] .status`).getAttribute('data-status'), 'PAID');
  await shot(page, '06-my-orders.png');

  // an OAuth link opened twice (the back button onto the callback): the error page and its retry
  const callback = visited.find((u) => u.includes('/h5/oauth/callback'));
  t.ok(callback, 'the walk went through the callback');
  await page.goto(callback!);
  await page.locator('[data-error-code="STATE_INVALID"]').waitFor();
  t.match(await page.locator('h1').innerText(), /此登录链接已使用或已过期/);
  await shot(page, '07-oauth-error.png');
  await page.click('#retry');
  await page.waitForURL((u) => u.pathname === '/h5/');
  t.match(await page.locator('h1').innerText(), /选择商品/);

  t.same(cspViolations, [], 'no CSP violation, no page error');
  await context.close();
  await browser.close();
  browser = undefined;
});
