import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { PaidMessageConfig } from './notifications/paid-message.js';
import { DEFAULT_PAID_FIELDS, parseFieldMap } from './notifications/template.js';
import { DEMO_APPS, DEMO_MERCHANT } from './sandbox/demo.js';
import { loadMerchantCert, MerchantCertError } from './wechat/merchant-cert.js';
import type { SignType } from './wechat/sign.js';
import { certificateSerial, checkApiV3Key, publicKey as parsePublicKey, serialKey } from './wechat/v3/crypto.js';
import { readFileSync } from 'node:fs';

/** A user mistake in the environment: boot stops with this one-line message naming the variable. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable} ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** The kinds of app one merchant takes payments for: mini-program, 公众号 (official account), open-platform mobile app. */
export type AppKind = 'mp' | 'oa' | 'open';

export interface App {
  kind: AppKind;
  appid: string;
  /** never in a response or a log line */
  appsecret: string;
}

export type Apps = { [K in AppKind]?: App & { kind: K } };

/** The app this appid belongs to, when it is one of the merchant's. */
export function appByAppid(config: Pick<Config, 'apps'>, appid: string): App | undefined {
  return Object.values(config.apps).find((a) => a !== undefined && a.appid === appid);
}

/** Every appid of the merchant (notifies for any of them verify). */
export function merchantAppids(config: Pick<Config, 'apps'>): string[] {
  return Object.values(config.apps).flatMap((a) => (a ? [a.appid] : []));
}

export interface Config {
  port: number;
  host: string;
  logLevel: string;
  /** Fastify's trustProxy: false (direct), true (any proxy), or the addresses/CIDRs of your proxies */
  trustProxy: boolean | string[];
  /** unset: main.ts starts a local server and fills it in */
  mongodbUri?: string;
  redisUrl?: string;
  /** fail fast: how long a request waits on Redis (one command) and on an unreachable database */
  timeouts: { redisCommandMs: number; mongodbMs: number };
  /**
   * The apps under this merchant; any subset. The mini-program alone is the default; in sandbox mode
   * every kind is there (demo values for those not given).
   */
  apps: Apps;
  wechat: {
    /** the mini-program's appid when there is one, else the first app configured (公众号, then open) */
    appid: string;
    appsecret: string;
    apiBase: string;
    /** host of /connect/oauth2/authorize (open.weixin.qq.com; the sandbox in sandbox mode) */
    openBase: string;
  };
  pay: {
    mchId: string;
    /**
     * Which WeChat Pay API outgoing calls speak (WECHATPAY_API_VERSION). Notifications of both
     * versions are taken whenever their keys are configured, so that a shop can move between them
     * with notifications still in flight.
     */
    apiVersion: 'v2' | 'v3';
    /** the API v2 key; '' for a v3 merchant that gave none (the v2 notify endpoints then refuse everything) */
    apiKey: string;
    signType: SignType;
    /** API v3: present whenever an APIv3 key is configured (always in sandbox mode) */
    v3?: V3Config;
    /** unset in sandbox mode: the server's own /wxpay/notify is used */
    notifyUrl?: string;
    apiBase: string;
    /**
     * The merchant certificate refunds (/secapi/) need, as files; checked at boot (it loads, the
     * passphrase is right, the key is the certificate's). Unset in sandbox mode: main.ts fills in the
     * sandbox's own. Unset with real WeChat: refunds fail with NO_MERCHANT_CERT.
     */
    cert?: { p12Path: string; passphrase: string } | { certPath: string; keyPath: string };
    /** where WeChat posts refund results; default: refund-notify beside notifyUrl (…/wxpay/refund-notify); unset in sandbox mode: the server's own /wxpay/refund-notify */
    refundNotifyUrl?: string;
    /** base of /secapi/ paths (default apiBase); the sandbox's TLS listener in sandbox mode */
    secapiBase?: string;
    /** CA (PEM) to trust for the pay host instead of the system roots: the sandbox's own */
    ca?: string;
  };
  sandbox: {
    /** embed the WeChat sandbox and point both API bases at it */
    enabled: boolean;
    port: number;
    /** the sandbox's TLS listener for /secapi/ (default SANDBOX_PORT + 1; 0 when SANDBOX_PORT is 0) */
    secapiPort?: number;
  };
  session: {
    /** seconds */
    ttl: number;
  };
  orders: {
    /** minutes an order can be paid after creation */
    payWindowMinutes: number;
    /** seconds between two orderquery calls for one order from status polls */
    queryIntervalSeconds: number;
  };
  admin: {
    /** bearer token of the operators' API under /admin/api/; unset: that API is off */
    apiToken?: string;
    /** the operators' console under /admin/ (ADMIN_CONSOLE=off turns it off; the token API stays) */
    console: boolean;
    /** ADMIN_PORT: /admin/ and /admin/api/ answer only on this listener of their own */
    port?: number;
    /** the largest refund (fen) a support operator may issue; finance and admin have no limit */
    supportRefundLimit: number;
    /** how long an operator's console session lives without use */
    sessionTtlSeconds: number;
  };
  /** the payment-success subscribe message (server/src/notifications) */
  notifications: PaidMessageConfig;
  /** /docs (OpenAPI + its UI) and /metrics (Prometheus): server/src/observability */
  observability: {
    /** serve /docs: on unless NODE_ENV=production, where DOCS_ENABLED=1 turns it on */
    docsEnabled: boolean;
    /** bearer token of /metrics on the public port; unset (and no ADMIN_PORT): /metrics is off */
    metricsToken?: string;
    /** ADMIN_PORT (the console's own listener): /metrics answers only requests that came in on it */
    adminPort?: number;
  };
  reconciliation: {
    /** Beijing minute of the day (RECONCILE_AT) from which the previous day's bill is fetched */
    atMinute: number;
  };
  /** the 公众号 H5 checkout (server/src/h5) */
  h5: {
    /** the payment directory (支付授权目录): every page that starts a payment sits directly in it, e.g. /h5/ */
    payPath: string;
    /** the origin the pages are served from, as buyers reach it (OAuth redirect_uri, wx.config url); default: the request's own */
    publicUrl?: string;
  };
}

