/**
 * The merchant the sandbox and `npm start` use when no credentials are given: the public
 * example of WeChat Pay's signing documentation (appid, mch_id and key as printed there),
 * plus a demo appsecret. None of these is a secret of anyone's: they exist to be shown.
 */
export const DEMO_MERCHANT = {
  appid: 'wxd930ea5d5a258f4f',
  mchId: '10000100',
  key: '192006250b4c09247ec02edce69f6a2d',
  secret: 'sandbox-demo-appsecret',
  /** API v3's 32-byte key (a demo value; a real one is set on the merchant platform, never shown again) */
  apiV3Key: 'SandboxDemoApiV3Key0123456789abc',
} as const;

/**
 * Demo apps under the demo merchant, one per kind (made-up appids in WeChat's shape, demo secrets):
 * in sandbox mode every channel works with no setup. The mini-program's is DEMO_MERCHANT's.
 */
export const DEMO_APPS = {
  mp: { appid: DEMO_MERCHANT.appid, secret: DEMO_MERCHANT.secret },
  oa: { appid: 'wx0a5a0dbe0d0e0f01', secret: 'sandbox-demo-oa-appsecret' },
  open: { appid: 'wx0be1a2b3c4d5e6f7', secret: 'sandbox-demo-open-appsecret' },
} as const;

/**
 * The sandbox's merchant entries for a config: every configured app bound to the one merchant
 * (per-appid openids, as at WeChat), each knowing what kind of app it is, with the APIv3 key when
 * the config has one (config.pay.v3).
 */
export function sandboxMerchantsFor(config: {
  apps: Partial<Record<'mp' | 'oa' | 'open', { kind: 'mp' | 'oa' | 'open'; appid: string; appsecret: string }>>;
  pay: { mchId: string; apiKey: string; v3?: { apiV3Key: string } };
}): { appid: string; mchId: string; key: string; secret: string; kind: 'mp' | 'oa' | 'open'; apiV3Key?: string }[] {
  const apiV3Key = config.pay.v3?.apiV3Key;
  return Object.values(config.apps).flatMap((a) =>
    a ? [{ appid: a.appid, mchId: config.pay.mchId, key: config.pay.apiKey, secret: a.appsecret, kind: a.kind, ...(apiV3Key ? { apiV3Key } : {}) }] : [],
  );
}
