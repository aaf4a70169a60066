import t from 'tap';
import { join } from 'node:path';
import { Types } from 'mongoose';
import { apiClient, eventually } from '../../helpers/api.js';
import { artifactDir, chromiumPath, launchBrowser, noChromiumReason } from '../../helpers/browser.js';
import { startStack } from '../../helpers/stack.js';
import { makeOperator, paidOrder, PASSWORD } from './helpers.js';

t.test('the console in a real browser, against the real server, services and sandbox', { skip: chromiumPath() ? false : noChromiumReason }, async (t) => {
  const s = await startStack({ jobs: { workers: true } });
  t.teardown(() => s.close());
  await makeOperator(s, 'fiona', 'finance');
  const { order } = await paidOrder(s);
  // a second buyer asks for a refund from the mini-program
  const second = await paidOrder(s, [{ sku: 'COFFEE-LATTE', quantity: 1 }]);
  const asked = await second.api.call<{ id: string }>('POST', `/api/orders/${second.order.id}/refund-requests`, { reason: '不想要了' });
  t.equal(asked.status, 201);

  const shots = artifactDir('console');
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const problems: string[] = [];
  page.on('console', (m) => {
    // a 401 before login and after a wrong password is the API answering as it should
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('dialog', (d) => void d.accept(d.type() === 'prompt' ? '运营处理' : undefined));
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  await page.goto(`${s.apiBase}/admin/`);
  await page.waitForSelector('#login-form');
  t.match(await page.textContent('h1'), '登录商户后台', 'Chinese by default');
  await shot('01-login');
  await page.fill('input[name=name]', 'fiona');
  await page.fill('input[name=password]', 'not the password');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('[data-test=login-error]')?.textContent !== '');
  t.match(await page.textContent('[data-test=login-error]'), '用户名或密码错误');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#kpis');
  await page.waitForFunction(() => document.querySelectorAll('#charts canvas').length === 5 && !!(window as unknown as { Chart?: unknown }).Chart);
  t.match(await page.textContent('#kpis'), '支付笔数');
  t.match(await page.textContent('#kpis'), '2', 'two payments counted');
  await page.waitForTimeout(300); // charts draw on the next tick; a screenshot only, nothing asserted on time
  await shot('02-dashboard');

  // find the order paid through the sandbox, by its out_trade_no
  await page.click('a[data-nav=orders]');
  await page.waitForSelector('#order-search');
  await page.fill('#order-search input[name=q]', order.outTradeNo);
  await page.click('#order-search button[type=submit]');
  await page.waitForFunction((no) => document.querySelector('#order-results')?.textContent?.includes(no) && document.querySelectorAll('#order-results tbody tr').length === 1, order.outTradeNo);
  await shot('03-orders');
  await page.click('#order-results tbody tr');
  await page.waitForSelector('#notify-log');
  const notifyLog = (await page.textContent('#notify-log')) ?? '';
  t.match(notifyLog, 'SUCCESS', 'the notify we answered SUCCESS to');
  t.match(notifyLog, 'OK', 'verified');
  t.match(await page.textContent('#order-facts'), 'PAID');
  await shot('04-order-detail');

  // refund part of it, and watch it settle
  await page.fill('#refund-form input[name=amount]', '5.00');
  await page.fill('#refund-form input[name=reason]', '少发一件');
  await page.click('#refund-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#order-refunds')?.textContent?.includes('5.00'));
  const settled = await eventually(
    async () => {
      await page.evaluate(() => window.dispatchEvent(new HashChangeEvent('hashchange')));
      await page.waitForSelector('#order-refunds [data-test=refund-status]');
      return (await page.textContent('#order-refunds')) ?? '';
    },
    (text) => text.includes('SUCCESS'),
    15_000,
  );
  t.match(settled, 'SUCCESS', 'the refund settled');
  t.match(await page.textContent('#order-facts'), 'PARTIALLY_REFUNDED');
  await shot('05-order-refunded');
  const refunds = await s.app.refunds.forOrder(new Types.ObjectId(order.id));
  t.match(refunds, [{ amount: 500, status: 'SUCCESS', requestedBy: 'operator:fiona', reason: '少发一件' }]);

  // approve the buyer's request
  await page.click('a[data-nav=refunds]');
  await page.waitForSelector('#refund-requests');
  t.match(await page.textContent('#refund-requests'), '不想要了');
  await shot('06-refunds');
  await page.click('#refund-requests button[data-action=approve]');
  await page.waitForFunction(() => !document.querySelector('#refund-requests button[data-action=approve]') && !!document.querySelector('#refund-requests'));
  const request = await s.app.refunds.findRequest(asked.body.id);
  t.match(request, { status: 'APPROVED', decidedBy: 'operator:fiona' });
  const buyerView = await eventually(
    () => apiClient(s.apiBase, second.token).getOrder(second.order.id),
    (r) => r.body.status === 'REFUNDED',
    15_000,
  );
  t.equal(buyerView.body.status, 'REFUNDED', 'the buyer sees the refund');

  await page.click('a[data-nav=queue]');
  await page.waitForSelector('#queue-orders');
  await shot('07-follow-ups');

  // English on request
  await page.click('#lang');
  await page.waitForFunction(() => document.querySelector('a[data-nav=orders]')?.textContent === 'Orders');
  await shot('08-follow-ups-en');
  await page.click('#lang');
  await page.waitForFunction(() => document.querySelector('a[data-nav=orders]')?.textContent === '订单');

  t.same(problems, [], 'no script error and no CSP violation in the page');

  await page.click('#logout');
  await page.waitForSelector('#login-form');
  const after = await page.evaluate(async () => (await fetch('/admin/api/orders')).status);
  t.equal(after, 401, 'logged out for real');
});