export interface V3Config {
  /** 32 bytes; decrypts notification resources and platform certificates; never logged */
  apiV3Key: string;
  /** WECHATPAY_MCH_SERIAL: the merchant API certificate's serial, checked against the certificate at boot */
  serialNo?: string;
  /** WeChat Pay's public key and its id (PUB_KEY_ID_…); filled in from the sandbox in sandbox mode */
  publicKey?: { id: string; pem: string };
  /** fetch and rotate platform certificates from /v3/certificates (merchants still on them) */
  platformCertificates: boolean;
  /** where v3 payment / refund notifications go; unset in sandbox mode: the server's own /wxpay/v3/… */
  notifyUrl?: string;
  refundNotifyUrl?: string;
}

// 0 asks the OS for any free port (tests, several local instances).
const port = (description: string) =>
  Type.String({ pattern: '^[0-9]{1,5}$', description });
const positiveInt = (description: string) => Type.String({ pattern: '^[1-9][0-9]{0,8}$', description });
const httpUrl = (description: string) => Type.String({ pattern: '^https?://[^\\s]+$', description });
const nonEmpty = (description: string) => Type.String({ minLength: 1, description });

// Every variable, as the environment gives it (strings), with what it must look like.
const EnvSchema = Type.Object({
  PORT: Type.Optional(port('must be a TCP port number (0-65535, 0 for any free port)')),
  HOST: Type.Optional(nonEmpty('must be a host name or address to listen on')),
  TRUST_PROXY: Type.Optional(
    Type.String({
      pattern: '^(true|false|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$',
      description: 'must be true, false, or a comma-separated list of proxy addresses/CIDRs',
    }),
  ),
  LOG_LEVEL: Type.Optional(
    Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { description: 'must be one of fatal, error, warn, info, debug, trace, silent' },
    ),
  ),
  MONGODB_URI: Type.Optional(
    Type.String({ pattern: '^mongodb(\\+srv)?://', description: 'must be a mongodb:// or mongodb+srv:// URI' }),
  ),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'must be a redis:// or rediss:// URL' })),
  REDIS_COMMAND_TIMEOUT_MS: Type.Optional(positiveInt('must be a positive whole number of milliseconds')),
  MONGODB_TIMEOUT_MS: Type.Optional(positiveInt('must be a positive whole number of milliseconds')),
  WECHAT_APPID: Type.Optional(
    Type.String({ pattern: '^wx[0-9a-zA-Z]{16}$', description: 'must be a mini-program appid (wx followed by 16 letters or digits)' }),
  ),
  WECHAT_APPSECRET: Type.Optional(
    Type.String({ pattern: '^[0-9a-zA-Z_-]{8,64}$', description: 'must be the appsecret (8 to 64 letters or digits)' }),
  ),
  WECHAT_OA_APPID: Type.Optional(
    Type.String({ pattern: '^wx[0-9a-zA-Z]{16}$', description: 'must be the 公众号 (official account) appid (wx followed by 16 letters or digits)' }),
  ),
  WECHAT_OA_APPSECRET: Type.Optional(
    Type.String({ pattern: '^[0-9a-zA-Z_-]{8,64}$', description: 'must be the 公众号 appsecret (8 to 64 letters or digits)' }),
  ),
  WECHAT_OPEN_APPID: Type.Optional(
    Type.String({ pattern: '^wx[0-9a-zA-Z]{16}$', description: 'must be the open-platform mobile app appid (wx followed by 16 letters or digits)' }),
  ),
  WECHAT_OPEN_APPSECRET: Type.Optional(
    Type.String({ pattern: '^[0-9a-zA-Z_-]{8,64}$', description: 'must be the open-platform mobile app appsecret (8 to 64 letters or digits)' }),
  ),
  WECHAT_OPEN_BASE: Type.Optional(httpUrl('must be an http(s) URL (the host of /connect/oauth2/authorize)')),
  WECHATPAY_MCH_ID: Type.Optional(Type.String({ pattern: '^[0-9]{6,32}$', description: 'must be a merchant id (digits)' })),
  WECHATPAY_API_KEY: Type.Optional(
    Type.String({ pattern: '^[0-9a-zA-Z]{32}$', description: 'must be the 32-character API v2 key' }),
  ),
  WECHATPAY_API_VERSION: Type.Optional(Type.Union([Type.Literal('v2'), Type.Literal('v3')], { description: 'must be v2 or v3' })),
  WECHATPAY_APIV3_KEY: Type.Optional(nonEmpty('must be the 32-character APIv3 key set on the merchant platform (API安全 → APIv3密钥)')),
  WECHATPAY_MCH_SERIAL: Type.Optional(
    Type.String({ pattern: '^[0-9A-Fa-f]{8,64}$', description: 'must be the merchant API certificate serial number (hex, as the merchant platform shows it)' }),
  ),
  WECHATPAY_PUBLIC_KEY_PEM: Type.Optional(nonEmpty('must be the path of WeChat Pay\'s public key file (pub_key.pem)')),
  WECHATPAY_PUBLIC_KEY_ID: Type.Optional(
    Type.String({ pattern: '^PUB_KEY_ID_[0-9A-Za-z]{1,64}$', description: 'must be the WeChat Pay public key id (PUB_KEY_ID_ followed by digits)' }),
  ),
  WECHATPAY_PLATFORM_CERTS: Type.Optional(
    Type.Union([Type.Literal('0'), Type.Literal('1'), Type.Literal('true'), Type.Literal('false')], { description: 'must be 1 or 0' }),
  ),
  WECHATPAY_V3_NOTIFY_URL: Type.Optional(
    Type.String({ pattern: '^https?://[^\\s?#]+$', maxLength: 255, description: 'must be an absolute http(s) URL without a query string (at most 255 characters)' }),
  ),
  WECHATPAY_V3_REFUND_NOTIFY_URL: Type.Optional(
    Type.String({ pattern: '^https?://[^\\s?#]+$', maxLength: 256, description: 'must be an absolute http(s) URL without a query string (at most 256 characters)' }),
  ),
  WECHATPAY_SIGN_TYPE: Type.Optional(
    Type.Union([Type.Literal('MD5'), Type.Literal('HMAC-SHA256')], { description: 'must be MD5 or HMAC-SHA256' }),
  ),
  WECHATPAY_NOTIFY_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^\\s?#]+$',
      maxLength: 256,
      description: 'must be an absolute http(s) URL without a query string (at most 256 characters)',
    }),
  ),
  WECHAT_API_BASE: Type.Optional(httpUrl('must be an http(s) URL')),
  WECHATPAY_API_BASE: Type.Optional(httpUrl('must be an http(s) URL')),
  WECHAT_SANDBOX: Type.Optional(
    Type.Union([Type.Literal('0'), Type.Literal('1'), Type.Literal('true'), Type.Literal('false')], {
      description: 'must be 1 or 0',
    }),
  ),
  SANDBOX_PORT: Type.Optional(port('must be a TCP port number (0-65535, 0 for any free port)')),
  SANDBOX_SECAPI_PORT: Type.Optional(port('must be a TCP port number (0-65535, 0 for any free port)')),
  WECHATPAY_CERT_P12: Type.Optional(nonEmpty('must be the path of apiclient_cert.p12')),
  WECHATPAY_CERT_P12_PASSPHRASE: Type.Optional(nonEmpty('must be the passphrase of apiclient_cert.p12 (WeChat\'s is the mch_id)')),
  WECHATPAY_CERT_PEM: Type.Optional(nonEmpty('must be the path of apiclient_cert.pem')),
  WECHATPAY_KEY_PEM: Type.Optional(nonEmpty('must be the path of apiclient_key.pem')),
  WECHATPAY_REFUND_NOTIFY_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^\\s?#]+$',
      maxLength: 256,
      description: 'must be an absolute http(s) URL without a query string (at most 256 characters)',
    }),
  ),
  SESSION_TTL_SECONDS: Type.Optional(positiveInt('must be a positive whole number of seconds')),
  ORDER_PAY_WINDOW_MINUTES: Type.Optional(positiveInt('must be a positive whole number of minutes')),
  ORDER_QUERY_INTERVAL_SECONDS: Type.Optional(positiveInt('must be a positive whole number of seconds')),
  ADMIN_API_TOKEN: Type.Optional(
    Type.String({ pattern: '^[\\x21-\\x7e]{32,256}$', description: 'must be 32 to 256 printable characters (make one with: openssl rand -base64 32)' }),
  ),
  NODE_ENV: Type.Optional(Type.String({ description: 'is the Node.js environment name (production turns /docs off)' })),
  DOCS_ENABLED: Type.Optional(
    Type.Union([Type.Literal('0'), Type.Literal('1'), Type.Literal('true'), Type.Literal('false')], { description: 'must be 1 or 0' }),
  ),
  METRICS_TOKEN: Type.Optional(
    Type.String({ pattern: '^[\\x21-\\x7e]{32,256}$', description: 'must be 32 to 256 printable characters (make one with: openssl rand -base64 32)' }),
  ),
  ADMIN_PORT: Type.Optional(port('must be a TCP port number (0-65535, 0 for any free port)')),
  ADMIN_CONSOLE: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')], { description: 'must be on or off' })),
  ADMIN_SUPPORT_REFUND_LIMIT_FEN: Type.Optional(positiveInt('must be a positive whole number of fen')),
  ADMIN_SESSION_TTL_SECONDS: Type.Optional(positiveInt('must be a positive whole number of seconds')),
  WECHAT_SUBSCRIBE_TEMPLATE_PAID: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$', description: 'must be a subscribe-message template id (letters, digits, _ and -)' }),
  ),
  WECHAT_SUBSCRIBE_TEMPLATE_PAID_FIELDS: Type.Optional(nonEmpty('must map template keywords to facts, e.g. character_string1=outTradeNo,amount2=amount')),
  RECONCILE_AT: Type.Optional(
    Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'must be a Beijing time of day written HH:MM (e.g. 10:30)' }),
  ),
  WECHAT_SUBSCRIBE_STATE: Type.Optional(
    Type.Union([Type.Literal('developer'), Type.Literal('trial'), Type.Literal('formal')], { description: 'must be developer, trial or formal' }),
  ),
  H5_PAY_PATH: Type.Optional(
    Type.String({ pattern: '^/([A-Za-z0-9_-]+/)+$', maxLength: 128, description: 'must be a path of one or more directories that starts and ends with /, e.g. /h5/ or /pay/h5/' }),
  ),
  H5_PUBLIC_URL: Type.Optional(
    Type.String({ pattern: '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$', description: 'must be an origin without a path, e.g. https://shop.example.com' }),
  ),
});
type Env = Static<typeof EnvSchema>;

