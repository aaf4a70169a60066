// `npm run sandbox`: the WeChat sandbox alone, on SANDBOX_PORT (3001) and HOST (127.0.0.1), with its
// TLS listener for /secapi/ on SANDBOX_SECAPI_PORT (SANDBOX_PORT + 1) and its certificates in .data/sandbox-pki.
// Registers the merchant from WECHAT_APPID / WECHAT_APPSECRET / WECHATPAY_MCH_ID / WECHATPAY_API_KEY
// when all four are given, else the demo merchant of WeChat's signing docs.
import { resolve } from 'node:path';
import { startSandbox, type SandboxMerchant } from './app.js';
import { DEMO_APPS, DEMO_MERCHANT } from './demo.js';

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const fail = (line: string): never => {
  process.stderr.write(`sandbox: ${line}\n`);
  process.exit(1);
};

const ENV_NAMES = ['WECHAT_APPID', 'WECHAT_APPSECRET', 'WECHATPAY_MCH_ID', 'WECHATPAY_API_KEY'] as const;

function merchantFromEnv(env: NodeJS.ProcessEnv): { merchant: SandboxMerchant; fromEnv: boolean } {
  const given = ENV_NAMES.filter((n) => env[n] !== undefined && env[n] !== '');
  if (given.length === 0) return { merchant: { ...DEMO_MERCHANT }, fromEnv: false };
  const missing = ENV_NAMES.filter((n) => !given.includes(n));
  if (missing.length > 0) fail(`${missing.join(', ')} must be set too (or unset ${given.join(', ')} to use the demo merchant)`);
  return {
    merchant: {
      appid: env.WECHAT_APPID as string,
      secret: env.WECHAT_APPSECRET as string,
      mchId: env.WECHATPAY_MCH_ID as string,
      key: env.WECHATPAY_API_KEY as string,
    },
    fromEnv: true,
  };
}

function portFrom(value: string | undefined): number {
  if (value === undefined || value === '') return 3001;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) fail(`SANDBOX_PORT must be a TCP port number (0-65535, 0 = any free port), got ${JSON.stringify(value)}`);
  return n;
}

const { merchant: v2Merchant, fromEnv } = merchantFromEnv(process.env);
// API v3's key: WECHATPAY_APIV3_KEY (32 bytes), else the demo one.
const merchant: SandboxMerchant = { ...v2Merchant, apiV3Key: process.env.WECHATPAY_APIV3_KEY || DEMO_MERCHANT.apiV3Key };
if (Buffer.byteLength(merchant.apiV3Key as string) !== 32) fail('WECHATPAY_APIV3_KEY must be 32 bytes');
// The 公众号 and the mobile app under the same merchant: from the environment, or the demo ones.
const otherApps: SandboxMerchant[] = (
  [
    ['oa', 'WECHAT_OA_APPID', 'WECHAT_OA_APPSECRET'],
    ['open', 'WECHAT_OPEN_APPID', 'WECHAT_OPEN_APPSECRET'],
  ] as const
).map(([kind, idVar, secretVar]) => {
  const appid = process.env[idVar] || DEMO_APPS[kind].appid;
  const secret = process.env[secretVar] || DEMO_APPS[kind].secret;
  if (!process.env[idVar] !== !process.env[secretVar]) fail(`${idVar} and ${secretVar} go together`);
  return { appid, secret, mchId: merchant.mchId, key: merchant.key, kind, apiV3Key: merchant.apiV3Key as string };
});
const port = portFrom(process.env.SANDBOX_PORT);
const secapiPort = process.env.SANDBOX_SECAPI_PORT ? portFrom(process.env.SANDBOX_SECAPI_PORT) : port === 0 ? 0 : port + 1;
const host = process.env.HOST || '127.0.0.1';

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
try {
  sandbox = await startSandbox({
    merchants: [{ ...merchant, kind: 'mp' }, ...otherApps],
    port,
    secapiPort,
    host,
    pkiDir: resolve('.data', 'sandbox-pki'),
    logger: { level: process.env.LOG_LEVEL || 'warn' },
  });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  fail(e.code === 'EADDRINUSE' ? `port ${port} or ${secapiPort} is in use (set SANDBOX_PORT / SANDBOX_SECAPI_PORT)` : e.message);
  throw err;
}

say(`WeChat sandbox listening on ${sandbox.url}`);
say(`  api.weixin.qq.com:     ${sandbox.url}/sns/jscode2session, ${sandbox.url}/cgi-bin/token`);
say(`  api.mch.weixin.qq.com: ${sandbox.url}/pay/unifiedorder, /pay/orderquery, /pay/closeorder, /pay/refundquery, /pay/downloadbill`);
say(`  API v3:                ${sandbox.url}/v3/pay/transactions/jsapi|app|native, /v3/refund/domestic/refunds, /v3/bill/tradebill, /v3/certificates`);
say(`    WeChat Pay public key ${sandbox.certs.wechatpay.publicKeyId}: ${sandbox.certs.wechatpay.publicKeyPath}; platform certificate ${sandbox.certs.wechatpay.platformSerial}: ${sandbox.certs.wechatpay.platformCertPath}`);
say(`  /secapi/ (mutual TLS): ${sandbox.secapiUrl}/secapi/pay/refund (trust the CA ${sandbox.certs.caPath})`);
say(`  control:               ${sandbox.url}/sandbox/ (login-codes, cashier, faults, notifications, merchants)`);
say('  closeorder within 5 minutes of unifiedorder is refused (SYSTEMERROR), as WeChat documents;');
say(`    curl -XPOST ${sandbox.url}/sandbox/faults -H 'content-type: application/json' -d '{"closeorder":{"minAgeSeconds":0}}' turns that off`);
say(`Accepts appid ${merchant.appid} with mch_id ${merchant.mchId}`);
say(
  fromEnv
    ? '  API key from WECHATPAY_API_KEY, appsecret from WECHAT_APPSECRET'
    : "  API key: demo key (WeChat's public signing example); appsecret: demo appsecret (DEMO_MERCHANT in server/src/sandbox/demo.ts)",
);
say(`  and under the same mch_id: ${otherApps.map((a) => `${a.kind === 'oa' ? '公众号' : 'mobile app'} ${a.appid}`).join(', ')}`);
const files = sandbox.certs.merchants[merchant.mchId];
if (files) {
  say(`Merchant certificate (as WeChat delivers it; passphrase = mch_id):`);
  say(`  ${files.p12Path}`);
  say(`  ${files.certPath}`);
  say(`  ${files.keyPath}`);
}

let closing = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (closing) return;
  closing = true;
  say(`${signal}: closing the sandbox`);
  sandbox.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`sandbox: close failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
