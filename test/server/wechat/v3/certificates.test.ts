// Whose signature an answer carries: WeChat Pay public key, platform certificates downloaded,
// decrypted, cached, refreshed and rotated, or both modes at once.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { WxPayError } from '../../../../server/src/wechat/errors.js';
import { createWechatpayVerifier, UNKNOWN_SERIAL_REFRESH_MS, CERTIFICATES_REFRESH_MS } from '../../../../server/src/wechat/v3/certificates.js';
import { responseMessage, rsaSign } from '../../../../server/src/wechat/v3/crypto.js';
import { createPayClientV3 } from '../../../../server/src/wechat/v3/pay-client.js';
import type { V3RawAnswer } from '../../../../server/src/wechat/v3/transport.js';
import { API_V3_KEY, APPID, certificatesBody, fakeWechat, MCH_SERIAL, MCHID, platformCert, PUB_KEY_ID, rsaKeys, type PlatformCert } from './fake-wechat.js';

const HOUR = 3600_000;
const start = Date.now();
const A = platformCert(new Date(start - HOUR), new Date(start + 365 * 24 * HOUR));
const B = platformCert(new Date(start - HOUR), new Date(start + 365 * 24 * HOUR));

function answer(body: object, signer: PlatformCert, at: Date, opts: { forged?: boolean } = {}): V3RawAnswer {
  const text = JSON.stringify(body);
  const ts = String(Math.floor(at.getTime() / 1000));
  const nonce = randomBytes(8).toString('hex');
  return {
    status: 200,
    headers: { 'wechatpay-timestamp': ts, 'wechatpay-nonce': nonce, 'wechatpay-serial': signer.serial, 'wechatpay-signature': rsaSign(responseMessage(ts, nonce, text), opts.forged ? rsaKeys().privateKey : signer.key) },
    body: Buffer.from(text),
  };
}

function signedBy(c: PlatformCert, message: string): string {
  return rsaSign(message, c.key);
}

