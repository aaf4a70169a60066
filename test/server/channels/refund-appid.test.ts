// A refund goes to WeChat under its order's appid, and its notification (for that appid) settles it.
import t from 'tap';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';

const TOKEN = 'adm-' + 'c'.repeat(40);

t.test("APP and Native orders are fulfilled, and refunded under their own appid", async (t) => {
  const s = await startStack({ env: { ADMIN_API_TOKEN: TOKEN }, jobs: { workers: true } });
  t.teardown(() => s.close());
  const post = async (path: string, body: object) => {
    const res = await fetch(s.sandboxBase + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as Record<string, string>;
  };
  const { code } = await post('/sandbox/oauth-codes', { appid: s.config.apps.open!.appid });
  const login = await apiClient(s.apiBase).call<{ token: string }>('POST', '/api/app/session', { code });
  const api = apiClient(s.apiBase, login.body.token);
  const appOrder = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  const params = (await api.call<Record<string, string>>('POST', `/api/app/orders/${appOrder.id}/pay`)).body;
  t.match(await post('/sandbox/app-cashier', params), { errCode: 0 });

  const native = await fetch(s.apiBase + '/pay/native/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'TEA-OOLONG', quantity: 1 }) });
  const { id: nativeId, url } = (await native.json()) as { id: string; url: string };
  await fetch(s.apiBase + url.replace('?', '/qr.svg?'));
  const nativeDoc = await s.app.orderRepo.find({ id: nativeId });
  t.match(await post('/sandbox/scan', { codeUrl: nativeDoc!.prepay!.codeUrl! }), { result: 'paid' });

  const admin = apiClient(s.apiBase, TOKEN);
  for (const id of [appOrder.id, nativeId]) {
    await eventually(() => s.app.orderRepo.find({ id }), (o) => o?.status === 'PAID');
    const order = await s.app.orderRepo.find({ id });
    // Fulfilled like any order, the event naming who paid (a Native order has no openid of its own).
    const fulfilled = await eventually(() => s.app.orderRepo.find({ id }), (o) => o?.fulfilment?.state === 'EMITTED');
    t.equal(fulfilled!.fulfilment?.state, 'EMITTED', `${order!.channel}: fulfilment emitted`);
    const [event] = await s.app.orderRepo.fulfilmentEvents(order!._id);
    t.equal(event?.openid, order!.payerOpenid, 'the event names the payer');
    const res = await admin.call<{ id: string; status: string }>('POST', `/admin/api/orders/${id}/refunds`, { amount: order!.amount, reason: '顾客退货' });
    t.equal(res.status, 201);
    t.equal(res.body.status, 'PROCESSING', `${order!.channel}: accepted by WeChat under ${order!.appid}`);
    const done = await eventually(() => admin.call<{ status: string }>('GET', `/admin/api/refunds/${res.body.id}`), (r) => r.body.status === 'SUCCESS');
    t.equal(done.body.status, 'SUCCESS', 'settled');
    t.equal((await eventually(() => s.app.orderRepo.find({ id }), (o) => o?.status === 'REFUNDED'))!.status, 'REFUNDED');
  }
});
