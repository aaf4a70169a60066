import { createHash } from 'node:crypto';
import t from 'tap';
import { startStack } from '../../helpers/stack.js';
import { DEMO_MERCHANT } from '../../../server/src/sandbox/demo.js';
import { consoleLogin, makeOperator, paidOrder, PASSWORD } from './helpers.js';

t.test('operators: sessions, roles, CSRF, lockout, audit', async (t) => {
  const s = await startStack({ env: { ADMIN_SUPPORT_REFUND_LIMIT_FEN: '500' } });
  t.teardown(() => s.close());
  const adminId = await makeOperator(s, 'boss', 'admin');
  await makeOperator(s, 'vera', 'viewer');
  await makeOperator(s, 'sam', 'support');
  await makeOperator(s, 'fiona', 'finance');
  const { order, token: buyerToken } = await paidOrder(s);

  await t.test('no access without a session', async (t) => {
    for (const path of ['/admin/api/orders', '/admin/api/follow-ups', `/admin/api/orders/${order.id}`, '/admin/api/operators', '/admin/api/stats']) {
      const res = await fetch(s.apiBase + path);
      t.equal(res.status, 401, path);
      t.match(await res.json(), { code: 'UNAUTHORIZED' });
    }
    const forged = await fetch(s.apiBase + '/admin/api/orders', { headers: { cookie: 'wxpay_admin=' + 'A'.repeat(43) } });
    t.equal(forged.status, 401, 'a made-up session cookie is refused');
    const res = await fetch(s.apiBase + `/admin/api/orders/${order.id}/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 1, reason: 'x' }),
    });
    t.equal(res.status, 401);
  });

  await t.test('cookie flags, and a new session at every login (no fixation)', async (t) => {
    const bad = await consoleLogin(s.apiBase, 'vera', 'wrong password!!');
    t.equal(bad.status, 401);
    t.match(bad.body, { code: 'LOGIN_FAILED' });
    t.equal(bad.cookie, undefined, 'no cookie for a failed login');
    const unknown = await consoleLogin(s.apiBase, 'nobody', PASSWORD);
    t.equal(unknown.status, 401);
    t.match(unknown.body, { code: 'LOGIN_FAILED' }, 'an unknown name looks like a wrong password');

    const first = await consoleLogin(s.apiBase, 'vera');
    t.equal(first.status, 200);
    const flags = first.setCookie.find((c) => c.startsWith('wxpay_admin='))!;
    t.match(flags, /; HttpOnly/i);
    t.match(flags, /; SameSite=Strict/i);
    t.match(flags, /; Path=\/admin/i);
    t.notMatch(flags, /; Secure/i, 'not Secure over plain http (the browser would drop it)');
    t.notOk(JSON.stringify(first.body).includes(first.cookie!.split('=')[1]!), 'the session token is only in the cookie');
    t.equal((await first.call('GET', '/admin/api/session')).status, 200);

    // A cookie planted before login (here: a live one) is never what the login hands back, and it dies.
    const second = await consoleLogin(s.apiBase, 'vera', PASSWORD, { cookie: first.cookie! });
    t.equal(second.status, 200);
    t.not(second.cookie, first.cookie, 'login issues a fresh session id');
    t.not(second.csrf, first.csrf, 'and a fresh CSRF token');
    t.equal((await first.call('GET', '/admin/api/session')).status, 401, 'the pre-login session no longer works');
    t.equal((await second.call('GET', '/admin/api/session')).status, 200);

    // logout really ends it, in Redis
    const out = await second.call('DELETE', '/admin/api/session');
    t.equal(out.status, 204);
    t.match(out.headers.get('set-cookie') ?? '', /wxpay_admin=;/);
    t.equal((await second.call('GET', '/admin/api/orders')).status, 401);
  });

  await t.test('the CSRF token is required on every state-changing request', async (t) => {
    const fiona = await consoleLogin(s.apiBase, 'fiona');
    const other = await consoleLogin(s.apiBase, 'sam');
    const path = `/admin/api/orders/${order.id}/refunds`;
    const body = { amount: 100, reason: 'csrf check' };
    for (const [label, headers] of [
      ['missing', { 'x-csrf-token': '' }],
      ['wrong', { 'x-csrf-token': 'x'.repeat(43) }],
      ["another session's", { 'x-csrf-token': other.csrf! }],
    ] as const) {
      const res = await fetch(s.apiBase + path, { method: 'POST', headers: { cookie: fiona.cookie!, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      t.equal(res.status, 403, `${label} token refused`);
      t.match(await res.json(), { code: 'CSRF_INVALID' });
    }
    const noHeader = await fetch(s.apiBase + path, { method: 'POST', headers: { cookie: fiona.cookie!, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(noHeader.status, 403, 'no header at all is refused');
    t.equal((await s.app.refunds.forOrder(new (await import('mongoose')).Types.ObjectId(order.id))).length, 0, 'nothing was refunded');
    const ok = await fiona.call('POST', path, body);
    t.equal(ok.status, 201, 'with its token the same request goes through');
    t.match(ok.body, { requestedBy: 'operator:fiona', amount: 100 });
  });

  await t.test('roles: a viewer cannot refund, support only up to its limit', async (t) => {
    const vera = await consoleLogin(s.apiBase, 'vera');
    const refused = await vera.call('POST', `/admin/api/orders/${order.id}/refunds`, { amount: 100, reason: 'viewer' });
    t.equal(refused.status, 403);
    t.match(refused.body, { code: 'FORBIDDEN' });
    t.equal((await vera.call('GET', `/admin/api/orders/${order.id}`)).status, 200, 'but can read the order');
    t.equal((await vera.call('GET', '/admin/api/operators')).status, 403, 'and not the accounts');
    t.equal((await vera.call('POST', `/admin/api/orders/${order.id}/refund-in-full`, { reason: 'x' })).status, 403);

    const sam = await consoleLogin(s.apiBase, 'sam');
    const over = await sam.call('POST', `/admin/api/orders/${order.id}/refunds`, { amount: 501, reason: 'too much' });
    t.equal(over.status, 403);
    t.match(over.body, { code: 'REFUND_OVER_LIMIT' });
    const under = await sam.call('POST', `/admin/api/orders/${order.id}/refunds`, { amount: 500, reason: 'small' });
    t.equal(under.status, 201);
    t.match(under.body, { requestedBy: 'operator:sam' });
  });

  await t.test('20 wrong passwords lock the account until an admin unlocks it', async (t) => {
    await makeOperator(s, 'lucky', 'viewer');
    for (let i = 1; i < 20; i++) {
      const r = await consoleLogin(s.apiBase, 'lucky', `wrong password ${i}`);
      if (r.status !== 401) t.fail(`attempt ${i}: ${r.status}`);
    }
    const twentieth = await consoleLogin(s.apiBase, 'lucky', 'wrong password 20');
    t.equal(twentieth.status, 423, 'the 20th wrong password locks');
    t.match(twentieth.body, { code: 'ACCOUNT_LOCKED' });
    const right = await consoleLogin(s.apiBase, 'lucky');
    t.equal(right.status, 423, 'even the right password is refused while locked');
    t.equal(right.cookie, undefined);

    const boss = await consoleLogin(s.apiBase, 'boss');
    const list = await boss.call<{ items: Array<{ id: string; name: string; locked: boolean }> }>('GET', '/admin/api/operators');
    const lucky = list.body.items.find((o) => o.name === 'lucky')!;
    t.equal(lucky.locked, true);
    t.equal((await boss.call('PATCH', `/admin/api/operators/${lucky.id}`, { unlock: true })).status, 200);
    t.equal((await consoleLogin(s.apiBase, 'lucky')).status, 200, 'unlocked: the right password works again');

    const audit = await boss.call<{ items: Array<{ action: string; actor: string; target: { id: string } }> }>('GET', `/admin/api/audit?target=${lucky.id}`);
    t.match(
      audit.body.items.map((e) => `${e.actor} ${e.action}`),
      ['operator:lucky session.login', 'operator:boss operator.unlock', 'system operator.lock'],
    );
  });

  await t.test('account changes are audited; nobody can change the audit log', async (t) => {
    const boss = await consoleLogin(s.apiBase, 'boss');
    const created = await boss.call<{ id: string }>('POST', '/admin/api/operators', { name: 'newbie', role: 'viewer', password: 'a long enough password' });
    t.equal(created.status, 201);
    t.notOk(created.text.includes('argon2'), 'no password hash in the answer');
    const promoted = await boss.call('PATCH', `/admin/api/operators/${created.body.id}`, { role: 'support' });
    t.match(promoted.body, { role: 'support' });
    const dup = await boss.call('POST', '/admin/api/operators', { name: 'newbie', role: 'viewer', password: 'a long enough password' });
    t.equal(dup.status, 409);
    const short = await boss.call('POST', '/admin/api/operators', { name: 'shorty', role: 'viewer', password: 'short' });
    t.equal(short.status, 400);
    t.equal((await boss.call('PATCH', `/admin/api/operators/${adminId}`, { role: 'viewer' })).status, 409, 'the last admin cannot demote itself');

    const audit = await boss.call<{ items: Array<{ action: string; actor: string; before?: unknown; after?: unknown; ip: string; at: string }> }>('GET', `/admin/api/audit?target=${created.body.id}`);
    t.match(audit.body.items, [
      { action: 'operator.update', actor: 'operator:boss', before: { role: 'viewer' }, after: { role: 'support' }, ip: String },
      { action: 'operator.create', actor: 'operator:boss', after: { name: 'newbie', role: 'viewer' } },
    ]);
    t.notOk(audit.text.includes('long enough'), 'no password in the audit log');
    const all = await boss.call<{ items: Array<{ action: string; actor: string }> }>('GET', '/admin/api/audit?limit=500');
    t.ok(all.body.items.some((e) => e.action === 'refund.create' && e.actor === 'operator:fiona'), 'money actions name the operator');

    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
      const r = await boss.call(method, '/admin/api/audit', method === 'DELETE' ? undefined : {});
      t.equal(r.status, 404, `${method} /admin/api/audit does not exist`);
    }
  });

  await t.test('nothing the console serves holds a secret', async (t) => {
    const boss = await consoleLogin(s.apiBase, 'boss');
    // This test's own buyer session (other test files share the Redis, with session keys of their own)
    const sessionKeys: string[] = [];
    const stored = await s.app.redis.get(`sess:${createHash('sha256').update(buyerToken).digest('hex')}`);
    const v = JSON.parse(stored ?? '{}') as { sessionKey?: string };
    if (v.sessionKey) sessionKeys.push(v.sessionKey);
    t.ok(sessionKeys.length > 0, 'a buyer session_key exists to look for');
    const secrets = [DEMO_MERCHANT.key, DEMO_MERCHANT.secret, s.config.pay.apiKey, s.config.wechat.appsecret, ...sessionKeys];
    const pages = ['/admin/', '/admin/assets/console.js', '/admin/assets/i18n.js', '/admin/assets/console.css'];
    const apis = [
      '/admin/api/session',
      '/admin/api/orders',
      `/admin/api/orders?q=${order.outTradeNo}`,
      `/admin/api/orders/${order.id}`,
      '/admin/api/queue',
      '/admin/api/follow-ups',
      '/admin/api/refunds',
      '/admin/api/refund-requests',
      '/admin/api/stats?days=2&bucket=hour',
      '/admin/api/operators',
      '/admin/api/audit',
    ];
    for (const path of [...pages, ...apis]) {
      const r = await boss.call('GET', path);
      t.equal(r.status, 200, path);
      const leaked = secrets.filter((x) => r.text.includes(x));
      t.same(leaked, [], `${path}: no API key, appsecret or session_key`);
      t.notOk(r.text.includes('$argon2'), `${path}: no password hash`);
    }
    const page = await fetch(s.apiBase + '/admin/');
    const csp = page.headers.get('content-security-policy') ?? '';
    t.match(csp, /script-src 'self'/);
    t.notMatch(csp, /unsafe-inline|unsafe-eval/);
    t.match(csp, /frame-ancestors 'none'/);
    t.notMatch(await page.text(), /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the page');
  });
});

t.test('ADMIN_CONSOLE=off: no console, no operator sessions', async (t) => {
  const s = await startStack({ env: { ADMIN_CONSOLE: 'off', ADMIN_API_TOKEN: 'tok-' + 'y'.repeat(40) } });
  t.teardown(() => s.close());
  t.equal((await fetch(s.apiBase + '/admin/')).status, 404);
  t.equal((await consoleLogin(s.apiBase, 'anyone')).status, 404);
  const token = await fetch(s.apiBase + '/admin/api/follow-ups', { headers: { authorization: `Bearer tok-${'y'.repeat(40)}` } });
  t.equal(token.status, 200, 'the token API stays');
});

t.test('behind a trusted TLS proxy the session cookie is Secure', async (t) => {
  const s = await startStack({ env: { TRUST_PROXY: '127.0.0.1' } });
  t.teardown(() => s.close());
  await makeOperator(s, 'vera', 'viewer');
  const viaTls = await consoleLogin(s.apiBase, 'vera', PASSWORD, { 'x-forwarded-proto': 'https' });
  t.equal(viaTls.status, 200);
  const flags = viaTls.setCookie.find((c) => c.startsWith('wxpay_admin='))!;
  t.match(flags, /; Secure/i);
  t.match(flags, /; HttpOnly/i);
  t.match(flags, /; SameSite=Strict/i);
});
