// The v3 transport against a scripted WeChat: what it signs (byte for byte), which answers it
// believes, how WeChat's error codes read, and what it retries with which bytes.
import t, { type Test } from 'tap';
import { createVerify } from 'node:crypto';
import { WxPayError } from '../../../../server/src/wechat/errors.js';
import { createWechatpayVerifier } from '../../../../server/src/wechat/v3/certificates.js';
import { createV3Transport, type V3Api } from '../../../../server/src/wechat/v3/transport.js';
import type { RetryInfo } from '../../../../server/src/wechat/transport.js';
import { API_V3_KEY, fakeWechat, MCH_SERIAL, MCHID, PUB_KEY_ID, rsaKeys } from './fake-wechat.js';

const merchant = rsaKeys();
const wechat = rsaKeys();
const verifier = createWechatpayVerifier({ publicKey: { id: PUB_KEY_ID, pem: wechat.publicPem }, apiV3Key: API_V3_KEY });
const JSAPI: V3Api = { name: 'unifiedorder', method: 'POST', path: '/v3/pay/transactions/jsapi' };
const QUERY: V3Api = { name: 'orderquery', method: 'GET', path: '/v3/pay/transactions/out-trade-no/T1' };

async function setup(tt: Test, extra: Partial<Parameters<typeof createV3Transport>[0]> = {}) {
  const fake = await fakeWechat(tt, { merchantPublicKey: merchant.publicKey, signer: { serial: PUB_KEY_ID, key: wechat.privateKey } });
  const retries: RetryInfo[] = [];
  const transport = createV3Transport({
    mchId: MCHID,
    serialNo: MCH_SERIAL,
    privateKey: merchant.privatePem,
    baseUrl: fake.base,
    verifier,
    retryDelayMs: 1,
    onRetry: (i) => retries.push(i),
    ...extra,
  });
  tt.teardown(() => transport.close());
  return { fake, transport, retries };
}

t.test('a POST is signed over METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n with the merchant key', async (t) => {
  const { fake, transport } = await setup(t);
  fake.on('POST', JSAPI.path, () => ({ body: { prepay_id: 'wx201410272009395522657a690389285100' } }));
  const body = { appid: 'wxd930ea5d5a258f4f', mchid: MCHID, description: '咖啡', amount: { total: 1, currency: 'CNY' } };
  const ans = await transport.request<{ prepay_id: string }>(JSAPI, { body });
  t.same(ans, { prepay_id: 'wx201410272009395522657a690389285100' });
  const s = fake.seen[0]!;
  t.equal(s.body, JSON.stringify(body), 'the body is the JSON sent');
  t.equal(s.headers['content-type'], 'application/json');
  t.equal(s.headers.accept, 'application/json');
  t.match(s.headers['user-agent'], /^wxpay-mp \(node v\d+/, 'a User-Agent, as WeChat asks');
  const m = /^WECHATPAY2-SHA256-RSA2048 mchid="(\d+)",nonce_str="([A-Za-z0-9]{32})",signature="([A-Za-z0-9+/=]+)",timestamp="(\d+)",serial_no="([0-9A-F]+)"$/.exec(s.headers.authorization ?? '');
  t.ok(m, `Authorization has WeChat's layout: ${s.headers.authorization}`);
  const [, mchid, nonce, signature, ts, serial] = m!;
  t.equal(mchid, MCHID);
  t.equal(serial, MCH_SERIAL);
  t.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60, 'timestamp is now, in seconds');
  const message = `POST\n/v3/pay/transactions/jsapi\n${ts}\n${nonce}\n${JSON.stringify(body)}\n`;
  t.ok(createVerify('RSA-SHA256').update(message).verify(merchant.publicKey, signature!, 'base64'), 'signature verifies over the documented message');
  t.notOk(createVerify('RSA-SHA256').update(message.replace('咖啡', '奶茶')).verify(merchant.publicKey, signature!, 'base64'), 'and only that message');
});

t.test('a GET signs its query and an empty body, and sends no content-type', async (t) => {
  const { fake, transport } = await setup(t);
  fake.on('GET', QUERY.path, () => ({ body: { ok: 1 } }));
  await transport.request(QUERY, { query: { mchid: MCHID } });
  const s = fake.seen[0]!;
  t.equal(s.url, `/v3/pay/transactions/out-trade-no/T1?mchid=${MCHID}`);
  t.equal(s.body, '');
  t.equal(s.headers['content-type'], undefined);
  t.ok(s.authOk, 'the fake WeChat verified it over GET\\n/path?query\\nts\\nnonce\\n\\n');
  const a = s.auth!;
  t.ok(createVerify('RSA-SHA256').update(`GET\n${s.url}\n${a.timestamp}\n${a.nonce_str}\n\n`).verify(merchant.publicKey, a.signature, 'base64'));
});

