import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { buildApp, type AppOptions } from '../../server/src/app.js';
import type { Config } from '../../server/src/config.js';
import { loggerOptions } from '../../server/src/logger.js';
import { startSandbox, type SandboxCerts } from '../../server/src/sandbox/app.js';
import { DEMO_MERCHANT, sandboxMerchantsFor } from '../../server/src/sandbox/demo.js';
import type { PayParams, SandboxCashierResponse } from '../../shared/api.js';
import { freshDbName, testConfig } from './services.js';

export interface StackOptions {
  /** environment overrides for loadConfig (e.g. WECHATPAY_SIGN_TYPE) */
  env?: Record<string, string>;
  /** how many server instances share the same databases (default 1) */
  instances?: number;
  /** the sandbox's notify schedule scale (default 0.001: 15 s becomes 15 ms) */
  timeScale?: number;
  /** config changes applied after loading (e.g. a short pay window) */
  tweak?: (c: Config) => Config;
  /** a pino destination for the server's logs (e.g. to assert that no secret is logged) */
  logStream?: { write(line: string): void };
  /**
   * the sandbox's closeorder rule: closeorder refuses (signed SYSTEMERROR) a trade younger than this.
   * Default here 0 (off), so that tests may cancel an order right after paying it; the sandbox's own
   * default is WeChat's 300. Turn it on with 300, or at run time with
   * `stack.faults({ closeorder: { minAgeSeconds: 300 } })` (clearFaults() puts back this start value).
   */
  closeorderMinAgeSeconds?: number;
  /** the sandbox's clock (prepay_id and login-code lifetimes, time_expire, the closeorder rule); default Date.now */
  sandboxNow?: () => number;
  /** background jobs (default: no workers, so nothing runs behind a test's back) */
  jobs?: AppOptions['jobs'];
}

export interface Stack {
  apiBase: string;
  /** every instance's base URL; apiBase is the first */
  apiBases: string[];
  apps: FastifyInstance[];
  app: FastifyInstance;
  sandboxBase: string;
  sandbox: FastifyInstance;
  /** https base of the sandbox's TLS listener (/secapi/: refunds); needs certs.ca and a merchant certificate */
  secapiBase: string;
  /** the sandbox's CA and the merchant certificate it issued (config.pay.cert points at its p12) */
  certs: SandboxCerts;
  appid: string;
  config: Config;
  dbName: string;
  /** the options every instance was built with (same database, same job queues): build another with them */
  appOptions: AppOptions;
  /** a single-use wx.login code for this openid (a new openid when none is given) */
  mintCode(openid?: string): Promise<string>;
  /** a session token, as the mini-program would get one */
  login(openid?: string): Promise<{ token: string; openid: string }>;
  faults(body: object): Promise<void>;
  clearFaults(): Promise<void>;
  /** plays the WeChat client: pays, cancels or fails a payment with the five params */
  cashier(params: PayParams, outcome?: 'pay' | 'cancel' | 'fail'): Promise<SandboxCashierResponse>;
  close(): Promise<void>;
}

