// A v3 trade paid at the cashier (RSA paySign) or the APP cashier is notified the v3 way: encrypted
// resource, signed headers, accepted with 200/204, retried on v2's schedule, with the notify faults.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { DEMO_APPS } from '../../../../server/src/sandbox/demo.js';
import { payParams } from '../helpers.js';
import { MERCHANT, decryptResource, eventually, jsapiBody, nextTradeNo, openidOf, rsaAppParams, rsaPayParams, v3, v3Receiver, v3Sandbox, verifyWechatpay } from './helpers.js';

const otherKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

t.test('cashier: RSA paySign pays a v3 prepay; the notification verifies and decrypts to the query shape', async (t) => {
  const sb = await v3Sandbox(t);
  const rx = await v3Receiver(t);
  const openid = await openidOf(sb);
  const body = jsapiBody(openid, rx.url, { attach: 'order:9' });
  const p = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);

  const forged = await sb.json('POST', '/sandbox/cashier', rsaPayParams(sb, p.json.prepay_id, { key: otherKey() }));
  t.match(forged, { status: 400, body: { code: 'PAYSIGN_INVALID', errMsg: 'requestPayment:fail 支付验证签名失败' } });
  const md5 = await sb.json('POST', '/sandbox/cashier', payParams(p.json.prepay_id));
  t.match(md5, { status: 400, body: { code: 'SIGN_TYPE_MISMATCH' } }, 'a v3 prepay takes only RSA');
  const paid = await sb.json('POST', '/sandbox/cashier', rsaPayParams(sb, p.json.prepay_id));
  t.same(paid, { status: 200, body: { errMsg: 'requestPayment:ok' } });

  await rx.waitFor(1);
  const n = rx.received[0]!;
  t.match(n.headers['content-type'], /^application\/json/);
  t.equal(n.headers['wechatpay-signature-type'], 'WECHATPAY2-SHA256-RSA2048');
  t.equal(n.headers['wechatpay-serial'], sb.certs.wechatpay.publicKeyId);
  t.ok(verifyWechatpay(sb, (h) => n.headers[h] as string | undefined, n.body), 'signed with the WeChat Pay public key');
  t.match(n.json, {
    id: /\S/,
    create_time: /\+08:00$/,
    event_type: 'TRANSACTION.SUCCESS',
    resource_type: 'encrypt-resource',
    summary: '支付成功',
    resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction', nonce: /^.{12}$/ },
  });
  const resource = decryptResource(n);
  const q = await v3(sb, 'GET', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}?mchid=${MERCHANT.mchId}`);
  t.same(resource, q.json, 'the resource is what a query says');
  t.match(resource, { trade_state: 'SUCCESS', attach: 'order:9', payer: { openid }, amount: { total: 101 } });

  const log = await eventually(async () => {
    const r = await sb.json('GET', `/sandbox/notifications?out_trade_no=${body.out_trade_no}`);
    return r.body.attempts.length === 1 && r.body.attempts[0].success ? r.body.attempts : undefined;
  });
  t.match(log, [{ attempt: 1, status: 200, success: true, notifyUrl: rx.url }]);
});

t.test('a merchant answer other than 200/204 is retried; 204 ends the series', async (t) => {
  const sb = await v3Sandbox(t);
  const rx = await v3Receiver(t, (n) => (n === 1 ? 500 : 204));
  const body = jsapiBody(await openidOf(sb), rx.url);
  const p = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  await sb.json('POST', '/sandbox/cashier', rsaPayParams(sb, p.json.prepay_id));
  const log = await eventually(async () => {
    const r = await sb.json('GET', `/sandbox/notifications?out_trade_no=${body.out_trade_no}`);
    return r.body.attempts.some((a: { success: boolean }) => a.success) ? r.body.attempts : undefined;
  });
  t.match(log, [
    { attempt: 1, status: 500, success: false },
    { attempt: 2, status: 204, success: true },
  ]);
  t.equal(rx.received.length, 2);
  t.equal(rx.received[1]!.json.id, rx.received[0]!.json.id, 'a retry keeps the notification id');
});

t.test('notify faults: corrupt → a signature that does not verify; duplicate; drop', async (t) => {
  const sb = await v3Sandbox(t);
  const rx = await v3Receiver(t);
  const openid = await openidOf(sb);
  const pay = async (faults: unknown) => {
    const body = jsapiBody(openid, rx.url);
    await sb.json('POST', '/sandbox/faults', { notify: faults });
    const p = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
    await sb.json('POST', '/sandbox/cashier', rsaPayParams(sb, p.json.prepay_id));
    return body.out_trade_no;
  };
  await pay({ action: 'corrupt' });
  await rx.waitFor(1);
  const bad = rx.received[0]!;
  t.notOk(verifyWechatpay(sb, (h) => bad.headers[h] as string | undefined, bad.body), 'corrupt: the signature fails');
  t.match(decryptResource(bad), { trade_state: 'SUCCESS' }, 'the resource itself is intact');

  await pay({ action: 'duplicate', copies: 2 });
  await rx.waitFor(3);
  t.equal(rx.received[1]!.json.id, rx.received[2]!.json.id, 'duplicate: the same notification (same id) twice');
  t.not(rx.received[1]!.json.id, rx.received[0]!.json.id, 'another payment, another notification id');
  t.same(decryptResource(rx.received[1]!), decryptResource(rx.received[2]!));

  const dropped = await pay({ action: 'drop' });
  const log = await eventually(async () => {
    const r = await sb.json('GET', `/sandbox/notifications?out_trade_no=${dropped}`);
    return r.body.attempts.length ? r.body.attempts : undefined;
  });
  t.match(log, [{ attempt: 0, dropped: true }]);
});

t.test('signing mode: certificate → answers and notifications signed by the platform certificate', async (t) => {
  const sb = await v3Sandbox(t);
  const rx = await v3Receiver(t);
  const w = sb.certs.wechatpay;
  t.match(w, { publicKeyId: /^PUB_KEY_ID_\d+$/, platformSerial: /^[0-9A-F]+$/, publicKeyPem: /BEGIN PUBLIC KEY/, platformCertPem: /BEGIN CERTIFICATE/ });
  t.match((await sb.json('GET', '/sandbox/v3/signing')).body, { mode: 'public-key', publicKeyId: w.publicKeyId, platformSerial: w.platformSerial });

  const set = await sb.json('POST', '/sandbox/v3/signing', { mode: 'certificate', mchId: MERCHANT.mchId });
  t.match(set, { status: 200, body: { mode: 'public-key', merchants: { [MERCHANT.mchId]: 'certificate' } } });
  t.match(await sb.json('POST', '/sandbox/v3/signing', { mode: 'certificate', mchId: '1' }), { status: 400, body: { code: 'UNKNOWN_MCH_ID' } });
  t.match(await sb.json('POST', '/sandbox/v3/signing', { mode: 'rsa' }), { status: 400 });

  const body = jsapiBody(await openidOf(sb), rx.url);
  const p = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  t.equal(p.serial, w.platformSerial);
  t.ok(p.verified, 'verifies with the platform certificate');
  await sb.json('POST', '/sandbox/cashier', rsaPayParams(sb, p.json.prepay_id));
  await rx.waitFor(1);
  const n = rx.received[0]!;
  t.equal(n.headers['wechatpay-serial'], w.platformSerial);
  t.ok(verifyWechatpay(sb, (h) => n.headers[h] as string | undefined, n.body));

  await sb.json('POST', '/sandbox/v3/signing', { mode: 'public-key' });
  t.equal((await v3(sb, 'GET', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}?mchid=${MERCHANT.mchId}`)).serial, w.publicKeyId, 'without mchId: every merchant');
});

