import t from 'tap';
import { join } from 'node:path';
import { dayOf, daysBefore } from '../../../server/src/reconciliation/day.js';
import { artifactDir, chromiumPath, launchBrowser, noChromiumReason } from '../../helpers/browser.js';
import { awayFromMidnight, clockedStack, paidOrder } from '../reconciliation/helpers.js';
import { makeOperator, PASSWORD } from './helpers.js';

t.test('the reconciliation screen: run a day in the console and read its injected difference', { skip: chromiumPath() ? false : noChromiumReason }, async (t) => {
  await awayFromMidnight();
  // The trades happen "yesterday" at the sandbox (its clock a day behind), so that the day is over
  // for the server too, and the bill is ready the morning after.
  const s = await clockedStack(t, {}, Date.now() - 86_400_000);
  const day = daysBefore(dayOf(new Date()), 1);
  await makeOperator(s, 'fiona', 'finance');
  await makeOperator(s, 'vera', 'viewer');
  const kept = await paidOrder(s, 'TEA-OOLONG', 1);
  const omitted = await paidOrder(s, 'CAKE-CHEESE', 1);
  // WeChat's bill of the day leaves one payment out; the next morning the bill is ready
  await s.faults({ bill: [{ action: 'omit', outTradeNo: omitted.outTradeNo, sticky: true }] });
  s.morningAfter(day);

  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => void d.accept(d.type() === 'prompt' ? '日终对账' : undefined));
  const shots = artifactDir('console');

  const login = async (name: string) => {
    await page.goto(`${s.apiBase}/admin/#/recon`);
    await page.waitForSelector('#login-form');
    await page.fill('input[name=name]', name);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#recon-days');
  };
  await login('fiona');
  t.match(await page.textContent('#recon-days'), '没有结果', 'no report yet');
  await page.fill('#recon-run input[name=day]', day);
  await page.click('#recon-run button[type=submit]');
  await page.waitForSelector('#toast:not([hidden])', { timeout: 20_000 });
  t.equal(await page.textContent('#toast'), '完成', 'the run went through');
  await page.waitForFunction((d) => document.querySelector('#recon-days')?.textContent?.includes(d), day, { timeout: 20_000 });
  t.match(await page.textContent('#recon-days'), 'DIFFERENCES');
  await page.screenshot({ path: join(shots, '09-reconciliation.png'), fullPage: true });

  await page.click('#recon-days tbody tr');
  await page.waitForSelector('#recon-differences');
  const diffs = (await page.textContent('#recon-differences')) ?? '';
  t.match(diffs, 'PAYMENT_NOT_IN_BILL');
  t.match(diffs, omitted.outTradeNo);
  t.notMatch(diffs, kept.outTradeNo, 'the matched payment is no difference');
  t.match(await page.textContent('[data-test=recon-status]'), 'DIFFERENCES');
  t.ok(await page.$('#recon-rerun'), 'finance may run it again');
  await page.screenshot({ path: join(shots, '10-reconciliation-day.png'), fullPage: true });

  // the audit log names the operator who ran it
  const audit = await s.app.audit.list({ limit: 10, targetId: day });
  t.match(audit, [{ action: 'reconciliation.run', actor: 'operator:fiona', reason: '日终对账' }]);

  // a viewer reads the report but has no run button
  await page.click('#logout');
  await page.waitForSelector('#login-form');
  await login('vera');
  t.equal(await page.$('#recon-run'), null, 'no run form for a viewer');
  await page.click('#recon-days tbody tr');
  await page.waitForSelector('#recon-differences');
  t.equal(await page.$('#recon-rerun'), null);
  t.same(errors, []);
});
