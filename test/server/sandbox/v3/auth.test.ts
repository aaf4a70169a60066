// How /v3/ checks a request before its own rules (Authorization, serial_no, timestamp, signature,
// JSON body, mchid and appid), and that every answer, errors included, is signed.
import { generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { MERCHANT, OTHER, jsapiBody, openidOf, v3, v3Sandbox } from './helpers.js';

const PATH = '/v3/pay/transactions/jsapi';

t.test('SIGN_ERROR: missing or malformed Authorization, wrong serial_no, stale timestamp, bad signature', async (t) => {
  const sb = await v3Sandbox(t);
  const body = jsapiBody(await openidOf(sb), 'https://shop.example/wxpay/v3/notify');

  const none = await v3(sb, 'POST', PATH, body, { authorization: null });
  t.equal(none.status, 401);
  t.match(none.json, { code: 'SIGN_ERROR', message: /Authorization/ });
  t.ok(none.verified, 'the refusal is signed');
  t.ok(none.headers.get('request-id'), 'Request-ID');

  const garbled = await v3(sb, 'POST', PATH, body, { authorization: 'WECHATPAY2-SHA256-RSA2048 mchid="10000100"' });
  t.equal(garbled.status, 401);
  t.match(garbled.json, { code: 'SIGN_ERROR', message: /格式错误/ });

  const serial = await v3(sb, 'POST', PATH, body, { serialNo: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' });
  t.equal(serial.status, 401);
  t.match(serial.json, { code: 'SIGN_ERROR', message: /证书序列号/ });
  t.equal(serial.headers.get('x-sandbox-error'), 'SERIAL_NO_MISMATCH');

  const serial0 = (await import('./helpers.js')).merchantKeys(sb).serial;
  const lower = await v3(sb, 'POST', PATH, { ...body, out_trade_no: `${body.out_trade_no.slice(0, 30)}LZ` }, { serialNo: serial0.toLowerCase().replace(/^0+/, '') });
  t.equal(lower.status, 200, 'serial_no in lower case without its leading zero is the same serial');

  const stale = await v3(sb, 'POST', PATH, body, { timestamp: String(Math.floor(Date.now() / 1000) - 301) });
  t.equal(stale.status, 401);
  t.match(stale.json, { code: 'SIGN_ERROR', message: /过期/ });
  // Ahead by a margin the time the request takes cannot eat (floor(now) + 301 became 300 s ahead when
  // the sandbox read it a second later: accepted, under load). 301 s exactly is notify.test.ts's, on a fixed clock.
  const future = await v3(sb, 'POST', PATH, body, { timestamp: String(Math.ceil(Date.now() / 1000) + 330) });
  t.match(future.json, { code: 'SIGN_ERROR', message: /过期/ });

  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const forged = await v3(sb, 'POST', PATH, body, { key: otherKey });
  t.equal(forged.status, 401);
  t.match(forged.json, { code: 'SIGN_ERROR', message: /验签失败/, detail: { field: 'signature', location: 'authorization', sign_information: { method: 'POST', url: PATH, truncated_sign_message: /^POST\n\/v3\/pay\/transactions\/jsapi\n/ } } });
  t.equal(forged.headers.get('x-sandbox-error'), 'BAD_SIGNATURE');

  const tampered = await v3(sb, 'POST', PATH, body, { signedBody: JSON.stringify({ ...body, amount: { total: 1 } }) });
  t.equal(tampered.status, 401, 'the signature covers the body');
  t.match(tampered.json, { code: 'SIGN_ERROR' });

  const q = await v3(sb, 'GET', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}?mchid=${MERCHANT.mchId}`, undefined, { signedBody: 'x' });
  t.equal(q.status, 401, 'a GET signs an empty body');
});

t.test('mchid unknown: 400 MCH_NOT_EXISTS; merchant without an APIv3 key: 403 NO_AUTH', async (t) => {
  const sb = await v3Sandbox(t);
  const mk = sb.certs.merchants[MERCHANT.mchId]!;
  const auth = (await import('../../../../server/src/wechat/v3/crypto.js')).signRequest({
    method: 'GET',
    pathWithQuery: '/v3/certificates',
    body: '',
    mchid: '1999999999',
    serialNo: 'ABC',
    key: mk.keyPem,
    nonce: 'N1',
    timestamp: String(Math.floor(Date.now() / 1000)),
  });
  const unknown = await v3(sb, 'GET', '/v3/certificates', undefined, { authorization: auth });
  t.equal(unknown.status, 400);
  t.match(unknown.json, { code: 'MCH_NOT_EXISTS' });
  t.ok(unknown.verified);

  const noKey = await v3(sb, 'GET', '/v3/certificates', undefined, { mchId: OTHER.mchId });
  t.equal(noKey.status, 403);
  t.match(noKey.json, { code: 'NO_AUTH' });
});

t.test('body: not JSON, a missing or bad field (named), mchid ≠ header, appid of another merchant', async (t) => {
  const sb = await v3Sandbox(t);
  const body = jsapiBody(await openidOf(sb), 'https://shop.example/wxpay/v3/notify');

  const notJson = await v3(sb, 'POST', PATH, undefined, { rawBody: '<xml></xml>' });
  t.equal(notJson.status, 400);
  t.match(notJson.json, { code: 'PARAM_ERROR', message: /JSON/ });
  t.ok(notJson.verified);

  const { description: _d, ...noDescription } = body;
  const missing = await v3(sb, 'POST', PATH, noDescription);
  t.equal(missing.status, 400);
  t.match(missing.json, { code: 'PARAM_ERROR', message: /description/, detail: { field: '/description', location: 'body' } });

  const noOpenid = await v3(sb, 'POST', PATH, { ...body, payer: {} });
  t.match(noOpenid.json, { code: 'PARAM_ERROR', message: /payer\.openid/ });

  const badTotal = await v3(sb, 'POST', PATH, { ...body, amount: { total: '1' } });
  t.match(badTotal.json, { code: 'PARAM_ERROR', message: /amount\.total/ });
  const zero = await v3(sb, 'POST', PATH, { ...body, amount: { total: 0 } });
  t.match(zero.json, { code: 'PARAM_ERROR', message: /amount\.total/ });
  const shortNo = await v3(sb, 'POST', PATH, { ...body, out_trade_no: 'abc' });
  t.match(shortNo.json, { code: 'PARAM_ERROR', message: /out_trade_no/ });
  const badUrl = await v3(sb, 'POST', PATH, { ...body, notify_url: 'https://shop.example/n?x=1' });
  t.match(badUrl.json, { code: 'PARAM_ERROR', message: /notify_url/ });
  const badExpire = await v3(sb, 'POST', PATH, { ...body, time_expire: '20261202103456' });
  t.match(badExpire.json, { code: 'PARAM_ERROR', message: /time_expire/ });

  const otherMch = await v3(sb, 'POST', PATH, { ...body, mchid: OTHER.mchId });
  t.equal(otherMch.status, 400);
  t.match(otherMch.json, { code: 'PARAM_ERROR', message: /mchid/ });

  const otherApp = await v3(sb, 'POST', PATH, { ...body, appid: OTHER.appid });
  t.equal(otherApp.status, 400);
  t.match(otherApp.json, { code: 'APPID_MCHID_NOT_MATCH' });
  t.ok(otherApp.verified);

  const stranger = await v3(sb, 'POST', PATH, { ...body, payer: { openid: 'oStrangerOpenid000000000000' } });
  t.equal(stranger.status, 400);
  t.match(stranger.json, { code: 'PARAM_ERROR', message: /openid/ });

  const okay = await v3(sb, 'POST', PATH, body);
  t.equal(okay.status, 200);
  t.match(okay.json, { prepay_id: /^wx\d{14}[0-9a-f]{20}$/ });
  t.ok(okay.verified, 'signed with the WeChat Pay public key');
  t.equal(okay.serial, sb.certs.wechatpay.publicKeyId);
  t.match(sb.certs.wechatpay.publicKeyId, /^PUB_KEY_ID_\d+$/);
});
