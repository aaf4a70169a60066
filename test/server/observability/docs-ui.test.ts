import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../../server/src/app.js';
import { artifactDir, chromiumPath, launchBrowser, noChromiumReason } from '../../helpers/browser.js';
import { freshDbName, testConfig } from '../../helpers/services.js';

t.test('the /docs UI renders every operation and runs one against the server', { skip: chromiumPath() ? false : noChromiumReason }, async (t) => {
  const dbName = freshDbName('docs-ui');
  const app = await buildApp({ config: testConfig(), dbName, jobsPrefix: `jobs-${dbName}`, rateLimitNameSpace: `rl:${dbName}:` });
  t.teardown(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  const failed: string[] = [];
  page.on('requestfailed', (r) => failed.push(r.url()));
  page.on('pageerror', (e) => failed.push(e.message));

  await page.goto(`${base}/docs`);
  await page.locator('.opblock').first().waitFor();
  const paths = await page.locator('.opblock-summary-path').allTextContents();
  for (const p of ['/api/orders/{id}/pay', '/api/session', '/wxpay/notify', '/wxpay/v3/notify', '/wxpay/v3/refund-notify', '/admin/api/refunds/{id}']) {
    t.ok(paths.some((x) => x.replace(/\u200b/g, '') === p), `${p} is listed`);
  }
  t.notOk(paths.some((x) => x.includes('/metrics')), '/metrics is not listed');
  const dir = artifactDir('docs');
  await page.screenshot({ path: join(dir, 'docs.png'), fullPage: false });

  // Interactive: try GET /api/products from the page itself.
  const products = page.locator('.opblock-get', { has: page.locator('.opblock-summary-path', { hasText: /^\/api\/products$/ }) });
  await products.locator('.opblock-summary').click();
  await products.getByRole('button', { name: 'Try it out' }).click();
  await products.getByRole('button', { name: 'Execute' }).click();
  const status = products.locator('.live-responses-table tbody .response-col_status').first();
  await status.waitFor();
  t.equal((await status.textContent())?.trim(), '200', 'the UI called the server and shows 200');
  await page.screenshot({ path: join(dir, 'docs-try-it-out.png'), fullPage: false });
  t.same(failed, [], 'no asset failed to load, no script error');
});
