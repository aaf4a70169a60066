// The only file that listens: boots local services and the sandbox when the config asks for them.
import closeWithGrace from 'close-with-grace';
import { resolve } from 'node:path';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startLocalServices } from './local-services.js';
import { startSandbox } from './sandbox/app.js';
import { sandboxMerchantsFor } from './sandbox/demo.js';
import { startAdminListener } from './admin/listener.js';

type Closer = () => Promise<void>;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`config error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  const closers: Closer[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  };
  const say = (line: string) => process.stdout.write(`${line}\n`);

  try {
    if (!config.mongodbUri || !config.redisUrl) {
      const local = await startLocalServices({
        dataDir: resolve('.data'),
        log: say,
        need: { mongo: !config.mongodbUri, redis: !config.redisUrl },
      });
      closers.push(() => local.stop());
      config = { ...config, mongodbUri: config.mongodbUri ?? local.mongoUri, redisUrl: config.redisUrl ?? local.redisUrl };
    }

    if (config.sandbox.enabled) {
      const sandbox = await startSandbox({
        port: config.sandbox.port,
        host: '127.0.0.1',
        // every configured app (demo ones for the kinds not given) under the one merchant
        merchants: sandboxMerchantsFor(config),
        logger: { level: config.logLevel === 'silent' ? 'silent' : 'warn' },
        // The sandbox's CA and merchant certificate, made once and kept.
        pkiDir: resolve('.data', 'sandbox-pki'),
        ...(config.sandbox.secapiPort !== undefined ? { secapiPort: config.sandbox.secapiPort } : {}),
      });
      closers.push(() => sandbox.close());
      const issued = sandbox.certs.merchants[config.pay.mchId];
      config = {
        ...config,
        wechat: { ...config.wechat, apiBase: sandbox.url, openBase: sandbox.url },
        pay: {
          ...config.pay,
          apiBase: sandbox.url,
          secapiBase: sandbox.secapiUrl,
          ca: sandbox.certs.ca,
          cert: config.pay.cert ?? (issued ? { p12Path: issued.p12Path, passphrase: issued.passphrase } : undefined),
          // API v3: the sandbox's WeChat Pay public key verifies its answers and notifications.
          ...(config.pay.v3
            ? { v3: { ...config.pay.v3, publicKey: config.pay.v3.publicKey ?? { id: sandbox.certs.wechatpay.publicKeyId, pem: sandbox.certs.wechatpay.publicKeyPem } } }
            : {}),
        },
      };
      say(`WeChat sandbox on ${sandbox.url} (appid ${config.wechat.appid}, mch_id ${config.pay.mchId})`);
      const others = Object.values(config.apps).filter((a) => a && a.appid !== config.wechat.appid);
      if (others.length > 0) say(`  apps: ${others.map((a) => `${a!.kind} ${a!.appid}`).join(', ')}`);
      say(`  /secapi/ (refunds) on ${sandbox.secapiUrl}, merchant certificate ${issued?.p12Path ?? '(none)'}`);
      if (config.pay.v3) say(`  API v3 /v3/ on ${sandbox.url}, signed with WeChat Pay public key ${sandbox.certs.wechatpay.publicKeyId} (${sandbox.certs.wechatpay.publicKeyPath})`);
    }

    const app = await buildApp({ config, jobs: { workers: true } });
    closers.push(() => app.close());
    const address = await app.listen({ port: config.port, host: config.host });
    say(`wxpay-mp listening on ${address} (${config.sandbox.enabled ? 'sandbox' : 'real WeChat'}, WeChat Pay API ${config.pay.apiVersion})`);
    if (config.admin.port !== undefined) {
      const admin = await startAdminListener(app, { port: config.admin.port, host: config.host });
      closers.push(() => admin.close());
      say(`  operators' console and /admin/api on ${admin.url}/admin/ only`);
    }
  } catch (err) {
    await closeAll();
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`failed to start: ${message}\n`);
    process.exit(1);
  }

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) process.stderr.write(`shutting down after an error: ${err.message}\n`);
    else if (signal) say(`${signal} received, shutting down`);
    await closeAll();
  });
}

await main();
