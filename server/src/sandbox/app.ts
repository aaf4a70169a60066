// A stand-in for WeChat (api.weixin.qq.com and api.mch.weixin.qq.com) held to the real API's
// behaviour, plus the cashier, login-code mint, fault knobs and delivery log under /sandbox/.
// State lives in memory. See pay-routes.ts, weixin-routes.ts, control-routes.ts and faults.ts.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { controlRoutes } from './control-routes.js';
import { CLOSEORDER_MIN_AGE_SECONDS, Faults } from './faults.js';
import { Notifier } from './notifier.js';
import { payRoutes } from './pay-routes.js';
import { SandboxState, type SandboxMerchant } from './state.js';
import { weixinRoutes } from './weixin-routes.js';

export type { SandboxMerchant } from './state.js';

export interface SandboxOptions {
  merchants: SandboxMerchant[];
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
  }
}

export async function buildSandbox(opts: SandboxOptions): Promise<FastifyInstance> {
  checkMerchants(opts.merchants);
  const timeScale = opts.timeScale ?? 1;
  if (!(typeof timeScale === 'number' && Number.isFinite(timeScale) && timeScale > 0)) {
    throw new TypeError('sandbox: timeScale must be a positive number');
  }
  const closeorderMinAge = opts.closeorderMinAgeSeconds ?? CLOSEORDER_MIN_AGE_SECONDS;
  if (!(Number.isInteger(closeorderMinAge) && closeorderMinAge >= 0)) {
    throw new TypeError('sandbox: closeorderMinAgeSeconds must be a non-negative integer');
  }
  const app = Fastify({
    ...loggerConfig(opts.logger),
    bodyLimit: 64 * 1024,
    // A hanging fault holds requests open: closing must not wait for them.
    forceCloseConnections: true,
  });
  const state = new SandboxState(opts.merchants, opts.now ?? Date.now);
  const faults = new Faults(closeorderMinAge);
  const notifier = new Notifier({ fetch: opts.fetch ?? globalThis.fetch, timeScale, log: app.log });

  app.addHook('preClose', async () => notifier.close());
  app.addHook('onClose', async () => notifier.close());

  await app.register(payRoutes, { state, faults });
  await app.register(weixinRoutes, { state, faults });
  await app.register(controlRoutes, { state, faults, notifier });
  return app;
}

export async function startSandbox(
  opts: SandboxOptions & { port?: number; host?: string },
): Promise<{ url: string; app: FastifyInstance; close(): Promise<void> }> {
  const app = await buildSandbox(opts);
  const host = opts.host ?? '127.0.0.1';
  try {
    await app.listen({ port: opts.port ?? 0, host });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shown}:${port}`, app, close: () => app.close() };
}
