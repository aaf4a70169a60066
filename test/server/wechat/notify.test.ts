import t from 'tap';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { verifyPayNotify, notifyReply, type PayNotification } from '../../../server/src/wechat/notify.js';
import { WxNotifyError } from '../../../server/src/wechat/errors.js';
import { parseXml, toXml } from '../../../server/src/wechat/xml.js';
import { sign, type SignType } from '../../../server/src/wechat/sign.js';

// tenpay, an independent WeChat Pay v2 SDK, builds and signs the notifications here, so our
// verification is checked against someone else's reading of the spec.
const require = createRequire(import.meta.url);
const tenpayUtil = require('tenpay/lib/util.js') as { buildXML(obj: Record<string, string>): string };
const Tenpay = require('tenpay') as new (cfg: { appid: string; mchid: string; partnerKey: string }) => {
  _getSign(params: Record<string, string>, type: SignType): string;
};

const MERCHANT = { appid: 'wxd930ea5d5a258f4f', mchId: '10000100', key: '192006250b4c09247ec02edce69f6a2d' };
const tenpay = new Tenpay({ appid: MERCHANT.appid, mchid: MERCHANT.mchId, partnerKey: MERCHANT.key });

function paidFields(extra: Record<string, string> = {}): Record<string, string> {
  return {
    appid: MERCHANT.appid,
    bank_type: 'CFT',
    cash_fee: '1',
    fee_type: 'CNY',
    is_subscribe: 'Y',
    mch_id: MERCHANT.mchId,
    nonce_str: '5d2b6c2a8db53831f7eda20af46e531c',
    openid: 'oUpF8uMEb4qRXf22hE3X68TekukE',
    out_trade_no: '1409811653',
    result_code: 'SUCCESS',
    return_code: 'SUCCESS',
    time_end: '20140903131540',
    total_fee: '1',
    trade_type: 'JSAPI',
    transaction_id: '1004400740201409030005092168',
    ...extra,
  };
}

function tenpayNotify(fields: Record<string, string>, signType: SignType): string {
  return tenpayUtil.buildXML({ ...fields, sign: tenpay._getSign(fields, signType) });
}

function ourNotify(fields: Record<string, string>, signType: SignType, key = MERCHANT.key): string {
  return toXml({ ...fields, sign: sign(fields, key, signType) });
}

function notifyCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof WxNotifyError ? e.code : `not WxNotifyError: ${String(e)}`;
  }
}

for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
  t.test(`a paid notify signed by tenpay verifies (${signType})`, async (t) => {
    const fields = paidFields(signType === 'HMAC-SHA256' ? { sign_type: 'HMAC-SHA256' } : {});
    const n = verifyPayNotify(tenpayNotify(fields, signType), { ...MERCHANT, signType });
    t.equal(n.result_code, 'SUCCESS');
    if (n.result_code !== 'SUCCESS') return;
    t.match(n, {
      out_trade_no: '1409811653',
      transaction_id: '1004400740201409030005092168',
      total_fee: 1,
      cash_fee: 1,
      time_end: '20140903131540',
      openid: 'oUpF8uMEb4qRXf22hE3X68TekukE',
      trade_type: 'JSAPI',
      bank_type: 'CFT',
    });
    t.equal(n.paidAt.toISOString(), '2014-09-03T05:15:40.000Z');
    t.equal(n.raw.is_subscribe, 'Y');
  });
}

t.test('Buffer bodies, leading zeros and long ids survive as strings', async (t) => {
  const fields = paidFields({ out_trade_no: '0001409811653', total_fee: '0100', cash_fee: '100', attach: '中文 ]]> 😀' });
  const n = verifyPayNotify(Buffer.from(ourNotify(fields, 'MD5'), 'utf8'), { ...MERCHANT, signType: 'MD5' });
  t.match(n, { result_code: 'SUCCESS', out_trade_no: '0001409811653', total_fee: 100, attach: '中文 ]]> 😀' });
});

t.test('forged, foreign or mismatched notifies are refused', async (t) => {
  const m = { ...MERCHANT, signType: 'MD5' as const };
  const good = paidFields();
  // Signed, then the amount changed: the classic forgery.
  const tampered = toXml({ ...good, total_fee: '100000', sign: sign(good, MERCHANT.key, 'MD5') });
  t.equal(notifyCode(() => verifyPayNotify(tampered, m)), 'BAD_SIGN');
  t.equal(notifyCode(() => verifyPayNotify(ourNotify(good, 'MD5', 'ffffffffffffffffffffffffffffffff'), m)), 'BAD_SIGN');
  t.equal(notifyCode(() => verifyPayNotify(toXml(good), m)), 'BAD_SIGN', 'no sign at all');
  t.equal(notifyCode(() => verifyPayNotify(ourNotify(good, 'HMAC-SHA256'), m)), 'BAD_SIGN', 'other algorithm');
  t.equal(
    notifyCode(() => verifyPayNotify(ourNotify({ ...good, sign_type: 'HMAC-SHA256' }, 'HMAC-SHA256'), m)),
    'BAD_SIGN',
    'sign_type different from ours, even when correctly signed with it',
  );
  t.equal(notifyCode(() => verifyPayNotify(ourNotify({ ...good, appid: 'wx0000000000000000' }, 'MD5'), m)), 'APPID_MISMATCH');
  t.equal(notifyCode(() => verifyPayNotify(ourNotify({ ...good, mch_id: '1900000109' }, 'MD5'), m)), 'MCHID_MISMATCH');
  t.equal(notifyCode(() => verifyPayNotify(toXml({ return_code: 'FAIL', return_msg: 'x' }), m)), 'RETURN_FAIL');
});