const CREDENTIALS = ['WECHAT_APPID', 'WECHAT_APPSECRET', 'WECHATPAY_MCH_ID', 'WECHATPAY_API_KEY'] as const;
const MERCHANT = ['WECHATPAY_MCH_ID', 'WECHATPAY_API_KEY'] as const;
// A v3 merchant needs no v2 key (merchants opening an account today may never set one).
const CREDENTIALS_V3 = ['WECHAT_APPID', 'WECHAT_APPSECRET', 'WECHATPAY_MCH_ID', 'WECHATPAY_APIV3_KEY'] as const;
const MERCHANT_V3 = ['WECHATPAY_MCH_ID', 'WECHATPAY_APIV3_KEY'] as const;
const APP_VARS = [
  { kind: 'mp', appid: 'WECHAT_APPID', secret: 'WECHAT_APPSECRET', what: 'the mini-program' },
  { kind: 'oa', appid: 'WECHAT_OA_APPID', secret: 'WECHAT_OA_APPSECRET', what: 'the 公众号 (official account)' },
  { kind: 'open', appid: 'WECHAT_OPEN_APPID', secret: 'WECHAT_OPEN_APPSECRET', what: 'the open-platform mobile app' },
] as const;
// Any of these set means "a real merchant" unless WECHAT_SANDBOX says otherwise.
const ANY_CREDENTIAL = [...CREDENTIALS, 'WECHAT_OA_APPID', 'WECHAT_OA_APPSECRET', 'WECHAT_OPEN_APPID', 'WECHAT_OPEN_APPSECRET'] as const;

