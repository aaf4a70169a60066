// The buyer's pay params are signed the way their prepay was made: API v2 with the API key and the
// unifiedorder's sign type, API v3 with the merchant private key (RSA-SHA256 over WeChat's lines).
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { createClientSigner } from '../../../server/src/wechat/client-signer.js';
import { paymentParams, sign } from '../../../server/src/wechat/index.js';
import { appPayMessage, jsapiPayMessage, rsaVerify } from '../../../server/src/wechat/v3/crypto.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const key = 'a'.repeat(32);
const now = new Date('2026-12-02T08:00:00Z');

t.test('API v3: RSA paySign over appId, timeStamp, nonceStr, package, each line-ended', async (t) => {
  const s = createClientSigner({ apiVersion: 'v3', mchId: '1900000109', apiKey: '', v2SignType: 'MD5', privateKey });
  t.equal(s.signType, 'RSA');
  const p = s.jsapi({ appid: 'wxd930ea5d5a258f4f', prepayId: 'wx201410272009395522657a690389285100', signType: 'RSA', now, nonce: 'n0nce' });
  t.match(p, { appId: 'wxd930ea5d5a258f4f', timeStamp: String(now.getTime() / 1000), nonceStr: 'n0nce', package: 'prepay_id=wx201410272009395522657a690389285100', signType: 'RSA' });
  t.ok(rsaVerify(jsapiPayMessage(p.appId, p.timeStamp, p.nonceStr, p.package), p.paySign, publicKey), 'verifies with the certificate\'s public key');
  t.notOk(rsaVerify(jsapiPayMessage(p.appId, p.timeStamp, p.nonceStr, 'prepay_id=other'), p.paySign, publicKey), 'and only for its own prepay');
  const a = s.app({ appid: 'wx0be1a2b3c4d5e6f7', prepayId: 'wx2014', signType: 'RSA', now, nonce: 'n1' });
  t.match(a, { appid: 'wx0be1a2b3c4d5e6f7', partnerid: '1900000109', prepayid: 'wx2014', package: 'Sign=WXPay', noncestr: 'n1', timestamp: a.timestamp });
  t.ok(rsaVerify(appPayMessage(a.appid, a.timestamp, a.noncestr, a.prepayid), a.sign, publicKey));
  t.notOk(s.canSign('MD5'), 'no v2 key: a v2 prepay cannot be signed');
  t.throws(() => s.jsapi({ appid: 'wx1', prepayId: 'p', signType: 'MD5' }), /no key configured/);
});

t.test('API v2: the same params as paymentParams, and a live v3 prepay still signs while the v3 key is there', async (t) => {
  const s = createClientSigner({ apiVersion: 'v2', mchId: '1900000109', apiKey: key, v2SignType: 'HMAC-SHA256', privateKey });
  t.equal(s.signType, 'HMAC-SHA256');
  const p = s.jsapi({ appid: 'wx1', prepayId: 'p1', signType: 'HMAC-SHA256', now, nonce: 'abc' });
  t.same(p, paymentParams({ appid: 'wx1', prepayId: 'p1', key, signType: 'HMAC-SHA256', now, nonce: 'abc' }));
  const a = s.app({ appid: 'wx2', prepayId: 'p2', signType: 'MD5', now, nonce: 'xyz' });
  const { sign: got, ...fields } = a;
  t.equal(got, sign(fields, key, 'MD5'));
  t.ok(s.canSign('RSA'));
  t.notOk(createClientSigner({ apiVersion: 'v2', mchId: '1', apiKey: key, v2SignType: 'MD5' }).canSign('RSA'));
  t.throws(() => createClientSigner({ apiVersion: 'v3', mchId: '1', apiKey: '', v2SignType: 'MD5' }), /private key/);
});
