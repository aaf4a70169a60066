// API v3 prepay / query / close on the sandbox's one trade store: v2's idempotency and state rules
// answered the v3 way, v2 and v3 seeing each other's trades, and the payApi faults.
import t from 'tap';
import { DEMO_APPS } from '../../../../server/src/sandbox/demo.js';
import { orderParams, payCall } from '../helpers.js';
import { MERCHANT, eventually, jsapiBody, nextTradeNo, openidOf, rsaPayParams, v3, v3Sandbox } from './helpers.js';

const NOTIFY = 'https://shop.example/wxpay/v3/notify';
const OPEN = { appid: DEMO_APPS.open.appid, mchId: MERCHANT.mchId, key: MERCHANT.key, secret: DEMO_APPS.open.secret, kind: 'open' as const, apiV3Key: MERCHANT.apiV3Key };
const query = (no: string) => `/v3/pay/transactions/out-trade-no/${no}?mchid=${MERCHANT.mchId}`;

t.test('JSAPI prepay: same request → same prepay_id; other fields → 403 OUT_TRADE_NO_USED; query NOTPAY', async (t) => {
  const sb = await v3Sandbox(t);
  const body = jsapiBody(await openidOf(sb), NOTIFY, { attach: 'order:7', time_expire: '2099-01-01T00:00:00+08:00' });
  const first = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  t.equal(first.status, 200);
  const again = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  t.equal(again.json.prepay_id, first.json.prepay_id, 'idempotent');
  const changed = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', { ...body, amount: { total: 102 } });
  t.equal(changed.status, 403);
  t.match(changed.json, { code: 'OUT_TRADE_NO_USED' });
  t.ok(changed.verified);

  const q = await v3(sb, 'GET', query(body.out_trade_no));
  t.equal(q.status, 200);
  t.ok(q.verified);
  t.match(q.json, { appid: MERCHANT.appid, mchid: MERCHANT.mchId, out_trade_no: body.out_trade_no, trade_type: 'JSAPI', trade_state: 'NOTPAY', attach: 'order:7', amount: { total: 101 } });
  t.notOk('transaction_id' in q.json, 'no transaction before payment');

  const missingMchid = await v3(sb, 'GET', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}`);
  t.match(missingMchid.json, { code: 'PARAM_ERROR', message: /mchid/ });
  const unknown = await v3(sb, 'GET', query('NoSuchTrade123'));
  t.equal(unknown.status, 404);
  t.match(unknown.json, { code: 'ORDER_NOT_EXIST' });
  const unknownId = await v3(sb, 'GET', `/v3/pay/transactions/id/4200000000202612020000000000?mchid=${MERCHANT.mchId}`);
  t.equal(unknownId.status, 404);
});

t.test('NATIVE → code_url; APP needs an open-platform appid', async (t) => {
  const sb = await v3Sandbox(t, { merchants: [MERCHANT, OPEN] });
  const native = await v3(sb, 'POST', '/v3/pay/transactions/native', { appid: MERCHANT.appid, mchid: MERCHANT.mchId, description: '扫码', out_trade_no: nextTradeNo(), notify_url: NOTIFY, amount: { total: 5 } });
  t.equal(native.status, 200);
  t.match(native.json, { code_url: /^weixin:\/\/wxpay\/bizpayurl\?pr=[0-9a-f]{16}$/ });
  const scan = await sb.json('POST', '/sandbox/scan', { codeUrl: native.json.code_url });
  t.match(scan, { status: 200, body: { result: 'paid' } });

  const appBody = { appid: OPEN.appid, mchid: MERCHANT.mchId, description: 'APP', out_trade_no: nextTradeNo(), notify_url: NOTIFY, amount: { total: 9 } };
  const app = await v3(sb, 'POST', '/v3/pay/transactions/app', appBody);
  t.equal(app.status, 200);
  t.match(app.json, { prepay_id: /^wx/ });
  const mpApp = await v3(sb, 'POST', '/v3/pay/transactions/app', { ...appBody, appid: MERCHANT.appid, out_trade_no: nextTradeNo() });
  t.equal(mpApp.status, 400);
  t.match(mpApp.json, { code: 'PARAM_ERROR' });
  t.equal(mpApp.headers.get('x-sandbox-error'), 'APP_NEEDS_OPEN_APPID');
});

t.test('paid: query SUCCESS by out_trade_no and by id; prepay again → ORDERPAID; close → ORDERPAID', async (t) => {
  const sb = await v3Sandbox(t);
  const openid = await openidOf(sb);
  const body = jsapiBody(openid, NOTIFY);
  const p = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  const paid = await sb.json('POST', '/sandbox/cashier', rsaPayParams(sb, p.json.prepay_id));
  t.same(paid.body, { errMsg: 'requestPayment:ok' });
  const q = await v3(sb, 'GET', query(body.out_trade_no));
  t.match(q.json, {
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    transaction_id: /^4200\d{24}$/,
    bank_type: 'OTHERS',
    success_time: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/,
    payer: { openid },
    amount: { total: 101, payer_total: 101, currency: 'CNY', payer_currency: 'CNY' },
  });
  const byId = await v3(sb, 'GET', `/v3/pay/transactions/id/${q.json.transaction_id}?mchid=${MERCHANT.mchId}`);
  t.same(byId.json, q.json);
  const again = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  t.equal(again.status, 400);
  t.match(again.json, { code: 'ORDERPAID' });
  const close = await v3(sb, 'POST', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}/close`, { mchid: MERCHANT.mchId });
  t.equal(close.status, 400);
  t.match(close.json, { code: 'ORDERPAID' });
});

