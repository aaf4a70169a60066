import fp from 'fastify-plugin';
import { instrumentMpClient, instrumentPayClient } from '../observability/wechat.js';
import { merchantAppids, type Config } from '../config.js';
import { createMpClient, createPayClient, loadMerchantCert, type MerchantCert, type MpClient, type NotifyMerchant, type PayClient, type PayClientOptions, type PayNotification, type RefundNotification } from '../wechat/index.js';
import { createClientSigner, type ClientSigner } from '../wechat/client-signer.js';
import type { RetryInfo } from '../wechat/transport.js';
import { certificateSerial } from '../wechat/v3/crypto.js';
import { createPayClientV3, createWechatpayVerifier, verifyPayNotifyV3, verifyRefundNotifyV3 } from '../wechat/v3/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    wechat: {
      pay: PayClient;
      mp: MpClient;
      /** what notify signatures are checked against */
      merchant: NotifyMerchant;
      /** signs the buyer's pay params (wx.requestPayment, APP PayReq) as each prepay was made */
      signer: ClientSigner;
      /** API v3 notifications, verified and decrypted; present whenever an APIv3 key is configured */
      v3?: V3Notifications;
    };
  }
}

/** What a v3 notification is once its signature verified and its resource decrypted: the v2 shapes, so that both settle alike. */
export interface V3Notifications {
  payment(input: V3NotifyInput): Promise<PayNotification>;
  refund(input: V3NotifyInput): Promise<RefundNotification>;
}
export interface V3NotifyInput {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface WechatPluginOptions {
  /** for tests: a shorter first retry delay */
  retryDelayMs?: number;
}

/** API v2's pay client as the server makes it from its config (and the merchant certificate loaded from it). */
export function createV2PayClient(config: Config, merchantCert: MerchantCert | undefined, tuning: Pick<PayClientOptions, 'retryDelayMs' | 'onRetry'> = {}): PayClient {
  return createPayClient({
    appid: config.wechat.appid,
    mchId: config.pay.mchId,
    key: config.pay.apiKey,
    signType: config.pay.signType,
    baseUrl: config.pay.apiBase,
    // Refunds (/secapi/) go over mutual TLS with the merchant certificate (checked at boot by loadConfig).
    ...(config.pay.secapiBase ? { secapiBaseUrl: config.pay.secapiBase } : {}),
    ...(config.pay.ca ? { ca: config.pay.ca } : {}),
    ...(merchantCert ? { cert: merchantCert } : {}),
    timeoutMs: 10_000,
    retries: 2,
    ...tuning,
  });
}

export default fp<WechatPluginOptions>(
  async (app, opts) => {
    const { config } = app;
    const merchantCert = config.pay.cert ? loadMerchantCert(config.pay.cert) : undefined;
    const onRetry = ({ api, attempt, delayMs, error }: RetryInfo) =>
      app.log.warn({ api, attempt, delayMs, code: error.code }, 'WeChat Pay call failed; retrying with the same parameters');
    const v3cfg = config.pay.v3;
    // API v3's client: the merchant's calls when v3 is chosen; on v2 with v3 keys set (the first step
    // of a move), only what verifies v3 notifications (and downloads platform certificates).
    const v3client =
      v3cfg && merchantCert
        ? createPayClientV3({
            appid: config.wechat.appid,
            mchId: config.pay.mchId,
            serialNo: v3cfg.serialNo ?? certificateSerial(merchantCert.cert),
            privateKey: merchantCert.key,
            apiV3Key: v3cfg.apiV3Key,
            baseUrl: config.pay.apiBase,
            ...(v3cfg.publicKey ? { publicKey: v3cfg.publicKey } : {}),
            // In sandbox mode before the sandbox handed over its public key (an app built without it):
            // its /v3/certificates, as a merchant still on platform certificates would.
            platformCertificates: v3cfg.platformCertificates || !v3cfg.publicKey,
            ...(config.pay.ca ? { ca: config.pay.ca } : {}),
            timeoutMs: 10_000,
            retries: 2,
            ...(opts.retryDelayMs !== undefined ? { retryDelayMs: opts.retryDelayMs } : {}),
            onRetry,
          })
        : undefined;
    const verifier = v3client?.verifier ?? (v3cfg?.publicKey ? createWechatpayVerifier({ publicKey: v3cfg.publicKey, apiV3Key: v3cfg.apiV3Key }) : undefined);
    let client: PayClient;
    if (config.pay.apiVersion === 'v3') {
      if (!v3client) throw new Error('API v3 needs the APIv3 key and the merchant certificate (loadConfig checks both)');
      client = v3client;
    } else {
      client = createV2PayClient(config, merchantCert, { retryDelayMs: opts.retryDelayMs, onRetry });
      if (v3client) app.addHook('onClose', async () => v3client.close());
    }
    const pay = instrumentPayClient(client, app.metrics);
    const v3merchant = v3cfg && verifier ? { mchId: config.pay.mchId, appids: merchantAppids(config), apiV3Key: v3cfg.apiV3Key, verifier } : undefined;
    const v3: V3Notifications | undefined = v3merchant && {
      payment: (input) => verifyPayNotifyV3(input, v3merchant),
      refund: (input) => verifyRefundNotifyV3(input, v3merchant),
    };
    app.addHook('onClose', async () => pay.close());
    const mp = instrumentMpClient(createMpClient({
      appid: config.wechat.appid,
      secret: config.wechat.appsecret,
      baseUrl: config.wechat.apiBase,
      redis: app.redis,
    }), app.metrics);
    const signer = createClientSigner({
      apiVersion: config.pay.apiVersion,
      mchId: config.pay.mchId,
      apiKey: config.pay.apiKey,
      v2SignType: config.pay.signType,
      ...(merchantCert ? { privateKey: merchantCert.key } : {}),
    });
    app.decorate('wechat', {
      pay,
      mp,
      signer,
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
      ...(v3 ? { v3 } : {}),
    });
  },
  { name: 'wechat', dependencies: ['redis', 'metrics'] },
);
