// GET /v3/bill/tradebill + its download_url (signed GET, SHA1 of the bytes served, GZIP, v2's bill
// text), and GET /v3/certificates (platform certificate encrypted with the APIv3 key).
import { createHash, X509Certificate } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { aesGcmDecrypt } from '../../../../server/src/wechat/v3/crypto.js';
import { MERCHANT, jsapiBody, openidOf, rsaPayParams, v3, v3Sandbox, type Sandbox } from './helpers.js';

const DAY = 24 * 3600 * 1000;
const beijingDate = (ms: number) => new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 10);

async function download(sb: Sandbox, url: string) {
  const u = new URL(url);
  const res = await fetch(url, { headers: { authorization: await signedAuth(sb, u.pathname + u.search) } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

async function signedAuth(sb: Sandbox, path: string): Promise<string> {
  const { signRequest, certificateSerial } = await import('../../../../server/src/wechat/v3/crypto.js');
  const m = sb.certs.merchants[MERCHANT.mchId]!;
  return signRequest({ method: 'GET', pathWithQuery: path, body: '', mchid: MERCHANT.mchId, serialNo: certificateSerial(m.certPem), key: m.keyPem, nonce: 'BILLNONCE', timestamp: String(Math.floor(Date.now() / 1000)) });
}

t.test('tradebill: a paid v3 trade in yesterday-but-one’s bill; hash of the gzip served; signed download only', async (t) => {
  let clock = Date.now() - 2 * DAY;
  const sb = await v3Sandbox(t, { now: () => clock });
  const body = jsapiBody(await openidOf(sb), 'https://shop.example/wxpay/v3/notify');
  const p = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  await sb.json('POST', '/sandbox/cashier', rsaPayParams(sb, p.json.prepay_id));
  const day = beijingDate(clock);
  clock = Date.now();

  const bill = await v3(sb, 'GET', `/v3/bill/tradebill?bill_date=${day}&bill_type=ALL&tar_type=GZIP`);
  t.equal(bill.status, 200);
  t.ok(bill.verified);
  t.match(bill.json, { hash_type: 'SHA1', hash_value: /^[0-9a-f]{40}$/, download_url: new RegExp(`^${sb.url}/v3/billdownload/file\\?token=`) });

  const unsigned = await fetch(bill.json.download_url);
  t.equal(unsigned.status, 401, 'the download needs a signed Authorization');
  const res = await download(sb, bill.json.download_url);
  t.equal(res.status, 200);
  const bytes = res.bytes;
  t.equal(createHash('sha1').update(bytes).digest('hex'), bill.json.hash_value, 'hash of the bytes as served');
  t.notOk(res.headers.get('wechatpay-signature'), 'the file is the one unsigned answer');
  const text = gunzipSync(bytes).toString('utf8');
  t.match(text, /^交易时间,公众账号ID,商户号/);
  t.match(text, new RegExp(`\`${body.out_trade_no}`));

  const plain = await v3(sb, 'GET', `/v3/bill/tradebill?bill_date=${day}`);
  const d = await download(sb, plain.json.download_url);
  t.equal(d.bytes.toString('utf8'), text, 'without tar_type: the same text, not compressed');
  t.equal(createHash('sha1').update(d.bytes).digest('hex'), plain.json.hash_value);
});

t.test('tradebill refusals: no bill, not ready, bad date, bad bill_type', async (t) => {
  const sb = await v3Sandbox(t);
  const old = beijingDate(Date.now() - 5 * DAY);
  const none = await v3(sb, 'GET', `/v3/bill/tradebill?bill_date=${old}`);
  t.equal(none.status, 400);
  t.match(none.json, { code: 'NO_STATEMENT_EXIST' });
  t.ok(none.verified);
  // yesterday's bill is made at 10:00 Beijing time today; before that it is being created
  let clock = Date.parse('2026-11-20T09:00:00+08:00');
  const early = await v3Sandbox(t, { now: () => clock });
  t.match((await v3(early, 'GET', '/v3/bill/tradebill?bill_date=2026-11-19')).json, { code: 'STATEMENT_CREATING' });
  clock = Date.parse('2026-11-20T10:00:01+08:00');
  t.match((await v3(early, 'GET', '/v3/bill/tradebill?bill_date=2026-11-19')).json, { code: 'NO_STATEMENT_EXIST' });
  t.match((await v3(sb, 'GET', `/v3/bill/tradebill?bill_date=${beijingDate(Date.now())}`)).json, { code: 'PARAM_ERROR', detail: { field: 'bill_date' } });
  t.match((await v3(sb, 'GET', '/v3/bill/tradebill?bill_date=20261202')).json, { code: 'PARAM_ERROR' });
  t.match((await v3(sb, 'GET', '/v3/bill/tradebill')).json, { code: 'PARAM_ERROR', message: /bill_date/ });
  t.match((await v3(sb, 'GET', `/v3/bill/tradebill?bill_date=${old}&bill_type=RECHARGE_REFUND`)).json, { code: 'PARAM_ERROR', message: /bill_type/ });
  t.match((await v3(sb, 'GET', '/v3/billdownload/file?token=nope')).json, { code: 'INVALID_REQUEST' });
});

t.test('certificates: the platform certificate, decryptable with the APIv3 key, signed by its own serial', async (t) => {
  const sb = await v3Sandbox(t);
  const r = await v3(sb, 'GET', '/v3/certificates');
  t.equal(r.status, 200);
  t.equal(r.serial, sb.certs.wechatpay.platformSerial, 'signed by the platform certificate even in public-key mode');
  t.ok(r.verified);
  t.equal(r.json.data.length, 1);
  const c = r.json.data[0];
  t.match(c, { serial_no: sb.certs.wechatpay.platformSerial, effective_time: /\+08:00$/, expire_time: /\+08:00$/, encrypt_certificate: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'certificate' } });
  const pem = aesGcmDecrypt(c.encrypt_certificate, MERCHANT.apiV3Key);
  t.equal(pem, sb.certs.wechatpay.platformCertPem);
  t.ok(new X509Certificate(pem).verify(new X509Certificate(sb.certs.ca).publicKey), 'issued by the sandbox CA');
  t.throws(() => aesGcmDecrypt(c.encrypt_certificate, 'x'.repeat(32)), 'another key cannot read it');
});
