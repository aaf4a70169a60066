import t from 'tap';
import { createHash } from 'node:crypto';
import { apiClient } from '../helpers/api.js';
import { startStack } from '../helpers/stack.js';
import { startOwnDatabase, startOwnRedis, within } from './helpers/own-services.js';

// Generous: the point is that an answer comes at all, and with the right code (not a timing assertion).
const GUARD_MS = 8_000;

t.test('a paused Redis: login and order routes answer 503 REDIS_UNAVAILABLE instead of hanging', async (t) => {
  const redis = await startOwnRedis(t);
  const s = await startStack({ env: { REDIS_URL: redis.url } });
  t.teardown(() => s.close());
  const { token } = await s.login();
  const me = apiClient(s.apiBase, token);
  const order = await me.createOrder([{ sku: 'COFFEE-LATTE', quantity: 1 }]);
  t.equal(order.status, 201);
  const code = await s.mintCode();

  redis.pause();
  t.teardown(() => redis.resume());
  const calls = {
    login: apiClient(s.apiBase).call('POST', '/api/session', { code }),
    list: me.call('GET', '/api/orders'),
    create: me.createOrder([{ sku: 'COFFEE-LATTE', quantity: 1 }]),
    pay: me.pay(order.body.id),
  };
  for (const [name, call] of Object.entries(calls)) {
    const res = await within(call, GUARD_MS);
    if (res === 'no answer') {
      t.fail(`${name}: no answer within ${GUARD_MS} ms`);
      continue;
    }
    t.equal(res.status, 503, name);
    t.match(res.body, { code: 'REDIS_UNAVAILABLE', error: 'Service Unavailable', requestId: String }, name);
  }

  redis.resume();
  const after = await within(me.call('GET', '/api/orders'), GUARD_MS);
  t.match(after, { status: 200 }, 'once Redis answers again, so does the server');
});

t.test('a stopped Redis: 503 REDIS_UNAVAILABLE at once (no offline queue waiting for it)', async (t) => {
  const redis = await startOwnRedis(t);
  const s = await startStack({ env: { REDIS_URL: redis.url } });
  t.teardown(() => s.close());
  const { token } = await s.login();
  const code = await s.mintCode();
  await redis.kill();

  const list = await within(apiClient(s.apiBase, token).call('GET', '/api/orders'), GUARD_MS);
  t.match(list, { status: 503, body: { code: 'REDIS_UNAVAILABLE' } });
  const login = await within(apiClient(s.apiBase).call('POST', '/api/session', { code }), GUARD_MS);
  t.match(login, { status: 503, body: { code: 'REDIS_UNAVAILABLE' } });
  const health = await within(apiClient(s.apiBase).call('GET', '/healthz'), GUARD_MS);
  t.match(health, { status: 503, body: { redis: 'down', mongo: 'ok' } });
});

t.test('a stopped database: 503 DATABASE_UNAVAILABLE within a few seconds', async (t) => {
  const db = await startOwnDatabase(t);
  const s = await startStack({ env: { MONGODB_URI: db.uri } });
  t.teardown(() => s.close());
  const { token } = await s.login();
  const me = apiClient(s.apiBase, token);
  const order = await me.createOrder([{ sku: 'COFFEE-LATTE', quantity: 1 }]);
  t.equal(order.status, 201);
  await db.stop();

  const calls = {
    list: me.call('GET', '/api/orders'),
    get: me.getOrder(order.body.id),
    create: me.createOrder([{ sku: 'COFFEE-LATTE', quantity: 1 }]),
  };
  for (const [name, call] of Object.entries(calls)) {
    const res = await within(call, GUARD_MS);
    if (res === 'no answer') {
      t.fail(`${name}: no answer within ${GUARD_MS} ms`);
      continue;
    }
    t.equal(res.status, 503, name);
    t.match(res.body, { code: 'DATABASE_UNAVAILABLE', error: 'Service Unavailable', requestId: String }, name);
  }
});

t.test('an arbitrary error reaches the client as 500 INTERNAL with the request id, nothing of its own', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { token } = await s.login();
  // A real library error that is no outage: the session key holds a hash, so GET fails with WRONGTYPE.
  await s.app.redis.del(sessionKey(token));
  await s.app.redis.hset(sessionKey(token), 'x', 'y');
  const res = await apiClient(s.apiBase, token).call('GET', '/api/orders');
  t.equal(res.status, 500);
  t.match(res.body, { code: 'INTERNAL', error: 'Internal Server Error', requestId: String });
  t.notMatch(res.text, /WRONGTYPE|ReplyError|hash|command/i);
});

t.test('each 5xx is labelled by its own status: a WeChat Pay outage is 502 Bad Gateway', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const me = apiClient(s.apiBase, (await s.login()).token);
  const order = await me.createOrder([{ sku: 'COFFEE-LATTE', quantity: 1 }]);
  await s.faults({ payApi: { action: 'SYSTEMERROR', api: 'unifiedorder', count: 3 } });
  const res = await me.pay(order.body.id);
  t.equal(res.status, 502);
  t.match(res.body, { statusCode: 502, code: 'WECHAT_UNAVAILABLE', error: 'Bad Gateway', requestId: String });
});

const sessionKey = (token: string) => `sess:${createHash('sha256').update(token).digest('hex')}`;
