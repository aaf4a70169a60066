import fp from 'fastify-plugin';
import { merchantAppids } from '../config.js';
import { createMpClient, createPayClient, loadMerchantCert, type MpClient, type NotifyMerchant, type PayClient } from '../wechat/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    wechat: {
      pay: PayClient;
      mp: MpClient;
      /** what notify signatures are checked against */
      merchant: NotifyMerchant;
    };
  }
}

export interface WechatPluginOptions {
  /** for tests: a shorter first retry delay */
  retryDelayMs?: number;
}

export default fp<WechatPluginOptions>(
  async (app, opts) => {
    const { config } = app;
    const pay = createPayClient({
      appid: config.wechat.appid,
      mchId: config.pay.mchId,
      key: config.pay.apiKey,
      signType: config.pay.signType,
      baseUrl: config.pay.apiBase,
      // Refunds (/secapi/) go over mutual TLS with the merchant certificate (checked at boot by loadConfig).
      ...(config.pay.secapiBase ? { secapiBaseUrl: config.pay.secapiBase } : {}),
      ...(config.pay.ca ? { ca: config.pay.ca } : {}),
      ...(config.pay.cert ? { cert: loadMerchantCert(config.pay.cert) } : {}),
      timeoutMs: 10_000,
      retries: 2,
      retryDelayMs: opts.retryDelayMs,
      onRetry: ({ api, attempt, delayMs, error }) =>
        app.log.warn({ api, attempt, delayMs, code: error.code }, 'WeChat Pay call failed; retrying with the same parameters'),
    });
    app.addHook('onClose', async () => pay.close());
    const mp = createMpClient({
      appid: config.wechat.appid,
      secret: config.wechat.appsecret,
      baseUrl: config.wechat.apiBase,
      redis: app.redis,
    });
    app.decorate('wechat', {
      pay,
      mp,
      // Both sign types verify (keyed with our API key alike); settle then checks the order's own prepays used it.
      merchant: {
        appid: config.wechat.appid,
        // a notify for any of the merchant's apps verifies; settle then checks it is the order's
        appids: merchantAppids(config),
        mchId: config.pay.mchId,
        key: config.pay.apiKey,
        signType: config.pay.signType,
        signTypes: ['MD5', 'HMAC-SHA256'],
      },
    });
  },
  { name: 'wechat', dependencies: ['redis'] },
);
