// A stand-in for WeChat (api.weixin.qq.com and api.mch.weixin.qq.com) held to the real API's
// behaviour, plus the cashier, login-code mint, fault knobs and delivery log under /sandbox/.
// State lives in memory. See pay-routes.ts, weixin-routes.ts, control-routes.ts and faults.ts;
// refunds and bills: refund-routes.ts, bill-routes.ts, refund-faults.ts, pki.ts.
//
// Two listeners share one state: the plain one (everything but /secapi/), and a TLS one for /secapi/
// (and /pay/, as WeChat's one host serves both) that requires a client certificate issued by the
// sandbox's own CA (pki.ts), as WeChat requires the merchant certificate for refunds.
// API v3 (/v3/, v3/routes.ts) is on the plain listener, on the same state, faults and notifiers, signed
// with WeChat Pay keys from pki.ts; buildSandbox has /v3/ only when given a pkiDir.
import { lstatSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { billRoutes } from './bill-routes.js';
import { channelCashierRoutes } from './channel-cashiers.js';
import { controlRoutes } from './control-routes.js';
import type { SandboxCore } from './core.js';
import { CLOSEORDER_MIN_AGE_SECONDS, Faults } from './faults.js';
import { Notifier } from './notifier.js';
import { payRoutes } from './pay-routes.js';
import { ensureSandboxPki, type MerchantCertFiles, type SandboxPki } from './pki.js';
import { refundControlRoutes } from './refund-control-routes.js';
import { RefundNotifier } from './refund-notifier.js';
import { refundRoutes } from './refund-routes.js';
import { RefundLedger, type RefundMerchant } from './refund-state.js';
import { OAuthCodes, snsRoutes } from './sns-routes.js';
import { SandboxState, type SandboxMerchant } from './state.js';
import { weixinRoutes } from './weixin-routes.js';
import { jsbridgeRoutes } from './jsbridge.js';
import { V3Keys } from './v3/keys.js';
import { v3Routes } from './v3/routes.js';
import { checkApiV3Key } from '../wechat/v3/crypto.js';
import { JsapiTickets, OauthUsers, oauthRoutes } from './oauth-routes.js';

export type { SandboxMerchant } from './state.js';
export type { MerchantCertFiles, WechatpayKeys } from './pki.js';
export type { SigningMode } from './v3/keys.js';

export interface SandboxOptions {
  /** refundNotifyUrl: what the merchant platform would have configured for refund notifications */
  merchants: (SandboxMerchant & Pick<RefundMerchant, 'refundNotifyUrl'>)[];
  /** 1 = real WeChat timing for the notify schedule; tests use e.g. 0.001 */
  timeScale?: number;
  logger?: boolean | object;
  /** what the notifier posts with (default: the global fetch) */
  fetch?: typeof fetch;
  /** the clock for prepay_id (2 h), login code (5 min), time_expire and closeorder-age checks; default Date.now */
  now?: () => number;
  /**
   * closeorder refuses a trade younger than this many seconds (since the unifiedorder that created it,
   * on the `now` clock), as WeChat documents: default 300; 0 turns the rule off. It is not scaled by
   * timeScale (move the clock instead). Changed at run time by POST /sandbox/faults {"closeorder":...}.
   */
  closeorderMinAgeSeconds?: number;
  /** the 网页授权域名 / JS接口安全域名 per appid (default: 127.0.0.1 and localhost, the server's own host in sandbox mode) */
  oauthDomains?: Record<string, string[]>;
}

// Unknown paths of api.mch.weixin.qq.com answer HTTP 404 (SDK issues report a bare 404 for a wrong
// path); the body is a plain page, not Fastify's JSON. /sandbox/ is ours, so it keeps JSON there.
const NOT_FOUND_PAGE = '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n</body>\r\n</html>\r\n';

function wechatNotFound(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/sandbox/')) {
      return reply.code(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `no sandbox endpoint ${req.method} ${req.url.split('?')[0]}` });
    }
    return reply.code(404).header('content-type', 'text/html').send(NOT_FOUND_PAGE);
  });
}

// Query parameters that carry secrets or single-use credentials (jscode2session, cgi-bin/token).
const SECRET_QUERY = /([?&](?:secret|appsecret|js_code|code|access_token)=)[^&#]*/gi;

export function maskUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]');
}

const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'secret', 'key', 'session_key', 'paySign', '*.secret', '*.key', '*.session_key', '*.paySign'];