function clock(t0 = start) {
  let now = t0;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

t.test('the first verify downloads the certificates; later ones use the cache', async (t) => {
  const c = clock();
  let fetches = 0;
  const v = createWechatpayVerifier({ apiV3Key: API_V3_KEY, now: c.now, platformCertificates: { fetch: async () => (fetches++, answer(certificatesBody([A]), A, c.now())) } });
  t.ok(await v.verify(A.serial, 'm', signedBy(A, 'm')));
  t.notOk(await v.verify(A.serial, 'm2', signedBy(A, 'm')), 'a signature over another message fails');
  t.notOk(await v.verify(A.serial, 'm', signedBy(B, 'm')), 'another key under A\'s serial fails');
  t.equal(fetches, 1);
  t.same(v.certificates().map((x) => x.serial), [A.serial]);
  t.equal(v.certificates()[0]!.pem, A.pem, 'decrypted with the APIv3 key');
  c.advance(CERTIFICATES_REFRESH_MS - 1000);
  await v.verify(A.serial, 'm', signedBy(A, 'm'));
  t.equal(fetches, 1, 'still cached before 12 h');
  c.advance(2000);
  await v.verify(A.serial, 'm', signedBy(A, 'm'));
  t.equal(fetches, 2, 'refreshed after 12 h');
});

t.test('an unknown serial refreshes, at most once a minute; rotation keeps the old certificate', async (t) => {
  const c = clock();
  let list = [A];
  let signer = A;
  let fetches = 0;
  const v = createWechatpayVerifier({ apiV3Key: API_V3_KEY, now: c.now, platformCertificates: { fetch: async () => (fetches++, answer(certificatesBody(list), signer, c.now())) } });
  t.ok(await v.verify(A.serial, 'm', signedBy(A, 'm')));
  t.notOk(await v.verify(B.serial, 'm', signedBy(B, 'm')), 'B not listed yet');
  t.equal(fetches, 1, 'no second download right after the first');
  c.advance(UNKNOWN_SERIAL_REFRESH_MS);
  t.notOk(await v.verify(B.serial, 'm', signedBy(B, 'm')), 'B still not listed');
  t.equal(fetches, 2, 'a minute later, the unknown serial made one download');
  t.notOk(await v.verify(B.serial, 'm', signedBy(B, 'm')));
  t.equal(fetches, 2, 'not another within a minute');
  // WeChat rotates: B is listed and signs the list itself.
  list = [B];
  signer = B;
  c.advance(UNKNOWN_SERIAL_REFRESH_MS);
  t.ok(await v.verify(B.serial, 'm', signedBy(B, 'm')), 'B after the next allowed download');
  t.equal(fetches, 3);
  t.equal(new Set([A.serial, B.serial]).size, 2);
  t.ok(await v.verify(A.serial, 'm', signedBy(A, 'm')), 'A, no longer listed, still verifies until it expires');
  t.same(v.certificates().map((x) => x.serial).sort(), [A.serial, B.serial].sort());
});

t.test('expired and not-yet-valid certificates do not verify', async (t) => {
  const c = clock();
  const old = platformCert(new Date(start - 48 * HOUR), new Date(start + HOUR));
  const future = platformCert(new Date(start + 24 * HOUR), new Date(start + 48 * HOUR));
  const v = createWechatpayVerifier({ apiV3Key: API_V3_KEY, now: c.now, platformCertificates: { fetch: async () => answer(certificatesBody([old, future, A]), A, c.now()) } });
  t.ok(await v.verify(old.serial, 'm', signedBy(old, 'm')), 'valid now');
  t.notOk(await v.verify(future.serial, 'm', signedBy(future, 'm')), 'not valid yet');
  c.advance(2 * HOUR);
  t.notOk(await v.verify(old.serial, 'm', signedBy(old, 'm')), 'expired');
  t.notOk(v.certificates().some((x) => x.serial === old.serial), 'and dropped');
});

t.test('a certificates answer is refused unless it decrypts and is signed by a known or carried certificate', async (t) => {
  const c = clock();
  const other = 'b'.repeat(32);
  const cases: Array<[string, () => V3RawAnswer]> = [
    ['another APIv3 key', () => answer(certificatesBody([A], other), A, c.now())],
    ['signed by a certificate neither known nor carried', () => answer(certificatesBody([A]), B, c.now())],
    ['forged signature', () => answer(certificatesBody([A]), A, c.now(), { forged: true })],
    ['stale', () => answer(certificatesBody([A]), A, new Date(c.now().getTime() - 301_000))],
    ['serial_no is not the certificate\'s', () => {
      const body = certificatesBody([A]) as { data: Array<{ serial_no: string }> };
      body.data[0]!.serial_no = B.serial;
      return answer(body, A, c.now());
    }],
    ['a tampered ciphertext', () => {
      const body = certificatesBody([A]) as { data: Array<{ encrypt_certificate: { ciphertext: string } }> };
      const raw = Buffer.from(body.data[0]!.encrypt_certificate.ciphertext, 'base64');
      raw[10] = raw[10]! ^ 1;
      body.data[0]!.encrypt_certificate.ciphertext = raw.toString('base64');
      return answer(body, A, c.now());
    }],
  ];
  for (const [name, make] of cases) {
    const v = createWechatpayVerifier({ apiV3Key: API_V3_KEY, now: c.now, platformCertificates: { fetch: async () => make() } });
    await t.rejects(Promise.resolve(v.verify(A.serial, 'm', signedBy(A, 'm'))), { name: 'WxPayError', code: 'BAD_RESPONSE_SIGN', api: 'certificates' }, name);
    t.same(v.certificates(), [], `${name}: nothing cached`);
  }
});

t.test('unreachable certificates: WxPayError with nothing cached; the cache serves when a refresh fails', async (t) => {
  const c = clock();
  let fail = true;
  const v = createWechatpayVerifier({
    apiV3Key: API_V3_KEY,
    now: c.now,
    platformCertificates: {
      fetch: async () => {
        if (fail) throw new WxPayError('NETWORK', 'certificates: network error', { api: 'certificates' });
        return answer(certificatesBody([A]), A, c.now());
      },
    },
  });
  await t.rejects(Promise.resolve(v.verify(A.serial, 'm', signedBy(A, 'm'))), { code: 'NETWORK' });
  fail = false;
  t.ok(await v.verify(A.serial, 'm', signedBy(A, 'm')));
  fail = true;
  c.advance(CERTIFICATES_REFRESH_MS + 1);
  t.ok(await v.verify(A.serial, 'm', signedBy(A, 'm')), 'a failed periodic refresh leaves the cache in use');
});

t.test('both modes at once: PUB_KEY_ID_ serials by the public key, hex serials by the certificates', async (t) => {
  const pub = rsaKeys();
  const c = clock();
  const v = createWechatpayVerifier({ apiV3Key: API_V3_KEY, now: c.now, publicKey: { id: PUB_KEY_ID, pem: pub.publicPem }, platformCertificates: { fetch: async () => answer(certificatesBody([A]), A, c.now()) } });
  t.ok(await v.verify(PUB_KEY_ID, 'm', rsaSign('m', pub.privateKey)));
  t.notOk(await v.verify(PUB_KEY_ID, 'm', signedBy(A, 'm')), 'a certificate key under the public key id fails');
  t.notOk(await v.verify('PUB_KEY_ID_0119000001092026120200000000000999', 'm', rsaSign('m', pub.privateKey)), 'another public key id fails');
  t.ok(await v.verify(A.serial, 'm', signedBy(A, 'm')));
  const only = createWechatpayVerifier({ apiV3Key: API_V3_KEY, publicKey: { id: PUB_KEY_ID, pem: pub.publicPem } });
  t.notOk(await only.verify(A.serial, 'm', signedBy(A, 'm')), 'public key mode alone knows no certificate');
  t.throws(() => createWechatpayVerifier({ apiV3Key: API_V3_KEY }), TypeError);
  t.throws(() => createWechatpayVerifier({ apiV3Key: 'short', publicKey: { id: PUB_KEY_ID, pem: pub.publicPem } }), RangeError);
});

async function platformClient(t: Test, now: () => Date) {
  const merchant = rsaKeys();
  const fake = await fakeWechat(t, { merchantPublicKey: merchant.publicKey, signer: { serial: A.serial, key: A.key } });
  const pay = createPayClientV3({ appid: APPID, mchId: MCHID, serialNo: MCH_SERIAL, privateKey: merchant.privatePem, apiV3Key: API_V3_KEY, baseUrl: fake.base, platformCertificates: true, retryDelayMs: 1, now });
  t.teardown(() => pay.close());
  return { fake, pay };
}

t.test('the client downloads certificates through its own signed GET and rotates on an unknown serial', async (t) => {
  const c = clock(Date.now());
  const { fake, pay } = await platformClient(t, c.now);
  let list = [A];
  fake.on('GET', '/v3/certificates', () => ({ body: certificatesBody(list) }));
  fake.on('GET', '/v3/pay/transactions/out-trade-no/T1', () => ({ body: { appid: APPID, mchid: MCHID, out_trade_no: 'T1', trade_state: 'NOTPAY' } }));
  t.match(await pay.orderQuery({ out_trade_no: 'T1' }), { trade_state: 'NOTPAY' });
  t.same(fake.seen.map((s) => s.url.split('?')[0]), ['/v3/pay/transactions/out-trade-no/T1', '/v3/certificates']);
  t.ok(fake.seen[1]!.authOk, 'the certificates GET is signed like every request');
  await pay.orderQuery({ out_trade_no: 'T1' });
  t.equal(fake.seen.filter((s) => s.url === '/v3/certificates').length, 1, 'cached');
  list = [A, B];
  fake.signer = { serial: B.serial, key: B.key };
  c.advance(UNKNOWN_SERIAL_REFRESH_MS);
  t.match(await pay.orderQuery({ out_trade_no: 'T1' }), { trade_state: 'NOTPAY' }, 'an answer signed by the new certificate');
  t.equal(fake.seen.filter((s) => s.url === '/v3/certificates').length, 2, 'fetched again for the unknown serial');
  t.same(pay.verifier.certificates().map((x) => x.serial).sort(), [A.serial, B.serial].sort());
});