t.test('bad fields in a correctly signed notify are refused', async (t) => {
  const m = { ...MERCHANT, signType: 'MD5' as const };
  const cases: [string, Record<string, string>, string][] = [
    ['fractional total_fee', { total_fee: '1.5' }, 'BAD_FIELD'],
    ['exponent total_fee', { total_fee: '1e2' }, 'BAD_FIELD'],
    ['zero total_fee', { total_fee: '0' }, 'BAD_FIELD'],
    ['negative cash_fee', { cash_fee: '-1' }, 'BAD_FIELD'],
    ['huge total_fee', { total_fee: '90071992547409930' }, 'BAD_FIELD'],
    ['missing total_fee', { total_fee: '' }, 'MISSING_FIELD'],
    ['missing cash_fee', { cash_fee: '' }, 'MISSING_FIELD'],
    ['missing transaction_id', { transaction_id: '' }, 'MISSING_FIELD'],
    ['missing out_trade_no', { out_trade_no: '' }, 'MISSING_FIELD'],
    ['bad out_trade_no', { out_trade_no: '../etc' }, 'BAD_FIELD'],
    ['bad time_end', { time_end: '2014-09-03' }, 'BAD_FIELD'],
    ['missing openid', { openid: '' }, 'MISSING_FIELD'],
    ['missing result_code', { result_code: '' }, 'MISSING_FIELD'],
    ['odd result_code', { result_code: 'MAYBE' }, 'BAD_FIELD'],
  ];
  for (const [label, extra, expected] of cases) {
    t.equal(notifyCode(() => verifyPayNotify(ourNotify(paidFields(extra), 'MD5'), m)), expected, label);
  }
});

t.test('XML errors pass through with their own codes', async (t) => {
  const m = { ...MERCHANT, signType: 'MD5' as const };
  t.equal(notifyCode(() => verifyPayNotify('<!DOCTYPE x [<!ENTITY a "b">]><xml><a>&a;</a></xml>', m)), 'XML_FORBIDDEN_DECLARATION');
  t.equal(notifyCode(() => verifyPayNotify('not xml', m)), 'XML_MALFORMED');
  t.equal(notifyCode(() => verifyPayNotify('', m)), 'XML_MALFORMED');
  t.equal(notifyCode(() => verifyPayNotify(toXml({ a: 'x'.repeat(70_000) }), m)), 'XML_TOO_LARGE');
  t.equal(notifyCode(() => verifyPayNotify(ourNotify(paidFields(), 'MD5'), m, { maxBytes: 100 })), 'XML_TOO_LARGE');
  t.equal(notifyCode(() => verifyPayNotify('<xml><a>1</a><a>1</a></xml>', m)), 'XML_DUPLICATE_FIELD');
  t.equal(notifyCode(() => verifyPayNotify('<xml><a><b>1</b></a></xml>', m)), 'XML_NESTED_FIELD');
  // A signed notify with a field a plain object cannot carry as is: refused by name, not renamed and then BAD_SIGN.
  const withReserved = ourNotify(paidFields(), 'MD5').replace('</xml>', '<valueOf><![CDATA[1]]></valueOf></xml>');
  t.equal(notifyCode(() => verifyPayNotify(withReserved, m)), 'XML_RESERVED_FIELD');
});

t.test('a signed result_code FAIL notify is returned as a failed payment', async (t) => {
  const fields = paidFields({ result_code: 'FAIL', err_code: 'NOTENOUGH', err_code_des: '余额不足' });
  const n: PayNotification = verifyPayNotify(ourNotify(fields, 'MD5'), { ...MERCHANT, signType: 'MD5' });
  t.match(n, { result_code: 'FAIL', err_code: 'NOTENOUGH', err_code_des: '余额不足', out_trade_no: '1409811653' });
  t.notOk('total_fee' in n);
});

t.test('property: any single-field tampering of a signed notify is refused', async (t) => {
  const m = { ...MERCHANT, signType: 'HMAC-SHA256' as const };
  const base = paidFields({ sign_type: 'HMAC-SHA256' });
  const names = Object.keys(base);
  fc.assert(
    fc.property(fc.constantFrom(...names), fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !/[\u0000-\u001f\uFFFE\uFFFF]/.test(s)), (name, extra) => {
      const signed = { ...base, sign: sign(base, MERCHANT.key, 'HMAC-SHA256') };
      const body = toXml({ ...signed, [name]: `${base[name]}${extra}` });
      const c = notifyCode(() => verifyPayNotify(body, m));
      return c !== undefined;
    }),
  );
  t.pass();
});

t.test('notifyReply', async (t) => {
  t.equal(notifyReply(true), '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>');
  t.same(parseXml(notifyReply(false, '签名失败')), { return_code: 'FAIL', return_msg: '签名失败' });
  t.same(parseXml(notifyReply(false)), { return_code: 'FAIL', return_msg: 'FAIL' });
  t.same(parseXml(notifyReply(false, 'a]]>b')), { return_code: 'FAIL', return_msg: 'a]]>b' });
});