t.test('close: 204 signed with an empty body; then prepay → ORDER_CLOSED; the 5-minute rule as v2', async (t) => {
  const sb = await v3Sandbox(t);
  const body = jsapiBody(await openidOf(sb), NOTIFY);
  await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  const close = await v3(sb, 'POST', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}/close`, { mchid: MERCHANT.mchId });
  t.equal(close.status, 204);
  t.equal(close.text, '');
  t.ok(close.verified, 'the 204 is signed over an empty body');
  t.ok(close.headers.get('request-id'));
  t.match((await v3(sb, 'GET', query(body.out_trade_no))).json, { trade_state: 'CLOSED' });
  const again = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  t.equal(again.status, 400);
  t.match(again.json, { code: 'ORDER_CLOSED' });
  const unknown = await v3(sb, 'POST', '/v3/pay/transactions/out-trade-no/NoSuchTrade123/close', { mchid: MERCHANT.mchId });
  t.equal(unknown.status, 404);
  t.match(unknown.json, { code: 'ORDER_NOT_EXIST' });

  // the sandbox default (WeChat's documented 5 minutes) refuses a young trade, as v2 closeorder does
  const strict = await v3Sandbox(t, { closeorderMinAgeSeconds: 300 });
  const young = jsapiBody(await openidOf(strict), NOTIFY);
  await v3(strict, 'POST', '/v3/pay/transactions/jsapi', young);
  const early = await v3(strict, 'POST', `/v3/pay/transactions/out-trade-no/${young.out_trade_no}/close`, { mchid: MERCHANT.mchId });
  t.equal(early.status, 500);
  t.match(early.json, { code: 'SYSTEM_ERROR' });
  t.equal(early.headers.get('x-sandbox-error'), 'CLOSEORDER_TOO_EARLY');
  t.match((await v3(strict, 'GET', query(young.out_trade_no))).json, { trade_state: 'NOTPAY' });
  await strict.json('POST', '/sandbox/faults', { closeorder: { minAgeSeconds: 0 } });
  const later = await v3(strict, 'POST', `/v3/pay/transactions/out-trade-no/${young.out_trade_no}/close`, { mchid: MERCHANT.mchId });
  t.equal(later.status, 204, 'the /sandbox/faults closeorder setting applies to v3');
});

t.test('one trade whatever API: v2 orderquery sees a v3 prepay, v3 query sees a v2 unifiedorder', async (t) => {
  const sb = await v3Sandbox(t);
  const openid = await openidOf(sb);
  const body = jsapiBody(openid, NOTIFY);
  await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  const v2q = await payCall(sb.url, 'orderquery', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: body.out_trade_no });
  t.match(v2q.fields, { result_code: 'SUCCESS', trade_state: 'NOTPAY', out_trade_no: body.out_trade_no, total_fee: '101' });

  const p = orderParams(openid, 'https://shop.example/wxpay/notify');
  const u = await payCall(sb.url, 'unifiedorder', p);
  t.equal(u.fields.result_code, 'SUCCESS');
  const v3q = await v3(sb, 'GET', query(p.out_trade_no as string));
  t.match(v3q.json, { out_trade_no: p.out_trade_no, trade_state: 'NOTPAY', trade_type: 'JSAPI', amount: { total: Number(p.total_fee) } });
  const clash = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', { ...body, out_trade_no: p.out_trade_no });
  t.equal(clash.status, 403, 'a v3 prepay on a v2 trade number is another order');
  t.match(clash.json, { code: 'OUT_TRADE_NO_USED' });
  const closed = await payCall(sb.url, 'closeorder', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: body.out_trade_no });
  t.equal(closed.fields.result_code, 'SUCCESS', 'v2 closeorder closes a v3 trade');
  t.match((await v3(sb, 'GET', query(body.out_trade_no))).json, { trade_state: 'CLOSED' });
});

t.test('payApi faults apply to v3: SYSTEMERROR → 500 SYSTEM_ERROR (signed), per api', async (t) => {
  const sb = await v3Sandbox(t);
  const body = jsapiBody(await openidOf(sb), NOTIFY);
  await sb.json('POST', '/sandbox/faults', { payApi: [{ action: 'SYSTEMERROR', api: 'unifiedorder' }, { action: 'SYSTEMERROR', api: 'orderquery' }, { action: 'SYSTEMERROR', api: 'closeorder' }] });
  const prepay = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  t.equal(prepay.status, 500);
  t.match(prepay.json, { code: 'SYSTEM_ERROR' });
  t.ok(prepay.verified);
  t.equal((await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body)).status, 200, 'count 1: the next call goes through');
  t.equal((await v3(sb, 'GET', query(body.out_trade_no))).status, 500);
  t.equal((await v3(sb, 'POST', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}/close`, { mchid: MERCHANT.mchId })).status, 500);
  t.equal((await v3(sb, 'GET', query(body.out_trade_no))).status, 200);

  await sb.json('POST', '/sandbox/faults', { payApi: { action: 'hang', api: 'orderquery' } });
  let answered = false;
  const hung = v3(sb, 'GET', query(body.out_trade_no)).then(
    () => {
      answered = true;
      return 'answered';
    },
    () => 'connection closed',
  );
  // once the fault is taken the call is held: closing the sandbox is what ends it
  await eventually(async () => ((await sb.json('POST', '/sandbox/faults', {})).body.armed.payApi.length === 0 ? true : undefined));
  t.notOk(answered, 'hang: no answer while the fault holds it');
  await sb.close();
  t.equal(await hung, 'connection closed');
});
