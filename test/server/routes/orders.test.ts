import t from 'tap';
import { apiClient } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';
import { startOwnRedis } from '../helpers/own-services.js';

t.test('orders are priced by the server, listed newest first, and private to their owner', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const alice = apiClient(s.apiBase, (await s.login()).token);
  const bob = apiClient(s.apiBase, (await s.login()).token);

  const products = await alice.call<{ items: Array<{ sku: string; price: number }> }>('GET', '/api/products');
  t.equal(products.status, 200);
  const latte = products.body.items.find((p) => p.sku === 'COFFEE-LATTE')!;
  const cake = products.body.items.find((p) => p.sku === 'CAKE-CHEESE')!;

  const created = await alice.createOrder([
    { sku: 'COFFEE-LATTE', quantity: 2 },
    { sku: 'CAKE-CHEESE', quantity: 1 },
  ]);
  t.equal(created.status, 201);
  t.match(created.body, {
    id: /^[0-9a-f]{24}$/,
    outTradeNo: /^[0-9]{26}$/,
    amount: latte.price * 2 + cake.price,
    status: 'CREATED',
    items: [
      { sku: 'COFFEE-LATTE', quantity: 2, price: latte.price },
      { sku: 'CAKE-CHEESE', quantity: 1, price: cake.price },
    ],
  });
  t.ok(Date.parse(created.body.expiresAt) > Date.parse(created.body.createdAt));

  // A price sent by the client is refused, never used.
  const sneaky = await alice.call('POST', '/api/orders', { items: [{ sku: 'COFFEE-LATTE', quantity: 1, price: 1 }] });
  t.equal(sneaky.status, 400);
  t.match(sneaky.body, { code: 'VALIDATION_ERROR' });

  // Someone else's order does not exist for them, whatever they try.
  for (const [method, path] of [
    ['GET', `/api/orders/${created.body.id}`],
    ['POST', `/api/orders/${created.body.id}/pay`],
    ['POST', `/api/orders/${created.body.id}/cancel`],
  ] as const) {
    const res = await bob.call(method, path);
    t.equal(res.status, 404, `${method} ${path} as another user`);
    t.match(res.body, { code: 'NOT_FOUND' });
  }
  t.equal((await alice.getOrder(created.body.id)).body.status, 'CREATED', "bob's cancel changed nothing");
  t.same((await bob.call<{ items: unknown[] }>('GET', '/api/orders')).body.items, []);

  // Pagination: newest first, a cursor to the next page, no overlap.
  const ids = [created.body.id];
  for (let i = 0; i < 4; i++) ids.push((await alice.createOrder([{ sku: 'TEA-OOLONG', quantity: i + 1 }])).body.id);
  const page1 = await alice.call<{ items: Array<{ id: string }>; nextCursor?: string }>('GET', '/api/orders?limit=2');
  t.same(page1.body.items.map((o) => o.id), [ids[4], ids[3]]);
  t.type(page1.body.nextCursor, 'string');
  const page2 = await alice.call<{ items: Array<{ id: string }>; nextCursor?: string }>(
    'GET',
    `/api/orders?limit=2&before=${page1.body.nextCursor}`,
  );
  t.same(page2.body.items.map((o) => o.id), [ids[2], ids[1]]);
  const page3 = await alice.call<{ items: Array<{ id: string }>; nextCursor?: string }>(
    'GET',
    `/api/orders?limit=2&before=${page2.body.nextCursor}`,
  );
  t.same(page3.body.items.map((o) => o.id), [ids[0]]);
  t.equal(page3.body.nextCursor, undefined);
  const badCursor = await alice.call('GET', '/api/orders?before=garbage');
  t.equal(badCursor.status, 400);
  t.match(badCursor.body, { code: 'BAD_CURSOR' });
});

t.test('bad carts get a 400 with a code, and nothing is stored', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const api = apiClient(s.apiBase, (await s.login()).token);
  const cases: Array<[unknown, string]> = [
    [{ items: [] }, 'EMPTY_CART'],
    [{ items: [{ sku: 'NOPE', quantity: 1 }] }, 'UNKNOWN_SKU'],
    [{ items: [{ sku: 'COFFEE-LATTE', quantity: 1 }, { sku: 'COFFEE-LATTE', quantity: 2 }] }, 'DUPLICATE_SKU'],
    [{ items: [{ sku: 'COFFEE-LATTE', quantity: 0 }] }, 'VALIDATION_ERROR'],
    [{ items: [{ sku: 'COFFEE-LATTE', quantity: 100 }] }, 'VALIDATION_ERROR'],
    [{ items: [{ sku: 'COFFEE-LATTE', quantity: 1.5 }] }, 'VALIDATION_ERROR'],
    [{ items: [{ sku: 'COFFEE-LATTE', quantity: -1 }] }, 'VALIDATION_ERROR'],
    [{ items: [{ sku: 'COFFEE-LATTE', quantity: '2' }] }, 'VALIDATION_ERROR'],
    [{ items: [{ sku: 'COFFEE-LATTE' }] }, 'VALIDATION_ERROR'],
    [{}, 'VALIDATION_ERROR'],
    [{ items: 'COFFEE-LATTE' }, 'VALIDATION_ERROR'],
    ['{"items": [', 'INVALID_JSON'],
  ];
  for (const [body, code] of cases) {
    const res = await api.call('POST', '/api/orders', body);
    t.equal(res.status, 400, JSON.stringify(body));
    t.match(res.body, { code, statusCode: 400 }, JSON.stringify(body));
  }
  t.same((await api.call<{ items: unknown[] }>('GET', '/api/orders')).body.items, [], 'no order was stored');

  const notAnId = await api.getOrder('not-an-object-id');
  t.equal(notAnId.status, 404);
  const unknownId = await api.getOrder('0123456789abcdef01234567');
  t.equal(unknownId.status, 404);
});

