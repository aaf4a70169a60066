import t from 'tap';
import { Types } from 'mongoose';
import { apiClient } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';

const TOKEN = 'adm-' + 'x'.repeat(40);

t.test('without ADMIN_API_TOKEN and with the console off the operators API does not exist', async (t) => {
  const s = await startStack({ env: { ADMIN_CONSOLE: 'off' } });
  t.teardown(() => s.close());
  const res = await apiClient(s.apiBase, TOKEN).call('GET', '/admin/api/follow-ups');
  t.equal(res.status, 404);
});

t.test('the follow-up queue and an order, for a caller with the token only', async (t) => {
  const lines: string[] = [];
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, logStream: { write: (l) => void lines.push(l) } });
  t.teardown(() => s.close());
  for (const bad of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
    const res = await apiClient(s.apiBase).call('GET', '/admin/api/follow-ups', undefined, bad ? { authorization: bad } : {});
    t.equal(res.status, 401, `refused: ${bad?.slice(0, 12)}`);
    t.match(res.body, { code: 'UNAUTHORIZED' });
  }
  t.notOk(lines.join('\n').includes(TOKEN), 'the token is never logged');
  const admin = apiClient(s.apiBase, TOKEN);
  t.same((await admin.call('GET', '/admin/api/follow-ups')).body, { items: [] });

  // A paid order the sandbox reports for a closed order: it lands in the queue.
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const params = (await api.pay(order.id)).body;
  await s.app.mongo.collection('orders').updateOne({ _id: new Types.ObjectId(order.id) }, { $set: { status: 'CLOSED' } });
  await s.cashier(params);
  const queue = await (async () => {
    for (let i = 0; i < 100; i++) {
      const r = await admin.call<{ items: Array<{ id: string; flags: string[]; fulfilment: string; history: unknown[] }> }>('GET', '/admin/api/follow-ups');
      if (r.body.items.length > 0) return r.body.items;
      await new Promise((r) => setTimeout(r, 50));
    }
    return [];
  })();
  t.equal(queue.length, 1);
  t.match(queue[0], { id: order.id, status: 'PAID', flags: ['PAID_AFTER_CLOSE'], fulfilment: 'HELD', followUp: 'OPEN' });
  const one = await admin.call<{ history: Array<{ to: string; source: string }> }>('GET', `/admin/api/orders/${order.id}`);
  t.equal(one.status, 200);
  t.match(one.body.history.at(-1), { to: 'PAID', source: 'notify' });
  t.equal((await admin.call('GET', '/admin/api/orders/0123456789abcdef01234567')).status, 404);
});

t.test('one log line per request', async (t) => {
  const lines: string[] = [];
  const s = await startStack({ logStream: { write: (l) => void lines.push(l) } });
  t.teardown(() => s.close());
  const before = lines.length;
  await fetch(s.apiBase + '/api/products');
  await new Promise((r) => setTimeout(r, 50));
  const mine = lines.slice(before).map((l) => JSON.parse(l) as { url?: string; req?: { url?: string } });
  t.equal(mine.filter((l) => l.url === '/api/products' || l.req?.url === '/api/products').length, 1);
});