/**
 * The apps of the merchant: each one given whole (appid and secret) or not at all. In sandbox mode,
 * the kinds not given get the demo values, so that every channel can be walked with no setup.
 */
function loadApps(env: Env, sandbox: boolean): Apps {
  const apps: Apps = {};
  const seen = new Map<string, string>();
  for (const v of APP_VARS) {
    const appid = env[v.appid];
    const secret = env[v.secret];
    if (appid !== undefined && secret === undefined) throw new ConfigError(v.secret, `is required with ${v.appid} (${v.what} is incomplete)`);
    if (secret !== undefined && appid === undefined) throw new ConfigError(v.appid, `is required with ${v.secret} (${v.what} is incomplete)`);
    let app: App | undefined;
    if (appid !== undefined && secret !== undefined) app = { kind: v.kind, appid, appsecret: secret };
    else if (sandbox) app = { kind: v.kind, appid: DEMO_APPS[v.kind].appid, appsecret: DEMO_APPS[v.kind].secret };
    if (!app) continue;
    const other = seen.get(app.appid);
    if (other !== undefined) throw new ConfigError(v.appid, `must differ from ${other}: each app has its own appid`);
    seen.set(app.appid, v.appid);
    (apps as Record<string, App>)[v.kind] = app;
  }
  return apps;
}

