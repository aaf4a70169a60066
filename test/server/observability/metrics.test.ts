import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { startAdminListener } from '../../../server/src/admin/listener.js';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { sign, toBeijingTime, toXml } from '../../../server/src/wechat/index.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { onV3, paymentNotify, transactionOf, v3Notification } from '../../helpers/wechat-v3.js';

const METRICS_TOKEN = 'metrics-' + 'm'.repeat(40);
const ADMIN_TOKEN = 'adm-' + 'a'.repeat(40);

async function scrape(base: string, token?: string) {
  const res = await fetch(base + '/metrics', token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** The value of one series in a Prometheus text answer (undefined when absent). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** A payment notify in the server's API version; `forged`: signed with a key that is not WeChat's (v2: not our API key). */
async function notify(s: Stack, fields: Record<string, string>, forged = false) {
  let msg: { path: string; headers: Record<string, string>; body: string };
  if (!forged) msg = paymentNotify(s, fields);
  else if (onV3()) msg = { path: '/wxpay/v3/notify', ...v3Notification(s, transactionOf(fields), { signWith: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }) };
  else msg = { path: '/wxpay/notify', headers: { 'content-type': 'text/xml' }, body: toXml({ ...fields, sign: sign(fields, 'f'.repeat(32), 'MD5') }) };
  const res = await fetch(s.apiBase + msg.path, { method: 'POST', headers: msg.headers, body: msg.body });
  return res.status;
}
// What the notify endpoint answers a stored notify and a forged one: v2 200 (SUCCESS XML) / 400; v3 204 / 401.
const STORED = () => (onV3() ? 204 : 200);
const FORGED = () => (onV3() ? 401 : 400);
const NOTIFY_ROUTE = () => (onV3() ? '/wxpay/v3/notify' : '/wxpay/notify');

t.test('/metrics does not exist on the public port without METRICS_TOKEN', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const res = await scrape(s.apiBase, METRICS_TOKEN);
  t.equal(res.status, 404);
  t.match(JSON.parse(res.text), { code: 'NOT_FOUND' });
});

t.test('with METRICS_TOKEN: refused without it, and after a paid flow every part is counted', async (t) => {
  const lines: string[] = [];
  const s = await startStack({ env: { METRICS_TOKEN, ADMIN_API_TOKEN: ADMIN_TOKEN }, logStream: { write: (l) => void lines.push(l) } });
  t.teardown(() => s.close());

  for (const bad of [undefined, 'wrong', `${METRICS_TOKEN}x`, ADMIN_TOKEN]) {
    const res = await scrape(s.apiBase, bad);
    t.equal(res.status, 401, `refused: ${bad?.slice(0, 10)}`);
    t.match(JSON.parse(res.text), { code: 'UNAUTHORIZED' });
  }
  const basic = await fetch(s.apiBase + '/metrics', { headers: { authorization: `Basic ${METRICS_TOKEN}` } });
  t.equal(basic.status, 401, 'only as a bearer token');

  // Order 1: paid, and WeChat's notify settles it.
  const { token, openid } = await s.login();
  const api = apiClient(s.apiBase, token);
  const first = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  await s.cashier((await api.pay(first.id)).body);
  const paid = await eventually(() => s.app.orderRepo.find({ id: first.id }), (o) => o?.status === 'PAID');
  t.equal(paid?.status, 'PAID', 'the notify settled it');

  // Order 2: its notify is lost, and the status poll's orderquery settles it.
  const second = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 2 }])).body;
  const params = (await api.pay(second.id)).body;
  await s.faults({ notify: { action: 'drop', outTradeNo: second.outTradeNo } });
  await s.cashier(params);
  t.equal((await api.getOrder(second.id)).body.status, 'PAID', 'orderquery found it paid');

  // WeChat repeats order 1's notify (a duplicate), and someone forges one.
  const fields: Record<string, string> = {
    appid: s.config.wechat.appid,
    mch_id: s.config.pay.mchId,
    nonce_str: 'n0nce' + Date.now(),
    result_code: 'SUCCESS',
    return_code: 'SUCCESS',
    openid,
    trade_type: 'JSAPI',
    bank_type: 'OTHERS',
    total_fee: String(first.amount),
    fee_type: 'CNY',
    cash_fee: String(first.amount),
    transaction_id: paid!.transactionId!,
    out_trade_no: first.outTradeNo,
    time_end: toBeijingTime(new Date()),
  };
  t.equal(await notify(s, fields), STORED(), 'a duplicate gets SUCCESS');
  t.equal(await notify(s, { ...fields, total_fee: '1' }, true), FORGED(), 'a forged notify is refused');
  t.equal(await notify(s, { ...fields, transaction_id: '4200000' + '2'.repeat(21) }), STORED(), 'a second transaction is recorded');

  // A partial refund of order 1.
  const refund = await apiClient(s.apiBase, ADMIN_TOKEN).call<{ id: string }>('POST', `/admin/api/orders/${first.id}/refunds`, { amount: 1, reason: 'metrics test' });
  t.equal(refund.status, 201);
  await eventually(() => s.app.refunds.get(refund.body.id), (r) => r?.status === 'SUCCESS');

  // The refund notify is counted just after the refund it settled is stored.
  const res = await eventually(() => scrape(s.apiBase, METRICS_TOKEN), (r) => value(r.text, 'wxpay_notifies_total{kind="refund",outcome="changed"}') === 1);
  t.equal(res.status, 200);
  t.match(res.type, /^text\/plain; version=0\.0\.4/);
  const m = res.text;
  t.equal(value(m, 'wxpay_notifies_total{kind="payment",outcome="paid"}'), 1, 'the notify that paid order 1');
  // At least ours: the sandbox also repeats a notify whose answer is slow, as WeChat does.
  t.ok((value(m, 'wxpay_notifies_total{kind="payment",outcome="duplicate"}') ?? 0) >= 1, 'the repeated notify, a duplicate');
  t.equal(value(m, 'wxpay_notifies_total{kind="payment",outcome="forged"}'), 1);
  t.equal(value(m, 'wxpay_notifies_total{kind="payment",outcome="second_transaction"}'), 1, 'not counted as a duplicate');
  t.equal(value(m, 'wxpay_notifies_total{kind="refund",outcome="changed"}'), 1, 'the refund notify that settled the refund');
  t.ok((value(m, 'wxpay_orderquery_total{outcome="SUCCESS"}') ?? 0) >= 1, 'orderquery answered SUCCESS');
  t.ok((value(m, 'wxpay_wechat_api_calls_total{api="orderquery",result="SUCCESS"}') ?? 0) >= 1);
  t.equal(value(m, 'wxpay_wechat_api_calls_total{api="unifiedorder",result="SUCCESS"}'), 2);
  t.equal(value(m, 'wxpay_wechat_api_calls_total{api="jscode2session",result="SUCCESS"}'), 1);
  t.equal(value(m, 'wxpay_wechat_api_calls_total{api="refund",result="SUCCESS"}'), 1);
  t.equal(value(m, 'wxpay_wechat_api_duration_seconds_count{api="unifiedorder"}'), 2);
  t.equal(value(m, 'wxpay_http_request_duration_seconds_count{method="POST",route="/api/orders/:id/pay",status_class="2xx"}'), 2, 'by route pattern');
  t.equal(value(m, `wxpay_http_request_duration_seconds_count{method="POST",route="${NOTIFY_ROUTE()}",status_class="4xx"}`), 1, 'the forged notify');
  t.equal(value(m, 'wxpay_http_request_duration_seconds_count{method="GET",route="/metrics",status_class="4xx"}'), 5, 'the five refused scrapes');
  t.equal(value(m, 'wxpay_refund_transitions_total{from="NEW",to="PENDING"}'), 1);
  t.ok((value(m, 'wxpay_refund_transitions_total{from="PROCESSING",to="SUCCESS"}') ?? 0) + (value(m, 'wxpay_refund_transitions_total{from="PENDING",to="SUCCESS"}') ?? 0) >= 1, 'the refund reached SUCCESS');
  t.ok((value(m, 'wxpay_jobs{job="orders.expire",state="delayed"}') ?? 0) >= 2, 'each order\'s expiry job waits, read from the queue');
  t.equal(value(m, 'wxpay_dependency_up{dependency="mongo"}'), 1);
  t.equal(value(m, 'wxpay_dependency_up{dependency="redis"}'), 1);
  t.ok(value(m, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics');

  // Labels are patterns, names and codes: no id, no URL, no secret.
  const stored = await s.app.redis.get(`sess:${createHash('sha256').update(token).digest('hex')}`);
  const sessionKey = (JSON.parse(stored!) as { sessionKey: string }).sessionKey;
  t.ok(sessionKey.length > 8, 'the session_key WeChat gave');
  for (const [what, secret] of [
    ['order id', first.id],
    ['out_trade_no', first.outTradeNo],
    ['openid', openid],
    ['session token', token],
    ['session_key', sessionKey],
    ['API key', s.config.pay.apiKey],
    ...(s.config.pay.v3 ? [['APIv3 key', s.config.pay.v3.apiV3Key] as const] : []),
    ['appsecret', s.config.wechat.appsecret],
    ['metrics token', METRICS_TOKEN],
    ['admin token', ADMIN_TOKEN],
  ] as const) {
    t.notOk(m.includes(secret), `no ${what} in the metrics`);
  }
  t.notOk(lines.join('\n').includes(METRICS_TOKEN), 'the metrics token is never logged');
});

