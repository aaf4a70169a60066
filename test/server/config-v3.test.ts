// API v3's variables: boot stops, naming the variable, on an APIv3 key that is not 32 bytes, a serial
// that is not the certificate's, a missing or unreadable WeChat Pay public key, a public key without
// its id; and a v3 merchant needs no v2 key.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../server/src/config.js';
import { ensureSandboxPki } from '../../server/src/sandbox/pki.js';
import { DEMO_MERCHANT } from '../../server/src/sandbox/demo.js';
import { certificateSerial } from '../../server/src/wechat/v3/crypto.js';

const dir = mkdtempSync(join(tmpdir(), 'config-v3-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const pki = ensureSandboxPki(dir, ['1900000109', '1900000110']);
const mine = pki.merchants['1900000109']!;
const other = pki.merchants['1900000110']!;
const readText = (path: string) => readFileSync(path, 'utf8');
const serial = certificateSerial(readText(mine.certPath));

const pubPath = join(dir, 'pub_key.pem');
writeFileSync(pubPath, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
const notPem = join(dir, 'garbage.pem');
writeFileSync(notPem, 'not a key at all\n');

const V3 = {
  WECHAT_APPID: 'wx1234567890abcdef',
  WECHAT_APPSECRET: 'abcdefabcdefabcdefabcdefabcdef12',
  WECHATPAY_MCH_ID: '1900000109',
  WECHATPAY_API_VERSION: 'v3',
  WECHATPAY_APIV3_KEY: 'k'.repeat(32),
  WECHATPAY_CERT_PEM: mine.certPath,
  WECHATPAY_KEY_PEM: mine.keyPath,
  WECHATPAY_PUBLIC_KEY_PEM: pubPath,
  WECHATPAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_0119000001092025000000000000',
  WECHATPAY_NOTIFY_URL: 'https://shop.example.com/wxpay/notify',
};

function failure(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

t.test('a whole v3 merchant boots, with no v2 key, and its notify URLs sit beside the v2 one', async (t) => {
  const c = loadConfig({ ...V3, WECHATPAY_MCH_SERIAL: serial.toLowerCase() });
  t.equal(c.pay.apiVersion, 'v3');
  t.equal(c.pay.apiKey, '', 'no v2 key: the v2 notify endpoints refuse everything');
  t.match(c.pay.v3, {
    apiV3Key: 'k'.repeat(32),
    serialNo: serial,
    publicKey: { id: 'PUB_KEY_ID_0119000001092025000000000000' },
    platformCertificates: false,
    notifyUrl: 'https://shop.example.com/wxpay/v3/notify',
    refundNotifyUrl: 'https://shop.example.com/wxpay/v3/refund-notify',
  });
  t.match(c.pay.v3?.publicKey?.pem, /BEGIN PUBLIC KEY/);
  // the p12 alone also carries the key
  const p12 = loadConfig({ ...V3, WECHATPAY_CERT_PEM: undefined, WECHATPAY_KEY_PEM: undefined, WECHATPAY_CERT_P12: mine.p12Path, WECHATPAY_MCH_SERIAL: serial });
  t.equal(p12.pay.v3?.serialNo, serial);
  // explicit notify URLs win
  const own = loadConfig({ ...V3, WECHATPAY_NOTIFY_URL: undefined, WECHATPAY_V3_NOTIFY_URL: 'https://pay.example.com/cb/v3' });
  t.equal(own.pay.v3?.notifyUrl, 'https://pay.example.com/cb/v3');
});

t.test('v2 stays the default; an APIv3 key beside v2 makes v3 notifications verifiable too', async (t) => {
  const v2 = { ...V3, WECHATPAY_API_VERSION: undefined, WECHATPAY_API_KEY: 'a'.repeat(32) };
  const c = loadConfig(v2);
  t.equal(c.pay.apiVersion, 'v2');
  t.ok(c.pay.v3, 'v3 keys loaded for the v3 notify endpoints (moving back from v3)');
  const plain = loadConfig({ ...v2, WECHATPAY_APIV3_KEY: undefined, WECHATPAY_PUBLIC_KEY_PEM: undefined, WECHATPAY_PUBLIC_KEY_ID: undefined });
  t.equal(plain.pay.v3, undefined);
  // On v2 the certificate is optional, but downloading platform certificates is a signed call.
  const noCert = { ...v2, WECHATPAY_CERT_PEM: undefined, WECHATPAY_KEY_PEM: undefined, WECHATPAY_PUBLIC_KEY_PEM: undefined, WECHATPAY_PUBLIC_KEY_ID: undefined, WECHATPAY_PLATFORM_CERTS: '1' };
  t.equal(failure(noCert).variable, 'WECHATPAY_PLATFORM_CERTS', 'platform certificates without the merchant certificate to fetch them');
  t.ok(loadConfig({ ...v2, WECHATPAY_CERT_PEM: undefined, WECHATPAY_KEY_PEM: undefined }).pay.v3, 'with the public key, v2 needs no certificate for v3 notifications');
  t.equal(failure({ ...v2, WECHATPAY_APIV3_KEY: undefined }).variable, 'WECHATPAY_APIV3_KEY', 'a public key without an APIv3 key is half a v3 setup');
});

t.test('the APIv3 key must be 32 bytes, and is never printed', async (t) => {
  for (const key of ['short-key', 'k'.repeat(31), 'k'.repeat(33), '密'.repeat(11)]) {
    const e = failure({ ...V3, WECHATPAY_APIV3_KEY: key });
    t.equal(e.variable, 'WECHATPAY_APIV3_KEY', key);
    t.match(e.message, /32 bytes/);
    t.notOk(e.message.includes(key), 'the key is not in the message');
  }
  t.equal(failure({ ...V3, WECHATPAY_APIV3_KEY: undefined }).variable, 'WECHATPAY_APIV3_KEY');
});

t.test('a serial that is not the certificate\'s, or a key of another certificate, stops boot', async (t) => {
  const e = failure({ ...V3, WECHATPAY_MCH_SERIAL: certificateSerial(readText(other.certPath)) });
  t.equal(e.variable, 'WECHATPAY_MCH_SERIAL');
  t.match(e.message, new RegExp(`its serial is ${serial}`));
  t.equal(failure({ ...V3, WECHATPAY_KEY_PEM: other.keyPath }).variable, 'WECHATPAY_KEY_PEM', 'the private key must be the certificate\'s');
  const none = failure({ ...V3, WECHATPAY_CERT_PEM: undefined, WECHATPAY_KEY_PEM: undefined });
  t.equal(none.variable, 'WECHATPAY_KEY_PEM');
  t.match(none.message, /signs every request/);
  t.equal(failure({ ...V3, WECHATPAY_MCH_SERIAL: 'not-hex!' }).variable, 'WECHATPAY_MCH_SERIAL');
});

t.test('WeChat Pay\'s public key: required (or platform certificates), readable, RSA, with its id', async (t) => {
  const missing = failure({ ...V3, WECHATPAY_PUBLIC_KEY_PEM: undefined, WECHATPAY_PUBLIC_KEY_ID: undefined });
  t.equal(missing.variable, 'WECHATPAY_PUBLIC_KEY_PEM');
  t.match(missing.message, /WECHATPAY_PLATFORM_CERTS=1/);
  const certs = loadConfig({ ...V3, WECHATPAY_PUBLIC_KEY_PEM: undefined, WECHATPAY_PUBLIC_KEY_ID: undefined, WECHATPAY_PLATFORM_CERTS: '1' });
  t.match(certs.pay.v3, { platformCertificates: true });
  t.equal(certs.pay.v3?.publicKey, undefined);
  t.equal(failure({ ...V3, WECHATPAY_PUBLIC_KEY_ID: undefined }).variable, 'WECHATPAY_PUBLIC_KEY_ID');
  t.equal(failure({ ...V3, WECHATPAY_PUBLIC_KEY_PEM: undefined }).variable, 'WECHATPAY_PUBLIC_KEY_PEM');
  t.equal(failure({ ...V3, WECHATPAY_PUBLIC_KEY_PEM: join(dir, 'nope.pem') }).variable, 'WECHATPAY_PUBLIC_KEY_PEM');
  t.match(failure({ ...V3, WECHATPAY_PUBLIC_KEY_PEM: notPem }).message, /not an RSA public key/);
  t.equal(failure({ ...V3, WECHATPAY_PUBLIC_KEY_ID: '0119000001092025' }).variable, 'WECHATPAY_PUBLIC_KEY_ID', 'ids start PUB_KEY_ID_');
});

t.test('a v3 merchant needs an https notify URL; sandbox mode needs nothing', async (t) => {
  t.equal(failure({ ...V3, WECHATPAY_NOTIFY_URL: undefined }).variable, 'WECHATPAY_NOTIFY_URL');
  t.equal(failure({ ...V3, WECHATPAY_V3_NOTIFY_URL: 'http://shop.example.com/v3' }).variable, 'WECHATPAY_V3_NOTIFY_URL');
  const sandbox = loadConfig({ WECHATPAY_API_VERSION: 'v3' });
  t.equal(sandbox.pay.apiVersion, 'v3');
  t.equal(sandbox.pay.v3?.apiV3Key, DEMO_MERCHANT.apiV3Key, 'the demo APIv3 key');
  t.equal(sandbox.pay.v3?.notifyUrl, undefined, 'the server\'s own /wxpay/v3/notify');
  t.equal(loadConfig({}).pay.apiVersion, 'v2');
  t.ok(loadConfig({}).pay.v3, 'sandbox mode always takes v3 notifications');
});