t.test('answers are believed only when signed by WeChat, freshly', async (t) => {
  for (const [name, reply] of [
    ['forged signature', { forged: true, body: { prepay_id: 'x' } }],
    ['no signature', { unsigned: true, body: { prepay_id: 'x' } }],
    ['timestamp 310 s ahead', { skew: 310, body: { prepay_id: 'x' } }],
    ['timestamp 400 s behind', { skew: -400, body: { prepay_id: 'x' } }],
    ['another public key id', { signer: { serial: 'PUB_KEY_ID_0119000001092026120200000000000999', key: wechat.privateKey }, body: { prepay_id: 'x' } }],
    ['a signed-looking 4xx error without signature', { unsigned: true, status: 404, body: { code: 'ORDER_NOT_EXIST', message: '订单不存在' } }],
    ['an unsigned 204', { unsigned: true, status: 204 }],
  ] as const) {
    const { fake, transport, retries } = await setup(t);
    fake.on('POST', JSAPI.path, () => reply);
    const err = await transport.request(JSAPI, { body: {} }).catch((e: unknown) => e);
    t.match(err, { name: 'WxPayError', code: 'BAD_RESPONSE_SIGN', retriable: false, api: 'unifiedorder' }, name);
    t.equal(fake.seen.length, 1, `${name}: not retried`);
    t.equal(retries.length, 0);
  }
});

t.test('a signed 204 is undefined; a tampered body under a good header is refused', async (t) => {
  const { fake, transport } = await setup(t);
  fake.on('POST', '/v3/pay/transactions/out-trade-no/T1/close', () => ({ status: 204 }));
  t.equal(await transport.request({ name: 'closeorder', method: 'POST', path: '/v3/pay/transactions/out-trade-no/T1/close' }, { body: { mchid: MCHID } }), undefined);
  // Same headers, other bytes: the signature covers the body.
  const realFetch = globalThis.fetch;
  const tampering = createV3Transport({
    mchId: MCHID,
    serialNo: MCH_SERIAL,
    privateKey: merchant.privatePem,
    baseUrl: fake.base,
    verifier,
    retries: 0,
    fetch: (async (url: string, init: RequestInit) => {
      const res = await realFetch(url, init);
      const text = (await res.text()).replace('"x"', '"y"');
      return new Response(text, { status: res.status, headers: res.headers });
    }) as typeof fetch,
  });
  fake.on('POST', JSAPI.path, () => ({ body: { prepay_id: 'x' } }));
  t.same(await transport.request(JSAPI, { body: {} }), { prepay_id: 'x' }, 'untampered: believed');
  await t.rejects(tampering.request(JSAPI, { body: {} }), { code: 'BAD_RESPONSE_SIGN' }, 'tampered: refused');
});

t.test("WeChat's v3 codes read as the v2 codes the services act on", async (t) => {
  const table: Array<[number, string, string, string | undefined, V3Api?]> = [
    [401, 'SIGN_ERROR', 'SIGNERROR', undefined],
    [404, 'ORDER_NOT_EXIST', 'ORDERNOTEXIST', undefined],
    [400, 'ORDER_CLOSED', 'ORDERCLOSED', undefined],
    [400, 'ORDERPAID', 'ORDERPAID', undefined],
    [400, 'ORDER_PAID', 'ORDERPAID', undefined],
    [403, 'OUT_TRADE_NO_USED', 'OUT_TRADE_NO_USED', undefined],
    [403, 'NOT_ENOUGH', 'NOTENOUGH', 'wait', { name: 'refund', method: 'POST', path: '/v3/refund/domestic/refunds' }],
    [404, 'RESOURCE_NOT_EXISTS', 'ORDERNOTEXIST', undefined],
    [404, 'RESOURCE_NOT_EXISTS', 'REFUNDNOTEXIST', undefined, { name: 'refundquery', method: 'POST', path: '/v3/pay/transactions/jsapi', codes: { RESOURCE_NOT_EXISTS: 'REFUNDNOTEXIST' } }],
    [429, 'FREQUENCY_LIMITED', 'FREQUENCY_LIMITED', 'later'],
    [403, 'NO_AUTH', 'NOAUTH', undefined],
    [400, 'MCH_NOT_EXISTS', 'MCHID_NOT_EXIST', undefined],
    [400, 'APPID_MCHID_NOT_MATCH', 'APPID_MCHID_NOT_MATCH', undefined],
    [400, 'PARAM_ERROR', 'PARAM_ERROR', undefined],
    [400, 'INVALID_REQUEST', 'INVALID_REQUEST', undefined],
    [400, 'STATEMENT_CREATING', 'BILL_CREATING', 'later'],
    [400, 'NO_STATEMENT_EXIST', 'NO_STATEMENT_EXIST', undefined],
    [400, 'SOMETHING_NEW', 'SOMETHING_NEW', undefined],
  ];
  for (const [status, wx, code, retry, api] of table) {
    const { fake, transport } = await setup(t);
    fake.on('POST', (api ?? JSAPI).path, () => ({ status, body: { code: wx, message: `消息 ${wx}` } }));
    const err = (await transport.request(api ?? JSAPI, { body: {} }).catch((e: unknown) => e)) as WxPayError;
    t.ok(err instanceof WxPayError, wx);
    t.match(err, { code, status, wechatMessage: `消息 ${wx}`, api: (api ?? JSAPI).name }, `${wx} → ${code}`);
    t.equal(err.retry, retry, `${wx}: retry ${retry}`);
    t.equal(fake.seen.length, 1, `${wx}: not retried here`);
  }
});