t.test('each app instance has its own registry', async (t) => {
  const s = await startStack({ instances: 2, env: { METRICS_TOKEN } });
  t.teardown(() => s.close());
  await fetch(s.apiBases[0] + '/api/products');
  await fetch(s.apiBases[0] + '/api/products');
  const series = 'wxpay_http_request_duration_seconds_count{method="GET",route="/api/products",status_class="2xx"}';
  t.equal(value((await scrape(s.apiBases[0]!, METRICS_TOKEN)).text, series), 2);
  t.equal(value((await scrape(s.apiBases[1]!, METRICS_TOKEN)).text, series), undefined, 'the other instance counted none');
});

t.test('with ADMIN_PORT, /metrics answers only on the admin listener', async (t) => {
  const adminPort = await freePort();
  const s = await startStack({ env: { ADMIN_PORT: String(adminPort) } });
  // The console's own listener (main.ts starts it with ADMIN_PORT): the same app, another port.
  const admin = await startAdminListener(s.app, { port: adminPort, host: '127.0.0.1' });
  t.teardown(async () => {
    await admin.close();
    await s.close();
  });
  t.equal((await scrape(s.apiBase)).status, 404, 'not on the public port');
  t.equal((await scrape(s.apiBase, METRICS_TOKEN)).status, 404, 'not even with a token');
  const res = await scrape(`http://127.0.0.1:${adminPort}`);
  t.equal(res.status, 200, 'scraped on the admin port');
  t.match(res.text, /wxpay_dependency_up\{dependency="redis"\} 1/);
});

t.test('with ADMIN_PORT and METRICS_TOKEN, the admin listener wants the token too', async (t) => {
  const adminPort = await freePort();
  const s = await startStack({ env: { ADMIN_PORT: String(adminPort), METRICS_TOKEN } });
  // The console's own listener (main.ts starts it with ADMIN_PORT): the same app, another port.
  const admin = await startAdminListener(s.app, { port: adminPort, host: '127.0.0.1' });
  t.teardown(async () => {
    await admin.close();
    await s.close();
  });
  const base = `http://127.0.0.1:${adminPort}`;
  t.equal((await scrape(base)).status, 401);
  t.equal((await scrape(base, METRICS_TOKEN)).status, 200);
  t.equal((await scrape(s.apiBase, METRICS_TOKEN)).status, 404, 'and never the public port');
});
