import t, { type Test } from 'tap';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import {
  decryptRefundReqInfo,
  encryptRefundReqInfo,
  reqInfoKey,
  verifyRefundNotify,
} from '../../../server/src/wechat/refund-notify.js';
import { WxNotifyError } from '../../../server/src/wechat/errors.js';
import { parseXml, toXml } from '../../../server/src/wechat/xml.js';

const require = createRequire(import.meta.url);
// tenpay's own decrypt (aes-256-ecb with md5(key) as it computes it): an implementation independent of ours.
const tenpayUtil = require('tenpay/lib/util') as { decrypt(data: string, key: string): string; md5(s: string): string };

// Published vector: go-pay/gopay wechat/payment_api_test.go TestDecryptRefundNotifyReqInfo (API key and
// req_info of a real refund notification of 2017-11-25).
const GOPAY_KEY = 'ziR0QKsTUfMOuochC9RfCdmfHECorQAP';
const GOPAY_REQ_INFO =
  'YYwp8C48th0wnQzTqeI+41pflB26v+smFj9z6h9RPBgxTyZyxc+4YNEz7QEgZNWj/6rIb2MfyWMZmCc41CfjKSssoSZPXxOhUayb6KvNSZ1p6frOX1PDWzhyruXK7ouNND+gDsG4yZ0XXzsL4/pYNwLLba/71QrnkJ/BHcByk4EXnglju5DLup9pJQSnTxjomI9Rxu57m9jg5lLQFxMWXyeASZJNvof0ulnHlWJswS4OxKOkmW7VEyKyLGV6npoOm03Qsx2wkRxLsSa9gPpg4hdaReeUqh1FMbm7aWjyrVYT/MEZWg98p4GomEIYvz34XfDncTezX4bf/ZiSLXt79aE1/YTZrYfymXeCrGjlbe0rg/T2ezJHAC870u2vsVbY1/KcE2A443N+DEnAziXlBQ1AeWq3Rqk/O6/TMM0lomzgctAOiAMg+bh5+Gu1ubA9O3E+vehULydD5qx2o6i3+qA9ORbH415NyRrQdeFq5vmCiRikp5xYptWiGZA0tkoaLKMPQ4ndE5gWHqiBbGPfULZWokI+QjjhhBmwgbd6J0VqpRorwOuzC/BHdkP72DCdNcm7IDUpggnzBIy0+seWIkcHEryKjge3YDHpJeQCqrAH0CgxXHDt1xtbQbST1VqFyuhPhUjDXMXrknrGPN/oE1t0rLRq+78cI+k8xe5E6seeUXQsEe8r3358mpcDYSmXWSXVZxK6er9EF98APqHwcndyEJD2YyCh/mMVhERuX+7kjlRXSiNUWa/Cv/XAKFQuvUYA5ea2eYWtPRHa4DpyuF1SNsaqVKfgqKXZrJHfAgslVpSVqUpX4zkKszHF4kwMZO3M7J1P94Mxa7Tm9mTOJePOoHPXeEB+m9rX6pSfoi3mJDQ5inJ+Vc4gOkg/Wd/lqiy6TTyP/dHDN6/v+AuJx5AXBo/2NDD3fWhHjkqEKIuARr2ClZt9ZRQO4HkXdZo7CN06sGCHk48Tg8PmxnxKcMZm7Aoquv5yMIM2gWSWIRJhwJ8cUpafIHc+GesDlbF6Zbt+/KXkafJAQq2RklEN+WvZ/zFz113EPgWPjp16TwBoziq96MMekvWKY/vdhjol8VFtGH9F61Oy1Xwf6DJtPw==';
const GOPAY_MERCHANT = { appid: 'wxdaa2ab9ef87b5497', mchId: '1368139502', key: GOPAY_KEY };

function notifyBody(reqInfo: string, extra: Record<string, string> = {}): string {
  return toXml({ return_code: 'SUCCESS', appid: GOPAY_MERCHANT.appid, mch_id: GOPAY_MERCHANT.mchId, nonce_str: 'b2d3f6a8c1e4', req_info: reqInfo, ...extra });
}

