import t from 'tap';
import { createHttpClient, type HttpRequestOptions, type HttpResponse } from '../../../miniprogram/services/http.js';
import { createOrders, newIdempotencyKey } from '../../../miniprogram/services/orders.js';
import { startStack } from '../../helpers/stack.js';

// wx.request over fetch; `loseNextAnswer` makes the next call reach the server but fail on the way back.
function fetchRequest() {
  let lose = false;
  const request = async (o: HttpRequestOptions): Promise<HttpResponse> => {
    const res = await fetch(o.url, {
      method: o.method,
      headers: o.header,
      body: o.data === undefined ? undefined : JSON.stringify(o.data),
    });
    const text = await res.text();
    if (lose) {
      lose = false;
      throw { errMsg: 'request:fail timeout' };
    }
    return { statusCode: res.status, data: text ? (JSON.parse(text) as unknown) : '' };
  };
  return { request, loseNextAnswer: () => (lose = true) };
}

t.test('a checkout retried after a lost answer finds its order instead of making a second', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const { token } = await s.login();
  const net = fetchRequest();
  const http = createHttpClient({ baseUrl: s.apiBase, request: net.request });
  const orders = createOrders({ send: (o) => http.send({ ...o, token }) });
  const cart = [{ sku: 'COFFEE-LATTE', quantity: 1 }];
  const key = newIdempotencyKey();

  net.loseNextAnswer();
  const lost = await orders.create(cart, { idempotencyKey: key }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(lost, { kind: 'network' }, 'the first answer was lost');
  const retried = await orders.create(cart, { idempotencyKey: key });
  t.match(retried, { status: 'CREATED', amount: 1800 });
  const mine = await orders.list();
  t.same(mine.items.map((o) => o.id), [retried.id], 'one order on the server');

  // Without a key, a retry is a new order: that is what the key is for.
  await orders.create(cart);
  t.equal((await orders.list()).items.length, 2);
});

t.test('keys are distinct per checkout', async (t) => {
  const keys = new Set(Array.from({ length: 1000 }, () => newIdempotencyKey()));
  t.equal(keys.size, 1000);
  for (const k of keys) t.match(k, /^[A-Za-z0-9_-]{1,64}$/);
  t.equal(newIdempotencyKey(0, () => 0), 'co-0-000000000000');
});
