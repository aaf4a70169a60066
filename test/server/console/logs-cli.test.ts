import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { startAdminListener } from '../../../server/src/admin/listener.js';
import { runAdminCli } from '../../../server/src/admin/cli.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';
import { onV3, v3Notification } from '../../helpers/wechat-v3.js';
import { consoleLogin, makeOperator, paidOrder } from './helpers.js';

t.test('the notify log and the orderquery log behind the order page', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  await makeOperator(s, 'vera', 'viewer');
  const vera = await consoleLogin(s.apiBase, 'vera');

  // a status poll of an order waiting for payment asks WeChat (orderquery): logged
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const waiting = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  await api.pay(waiting.id);
  await api.getOrder(waiting.id);
  const polled = await eventually(
    () => vera.call<{ queries: Array<{ tradeState?: string }> }>('GET', `/admin/api/orders/${waiting.id}`),
    (r) => r.body.queries.length > 0,
  );
  t.match(polled.body.queries, [{ tradeState: 'NOTPAY', ms: Number }]);

  // a paid order: the verified notify and our SUCCESS reply
  const { order } = await paidOrder(s);
  const detail = await eventually(
    () => vera.call<{ notifies: Array<Record<string, unknown>> }>('GET', `/admin/api/orders/${order.id}`),
    (r) => r.body.notifies.length > 0,
  );
  // v2 replies SUCCESS/OK in XML; v3 replies 204 with no body, logged as SUCCESS
  const stored = onV3() ? { httpStatus: 204, reply: { code: 'SUCCESS' } } : { httpStatus: 200, reply: { code: 'SUCCESS', msg: 'OK' } };
  t.match(detail.body.notifies, [{ verification: 'OK', ...stored, transactionId: order.transactionId, latencyMs: Number }]);
  if (onV3()) t.notOk((detail.body.notifies[0]!.reply as { msg?: string }).msg, 'v3: no message with a 204');

  // a forged notify for the same order: refused, and logged as refused
  if (onV3()) {
    // v3: signed with a key that is not WeChat's. Its ids sit in the encrypted resource, which is not
    // read before the signature verifies, so the log entry is not on the order page: it is in the log.
    const since = new Date();
    const resource = {
      appid: s.appid, mchid: s.config.pay.mchId, out_trade_no: order.outTradeNo, transaction_id: '4200000000000000000000000001',
      trade_type: 'JSAPI', trade_state: 'SUCCESS', trade_state_desc: '支付成功', success_time: new Date().toISOString(),
      payer: { openid: 'o-forger' }, amount: { total: 1, payer_total: 1, currency: 'CNY', payer_currency: 'CNY' },
    };
    const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const msg = v3Notification(s, resource, { signWith: forger });
    const res = await fetch(`${s.apiBase}/wxpay/v3/notify`, { method: 'POST', headers: msg.headers, body: msg.body });
    t.equal(res.status, 401);
    const logged = await eventually(() => s.app.activity.notifiesSince(since, 10), (l) => l.length > 0);
    t.match(logged, [{ reply: { code: 'FAIL' }, httpStatus: 401 }]);
    t.not(logged[0]!.verification, 'OK');
    t.equal(logged[0]!.outTradeNo, undefined, 'nothing read from an unverified resource');
    const after = await vera.call<{ notifies: Array<Record<string, unknown>>; status: string }>('GET', `/admin/api/orders/${order.id}`);
    t.equal(after.body.notifies.length, 1);
    t.equal(after.body.status, 'PAID', 'the forgery changed nothing');
  } else {
    const forged = `<xml><return_code><![CDATA[SUCCESS]]></return_code><appid><![CDATA[${s.appid}]]></appid><mch_id><![CDATA[${s.config.pay.mchId}]]></mch_id><nonce_str><![CDATA[abc]]></nonce_str><result_code><![CDATA[SUCCESS]]></result_code><out_trade_no><![CDATA[${order.outTradeNo}]]></out_trade_no><transaction_id><![CDATA[4200000000000000000000000001]]></transaction_id><total_fee><![CDATA[1]]></total_fee><sign><![CDATA[0123456789ABCDEF0123456789ABCDEF]]></sign></xml>`;
    const res = await fetch(`${s.apiBase}/wxpay/notify`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: forged });
    t.equal(res.status, 400);
    const after = await eventually(
      () => vera.call<{ notifies: Array<Record<string, unknown>>; status: string }>('GET', `/admin/api/orders/${order.id}`),
      (r) => r.body.notifies.length > 1,
    );
    t.match(after.body.notifies[1], { reply: { code: 'FAIL' }, httpStatus: 400, transactionId: '4200000000000000000000000001' });
    t.not(after.body.notifies[1]!.verification, 'OK');
    t.equal(after.body.status, 'PAID', 'the forgery changed nothing');
  }

  // search: by out_trade_no, transaction_id, openid (indexed lookups), and by status (a paged scan)
  for (const q of [order.outTradeNo, order.transactionId!, order.id]) {
    const found = await vera.call<{ items: Array<{ id: string }> }>('GET', `/admin/api/orders?q=${encodeURIComponent(q)}`);
    t.same(found.body.items.map((o) => o.id), [order.id], `found by ${q}`);
  }
  const paidOnly = await vera.call<{ items: Array<{ id: string }>; next?: string }>('GET', '/admin/api/orders?status=PAID&limit=1');
  t.same(paidOnly.body.items.map((o) => o.id), [order.id]);
  const all = await vera.call<{ items: Array<{ id: string }>; next?: string }>('GET', '/admin/api/orders?limit=1');
  t.equal(all.body.items.length, 1);
  t.type(all.body.next, 'string', 'a next page');
  const page2 = await vera.call<{ items: Array<{ id: string }> }>('GET', `/admin/api/orders?limit=1&before=${encodeURIComponent(all.body.next!)}`);
  t.equal(page2.body.items.length, 1);
  t.not(page2.body.items[0]!.id, all.body.items[0]!.id);
  t.equal((await vera.call('GET', '/admin/api/orders?before=nonsense')).status, 400);
  t.equal((await vera.call('GET', '/admin/api/orders?minAmount=1.5')).status, 400);
  const stats = await vera.call<{ totals: { paidCount: number; attempts: number; notifies: number; notifyFailures: number } }>('GET', '/admin/api/stats?days=1&bucket=hour');
  t.match(stats.body.totals, { paidCount: 1, attempts: 2, notifies: 2, notifyFailures: 1 });
});