function rejects(t: Test, fn: () => unknown, code: string, field?: string) {
  try {
    fn();
    t.fail(`expected ${code}`);
  } catch (err) {
    t.type(err, WxNotifyError);
    t.equal((err as WxNotifyError).code, code);
    if (field) t.equal((err as WxNotifyError).field, field);
  }
}

t.test('the published gopay req_info decrypts to its <root> document', async (t) => {
  const xml = decryptRefundReqInfo(GOPAY_REQ_INFO, GOPAY_KEY);
  const info = parseXml(xml, { root: 'root' });
  t.same(info, {
    out_refund_no: '50fd012ed1b311e7af7800163e32c503',
    out_trade_no: '4893e76d8c8b434cb64e9cd536338e33',
    refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS',
    refund_fee: '6',
    refund_id: '50000404922017112502468056157',
    refund_recv_accout: '支付用户零钱',
    refund_request_source: 'API',
    refund_status: 'SUCCESS',
    settlement_refund_fee: '6',
    settlement_total_fee: '6',
    success_time: '2017-11-25 15:36:17',
    total_fee: '6',
    transaction_id: '4200000015201711256947025404',
  });
  t.equal(reqInfoKey(GOPAY_KEY).toString('ascii'), tenpayUtil.md5(GOPAY_KEY).toLowerCase(), 'key = lower-case hex md5 of the API key');
});

t.test('verifyRefundNotify: the published notification, typed', async (t) => {
  const n = verifyRefundNotify(notifyBody(GOPAY_REQ_INFO), GOPAY_MERCHANT);
  t.match(n, {
    appid: GOPAY_MERCHANT.appid,
    mch_id: GOPAY_MERCHANT.mchId,
    out_refund_no: '50fd012ed1b311e7af7800163e32c503',
    refund_id: '50000404922017112502468056157',
    out_trade_no: '4893e76d8c8b434cb64e9cd536338e33',
    transaction_id: '4200000015201711256947025404',
    total_fee: 6,
    refund_fee: 6,
    settlement_refund_fee: 6,
    settlement_total_fee: 6,
    refund_status: 'SUCCESS',
    success_time: '2017-11-25 15:36:17',
    refund_recv_accout: '支付用户零钱',
    refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS',
    refund_request_source: 'API',
  });
  t.equal(n.succeededAt?.toISOString(), '2017-11-25T07:36:17.000Z', 'success_time is Beijing time');
  t.equal(n.raw.req_info, GOPAY_REQ_INFO);
  t.equal(n.info.refund_fee, '6');
  // Several apps of one merchant.
  t.equal(verifyRefundNotify(notifyBody(GOPAY_REQ_INFO), { ...GOPAY_MERCHANT, appid: ['wx0000000000000001', GOPAY_MERCHANT.appid] }).refund_fee, 6);
});

t.test('verifyRefundNotify refuses what is not ours or not intact', async (t) => {
  const m = GOPAY_MERCHANT;
  rejects(t, () => verifyRefundNotify(notifyBody(GOPAY_REQ_INFO), { ...m, key: 'x'.repeat(32) }), 'BAD_REQ_INFO', 'req_info');
  rejects(t, () => verifyRefundNotify(notifyBody(GOPAY_REQ_INFO), { ...m, appid: 'wx0000000000000001' }), 'APPID_MISMATCH', 'appid');
  rejects(t, () => verifyRefundNotify(notifyBody(GOPAY_REQ_INFO), { ...m, mchId: '1900000109' }), 'MCHID_MISMATCH', 'mch_id');
  rejects(t, () => verifyRefundNotify(notifyBody(GOPAY_REQ_INFO, { return_code: 'FAIL' }), m), 'RETURN_FAIL');
  rejects(t, () => verifyRefundNotify(toXml({ return_code: 'SUCCESS', appid: m.appid, mch_id: m.mchId }), m), 'MISSING_FIELD', 'req_info');
  rejects(t, () => verifyRefundNotify(notifyBody('not base64!'), m), 'BAD_REQ_INFO', 'req_info');
  rejects(t, () => verifyRefundNotify(notifyBody(Buffer.from('short').toString('base64')), m), 'BAD_REQ_INFO', 'req_info');
  // A tampered block breaks the padding or the XML.
  const bytes = Buffer.from(GOPAY_REQ_INFO, 'base64');
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x5a;
  rejects(t, () => verifyRefundNotify(notifyBody(bytes.toString('base64')), m), 'BAD_REQ_INFO');
  rejects(t, () => verifyRefundNotify('<xml><a>', m), 'XML_MALFORMED');
  rejects(t, () => verifyRefundNotify('<!DOCTYPE x [<!ENTITY e "v">]><xml><a>&e;</a></xml>', m), 'XML_FORBIDDEN_DECLARATION');
});

