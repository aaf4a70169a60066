import t from 'tap';
import { createRequire } from 'node:module';
import { paymentParams } from '../../../server/src/wechat/payment-params.js';
import { sign, verifySign, type SignType } from '../../../server/src/wechat/sign.js';

const require = createRequire(import.meta.url);
const Tenpay = require('tenpay') as new (cfg: { appid: string; mchid: string; partnerKey: string }) => {
  _getSign(params: Record<string, string>, type: SignType): string;
  getPayParamsByPrepay(order: { prepay_id: string }, signType: SignType): Record<string, string>;
};

const MERCHANT = { appid: 'wxd930ea5d5a258f4f', mchId: '10000100', key: '192006250b4c09247ec02edce69f6a2d' };
const tenpay = new Tenpay({ appid: MERCHANT.appid, mchid: MERCHANT.mchId, partnerKey: MERCHANT.key });

for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
  t.test(`the five params and paySign (${signType})`, async (t) => {
    const p = paymentParams({
      appid: MERCHANT.appid,
      prepayId: 'wx201410272009395522657a690389285100',
      key: MERCHANT.key,
      signType,
      now: new Date('2024-01-01T00:00:00.999Z'),
      nonce: 'ibuaiVcKdpRxkhJA',
    });
    t.same(Object.keys(p).sort(), ['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
    t.match(p, {
      appId: MERCHANT.appid,
      timeStamp: '1704067200',
      nonceStr: 'ibuaiVcKdpRxkhJA',
      package: 'prepay_id=wx201410272009395522657a690389285100',
      signType,
    });
    t.equal(typeof p.timeStamp, 'string');
    const { paySign, ...five } = p;
    // tenpay (an independent SDK) computes the same paySign, and our verifier accepts it.
    t.equal(paySign, tenpay._getSign(five, signType));
    t.ok(verifySign({ ...five, sign: paySign }, MERCHANT.key, signType));
    t.equal(
      paySign,
      sign(
        { appId: MERCHANT.appid, nonceStr: 'ibuaiVcKdpRxkhJA', package: 'prepay_id=wx201410272009395522657a690389285100', signType, timeStamp: '1704067200' },
        MERCHANT.key,
        signType,
      ),
    );
  });

  t.test(`tenpay's requestPayment params verify with our routine (${signType})`, async (t) => {
    const pkg = tenpay.getPayParamsByPrepay({ prepay_id: 'wx_prepay_1' }, signType);
    const { paySign, timestamp: _legacy, ...five } = pkg;
    t.ok(verifySign({ ...five, sign: paySign }, MERCHANT.key, signType));
  });
}

t.test('fresh nonce and current time by default', async (t) => {
  const a = paymentParams({ appid: MERCHANT.appid, prepayId: 'wx1', key: MERCHANT.key, signType: 'MD5' });
  const b = paymentParams({ appid: MERCHANT.appid, prepayId: 'wx1', key: MERCHANT.key, signType: 'MD5' });
  t.match(a.nonceStr, /^[A-Za-z0-9]{32}$/);
  t.not(a.nonceStr, b.nonceStr);
  t.match(a.timeStamp, /^\d{10}$/);
  t.ok(Math.abs(Number(a.timeStamp) - Date.now() / 1000) < 600);
});

t.test('bad input refused', async (t) => {
  t.throws(() => paymentParams({ appid: '', prepayId: 'wx1', key: MERCHANT.key, signType: 'MD5' }), TypeError);
  t.throws(() => paymentParams({ appid: MERCHANT.appid, prepayId: '', key: MERCHANT.key, signType: 'MD5' }), TypeError);
  t.throws(() => paymentParams({ appid: MERCHANT.appid, prepayId: 'a b', key: MERCHANT.key, signType: 'MD5' }), TypeError);
  t.throws(() => paymentParams({ appid: MERCHANT.appid, prepayId: 'wx1', key: MERCHANT.key, signType: 'SHA1' as never }), TypeError);
});
