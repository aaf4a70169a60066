import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../server/src/config.js';
import { DEMO_MERCHANT } from '../../server/src/sandbox/demo.js';
import { ensureSandboxPki } from '../../server/src/sandbox/pki.js';

/**
 * The real services the tests run against. `npm test` starts them (scripts/with-services.ts)
 * and passes them in MONGODB_URI and REDIS_URL; a test run without them is a setup mistake.
 */
export function serviceUrls(): { mongodbUri: string; redisUrl: string } {
  const mongodbUri = process.env.MONGODB_URI;
  const redisUrl = process.env.REDIS_URL;
  if (!mongodbUri || !redisUrl) {
    throw new Error('MONGODB_URI and REDIS_URL must be set: run the tests with `npm test`, which starts local servers');
  }
  return { mongodbUri, redisUrl };
}

/** A database name of its own for each test file (and each app built in it, unless shared on purpose). */
export function freshDbName(label = 'test'): string {
  return `t_${label.replace(/[^a-z0-9]/gi, '_').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
}

/**
 * The WeChat Pay API version the integration tests run on: `npm test` runs them on v2, then again
 * on v3 (TEST_API_VERSION=v3, scripts/test-v3.ts). A test that sets WECHATPAY_API_VERSION itself wins.
 */
export function testApiVersion(): 'v2' | 'v3' {
  return process.env.TEST_API_VERSION === 'v3' ? 'v3' : 'v2';
}

/** A config as loadConfig builds it from the environment, on the real test services, quiet, sandbox mode. */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  const urls = serviceUrls();
  const base: Record<string, string | undefined> = { MONGODB_URI: urls.mongodbUri, REDIS_URL: urls.redisUrl, LOG_LEVEL: 'silent', WECHATPAY_API_VERSION: testApiVersion() };
  const version = env.WECHATPAY_API_VERSION ?? base.WECHATPAY_API_VERSION;
  const hasCert = ['WECHATPAY_CERT_P12', 'WECHATPAY_CERT_PEM', 'WECHATPAY_KEY_PEM'].some((n) => env[n] !== undefined);
  // API v3 signs every call with the merchant key: an app built without the sandbox (which issues its
  // own, startStack) gets a demo merchant certificate, as npm start's sandbox mode would.
  if (version === 'v3' && !hasCert && (env.WECHATPAY_MCH_ID ?? DEMO_MERCHANT.mchId) === DEMO_MERCHANT.mchId) base.WECHATPAY_CERT_P12 = demoCertP12();
  return loadConfig({ ...base, ...env });
}

let demoP12: string | undefined;
function demoCertP12(): string {
  if (demoP12 === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'test-pki-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    demoP12 = ensureSandboxPki(dir, [DEMO_MERCHANT.mchId]).merchants[DEMO_MERCHANT.mchId]!.p12Path;
  }
  return demoP12;
}
