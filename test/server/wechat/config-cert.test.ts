// The refund-related variables of config.ts: the merchant certificate (checked at boot by loading it),
// the refund notify URL, the sandbox's TLS port.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../server/src/config.js';
import { ensureSandboxPki } from '../../../server/src/sandbox/pki.js';

const REAL = {
  WECHAT_APPID: 'wx1234567890abcdef',
  WECHAT_APPSECRET: 'abcdefabcdefabcdefabcdefabcdef12',
  WECHATPAY_MCH_ID: '1900000109',
  WECHATPAY_API_KEY: 'a'.repeat(32),
  WECHATPAY_NOTIFY_URL: 'https://shop.example.com/api/wxpay/notify',
};

const dir = mkdtempSync(join(tmpdir(), 'config-cert-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const pki = ensureSandboxPki(dir, ['1900000109', '1900000110']);
const mine = pki.merchants['1900000109']!;
const other = pki.merchants['1900000110']!;

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

t.test('no certificate: refunds are off with real WeChat, the sandbox fills its own in (main.ts)', async (t) => {
  t.equal(loadConfig({}).pay.cert, undefined);
  t.equal(loadConfig(REAL).pay.cert, undefined);
});

t.test('WECHATPAY_CERT_P12: checked at boot with the mch_id as passphrase', async (t) => {
  t.same(loadConfig({ ...REAL, WECHATPAY_CERT_P12: mine.p12Path }).pay.cert, { p12Path: mine.p12Path, passphrase: '1900000109' });
  // Another merchant's p12: its passphrase is its own mch_id, not ours.
  const e = failure({ ...REAL, WECHATPAY_CERT_P12: other.p12Path });
  t.equal(e.variable, 'WECHATPAY_CERT_P12');
  t.match(e.message, /wrong passphrase.*set WECHATPAY_CERT_P12_PASSPHRASE/);
  t.same(loadConfig({ ...REAL, WECHATPAY_CERT_P12: other.p12Path, WECHATPAY_CERT_P12_PASSPHRASE: '1900000110' }).pay.cert, { p12Path: other.p12Path, passphrase: '1900000110' });
  const pw = failure({ ...REAL, WECHATPAY_CERT_P12: mine.p12Path, WECHATPAY_CERT_P12_PASSPHRASE: 'hunter2-secret' });
  t.equal(pw.variable, 'WECHATPAY_CERT_P12_PASSPHRASE');
  t.notMatch(pw.message, /hunter2/, 'the passphrase is never printed');
  const missing = failure({ ...REAL, WECHATPAY_CERT_P12: join(dir, 'nope.p12') });
  t.equal(missing.variable, 'WECHATPAY_CERT_P12');
  t.match(missing.message, /does not exist/);
  t.equal(failure({ ...REAL, WECHATPAY_CERT_P12: mine.certPath }).variable, 'WECHATPAY_CERT_P12', 'a PEM file is not a p12');
  t.equal(failure({ ...REAL, WECHATPAY_CERT_P12_PASSPHRASE: 'x' }).variable, 'WECHATPAY_CERT_P12_PASSPHRASE');
});

t.test('WECHATPAY_CERT_PEM + WECHATPAY_KEY_PEM: both, matching, and not with the p12', async (t) => {
  t.same(loadConfig({ ...REAL, WECHATPAY_CERT_PEM: mine.certPath, WECHATPAY_KEY_PEM: mine.keyPath }).pay.cert, { certPath: mine.certPath, keyPath: mine.keyPath });
  t.equal(failure({ ...REAL, WECHATPAY_CERT_PEM: mine.certPath }).variable, 'WECHATPAY_KEY_PEM');
  t.equal(failure({ ...REAL, WECHATPAY_KEY_PEM: mine.keyPath }).variable, 'WECHATPAY_CERT_PEM');
  const mismatch = failure({ ...REAL, WECHATPAY_CERT_PEM: mine.certPath, WECHATPAY_KEY_PEM: other.keyPath });
  t.equal(mismatch.variable, 'WECHATPAY_KEY_PEM');
  t.match(mismatch.message, /does not belong to the certificate/);
  t.notMatch(mismatch.message, /PRIVATE KEY/);
  t.equal(failure({ ...REAL, WECHATPAY_CERT_PEM: mine.keyPath, WECHATPAY_KEY_PEM: mine.keyPath }).variable, 'WECHATPAY_CERT_PEM');
  t.equal(failure({ ...REAL, WECHATPAY_CERT_PEM: mine.certPath, WECHATPAY_KEY_PEM: mine.certPath }).variable, 'WECHATPAY_KEY_PEM');
  t.equal(failure({ ...REAL, WECHATPAY_CERT_P12: mine.p12Path, WECHATPAY_CERT_PEM: mine.certPath }).variable, 'WECHATPAY_CERT_P12');
});

t.test('WECHATPAY_REFUND_NOTIFY_URL: default beside the pay notify URL; https with real WeChat', async (t) => {
  t.equal(loadConfig(REAL).pay.refundNotifyUrl, 'https://shop.example.com/api/wxpay/refund-notify');
  t.equal(loadConfig({ ...REAL, WECHATPAY_REFUND_NOTIFY_URL: 'https://shop.example.com/r' }).pay.refundNotifyUrl, 'https://shop.example.com/r');
  t.equal(failure({ ...REAL, WECHATPAY_REFUND_NOTIFY_URL: 'http://shop.example.com/r' }).variable, 'WECHATPAY_REFUND_NOTIFY_URL');
  t.equal(failure({ ...REAL, WECHATPAY_REFUND_NOTIFY_URL: 'https://shop.example.com/r?x=1' }).variable, 'WECHATPAY_REFUND_NOTIFY_URL');
  t.equal(loadConfig({}).pay.refundNotifyUrl, undefined, 'sandbox: the server uses its own /wxpay/refund-notify');
});

t.test('SANDBOX_SECAPI_PORT: SANDBOX_PORT + 1 by default', async (t) => {
  t.equal(loadConfig({}).sandbox.secapiPort, 3002);
  t.equal(loadConfig({ SANDBOX_PORT: '4000' }).sandbox.secapiPort, 4001);
  t.equal(loadConfig({ SANDBOX_PORT: '0' }).sandbox.secapiPort, 0);
  t.equal(loadConfig({ SANDBOX_SECAPI_PORT: '8443' }).sandbox.secapiPort, 8443);
  t.equal(failure({ SANDBOX_SECAPI_PORT: '70000' }).variable, 'SANDBOX_SECAPI_PORT');
});
