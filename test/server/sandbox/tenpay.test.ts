// An outside WeChat Pay v2 SDK (tenpay, written independently of this repo: its own signing,
// xml2js for XML, urllib for HTTP) completes unifiedorder, pay, notify and orderquery against the
// sandbox, unchanged apart from its base URLs (the `urls` field it keeps per API).
import t from 'tap';
import { createRequire } from 'node:module';
import { MERCHANT, notifyReceiver, outTradeNo, sandbox } from './helpers.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const Tenpay = require('tenpay') as any;

function client(baseUrl: string, notifyUrl: string) {
  const api = new Tenpay({ appid: MERCHANT.appid, mchid: MERCHANT.mchId, partnerKey: MERCHANT.key, notify_url: notifyUrl });
  for (const name of ['unifiedorder', 'orderquery', 'closeorder']) api.urls[name] = `${baseUrl}/pay/${name}`;
  return api;
}

for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
  t.test(`tenpay ${signType}: unifiedorder → cashier with its pay params → notify it accepts → orderquery`, async (t) => {
    const sb = await sandbox(t);
    const rx = await notifyReceiver(t);
    const api = client(sb.url, rx.url);
    const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
    const no = outTradeNo('TP');

    // tenpay throws unless return_code and result_code are SUCCESS, appid/mch_id match and the sign verifies.
    const order = await api.unifiedOrder({ out_trade_no: no, body: '沙箱商品 tenpay', total_fee: 288, openid: login.openid, sign_type: signType });
    t.match(order, { return_code: 'SUCCESS', result_code: 'SUCCESS', trade_type: 'JSAPI', prepay_id: /^wx/ });

    const again = await api.unifiedOrder({ out_trade_no: no, body: '沙箱商品 tenpay', total_fee: 288, openid: login.openid, sign_type: signType });
    t.equal(again.prepay_id, order.prepay_id, 'same request, same prepay_id');
    await t.rejects(
      api.unifiedOrder({ out_trade_no: no, body: '沙箱商品 tenpay', total_fee: 289, openid: login.openid, sign_type: signType }),
      { message: 'INVALID_REQUEST' },
    );

    const params = api.getPayParamsByPrepay(order, signType);
    const { appId, timeStamp, nonceStr, package: pkg, paySign } = params;
    const paid = await sb.json('POST', '/sandbox/cashier', { appId, timeStamp, nonceStr, package: pkg, signType: params.signType, paySign });
    t.same(paid.body, { errMsg: 'requestPayment:ok' });

    await rx.waitFor(1);
    // tenpay's notify middleware check: appid, mch_id and sign (sign type from the notify's sign_type field).
    const notify = await api._parse(rx.received[0]!.body, 'middleware_pay');
    t.match(notify, { out_trade_no: no, total_fee: '288', result_code: 'SUCCESS', transaction_id: /^\d{28}$/ });

    const q = await api.orderQuery({ out_trade_no: no, sign_type: signType });
    t.match(q, { trade_state: 'SUCCESS', out_trade_no: no, total_fee: '288', transaction_id: notify.transaction_id, openid: login.openid });
    await t.rejects(api.closeOrder({ out_trade_no: no, sign_type: signType }), { message: 'ORDERPAID' });
  });
}

t.test('tenpay sees a bad key as WeChat reports it (return_code FAIL, return_msg)', async (t) => {
  const sb = await sandbox(t);
  const api = client(sb.url, 'http://127.0.0.1:9/n');
  api.partnerKey = 'x'.repeat(32);
  await t.rejects(api.orderQuery({ out_trade_no: 'whatever' }), { message: /签名错误/ });
});

t.test('tenpay closes an unpaid order, not within 5 minutes of unifiedorder', async (t) => {
  let now = Date.now();
  const sb = await sandbox(t, { now: () => now });
  const api = client(sb.url, 'http://127.0.0.1:9/n');
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const no = outTradeNo('TC');
  await api.unifiedOrder({ out_trade_no: no, body: 'b', total_fee: 1, openid: login.openid });
  // too early: tenpay checks the signed answer and reports its err_code, as for any business failure
  await t.rejects(api.closeOrder({ out_trade_no: no }), { message: 'SYSTEMERROR' });
  now += 5 * 60_000;
  const closed = await api.closeOrder({ out_trade_no: no });
  t.equal(closed.result_code, 'SUCCESS');
  const q = await api.orderQuery({ out_trade_no: no });
  t.equal(q.trade_state, 'CLOSED');
});
