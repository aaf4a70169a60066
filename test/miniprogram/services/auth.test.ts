import t from 'tap';
import { createApi } from '../../../miniprogram/services/api.js';
import { ApiClientError } from '../../../miniprogram/services/http.js';
import { BASE, fakeClock, fakeRequestPayment, fakeRequestSubscribe, fakeServer, memoryStorage } from '../helpers/fakes.js';

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
}

function setup(opts: { login?: () => Promise<string> } = {}) {
  const server = fakeServer();
  const clock = fakeClock();
  const storage = memoryStorage();
  let logins = 0;
  const api = createApi(
    { baseUrl: BASE, appId: 'wxdemo', allowSandbox: true },
    {
      request: server.request,
      requestPayment: fakeRequestPayment().fn,
      requestSubscribeMessage: fakeRequestSubscribe().fn,
      login: () => {
        logins++;
        return (opts.login ?? server.login)();
      },
      storage,
      sleep: clock.sleep,
      now: clock.now,
    },
  );
  return { server, clock, storage, api, logins: () => logins };
}

t.test('silent login on first use, token kept in storage and reused', async (t) => {
  const s = setup();
  t.same(await s.api.products.list(), [{ sku: 'tea', name: 'Tea', description: 'green', price: 1250 }]);
  t.equal(s.logins(), 1);
  t.match(s.server.seen[0], { method: 'POST', path: '/api/session', body: { code: 'code-1' } });
  t.match(s.storage.map.get('wxpay.session'), { token: 'tok-1', expiresAt: s.clock.now() + 7200_000 });
  await s.api.products.list();
  s.server.order('o1');
  await s.api.orders.get('o1');
  t.equal(s.logins(), 1, 'no second login while the token is valid');
  t.equal(s.server.count('POST', '/api/session'), 1);
  t.ok(s.server.seen.slice(1).every((r) => r.token === 'tok-1'));
});

t.test('a 401 logs in again and retries the request once, unnoticed', async (t) => {
  const s = setup();
  await s.api.products.list();
  s.server.revokeAll();
  t.same((await s.api.products.list()).length, 1);
  t.equal(s.logins(), 2);
  const last = s.server.seen.slice(-3).map((r) => `${r.method} ${r.path} ${r.token ?? '-'}`);
  t.same(last, ['GET /api/products tok-1', 'POST /api/session -', 'GET /api/products tok-2']);
  t.match(s.storage.map.get('wxpay.session'), { token: 'tok-2' });
});

t.test('a second 401 after the fresh login is reported, not looped on', async (t) => {
  const s = setup();
  s.server.override((r) => (r.path === '/api/products' ? { statusCode: 401, data: { code: 'UNAUTHORIZED' } } : undefined));
  t.match(await caught(s.api.products.list()), { kind: 'unauthorized' });
  t.equal(s.server.count('GET', '/api/products'), 2, 'the original and one retry');
  t.equal(s.logins(), 2);
});

t.test('concurrent callers with no token share one login', async (t) => {
  const s = setup();
  const results = await Promise.all(Array.from({ length: 8 }, () => s.api.products.list()));
  t.equal(results.length, 8);
  t.equal(s.logins(), 1);
  t.equal(s.server.count('POST', '/api/session'), 1);
});

t.test('concurrent 401s share one re-login and all succeed', async (t) => {
  const s = setup();
  await s.api.products.list();
  s.server.revokeAll();
  const results = await Promise.all(Array.from({ length: 8 }, () => s.api.products.list()));
  t.ok(results.every((r) => r.length === 1));
  t.equal(s.logins(), 2, 'one initial login, one re-login for all eight');
  t.equal(s.server.count('GET', '/api/products'), 1 + 8 + 8);
});

t.test('an expired stored token is replaced before use', async (t) => {
  const s = setup();
  await s.api.products.list();
  s.clock.advance(7200_000);
  await s.api.products.list();
  t.equal(s.logins(), 2);
  t.equal(s.server.count('GET', '/api/products'), 2, 'no request went out with the stale token');
});

t.test('a broken stored value is ignored', async (t) => {
  const s = setup();
  s.storage.map.set('wxpay.session', 'garbage');
  await s.api.products.list();
  t.equal(s.logins(), 1);
});

t.test('wx.login failing is LOGIN_FAILED; the server refusing the code is a client error with its code', async (t) => {
  const s1 = setup({ login: () => Promise.reject(new Error('login:fail')) });
  t.match(await caught(s1.api.products.list()), { kind: 'network', code: 'LOGIN_FAILED' });
  t.equal(s1.server.seen.length, 0);
  const s2 = setup({ login: async () => 'bogus' });
  const e = await s2.api.products.list().catch((e: unknown) => e);
  t.ok(e instanceof ApiClientError);
  t.match(e, { kind: 'client', code: 'INVALID_CODE', statusCode: 400 });
  t.equal(s2.storage.map.size, 0);
  // the next call tries again rather than sticking to the failed login
  t.match(await caught(s2.api.products.list()), { code: 'INVALID_CODE' });
  t.equal(s2.logins(), 2);
});

t.test('orders: create, paginated list, get, cancel', async (t) => {
  const s = setup();
  s.server.order('o1');
  s.server.override((r) => {
    if (r.method === 'POST' && r.path === '/api/orders') return { statusCode: 201, data: { ...s.server.orders.get('o1') } };
    if (r.method === 'GET' && r.path.startsWith('/api/orders?')) {
      return { statusCode: 200, data: r.path.includes('before=') ? { items: [] } : { items: [s.server.orders.get('o1')], nextCursor: 'c/1' } };
    }
    return undefined;
  });
  const o = await s.api.orders.create([{ sku: 'tea', quantity: 2 }]);
  t.match(o, { id: 'o1', amount: 1250 });
  t.match(s.server.seen.at(-1), { body: { items: [{ sku: 'tea', quantity: 2 }] } });
  const p1 = await s.api.orders.list({ limit: 5 });
  t.equal(s.server.seen.at(-1)!.path, '/api/orders?limit=5');
  t.equal(p1.nextCursor, 'c/1');
  const p2 = await s.api.orders.list({ limit: 5, before: p1.nextCursor! });
  t.equal(s.server.seen.at(-1)!.path, '/api/orders?limit=5&before=c%2F1');
  t.same(p2, { items: [] });
  t.match(await s.api.orders.get('o1'), { id: 'o1' });
  t.match(await s.api.orders.cancel('o1'), { status: 'CLOSED' });
  t.same(s.server.seen.at(-1)!.body, {}, 'cancel sends an empty JSON object, not an empty JSON body');
  t.match(await caught(s.api.orders.get('nope')), { kind: 'client', code: 'ORDER_NOT_FOUND', statusCode: 404 });
});