function loggerConfig(logger: SandboxOptions['logger']): Pick<FastifyServerOptions, 'logger'> {
  if (!logger) return { logger: false };
  const base = typeof logger === 'object' ? logger : {};
  return {
    logger: {
      level: 'info',
      ...base,
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string }) => ({ method: req.method, url: maskUrl(req.url ?? ''), remoteAddress: req.ip }),
      },
    },
  };
}

function checkMerchants(merchants: SandboxMerchant[]): void {
  if (!Array.isArray(merchants) || merchants.length === 0) throw new TypeError('sandbox: at least one merchant is required');
  for (const m of merchants) {
    for (const f of ['appid', 'mchId', 'key', 'secret'] as const) {
      if (typeof m[f] !== 'string' || m[f] === '') throw new TypeError(`sandbox: merchant ${f} must be a non-empty string`);
    }
    if (m.apiV3Key !== undefined) {
      try {
        checkApiV3Key(m.apiV3Key);
      } catch {
        throw new TypeError('sandbox: merchant apiV3Key must be 32 bytes');
      }
    }
  }
}

function fastifyOptions(opts: SandboxOptions): FastifyServerOptions {
  return {
    ...loggerConfig(opts.logger),
    bodyLimit: 64 * 1024,
    // A hanging fault holds requests open: closing must not wait for them.
    forceCloseConnections: true,
  };
}

/** The plain listener's app, on a core shared with the TLS one. */
async function buildPlain(opts: SandboxOptions, makeCore: (app: FastifyInstance) => SandboxCore): Promise<{ app: FastifyInstance; core: SandboxCore }> {
  const app = Fastify(fastifyOptions(opts));
  const core = makeCore(app);
  const { state, faults, notifier, refunds, refundNotifier } = core;
  const stop = async () => {
    notifier.close();
    refunds.close();
    refundNotifier.close();
  };
  app.addHook('preClose', stop);
  app.addHook('onClose', stop);
  wechatNotFound(app);

  await app.register(payRoutes, { state, faults, refunds });
  await app.register(refundRoutes, { core, secure: false });
  await app.register(billRoutes, { core });
  const tickets = new JsapiTickets(state.now);
  await app.register(weixinRoutes, { state, faults, tickets });
  await app.register(snsRoutes, { state, faults, codes: core.oauthCodes });
  await app.register(oauthRoutes, { state, codes: core.oauthCodes, users: new OauthUsers(), tickets, ...(opts.oauthDomains ? { domains: opts.oauthDomains } : {}) });
  await app.register(jsbridgeRoutes, { state });
  await app.register(controlRoutes, { state, faults, notifier, ...(core.v3 ? { v3: core.v3 } : {}) });
  await app.register(channelCashierRoutes, { state, faults, notifier, ...(core.v3 ? { v3: core.v3 } : {}) });
  await app.register(refundControlRoutes, { core });
  if (core.v3) await app.register(v3Routes, { core, keys: core.v3 });
  return { app, core };
}

/** `pki`: API v3 needs the sandbox's keys (startSandbox has them; buildSandbox does not, so it has no /v3/). */
function coreFactory(opts: SandboxOptions, pki?: SandboxPki): (app: FastifyInstance) => SandboxCore {
  checkMerchants(opts.merchants);
  const timeScale = opts.timeScale ?? 1;
  if (!(typeof timeScale === 'number' && Number.isFinite(timeScale) && timeScale > 0)) {
    throw new TypeError('sandbox: timeScale must be a positive number');
  }
  const closeorderMinAge = opts.closeorderMinAgeSeconds ?? CLOSEORDER_MIN_AGE_SECONDS;
  if (!(Number.isInteger(closeorderMinAge) && closeorderMinAge >= 0)) {
    throw new TypeError('sandbox: closeorderMinAgeSeconds must be a non-negative integer');
  }
  return (app) => {
    const state = new SandboxState(opts.merchants, opts.now ?? Date.now);
    const v3 = pki ? new V3Keys(pki) : undefined;
    return {
      state,
      oauthCodes: new OAuthCodes(state),
      faults: new Faults(closeorderMinAge),
      notifier: new Notifier({ fetch: opts.fetch ?? globalThis.fetch, timeScale, log: app.log }, v3),
      refunds: new RefundLedger(),
      refundNotifier: new RefundNotifier({ fetch: opts.fetch ?? globalThis.fetch, timeScale, log: app.log }, v3),
      ...(v3 ? { v3 } : {}),
      timeScale,
    };
  };
}

/**
 * The plain listener's app alone (for app.inject); /secapi/ needs startSandbox's TLS listener. With a
 * pkiDir (the keys made there, or reused), API v3 (/v3/) too; without one there are no keys, so no /v3/.
 */
