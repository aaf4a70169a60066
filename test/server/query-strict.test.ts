import t from 'tap';
import { apiClient } from '../helpers/api.js';
import { startStack } from '../helpers/stack.js';

t.test('GET /api/orders?limit= takes digits only: loose numbers, arrays and unknown keys are 400 VALIDATION_ERROR', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const me = apiClient(s.apiBase, (await s.login()).token);
  for (let i = 0; i < 3; i++) t.equal((await me.createOrder([{ sku: 'COFFEE-LATTE', quantity: 1 }])).status, 201);

  const count = async (query: string) => {
    const res = await me.call<{ items: unknown[] }>('GET', `/api/orders${query}`);
    t.equal(res.status, 200, query);
    return res.body.items.length;
  };
  t.equal(await count(''), 3, 'no limit: the default');
  t.equal(await count('?limit=1'), 1);
  t.equal(await count('?limit=2'), 2);
  t.equal(await count('?limit=50'), 3);
  t.equal(await count('?limit=2&before='), 2, 'an empty before is no cursor');

  for (const query of [
    'limit=1e2',
    'limit=1.5',
    'limit=1.0',
    'limit=0x10',
    'limit=0b1',
    'limit=05',
    'limit=+2',
    'limit=%202',
    'limit=2%20',
    'limit=',
    'limit=abc',
    'limit=Infinity',
    'limit[]=1',
    'limit[0]=1',
    'limit=1&limit=2',
    'limit=0',
    'limit=-1',
    'limit=51',
    'limit=99999999999999999999',
    'before=x&before=y',
    'offset=10',
  ]) {
    const res = await me.call('GET', `/api/orders?${query}`);
    t.equal(res.status, 400, query);
    t.match(res.body, { code: 'VALIDATION_ERROR', statusCode: 400, message: /^query/ }, query);
  }
});