/**
 * The whole product on real services: the WeChat sandbox, and the server (one or more instances
 * on one fresh database) listening on loopback ports, wired to each other as `npm start` does.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const base = testConfig(opts.env);
  const sandbox = await startSandbox({
    port: 0,
    // every app of the config (the demo mini-program, 公众号 and mobile app) under the demo merchant
    merchants: sandboxMerchantsFor(base),
    timeScale: opts.timeScale ?? 0.001,
    closeorderMinAgeSeconds: opts.closeorderMinAgeSeconds ?? 0,
    ...(opts.sandboxNow ? { now: opts.sandboxNow } : {}),
    logger: false,
  });
  let config: Config = {
    ...base,
    wechat: { ...base.wechat, apiBase: sandbox.url, openBase: sandbox.url },
    pay: {
      ...base.pay,
      apiBase: sandbox.url,
      secapiBase: sandbox.secapiUrl,
      ca: sandbox.certs.ca,
      cert: { p12Path: sandbox.certs.merchants[DEMO_MERCHANT.mchId]!.p12Path, passphrase: DEMO_MERCHANT.mchId },
      ...(base.pay.v3
        ? { v3: { ...base.pay.v3, publicKey: base.pay.v3.publicKey ?? { id: sandbox.certs.wechatpay.publicKeyId, pem: sandbox.certs.wechatpay.publicKeyPem } } }
        : {}),
    },
  };
  if (opts.tweak) config = opts.tweak(config);
  const dbName = freshDbName('stack');
  const appOptions: AppOptions = {
    config,
    dbName,
    jobsPrefix: `jobs-${dbName}`,
    // The daily reconciliation schedule stays off unless a test asks for it (it would fetch bills behind the test's back).
    jobs: { ...(opts.jobs ?? { workers: false }), reconciliation: { scheduleEveryMs: 0, ...opts.jobs?.reconciliation } },
    // Refunds wait milliseconds, not minutes, between WeChat calls in tests.
    refunds: { delays: { retry: [50, 100, 200], notEnough: 200, query: [50, 100, 200] }, scanEveryMs: 0 },
    payRetryDelayMs: 10,
    rateLimitNameSpace: `rl:${dbName}:`,
    ...(opts.logStream ? { logger: { ...(loggerOptions('info') as object), stream: opts.logStream } } : {}),
  };
  const apps: FastifyInstance[] = [];
  const apiBases: string[] = [];
  try {
    for (let i = 0; i < (opts.instances ?? 1); i++) {
      const app = await buildApp(appOptions);
      apps.push(app);
      await app.listen({ port: 0, host: '127.0.0.1' });
      apiBases.push(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
    }
  } catch (err) {
    await Promise.all(apps.map((a) => a.close()));
    await sandbox.close();
    throw err;
  }

  const json = async (path: string, method: string, body?: object) => {
    const res = await fetch(sandbox.url + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok && res.status !== 400) throw new Error(`sandbox ${method} ${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };

  const stack: Stack = {
    apiBase: apiBases[0]!,
    apiBases,
    apps,
    app: apps[0]!,
    sandboxBase: sandbox.url,
    sandbox: sandbox.app,
    secapiBase: sandbox.secapiUrl,
    certs: sandbox.certs,
    appid: config.wechat.appid,
    config,
    dbName,
    appOptions,
    async mintCode(openid) {
      const r = (await json('/sandbox/login-codes', 'POST', { appid: config.wechat.appid, ...(openid ? { openid } : {}) })) as {
        code: string;
      };
      return r.code;
    },
    async login(openid) {
      const code = await stack.mintCode(openid);
      const res = await fetch(stack.apiBase + '/api/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code }),
      });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
      const { token } = (await res.json()) as { token: string };
      const session = await apps[0]!.sessions.get(token);
      return { token, openid: session!.openid };
    },
    async faults(body) {
      await json('/sandbox/faults', 'POST', body);
    },
    async clearFaults() {
      await json('/sandbox/faults', 'DELETE');
    },
    async cashier(params, outcome = 'pay') {
      const { sandbox: _s, sandboxBase: _b, ...five } = params;
      return (await json('/sandbox/cashier', 'POST', { appId: config.wechat.appid, ...five, outcome })) as SandboxCashierResponse;
    },
    async close() {
      // The sandbox first: a notify still in flight would otherwise hold an app's close open.
      await closeWithin([sandbox.app.server, sandbox.secapiApp.server], () => sandbox.close());
      await Promise.all(apps.map((a) => closeWithin([a.server], () => a.close())));
    },
  };
  return stack;
}

/**
 * Closes a server gracefully, but ends its connections after 2 s: a keep-alive connection that was
 * busy when close began (a notify from a sandbox closing at the same moment, say) would otherwise
 * hold the close for Node's keep-alive timeout (Fastify's 72 s), as seen in loaded full runs.
 */
async function closeWithin(servers: Array<{ closeAllConnections(): void }>, close: () => Promise<void>): Promise<void> {
  const timer = setTimeout(() => servers.forEach((s) => s.closeAllConnections()), 2_000);
  try {
    await close();
  } finally {
    clearTimeout(timer);
  }
}