t.test('Idempotency-Key: a retried create returns the first order, never a second one', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const body = { items: [{ sku: 'COFFEE-LATTE', quantity: 1 }] };
  const key = { 'idempotency-key': 'confirm-page-7f3a' };

  const first = await api.call<{ id: string }>('POST', '/api/orders', body, key);
  t.equal(first.status, 201);
  const retry = await api.call<{ id: string }>('POST', '/api/orders', body, key);
  t.equal(retry.status, 200, 'a replay answers 200');
  t.equal(retry.body.id, first.body.id, 'with the same order');

  // Concurrent retries with a fresh key: one order in all.
  const burst = await Promise.all(
    Array.from({ length: 8 }, () => api.call<{ id: string }>('POST', '/api/orders', body, { 'idempotency-key': 'burst-1' })),
  );
  const created = burst.filter((r) => r.status === 201);
  t.equal(created.length, 1, 'one request created it');
  for (const r of burst) {
    t.ok(r.status === 201 || r.status === 200, `status ${r.status}`);
    if (r.status === 200) t.equal(r.body.id, created[0]!.body.id);
  }

  const reused = await api.call('POST', '/api/orders', { items: [{ sku: 'TEA-OOLONG', quantity: 1 }] }, key);
  t.equal(reused.status, 409);
  t.match(reused.body, { code: 'IDEMPOTENCY_KEY_REUSED' });

  const bad = await api.call('POST', '/api/orders', body, { 'idempotency-key': 'no spaces allowed' });
  t.equal(bad.status, 400);
  t.match(bad.body, { code: 'BAD_IDEMPOTENCY_KEY' });

  // A refused cart frees the key for a corrected retry.
  const refused = await api.call('POST', '/api/orders', { items: [{ sku: 'NOPE', quantity: 1 }] }, { 'idempotency-key': 'fix-me' });
  t.equal(refused.status, 400);
  const fixed = await api.call('POST', '/api/orders', body, { 'idempotency-key': 'fix-me' });
  t.equal(fixed.status, 201);

  // Keys are per user: another user with the same key gets an order of their own.
  const other = apiClient(s.apiBase, (await s.login()).token);
  const theirs = await other.call<{ id: string }>('POST', '/api/orders', body, key);
  t.equal(theirs.status, 201);
  t.not(theirs.body.id, first.body.id);

  const mine = await api.call<{ items: unknown[] }>('GET', '/api/orders');
  t.equal(mine.body.items.length, 3, 'first, burst and fix-me: three orders, no duplicates');
});

t.test('Idempotency-Key holds in the database alone: Redis losing every key (a restart, a flush) never makes a second order', async (t) => {
  // A Redis of its own to flush: the shared one holds other test files' sessions and job queues.
  const redis = await startOwnRedis(t);
  const s = await startStack({ tweak: (c) => ({ ...c, redisUrl: redis.url }) });
  t.teardown(() => s.close());
  const { token, openid } = await s.login();
  const api = apiClient(s.apiBase, token);
  const body = { items: [{ sku: 'COFFEE-LATTE', quantity: 2 }] };
  const key = { 'idempotency-key': 'after-redis-restart' };
  const first = await api.call<{ id: string }>('POST', '/api/orders', body, key);
  t.equal(first.status, 201);
  // Everything Redis held is gone (sessions too: log in again as the same buyer).
  await s.app.redis.flushdb();
  const again = apiClient(s.apiBase, (await s.login(openid)).token);
  const retry = await again.call<{ id: string }>('POST', '/api/orders', body, key);
  t.equal(retry.status, 200, 'a replay');
  t.equal(retry.body.id, first.body.id, 'of the first order');
  t.match((await again.call('POST', '/api/orders', { items: [{ sku: 'TEA-OOLONG', quantity: 1 }] }, key)).body, { code: 'IDEMPOTENCY_KEY_REUSED' });
  t.equal(await s.app.mongo.collection('orders').countDocuments({ openid }), 1, 'one order in the database');

  // The database's unique index is what guarantees it: a second insert with the key is refused.
  const stored = await s.app.mongo.collection('orders').findOne({ openid });
  const dup = await s.app.mongo
    .collection('orders')
    .insertOne({ ...stored, _id: undefined, outTradeNo: 'X' + stored!.outTradeNo.slice(1) } as never)
    .then(
      () => 0,
      (err: { code?: number }) => err.code,
    );
  t.equal(dup, 11000, 'E11000 on (buyer, key)');
});

t.test('order creation is rate limited per user, not per shared IP', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const busy = apiClient(s.apiBase, (await s.login()).token);
  const statuses: number[] = [];
  for (let i = 0; i < 32; i++) statuses.push((await busy.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).status);
  t.equal(statuses.filter((x) => x === 201).length, 30);
  t.same(statuses.slice(30), [429, 429]);
  const limited = await busy.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }]);
  t.match(limited.body, { code: 'RATE_LIMITED' });
  // Another buyer behind the same address is not affected.
  const neighbour = apiClient(s.apiBase, (await s.login()).token);
  t.equal((await neighbour.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).status, 201);
  // An unauthenticated request is still a 401, not a rate-limit answer.
  t.equal((await apiClient(s.apiBase).createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).status, 401);
});
