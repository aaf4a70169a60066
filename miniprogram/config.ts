// Where the mini-program talks to, chosen by the running version itself:
// `wx.getAccountInfoSync().miniProgram.envVersion` (app.ts asks, and calls configFor).
//
//   develop  (DevTools, 开发版)  the local server and the WeChat sandbox: `develop` below, the one
//                                to edit (tests and a developer's machine change it freely)
//   trial    (体验版)            the merchant's HTTPS API, real WeChat Pay
//   release  (正式版)            the same
//
// A trial or release build can neither use the sandbox nor talk plain http: `live` has no sandbox
// settings at all, its apiBase is typed `https://…`, and configFor checks both again at run time
// (test/miniprogram/config.test.ts holds it to that). An unknown envVersion is treated as release.

export type EnvVersion = 'develop' | 'trial' | 'release';
export type HttpsUrl = `https://${string}`;

interface Common {
  /** seconds between status polls after paying; the last repeats */
  pollScheduleSeconds: readonly number[];
  /** give up polling (and say "do not pay again") after this long */
  maxConfirmMs: number;
  /** keep polling a FAILED order this long (the server may still see the payment) before offering 重新支付 */
  failedGraceMs: number;
  pageSize: number;
  subscribe: {
    /**
     * the subscribe-message template asked for before paying (wx.requestSubscribeMessage), the one the
     * server sends once the order is PAID (its WECHAT_SUBSCRIBE_TEMPLATE_PAID); '' asks nothing
     */
    paidTemplateId: string;
  };
}

export interface SandboxSettings {
  /**
   * true: log in with codes minted by the sandbox (DevTools' own wx.login codes mean nothing to it),
   * ask for the subscribe message with a simulated prompt, and pay a `sandbox: true` answer at the
   * simulated cashier. false: a develop build against a real server and real WeChat.
   */
  enabled: boolean;
  /** the sandbox's base URL (npm start runs it on SANDBOX_PORT, 3001 by default); pay responses may override it */
  base: string;
  /** the appid the sandbox signs for (WeChat's public documentation example); the cashier checks paySign with it */
  appId: string;
  /** the demo user the sandbox mints login codes for */
  openid: string;
}

export interface DevelopConfig extends Common {
  env: 'develop';
  /** the merchant server, no trailing slash (http is fine on a developer's machine) */
  apiBase: string;
  sandbox: SandboxSettings;
}

export interface LiveConfig extends Common {
  env: 'trial' | 'release';
  /** the merchant's API domain, listed as a request domain (request 合法域名) in the mini-program console */
  apiBase: HttpsUrl;
  /** never: a live build has no sandbox */
  sandbox: null;
}

export type AppConfig = DevelopConfig | LiveConfig;

/** What a live (trial or release) build may set: nothing that could point it at the sandbox. */
export interface LiveSettings {
  apiBase: HttpsUrl;
  paidTemplateId: string;
}

const common = {
  pollScheduleSeconds: [1, 1, 2, 2, 3, 5],
  maxConfirmMs: 60_000,
  failedGraceMs: 6_000,
  pageSize: 10,
};

/** The sandbox's demo template for "payment succeeded" (server/src/sandbox/subscribe.ts knows it). */
export const SANDBOX_PAID_TEMPLATE_ID = 'sandbox-paid-template-0000000000000000000001';

export const develop: DevelopConfig = {
  env: 'develop',
  apiBase: 'http://127.0.0.1:3000',
  sandbox: {
    enabled: true,
    base: 'http://127.0.0.1:3001',
    appId: 'wxd930ea5d5a258f4f',
    openid: 'o-devtools-demo-user',
  },
  ...common,
  pollScheduleSeconds: [...common.pollScheduleSeconds],
  subscribe: { paidTemplateId: SANDBOX_PAID_TEMPLATE_ID },
};

/** The merchant's: set apiBase to your HTTPS domain, and the template id from 订阅消息 in the console. */
export const live: Readonly<LiveSettings> = Object.freeze({
  apiBase: 'https://wxpay-mp.example.com',
  paidTemplateId: '',
});

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A live build's whole config, from its settings alone; refuses anything but an https base. */
export function liveConfig(env: 'trial' | 'release', settings: LiveSettings): LiveConfig {
  const base = String(settings.apiBase);
  // https, a host, and nothing a developer's machine would be (loopback, a LAN address)
  if (!/^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(base)) {
    throw new ConfigError(`a ${env} build needs an https apiBase (got "${base}")`);
  }
  return Object.freeze({
    env,
    apiBase: base.replace(/\/+$/, '') as HttpsUrl,
    sandbox: null,
    ...common,
    pollScheduleSeconds: Object.freeze([...common.pollScheduleSeconds]),
    subscribe: Object.freeze({ paidTemplateId: settings.paidTemplateId }),
  });
}

export function isEnvVersion(v: unknown): v is EnvVersion {
  return v === 'develop' || v === 'trial' || v === 'release';
}

/** The config of the running version; `develop` is only ever used for envVersion develop. */
export function configFor(envVersion: unknown, settings: { develop: DevelopConfig; live: LiveSettings } = { develop, live }): AppConfig {
  if (envVersion === 'develop') return settings.develop;
  return liveConfig(envVersion === 'trial' ? 'trial' : 'release', settings.live);
}

/** The sandbox settings a config allows: only a develop build's, and only when enabled. */
export function sandboxOf(config: AppConfig): SandboxSettings | null {
  return config.env === 'develop' && config.sandbox.enabled ? config.sandbox : null;
}