export async function buildSandbox(opts: SandboxOptions & { pkiDir?: string }): Promise<FastifyInstance> {
  const pki = opts.pkiDir !== undefined ? ensureSandboxPki(opts.pkiDir, opts.merchants.map((m) => m.mchId)) : undefined;
  return (await buildPlain(opts, coreFactory(opts, pki))).app;
}

/** The TLS listener: client certificates from the sandbox CA only, refused at the handshake otherwise. */
async function buildSecapi(opts: SandboxOptions, core: SandboxCore, pki: SandboxPki): Promise<FastifyInstance> {
  const app = Fastify({
    ...fastifyOptions(opts),
    https: { key: pki.serverKey, cert: pki.serverCert, ca: pki.caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
  } as FastifyServerOptions);
  wechatNotFound(app);
  await app.register(refundRoutes, { core, secure: true });
  await app.register(billRoutes, { core });
  await app.register(payRoutes, { state: core.state, faults: core.faults, refunds: core.refunds });
  return app;
}

// Making keys takes seconds; without a pkiDir, sandboxes (tests start many, in many processes) share
// one directory under the OS temp dir, private to the user, made once (pki.ts makes it safely even when
// processes race).
function defaultPkiDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const dir = join(tmpdir(), `wxpay-mp-sandbox-pki-${uid ?? 'user'}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Someone else's directory (or one others may write to) must not supply our CA.
  const st = lstatSync(dir);
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
    return mkdtempSync(join(tmpdir(), 'wxpay-mp-sandbox-pki-'));
  }
  return dir;
}

export interface SandboxCerts {
  /** where the files are */
  dir: string;
  /** the CA that issued the TLS listener's certificate and the merchants' certificates (PEM file, and text) */
  caPath: string;
  ca: string;
  /** per mch_id: apiclient_cert.p12 (RC2-40, passphrase = mch_id), apiclient_cert.pem, apiclient_key.pem */
  merchants: Record<string, MerchantCertFiles>;
  /** WeChat Pay's API v3 keys: what answers and notifications are signed with (GET/POST /sandbox/v3/signing picks which) */
  wechatpay: { publicKeyId: string; publicKeyPem: string; publicKeyPath: string; platformSerial: string; platformCertPem: string; platformCertPath: string };
}

export interface StartedSandbox {
  /** http base of everything but /secapi/ */
  url: string;
  /** https base of the TLS listener: /secapi/ (and /pay/); clients must trust certs.ca */
  secapiUrl: string;
  certs: SandboxCerts;
  app: FastifyInstance;
  secapiApp: FastifyInstance;
  close(): Promise<void>;
}

function shownHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

export async function startSandbox(
  opts: SandboxOptions & {
    port?: number;
    host?: string;
    /** the TLS listener's port (default 0: any free port) */
    secapiPort?: number;
    /** where the CA and merchant certificates live (made once, reused after); default a temporary directory */
    pkiDir?: string;
  },
): Promise<StartedSandbox> {
  const host = opts.host ?? '127.0.0.1';
  const pki = ensureSandboxPki(opts.pkiDir ?? defaultPkiDir(), opts.merchants.map((m) => m.mchId));
  const { app, core } = await buildPlain(opts, coreFactory(opts, pki));
  let secapiApp: FastifyInstance | undefined;
  try {
    secapiApp = await buildSecapi(opts, core, pki);
    await app.listen({ port: opts.port ?? 0, host });
    await secapiApp.listen({ port: opts.secapiPort ?? 0, host });
  } catch (err) {
    await secapiApp?.close();
    await app.close();
    throw err;
  }
  const portOf = (a: FastifyInstance) => {
    const address = a.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  };
  const secure = secapiApp;
  return {
    url: `http://${shownHost(host)}:${portOf(app)}`,
    secapiUrl: `https://${shownHost(host)}:${portOf(secure)}`,
    certs: {
      dir: pki.dir,
      caPath: pki.caPath,
      ca: pki.caPem,
      merchants: pki.merchants,
      wechatpay: {
        publicKeyId: pki.wechatpay.publicKeyId,
        publicKeyPem: pki.wechatpay.publicKeyPem,
        publicKeyPath: pki.wechatpay.publicKeyPath,
        platformSerial: pki.wechatpay.platformSerial,
        platformCertPem: pki.wechatpay.platformCertPem,
        platformCertPath: pki.wechatpay.platformCertPath,
      },
    },
    app,
    secapiApp: secure,
    close: async () => {
      await secure.close();
      await app.close();
    },
  };
}
