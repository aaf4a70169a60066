// buildSandbox (app.inject, no listener) has API v3 when given a pkiDir, and none without.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildSandbox } from '../../../../server/src/sandbox/app.js';
import { certificateSerial, signRequest } from '../../../../server/src/wechat/v3/crypto.js';
import { MERCHANT } from './helpers.js';

t.test('with a pkiDir: /v3/ answers, signed; the keys are kept in that directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-v3-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const app = await buildSandbox({ merchants: [MERCHANT], pkiDir: dir });
  t.teardown(() => app.close());
  const { readFileSync } = await import('node:fs');
  const keyPem = readFileSync(join(dir, 'merchants', MERCHANT.mchId, 'apiclient_key.pem'), 'utf8');
  const certPem = readFileSync(join(dir, 'merchants', MERCHANT.mchId, 'apiclient_cert.pem'), 'utf8');
  const path = `/v3/pay/transactions/out-trade-no/NoSuchTrade123?mchid=${MERCHANT.mchId}`;
  const authorization = signRequest({ method: 'GET', pathWithQuery: path, body: '', mchid: MERCHANT.mchId, serialNo: certificateSerial(certPem), key: keyPem, nonce: 'N', timestamp: String(Math.floor(Date.now() / 1000)) });
  const res = await app.inject({ method: 'GET', url: path, headers: { authorization } });
  t.equal(res.statusCode, 404);
  t.match(res.json(), { code: 'ORDER_NOT_EXIST' });
  t.match(res.headers['wechatpay-serial'], /^PUB_KEY_ID_\d+$/);
  t.equal(readFileSync(join(dir, 'wechatpay', 'pub_key_id'), 'utf8').trim(), res.headers['wechatpay-serial']);
});

t.test('without one: no /v3/ (WeChat’s 404 page)', async (t) => {
  const app = await buildSandbox({ merchants: [MERCHANT] });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/v3/certificates' });
  t.equal(res.statusCode, 404);
  t.match(res.body, /404 Not Found/);
});
