import fp from 'fastify-plugin';
import { createJobs, type Jobs } from '../jobs/queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** background jobs: define, enqueue, every, dead letters (see server/src/jobs/queue.ts) */
    jobs: Jobs;
  }
}

export interface JobsPluginOptions {
  /** Redis key prefix of this app's queues (default `jobs`) */
  prefix?: string;
  /** run job handlers in this instance (default false: enqueue only) */
  workers?: boolean;
}

// Its own Redis connections, not app.redis: BullMQ needs settings (maxRetriesPerRequest null on the
// worker side) that would let a Redis outage hang requests if the request path shared them.
export default fp<JobsPluginOptions>(
  async (app, opts) => {
    if (!app.config.redisUrl) throw new Error('jobs: config.redisUrl is required');
    const jobs = await createJobs({
      redisUrl: app.config.redisUrl,
      prefix: opts.prefix ?? 'jobs',
      workers: opts.workers ?? false,
      log: app.log.child({ component: 'jobs' }),
    });
    app.decorate('jobs', jobs);
    // Handlers start once every plugin (and so every define) is in place, and stop before any
    // connection they use closes: preClose runs ahead of every onClose.
    app.addHook('onReady', async () => jobs.start());
    app.addHook('preClose', async () => jobs.stopWorkers());
    app.addHook('onClose', async () => jobs.close());
  },
  { name: 'jobs' },
);