t.test('APP cashier: RSA sign over appid, timestamp, noncestr, prepayid', async (t) => {
  const OPEN = { appid: DEMO_APPS.open.appid, mchId: MERCHANT.mchId, key: MERCHANT.key, secret: DEMO_APPS.open.secret, kind: 'open' as const, apiV3Key: MERCHANT.apiV3Key };
  const sb = await v3Sandbox(t, { merchants: [MERCHANT, OPEN] });
  const rx = await v3Receiver(t);
  const body = { appid: OPEN.appid, mchid: MERCHANT.mchId, description: 'APP', out_trade_no: nextTradeNo(), notify_url: rx.url, amount: { total: 3 } };
  const p = await v3(sb, 'POST', '/v3/pay/transactions/app', body);
  const forged = await sb.json('POST', '/sandbox/app-cashier', rsaAppParams(sb, OPEN.appid, p.json.prepay_id, { key: otherKey() }));
  t.match(forged, { status: 400, body: { errCode: -1, code: 'SIGN_INVALID' } });
  const ok = await sb.json('POST', '/sandbox/app-cashier', rsaAppParams(sb, OPEN.appid, p.json.prepay_id));
  t.same(ok, { status: 200, body: { errCode: 0 } });
  await rx.waitFor(1);
  t.match(decryptResource(rx.received[0]!), { trade_type: 'APP', trade_state: 'SUCCESS', out_trade_no: body.out_trade_no });
});