t.test('the inner document gets parseXml strictness: <root> only, no declarations, numbers strict', async (t) => {
  const m = GOPAY_MERCHANT;
  const good = {
    out_refund_no: 'R1',
    out_trade_no: 'T1',
    refund_id: '50300000000000000000000000001',
    transaction_id: '4200000000000000000000000001',
    total_fee: '100',
    refund_fee: '40',
    settlement_refund_fee: '40',
    refund_status: 'SUCCESS',
    success_time: '2024-03-01 12:00:00',
  };
  t.equal(verifyRefundNotify(notifyBody(encryptRefundReqInfo(good, m.key)), m).refund_fee, 40);
  rejects(t, () => verifyRefundNotify(notifyBody(encryptRefundReqInfo(toXml(good), m.key)), m), 'BAD_REQ_INFO', 'req_info');
  const dtd = `<!DOCTYPE root [<!ENTITY x SYSTEM "file:///etc/passwd">]>${toXml(good, 'root')}`;
  rejects(t, () => verifyRefundNotify(notifyBody(encryptRefundReqInfo(dtd, m.key)), m), 'BAD_REQ_INFO', 'req_info');
  rejects(t, () => verifyRefundNotify(notifyBody(encryptRefundReqInfo({ ...good, refund_fee: '4.0' }, m.key)), m), 'BAD_FIELD', 'refund_fee');
  rejects(t, () => verifyRefundNotify(notifyBody(encryptRefundReqInfo({ ...good, refund_fee: '101' }, m.key)), m), 'BAD_FIELD', 'refund_fee');
  rejects(t, () => verifyRefundNotify(notifyBody(encryptRefundReqInfo({ ...good, refund_status: 'PROCESSING' }, m.key)), m), 'BAD_FIELD', 'refund_status');
  rejects(t, () => verifyRefundNotify(notifyBody(encryptRefundReqInfo({ ...good, success_time: '20240301120000' }, m.key)), m), 'BAD_FIELD', 'success_time');
  rejects(t, () => verifyRefundNotify(notifyBody(encryptRefundReqInfo({ ...good, out_refund_no: 'bad no' }, m.key)), m), 'BAD_FIELD', 'out_refund_no');
  const { refund_id: _r, ...noId } = good;
  rejects(t, () => verifyRefundNotify(notifyBody(encryptRefundReqInfo(noId, m.key)), m), 'MISSING_FIELD', 'refund_id');
  const { success_time: _s, ...closed } = good;
  t.equal(verifyRefundNotify(notifyBody(encryptRefundReqInfo({ ...closed, refund_status: 'REFUNDCLOSE' }, m.key)), m).success_time, undefined);
});

t.test('encrypt / decrypt round trip, and tenpay decrypts what we encrypt (property)', async (t) => {
  const field = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((s) => !/[\u0000-\u001f\ud800-\udfff\ufffe\uffff]/.test(s) && !s.includes('\r'));
  fc.assert(
    // Field names as WeChat's (parseXml's fast-xml-parser mangles Object.prototype names such as
    // constructor / toString, which no WeChat message uses).
    fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,19}$/).filter((k) => !(k in Object.prototype)), field, { minKeys: 1, maxKeys: 12 }), fc.string({ minLength: 1, maxLength: 40 }), (info, key) => {
      const reqInfo = encryptRefundReqInfo(info, key);
      const xml = decryptRefundReqInfo(reqInfo, key);
      t.same(parseXml(xml, { root: 'root' }), info);
      t.equal(tenpayUtil.decrypt(reqInfo, tenpayUtil.md5(key).toLowerCase()), xml);
    }),
    { numRuns: 150 },
  );
});