function firstError(env: Record<string, unknown>): ConfigError | undefined {
  for (const err of Value.Errors(EnvSchema, env)) {
    const variable = err.path.replace(/^\//, '').split('/')[0] ?? '';
    const schema = (EnvSchema.properties as Record<string, TSchema>)[variable];
    const shown = typeof err.value === 'string' && !/SECRET|KEY|TOKEN|PASS/.test(variable) ? ` (got "${err.value}")` : '';
    return new ConfigError(variable, `${schema?.description ?? err.message}${shown}`);
  }
  return undefined;
}

function toPort(value: string | undefined, fallback: number, variable: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (n > 65535) throw new ConfigError(variable, `must be a TCP port number (0-65535, 0 for any free port) (got "${value}")`);
  return n;
}

/**
 * Reads and validates the environment once, at boot. Empty strings count as unset,
 * so that `FOO= npm start` behaves like not setting FOO.
 */
export function loadConfig(source: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key];
    if (value !== undefined && value.trim() !== '') raw[key] = value.trim();
  }
  const error = firstError(raw);
  if (error) throw error;
  const env = raw as Env;

  const given = CREDENTIALS.filter((name) => env[name] !== undefined);
  const sandbox =
    env.WECHAT_SANDBOX === undefined
      ? ANY_CREDENTIAL.every((name) => env[name] === undefined)
      : env.WECHAT_SANDBOX === '1' || env.WECHAT_SANDBOX === 'true';

  if (!sandbox) {
    // One merchant and at least one whole app; the mini-program is the default app.
    const anyApp = APP_VARS.some((v) => env[v.appid] !== undefined || env[v.secret] !== undefined);
    const v3 = env.WECHATPAY_API_VERSION === 'v3';
    for (const name of anyApp ? (v3 ? MERCHANT_V3 : MERCHANT) : v3 ? CREDENTIALS_V3 : CREDENTIALS) {
      if (env[name] === undefined) {
        throw new ConfigError(name, 'is required to talk to real WeChat (or set WECHAT_SANDBOX=1 to use the sandbox)');
      }
    }
    if (env.WECHATPAY_NOTIFY_URL === undefined && !(v3 && env.WECHATPAY_V3_NOTIFY_URL !== undefined)) {
      throw new ConfigError('WECHATPAY_NOTIFY_URL', 'is required with real WeChat: the https URL WeChat posts payment results to');
    }
    if (env.WECHATPAY_NOTIFY_URL !== undefined && !env.WECHATPAY_NOTIFY_URL.startsWith('https://')) {
      throw new ConfigError('WECHATPAY_NOTIFY_URL', 'must be an https URL with real WeChat');
    }
  } else if (given.length > 0 && given.length < CREDENTIALS.length) {
    // Half a merchant in the sandbox would silently mix demo and real values.
    const missing = CREDENTIALS.find((name) => env[name] === undefined)!;
    throw new ConfigError(missing, `is required when ${given.join(', ')} ${given.length > 1 ? 'are' : 'is'} set (give all four or none)`);
  }

  if (env.ORDER_PAY_WINDOW_MINUTES !== undefined && (Number(env.ORDER_PAY_WINDOW_MINUTES) < 10 || Number(env.ORDER_PAY_WINDOW_MINUTES) > 1440)) {
    // WeChat needs time_expire at least 5 minutes ahead when a payment starts.
    throw new ConfigError('ORDER_PAY_WINDOW_MINUTES', `must be from 10 to 1440 minutes (got "${env.ORDER_PAY_WINDOW_MINUTES}")`);
  }
  const sandboxPort = toPort(env.SANDBOX_PORT, 3001, 'SANDBOX_PORT');
  const secapiPort = toPort(env.SANDBOX_SECAPI_PORT, sandboxPort === 0 ? 0 : sandboxPort + 1, 'SANDBOX_SECAPI_PORT');
  const mchId = env.WECHATPAY_MCH_ID ?? DEMO_MERCHANT.mchId;
  const cert = merchantCert(env, mchId);
  const apiVersion = env.WECHATPAY_API_VERSION ?? 'v2';
  const v3 = v3Config(env, sandbox, cert);
  const refundNotifyUrl = env.WECHATPAY_REFUND_NOTIFY_URL ?? (env.WECHATPAY_NOTIFY_URL ? new URL('refund-notify', env.WECHATPAY_NOTIFY_URL).href : undefined);
  if (!sandbox && refundNotifyUrl && !refundNotifyUrl.startsWith('https://')) {
    throw new ConfigError('WECHATPAY_REFUND_NOTIFY_URL', 'must be an https URL with real WeChat');
  }
  const sandboxBase = `http://127.0.0.1:${sandboxPort}`;
  const apps = loadApps(env, sandbox);
  const primary = (apps.mp ?? apps.oa ?? apps.open) as App;
  return {
    port: toPort(env.PORT, 3000, 'PORT'),
    host: env.HOST ?? '127.0.0.1',
    logLevel: env.LOG_LEVEL ?? 'info',
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    mongodbUri: env.MONGODB_URI,
    redisUrl: env.REDIS_URL,
    timeouts: {
      redisCommandMs: Number(env.REDIS_COMMAND_TIMEOUT_MS ?? 2_000),
      mongodbMs: Number(env.MONGODB_TIMEOUT_MS ?? 3_000),
    },
    apps,
    wechat: {
      appid: primary.appid,
      appsecret: primary.appsecret,
      apiBase: sandbox ? sandboxBase : (env.WECHAT_API_BASE ?? 'https://api.weixin.qq.com'),
      openBase: sandbox ? sandboxBase : (env.WECHAT_OPEN_BASE ?? 'https://open.weixin.qq.com'),
    },
    pay: {
      mchId,
      apiVersion,
      apiKey: env.WECHATPAY_API_KEY ?? (sandbox ? DEMO_MERCHANT.key : ''),
      signType: env.WECHATPAY_SIGN_TYPE ?? 'MD5',
      notifyUrl: env.WECHATPAY_NOTIFY_URL,
      apiBase: sandbox ? sandboxBase : (env.WECHATPAY_API_BASE ?? 'https://api.mch.weixin.qq.com'),
      ...(cert ? { cert } : {}),
      ...(refundNotifyUrl ? { refundNotifyUrl } : {}),
      ...(v3 ? { v3 } : {}),
    },
    sandbox: { enabled: sandbox, port: sandboxPort, secapiPort },
    session: { ttl: Number(env.SESSION_TTL_SECONDS ?? 7 * 24 * 3600) },
    orders: {
      payWindowMinutes: Number(env.ORDER_PAY_WINDOW_MINUTES ?? 30),
      queryIntervalSeconds: Number(env.ORDER_QUERY_INTERVAL_SECONDS ?? 5),
    },
    admin: {
      ...(env.ADMIN_API_TOKEN ? { apiToken: env.ADMIN_API_TOKEN } : {}),
      console: env.ADMIN_CONSOLE !== 'off',
      ...(env.ADMIN_PORT !== undefined ? { port: toPort(env.ADMIN_PORT, 0, 'ADMIN_PORT') } : {}),
      supportRefundLimit: Number(env.ADMIN_SUPPORT_REFUND_LIMIT_FEN ?? 20_000),
      sessionTtlSeconds: Number(env.ADMIN_SESSION_TTL_SECONDS ?? 8 * 3600),
    },
    notifications: {
      ...(env.WECHAT_SUBSCRIBE_TEMPLATE_PAID ? { templateId: env.WECHAT_SUBSCRIBE_TEMPLATE_PAID } : {}),
      fields: paidFields(env.WECHAT_SUBSCRIBE_TEMPLATE_PAID_FIELDS),
      // the message opens the version the server serves: the develop build in sandbox mode
      miniprogramState: env.WECHAT_SUBSCRIBE_STATE ?? (sandbox ? 'developer' : 'formal'),
    },
    observability: {
      docsEnabled: env.DOCS_ENABLED !== undefined ? env.DOCS_ENABLED === '1' || env.DOCS_ENABLED === 'true' : env.NODE_ENV !== 'production',
      ...(env.METRICS_TOKEN ? { metricsToken: env.METRICS_TOKEN } : {}),
      ...(env.ADMIN_PORT !== undefined ? { adminPort: toPort(env.ADMIN_PORT, 0, 'ADMIN_PORT') } : {}),
    },
    reconciliation: { atMinute: minuteOfDay(env.RECONCILE_AT ?? '10:30') },
    h5: { payPath: env.H5_PAY_PATH ?? '/h5/', ...(env.H5_PUBLIC_URL ? { publicUrl: env.H5_PUBLIC_URL } : {}) },
  };
}

function minuteOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

function paidFields(value: string | undefined) {
  if (value === undefined) return DEFAULT_PAID_FIELDS;
  try {
    return parseFieldMap(value);
  } catch (err) {
    throw new ConfigError('WECHAT_SUBSCRIBE_TEMPLATE_PAID_FIELDS', (err as Error).message);
  }
}

/**
 * The merchant certificate variables, checked by loading the files once (a wrong passphrase or a key
 * of another certificate stops boot here, not at the first refund). Messages name the variable and
 * the file, never the passphrase or the key.
 */
function merchantCert(env: Env, mchId: string): Config['pay']['cert'] {
  const p12 = env.WECHATPAY_CERT_P12;
  const pem = env.WECHATPAY_CERT_PEM;
  const key = env.WECHATPAY_KEY_PEM;
  if (p12 && (pem || key)) throw new ConfigError('WECHATPAY_CERT_P12', 'and WECHATPAY_CERT_PEM / WECHATPAY_KEY_PEM are alternatives: give one of them');
  if (!p12 && !pem && !key) {
    if (env.WECHATPAY_CERT_P12_PASSPHRASE) throw new ConfigError('WECHATPAY_CERT_P12_PASSPHRASE', 'is set but WECHATPAY_CERT_P12 is not');
    return undefined;
  }
  if (!p12 && !pem) throw new ConfigError('WECHATPAY_CERT_PEM', 'is required with WECHATPAY_KEY_PEM (the path of apiclient_cert.pem)');
  if (!p12 && !key) throw new ConfigError('WECHATPAY_KEY_PEM', 'is required with WECHATPAY_CERT_PEM (the path of apiclient_key.pem)');
  const source = p12 ? { p12Path: p12, passphrase: env.WECHATPAY_CERT_P12_PASSPHRASE ?? mchId } : { certPath: pem as string, keyPath: key as string };
  try {
    loadMerchantCert(source);
  } catch (err) {
    if (!(err instanceof MerchantCertError)) throw err;
    const variable = p12
      ? err.code === 'CERT_BAD_PASSPHRASE'
        ? env.WECHATPAY_CERT_P12_PASSPHRASE
          ? 'WECHATPAY_CERT_P12_PASSPHRASE'
          : 'WECHATPAY_CERT_P12'
        : 'WECHATPAY_CERT_P12'
      : err.part === 'key'
        ? 'WECHATPAY_KEY_PEM'
        : 'WECHATPAY_CERT_PEM';
    const hint = err.code === 'CERT_BAD_PASSPHRASE' && !env.WECHATPAY_CERT_P12_PASSPHRASE ? ' (tried the mch_id; set WECHATPAY_CERT_P12_PASSPHRASE if yours differs)' : '';
    throw new ConfigError(variable, `is not usable: ${err.message}${hint}`);
  }
  return source;
}