t.test('npm run admin -- create-admin: the first admin, its password from stdin only', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const env = { MONGODB_URI: process.env.MONGODB_URI, MONGODB_DB: s.dbName };
  const run = async (argv: string[], input: string) => {
    const stdin = new PassThrough();
    stdin.end(input);
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAdminCli(argv, { env, stdin, out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  t.equal((await run(['create-admin', 'root', 'a password in argv'], '')).code, 2, 'no password in arguments');
  t.match((await run(['create-admin', 'root'], 'short\n')).err, 'at least 12');
  const ok = await run(['create-admin', 'root'], 'the first admin password\n');
  t.equal(ok.code, 0, ok.err);
  t.equal((await run(['create-admin', 'root'], 'the first admin password\n')).code, 1, 'not twice');
  const root = await consoleLogin(s.apiBase, 'root', 'the first admin password');
  t.equal(root.status, 200);
  t.match(root.body, { operator: { name: 'root', role: 'admin' } });
  const stored = await s.app.mongo.collection('operators').findOne({ name: 'root' });
  t.match(stored?.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'argon2id');
  t.notOk(JSON.stringify(stored).includes('the first admin password'));
  t.equal((await run(['unlock', 'root'], '')).code, 0);
});

t.test('ADMIN_PORT: the console and /admin/api only on their own listener', async (t) => {
  const s = await startStack({ tweak: (c) => ({ ...c, admin: { ...c.admin, port: 0 } }) });
  t.teardown(() => s.close());
  const admin = await startAdminListener(s.app, { port: 0, host: '127.0.0.1' });
  t.teardown(() => admin.close());
  t.equal((await fetch(`${s.apiBase}/admin/`)).status, 404, 'not on the public port');
  t.equal((await fetch(`${s.apiBase}/admin/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x","password":"y"}' })).status, 404);
  t.equal((await fetch(`${admin.url}/admin/`)).status, 200, 'on the admin port');
  t.equal((await fetch(`${admin.url}/admin/api/orders`)).status, 401);
  t.equal((await fetch(`${admin.url}/api/products`)).status, 404, 'the buyers API is not on the admin port');
  t.equal((await fetch(`${s.apiBase}/api/products`)).status, 200);
  await makeOperator(s, 'vera', 'viewer');
  t.equal((await consoleLogin(admin.url, 'vera')).status, 200);
});