t.test('SYSTEM_ERROR is retried with the same body under a fresh nonce and signature', async (t) => {
  const { fake, transport, retries } = await setup(t);
  const sysErr = () => ({ status: 500, body: { code: 'SYSTEM_ERROR', message: '系统错误' } });
  fake.on('POST', JSAPI.path, [sysErr, sysErr, () => ({ body: { prepay_id: 'p' } })]);
  t.same(await transport.request(JSAPI, { body: { out_trade_no: 'T1', amount: { total: 1 } } }), { prepay_id: 'p' });
  t.equal(fake.seen.length, 3);
  t.equal(new Set(fake.seen.map((s) => s.body)).size, 1, 'the same body every time');
  t.equal(new Set(fake.seen.map((s) => s.auth?.nonce_str)).size, 3, 'a new nonce every time');
  t.ok(fake.seen.every((s) => s.authOk), 'each attempt signed anew');
  t.match(retries, [{ api: 'unifiedorder', attempt: 1, error: { code: 'SYSTEMERROR' } }, { attempt: 2 }]);
});

t.test('retries end; the last SYSTEMERROR is thrown with retry soon', async (t) => {
  const { fake, transport } = await setup(t, { retries: 1 });
  fake.on('POST', JSAPI.path, () => ({ status: 500, body: { code: 'SYSTEM_ERROR', message: '系统错误' } }));
  await t.rejects(transport.request(JSAPI, { body: {} }), { code: 'SYSTEMERROR', retry: 'soon', status: 500, wechatMessage: '系统错误' });
  t.equal(fake.seen.length, 2);
});

t.test('an unsigned 5xx (a gateway) is SYSTEMERROR and retried; its body is not believed', async (t) => {
  const { fake, transport } = await setup(t);
  fake.on('POST', JSAPI.path, [() => ({ status: 502, unsigned: true, body: { code: 'ORDERPAID', message: 'lies' } }), () => ({ body: { prepay_id: 'p' } })]);
  t.same(await transport.request(JSAPI, { body: {} }), { prepay_id: 'p' });
  t.equal(fake.seen.length, 2);
});

t.test('network failures and timeouts are retried, then reported as such', async (t) => {
  let calls = 0;
  const { transport } = await setup(t, {
    retries: 2,
    fetch: (async () => {
      calls++;
      throw new TypeError('fetch failed');
    }) as typeof fetch,
  });
  await t.rejects(transport.request(JSAPI, { body: {} }), { code: 'NETWORK', retry: 'soon', api: 'unifiedorder' });
  t.equal(calls, 3);

  const slow = await setup(t, { retries: 1, timeoutMs: 50 });
  slow.fake.on('POST', JSAPI.path, () => new Promise((resolve) => setTimeout(() => resolve({ body: {} }), 1000)));
  await t.rejects(slow.transport.request(JSAPI, { body: {} }), { code: 'TIMEOUT', retry: 'soon' });
  t.equal(slow.fake.seen.length, 2);
});

t.test('download sends our Authorization to the base origin only', async (t) => {
  const { fake, transport } = await setup(t);
  await t.rejects(transport.download('https://evil.example/v3/billdownload/file?token=x'), { code: 'BAD_RESPONSE', retriable: false });
  t.equal(fake.seen.length, 0);
  fake.on('GET', '/v3/billdownload/file', () => ({ unsigned: true, body: Buffer.from('bill bytes') }));
  const bytes = await transport.download(`${fake.base}/v3/billdownload/file?token=abc`);
  t.equal(bytes.toString(), 'bill bytes', 'the file is the one unsigned answer taken');
  t.equal(fake.seen[0]!.url, '/v3/billdownload/file?token=abc');
  t.ok(fake.seen[0]!.authOk, 'and its GET is signed');
  t.equal(fake.seen[0]!.headers.accept, '*/*', 'a file, not JSON, is asked for');
});

t.test('download is size-limited and a refused download is read as WeChat\'s signed error', async (t) => {
  const { fake, transport } = await setup(t);
  fake.on('GET', '/v3/billdownload/file', [
    () => ({ unsigned: true, body: Buffer.alloc(2048, 1) }),
    () => ({ status: 400, body: { code: 'INVALID_REQUEST', message: 'token 已过期' } }),
  ]);
  await t.rejects(transport.download(`${fake.base}/v3/billdownload/file?token=a`, { maxBytes: 1024 }), { code: 'BAD_RESPONSE', message: /too large/, retriable: false });
  await t.rejects(transport.download(`${fake.base}/v3/billdownload/file?token=a`), { code: 'INVALID_REQUEST', status: 400, wechatMessage: 'token 已过期', api: 'downloadbill' });
});