/**
 * API v3's keys, checked once: the APIv3 key is 32 bytes, the serial is the certificate's, WeChat
 * Pay's public key loads and comes with its id (or platform certificates are asked for). Present
 * whenever an APIv3 key is given; required with WECHATPAY_API_VERSION=v3; always there in sandbox mode
 * (demo APIv3 key; the sandbox hands over its public key once it runs).
 */
function v3Config(env: Env, sandbox: boolean, cert: Config['pay']['cert']): V3Config | undefined {
  const wanted = env.WECHATPAY_API_VERSION === 'v3';
  const key = env.WECHATPAY_APIV3_KEY ?? (sandbox ? DEMO_MERCHANT.apiV3Key : undefined);
  if (key === undefined) {
    for (const name of ['WECHATPAY_PUBLIC_KEY_PEM', 'WECHATPAY_PUBLIC_KEY_ID', 'WECHATPAY_MCH_SERIAL', 'WECHATPAY_V3_NOTIFY_URL'] as const) {
      if (env[name] !== undefined) throw new ConfigError('WECHATPAY_APIV3_KEY', `is required with ${name} (API v3 needs the APIv3 key)`);
    }
    if (wanted) throw new ConfigError('WECHATPAY_APIV3_KEY', 'is required with WECHATPAY_API_VERSION=v3 (the 32-character key set on the merchant platform under API安全)');
    return undefined;
  }
  try {
    checkApiV3Key(key);
  } catch {
    throw new ConfigError('WECHATPAY_APIV3_KEY', `must be exactly 32 bytes (got ${Buffer.byteLength(key)})`);
  }
  if (!sandbox && (wanted || env.WECHATPAY_MCH_SERIAL) && !cert) {
    throw new ConfigError('WECHATPAY_KEY_PEM', 'is required with WECHATPAY_API_VERSION=v3: API v3 signs every request with the merchant private key (apiclient_key.pem, with apiclient_cert.pem in WECHATPAY_CERT_PEM, or WECHATPAY_CERT_P12)');
  }
  if (env.WECHATPAY_MCH_SERIAL && cert) {
    const actual = certificateSerial(loadMerchantCert(cert).cert);
    if (serialKey(actual) !== serialKey(env.WECHATPAY_MCH_SERIAL)) {
      throw new ConfigError('WECHATPAY_MCH_SERIAL', `does not match the merchant certificate (its serial is ${actual}): the private key would sign for another certificate`);
    }
  }
  if ((env.WECHATPAY_PUBLIC_KEY_PEM === undefined) !== (env.WECHATPAY_PUBLIC_KEY_ID === undefined)) {
    const missing = env.WECHATPAY_PUBLIC_KEY_PEM === undefined ? 'WECHATPAY_PUBLIC_KEY_PEM' : 'WECHATPAY_PUBLIC_KEY_ID';
    const other = missing === 'WECHATPAY_PUBLIC_KEY_PEM' ? 'WECHATPAY_PUBLIC_KEY_ID' : 'WECHATPAY_PUBLIC_KEY_PEM';
    throw new ConfigError(missing, `is required with ${other} (WeChat Pay's public key and its id go together)`);
  }
  let publicKey: V3Config['publicKey'];
  if (env.WECHATPAY_PUBLIC_KEY_PEM) {
    let pem: string;
    try {
      pem = readFileSync(env.WECHATPAY_PUBLIC_KEY_PEM, 'utf8');
    } catch (err) {
      throw new ConfigError('WECHATPAY_PUBLIC_KEY_PEM', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${env.WECHATPAY_PUBLIC_KEY_PEM})`);
    }
    try {
      const k = parsePublicKey(pem);
      if (k.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    } catch {
      throw new ConfigError('WECHATPAY_PUBLIC_KEY_PEM', `is not an RSA public key in PEM (${env.WECHATPAY_PUBLIC_KEY_PEM}): download pub_key.pem from the merchant platform (API安全 → 微信支付公钥)`);
    }
    publicKey = { id: env.WECHATPAY_PUBLIC_KEY_ID as string, pem };
  }
  const platformCertificates = env.WECHATPAY_PLATFORM_CERTS === '1' || env.WECHATPAY_PLATFORM_CERTS === 'true';
  // /v3/certificates is a signed call: on v2 (notifications only) the certificate is otherwise optional.
  if (!sandbox && platformCertificates && !cert) {
    throw new ConfigError('WECHATPAY_PLATFORM_CERTS', 'needs the merchant API certificate (WECHATPAY_CERT_PEM + WECHATPAY_KEY_PEM, or WECHATPAY_CERT_P12): platform certificates are downloaded with a signed call');
  }
  if (!sandbox && !publicKey && !platformCertificates) {
    throw new ConfigError(
      'WECHATPAY_PUBLIC_KEY_PEM',
      'is required with WECHATPAY_APIV3_KEY: WeChat Pay\'s public key (pub_key.pem, with its PUB_KEY_ID_… in WECHATPAY_PUBLIC_KEY_ID) verifies every answer and notification; merchants still on platform certificates set WECHATPAY_PLATFORM_CERTS=1 instead',
    );
  }
  const base = env.WECHATPAY_NOTIFY_URL;
  const notifyUrl = env.WECHATPAY_V3_NOTIFY_URL ?? (base ? new URL('v3/notify', base).href : undefined);
  const refundNotifyUrl = env.WECHATPAY_V3_REFUND_NOTIFY_URL ?? (base ? new URL('v3/refund-notify', base).href : undefined);
  if (!sandbox) {
    if (!notifyUrl) throw new ConfigError('WECHATPAY_V3_NOTIFY_URL', 'is required with API v3 (or WECHATPAY_NOTIFY_URL, beside which …/v3/notify is used)');
    for (const [name, url] of [['WECHATPAY_V3_NOTIFY_URL', notifyUrl], ['WECHATPAY_V3_REFUND_NOTIFY_URL', refundNotifyUrl]] as const) {
      if (url && !url.startsWith('https://')) throw new ConfigError(name, 'must be an https URL with real WeChat');
    }
  }
  return {
    apiV3Key: key,
    ...(env.WECHATPAY_MCH_SERIAL ? { serialNo: env.WECHATPAY_MCH_SERIAL.toUpperCase() } : {}),
    ...(publicKey ? { publicKey } : {}),
    platformCertificates,
    ...(notifyUrl ? { notifyUrl } : {}),
    ...(refundNotifyUrl ? { refundNotifyUrl } : {}),
  };
}

// Trusting X-Forwarded-For from anyone would let a client pick the IP that rate limits and
// spbill_create_ip see, so the default trusts no proxy.
function parseTrustProxy(value: string | undefined): boolean | string[] {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  return value.split(',');
}
