// The outside SDK tenpay completes refund, refundquery, its refund-notify middleware and downloadbill
// against the sandbox, unchanged but for its URLs and its certificate.
//
// What we found about its certificate: tenpay takes `pfx` (the p12 buffer) and passes it with
// passphrase = mchid to urllib, i.e. to Node's TLS. WeChat's apiclient_cert.p12 uses RC2-40, which
// Node >= 17 (OpenSSL 3 without the legacy provider) refuses ("Unsupported PKCS12 PFX data"), so on
// Node 20 the p12 as delivered fails before any request. It works given the same certificate and key
// re-packed as a modern PKCS#12 (toModernPkcs12; with the sandbox CA inside, which Node then trusts
// for the server certificate), or with `node --openssl-legacy-provider`.
import t from 'tap';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { loadMerchantCert, toModernPkcs12 } from '../../../server/src/wechat/merchant-cert.js';
import { fromBeijingTime } from '../../../server/src/wechat/time.js';
import { MERCHANT, notifyReceiver, sandbox } from './helpers.js';
import { outRefundNo, paidTrade, type Sandbox } from './refund-helpers.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const Tenpay = require('tenpay') as any;

function tenpay(sb: Sandbox, pfx: Buffer, refundUrl?: string) {
  const api = new Tenpay({ appid: MERCHANT.appid, mchid: MERCHANT.mchId, partnerKey: MERCHANT.key, pfx, refund_url: refundUrl });
  api.urls.refund = `${sb.secapiUrl}/secapi/pay/refund`;
  for (const name of ['unifiedorder', 'orderquery', 'refundquery', 'downloadbill']) api.urls[name] = `${sb.url}/pay/${name}`;
  return api;
}

function modernPfx(sb: Sandbox): Buffer {
  const files = sb.certs.merchants[MERCHANT.mchId]!;
  return toModernPkcs12(loadMerchantCert({ p12Path: files.p12Path, passphrase: files.passphrase }), files.passphrase, [sb.certs.ca]);
}

t.test('tenpay with WeChat\'s p12 as delivered: Node 20 refuses its RC2-40 before any request', async (t) => {
  const sb = await sandbox(t);
  const trade = await paidTrade(sb, { totalFee: 100 });
  const api = tenpay(sb, readFileSync(sb.certs.merchants[MERCHANT.mchId]!.p12Path));
  await t.rejects(api.refund({ out_trade_no: trade.outTradeNo, out_refund_no: outRefundNo(), total_fee: 100, refund_fee: 1 }), { message: /Unsupported PKCS12 PFX data/ });
  t.equal((await sb.json('GET', `/sandbox/refunds?out_trade_no=${trade.outTradeNo}`)).body.refunds.length, 0);
});

for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
  t.test(`tenpay ${signType}: refund, refundquery, and its refund notify middleware on the sandbox's notification`, async (t) => {
    const sb = await sandbox(t, { timeScale: 0.01 });
    const rx = await notifyReceiver(t);
    const api = tenpay(sb, modernPfx(sb), rx.url);
    const trade = await paidTrade(sb, { totalFee: 888, signType });
    const no = outRefundNo('TP');

    // tenpay throws unless return_code and result_code are SUCCESS, appid/mch_id match and the sign verifies.
    const r = await api.refund({ out_trade_no: trade.outTradeNo, out_refund_no: no, total_fee: 888, refund_fee: 88, sign_type: signType });
    t.match(r, { return_code: 'SUCCESS', result_code: 'SUCCESS', out_refund_no: no, refund_fee: '88', total_fee: '888', refund_id: /^503\d{26}$/ });
    const again = await api.refund({ out_trade_no: trade.outTradeNo, out_refund_no: no, total_fee: 888, refund_fee: 88, sign_type: signType });
    t.equal(again.refund_id, r.refund_id);
    await t.rejects(api.refund({ out_trade_no: trade.outTradeNo, out_refund_no: outRefundNo('TP'), total_fee: 888, refund_fee: 801, sign_type: signType }), { message: 'REFUND_FEE_INVALID' });

    const q = await api.refundQuery({ out_refund_no: no, sign_type: signType });
    t.match(q, { result_code: 'SUCCESS', refund_count: '1', out_refund_no_0: no, refund_id_0: r.refund_id, refund_fee_0: '88', refund_status_0: /^(PROCESSING|SUCCESS)$/ });

    await rx.waitFor(1);
    const notify = await api._parse(rx.received[0]!.body, 'middleware_refund');
    t.match(notify.req_info, { out_refund_no: no, refund_id: r.refund_id, refund_fee: '88', total_fee: '888', refund_status: 'SUCCESS' });
    const done = await api.refundQuery({ out_trade_no: trade.outTradeNo, sign_type: signType });
    t.equal(done.refund_status_0, 'SUCCESS');
  });
}

t.test('tenpay downloadBill: the raw text and its own parsing of a past day', async (t) => {
  let now = fromBeijingTime('20240301093000').getTime();
  const sb = await sandbox(t, { now: () => now });
  const api = tenpay(sb, modernPfx(sb));
  const trade = await paidTrade(sb, { totalFee: 250 });
  now = fromBeijingTime('20240302110000').getTime();
  const text = await api.downloadBill({ bill_date: '20240301' });
  t.match(text, new RegExp(`\`${trade.outTradeNo},`));
  const parsed = await api.downloadBill({ bill_date: '20240301', bill_type: 'SUCCESS' }, true);
  t.equal(parsed.list_data.length, 1);
  t.equal(parsed.list_title[6], '商户订单号');
  t.equal(parsed.list_data[0][6], trade.outTradeNo);
  t.same(parsed.total_data.slice(0, 2), ['1', '2.50']);
  await t.rejects(api.downloadBill({ bill_date: '20240229' }), { message: 'No Bill Exist' });
});
