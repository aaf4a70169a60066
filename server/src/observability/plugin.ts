import { onAdminListener } from '../admin/plugin.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isAdminToken } from '../admin/api-token.js';
import { Errors } from '../errors.js';
import { createMetrics, processMetrics, type Metrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** this app's Prometheus metrics (its own Registry): counters are incremented where things happen */
    metrics: Metrics;
  }
}

const PROBE_MS = 1_000;
const JOB_COUNTS_MS = 2_000;

async function within<T>(ms: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([run(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Gauges read when Prometheus scrapes, not kept up to date in between: a ping each and one count per queue. */
async function refreshGauges(app: FastifyInstance, metrics: Metrics): Promise<void> {
  const ping = async (run: () => Promise<unknown>) => ((await within(PROBE_MS, run).then(() => true, () => false)) ? 1 : 0);
  const [mongo, redis, counts] = await Promise.all([
    app.hasDecorator('mongo') && app.mongo.db ? ping(() => app.mongo.db!.admin().ping()) : Promise.resolve(0),
    app.hasDecorator('redis') ? ping(() => app.redis.ping()) : Promise.resolve(0),
    app.hasDecorator('jobs') ? within(JOB_COUNTS_MS, () => app.jobs.counts()).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  metrics.up.set({ dependency: 'mongo' }, mongo);
  metrics.up.set({ dependency: 'redis' }, redis);
  // No stale depths: a scrape that could not count shows no series rather than old numbers.
  metrics.jobs.reset();
  for (const [job, c] of Object.entries(counts ?? {})) {
    metrics.jobs.set({ job, state: 'waiting' }, c.waiting);
    metrics.jobs.set({ job, state: 'active' }, c.active);
    metrics.jobs.set({ job, state: 'delayed' }, c.delayed);
    metrics.jobs.set({ job, state: 'dead' }, c.failed);
    metrics.jobs.set({ job, state: 'completed' }, c.completed);
  }
}

/**
 * Who may scrape. With ADMIN_PORT set, /metrics answers only requests that came in on that port
 * (the console's listener, which need not face the internet), and METRICS_TOKEN, when also set, is
 * required there too. Without ADMIN_PORT it needs `Authorization: Bearer $METRICS_TOKEN` (compared
 * in constant time), and without a token it does not exist.
 */
function metricsGuard(app: FastifyInstance) {
  const { metricsToken, adminPort } = app.config.observability;
  return async (req: FastifyRequest) => {
    if (adminPort !== undefined && !onAdminListener(req)) throw new Errors.NotFound('Route');
    if (adminPort === undefined && !metricsToken) throw new Errors.NotFound('Route');
    if (metricsToken && !isAdminToken(req.headers.authorization, metricsToken)) {
      req.log.warn({ security: true, event: 'metrics_unauthorized' }, 'metrics scrape without a valid token');
      throw Object.assign(new Errors.Unauthorized(), { message: 'A valid metrics token is required' });
    }
  };
}

/**
 * Prometheus metrics for this app: the request histogram by route pattern (an onResponse hook on
 * every route), the counters other modules increment through `app.metrics`, and GET /metrics.
 * Registered before every route so that its hook sees them all.
 */
export default fp(
  async (app) => {
    const metrics = createMetrics();
    app.decorate('metrics', metrics);

    app.addHook('onResponse', async (req, reply) => {
      metrics.http.observe(
        { method: req.method, route: req.routeOptions.url ?? '(unmatched)', status_class: `${Math.floor(reply.statusCode / 100)}xx` },
        reply.elapsedTime / 1000,
      );
    });

    app.get(
      '/metrics',
      { schema: { hide: true }, onRequest: metricsGuard(app), logLevel: 'warn' },
      async (_req, reply) => {
        await refreshGauges(app, metrics);
        const text = `${await metrics.registry.metrics()}\n${await processMetrics().metrics()}`;
        return reply.type(metrics.registry.contentType).send(text);
      },
    );
  },
  { name: 'metrics' },
);
