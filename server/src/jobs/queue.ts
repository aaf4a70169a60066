// Background work as named jobs over BullMQ: domain code names a job, its payload and its handler;
// BullMQ does the rest (retries with backoff, one job per jobId, job schedulers shared by every
// instance, a failed set that is our dead-letter list). Nothing outside this folder imports BullMQ.
import { DelayedError, Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';

export type JobLog = Pick<FastifyBaseLogger, 'debug' | 'info' | 'warn' | 'error'>;

/** Payloads are small JSON (ids), never secrets: they are stored in Redis and shown to operators. */
export type JobPayload = Record<string, string | number | boolean | null>;

export interface JobContext {
  /** BullMQ's job id (the jobId given to enqueue, or one it made up) */
  id: string;
  name: string;
  /** 1 for the first run; a RetryLater does not count as an attempt */
  attempt: number;
  log: JobLog;
}

export type JobHandler<P extends JobPayload = JobPayload> = (payload: P, ctx: JobContext) => Promise<unknown>;

export interface Backoff {
  type: 'exponential' | 'fixed';
  /** fixed: every wait; exponential: the first wait, doubled after each failure */
  delayMs: number;
}

export interface DefineOptions {
  /** runs before a job is dead (default 1: no retry) */
  attempts?: number;
  backoff?: Backoff;
  /** jobs of this name one instance runs at once (default 1) */
  concurrency?: number;
  /** dead letters of this name kept (oldest dropped first; default 10,000) */
  keepDead?: number;
}

export interface EnqueueOptions {
  /** one job per id while it is waiting, delayed, running, retrying or dead: a second enqueue is a no-op */
  jobId?: string;
  delayMs?: number;
}

export interface DeadLetter {
  /** `<name>/<jobId>`: what retryDead takes */
  id: string;
  name: string;
  jobId: string;
  payload: JobPayload;
  /** the last error's message */
  error: string;
  attempts: number;
  failedAt: Date;
}

export interface JobCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

/** Thrown by a handler that cannot run yet (a lock is held, the work is not due): runs again later, no attempt used. */
export class RetryLater extends Error {
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(reason);
    this.name = 'RetryLater';
  }
}

export interface CreateJobsOptions {
  redisUrl: string;
  /** Redis key prefix of every queue of this app (tests use one each) */
  prefix: string;
  /** run handlers in this process; false: enqueue and inspect only */
  workers: boolean;
  log: JobLog;
  /** ms a producer command may take before it fails (a Redis outage never hangs a request) */
  commandTimeoutMs?: number;
}

export interface Jobs {
  readonly prefix: string;
  readonly workers: boolean;
  /** the queue's logger (for callers that log an enqueue failure) */
  readonly log: JobLog;
  define<P extends JobPayload>(name: string, handler: JobHandler<P>, opts?: DefineOptions): void;
  /** for inspection only (the CLI): a queue with no handler in this process */
  attach(name: string): void;
  enqueue(name: string, payload: JobPayload, opts?: EnqueueOptions): Promise<string>;
  enqueueMany(name: string, jobs: Array<{ payload: JobPayload } & EnqueueOptions>): Promise<void>;
  /** one run per interval across every instance sharing the prefix (a BullMQ job scheduler); 0 removes it */
  every(name: string, everyMs: number, payload?: JobPayload): Promise<void>;
  deadLetters(opts?: { limit?: number; name?: string }): Promise<DeadLetter[]>;
  /** puts a dead job back in line with all its attempts; false when there is no such dead job */
  retryDead(id: string): Promise<boolean>;
  counts(): Promise<Record<string, JobCounts>>;
  /** starts the workers (when this instance runs them); define() after start starts its worker at once */
  start(): void;
  /** stops taking jobs and waits for the ones running */
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

const NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;
const MAX_PAYLOAD_BYTES = 1024;

interface Entry {
  queue: Queue;
  worker?: Worker;
  jobOpts: JobsOptions;
  handler?: JobHandler;
  concurrency: number;
}

export async function createJobs(opts: CreateJobsOptions): Promise<Jobs> {
  const { prefix, log } = opts;
  // Producer side: fails fast. No offline queue, a command timeout, one retry: an enqueue on the
  // request path gets an error within commandTimeoutMs instead of waiting for Redis to come back.
  const producer = new Redis(opts.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs ?? 2_000,
    connectTimeout: 5_000,
    connectionName: `${prefix}:producer`,
  });
  // Worker side: BullMQ requires maxRetriesPerRequest null (its blocking waits would otherwise fail).
  const consumer = opts.workers
    ? new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: `${prefix}:worker` })
    : undefined;
  for (const [conn, role] of [[producer, 'producer'], [consumer, 'worker']] as const) {
    conn?.on('error', (err: Error) => log.warn({ err: { message: err.message }, role }, 'job queue redis connection error'));
  }
  try {
    await producer.connect();
    await consumer?.connect();
  } catch (err) {
    producer.disconnect();
    consumer?.disconnect();
    throw new Error(`job queue: cannot connect to Redis at REDIS_URL: ${(err as Error).message}`);
  }

  const entries = new Map<string, Entry>();
  let started = false;
  let closed = false;

  const entry = (name: string): Entry => {
    const e = entries.get(name);
    if (!e) throw new Error(`job ${name} is not defined`);
    return e;
  };

  const open = (name: string, jobOpts: JobsOptions, concurrency: number, handler?: JobHandler): Entry => {
    if (!NAME.test(name)) throw new Error(`job name ${JSON.stringify(name)}: lower-case words joined by dots`);
    if (entries.has(name)) throw new Error(`job ${name} is defined twice`);
    const queue = new Queue(name, { connection: producer, prefix, defaultJobOptions: jobOpts });
    queue.on('error', (err: Error) => log.warn({ job: name, err: { message: err.message } }, 'job queue error'));
    const e: Entry = { queue, jobOpts, handler, concurrency };
    entries.set(name, e);
    if (started) startWorker(name, e);
    return e;
  };

  function startWorker(name: string, e: Entry): void {
    if (!consumer || !e.handler || e.worker || closed) return;
    const handler = e.handler;
    const worker = new Worker(
      name,
      async (job: Job, token?: string) => {
        const ctx: JobContext = { id: job.id ?? '', name, attempt: job.attemptsMade + 1, log };
        try {
          return await handler(job.data as JobPayload, ctx);
        } catch (err) {
          if (err instanceof RetryLater) {
            log.debug({ job: name, jobId: job.id, delayMs: err.delayMs, reason: err.message }, 'job deferred');
            await job.moveToDelayed(Date.now() + Math.max(0, err.delayMs), token);
            throw new DelayedError();
          }
          const code = (err as { code?: unknown }).code;
          const message = err instanceof Error ? err.message : String(err);
          throw new Error(typeof code === 'string' ? `${code}: ${message}` : message);
        }
      },
      { connection: consumer, prefix, concurrency: e.concurrency, autorun: false },
    );
    worker.on('failed', (job, err) => {
      const attempts = job?.opts.attempts ?? 1;
      const made = job?.attemptsMade ?? 0;
      const fields = { job: name, jobId: job?.id, attempt: made, attempts, err: { message: err.message } };
      if (job?.repeatJobKey) log.warn(fields, 'scheduled job failed; its next run tries again');
      else if (made >= attempts) log.error(fields, `job dead after ${made} attempts: retry it with \`npm run jobs -- retry ${name}/${job?.id}\``);
      else log.warn(fields, 'job failed; it will be retried');
    });
    worker.on('error', (err: Error) => log.warn({ job: name, err: { message: err.message } }, 'job worker error'));
    e.worker = worker;
    worker.run().catch((err: Error) => log.error({ job: name, err: { message: err.message } }, 'job worker stopped'));
  }

  const checkPayload = (name: string, payload: JobPayload) => {
    const size = Buffer.byteLength(JSON.stringify(payload));
    if (size > MAX_PAYLOAD_BYTES) throw new Error(`job ${name}: payload of ${size} bytes; jobs carry ids, not documents`);
  };

  const checkJobId = (jobId: string | undefined) => {
    // BullMQ's own rules: not an integer (its counter's ids), no ':' (its key separator).
    if (jobId !== undefined && (!/^[A-Za-z0-9._-]{1,128}$/.test(jobId) || /^\d+$/.test(jobId))) {
      throw new Error(`jobId ${JSON.stringify(jobId)}: 1 to 128 of [A-Za-z0-9._-], not a bare number`);
    }
  };

  const parseDeadId = (id: string): { name: string; jobId: string } | null => {
    const slash = id.indexOf('/');
    if (slash <= 0) return null;
    return { name: id.slice(0, slash), jobId: id.slice(slash + 1) };
  };

  return {
    prefix,
    workers: Boolean(consumer),
    log,

    define(name, handler, o = {}) {
      const attempts = o.attempts ?? 1;
      if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`job ${name}: attempts must be a positive integer`);
      const jobOpts: JobsOptions = {
        attempts,
        ...(o.backoff ? { backoff: { type: o.backoff.type, delay: o.backoff.delayMs } } : {}),
        // A finished job is forgotten, so the same jobId may be enqueued again when work reappears;
        // a dead one stays (and keeps its jobId taken) until retried or pushed out by newer ones.
        removeOnComplete: true,
        removeOnFail: { count: o.keepDead ?? 10_000 },
        sizeLimit: MAX_PAYLOAD_BYTES * 2,
      };
      open(name, jobOpts, o.concurrency ?? 1, handler as JobHandler);
    },

    attach(name) {
      if (!entries.has(name)) open(name, {}, 1);
    },

    async enqueue(name, payload, o = {}) {
      const e = entry(name);
      checkPayload(name, payload);
      checkJobId(o.jobId);
      const job = await e.queue.add(name, payload, {
        ...(o.jobId ? { jobId: o.jobId } : {}),
        ...(o.delayMs && o.delayMs > 0 ? { delay: Math.ceil(o.delayMs) } : {}),
      });
      return job.id ?? '';
    },

    async enqueueMany(name, jobs) {
      if (jobs.length === 0) return;
      const e = entry(name);
      for (const j of jobs) {
        checkPayload(name, j.payload);
        checkJobId(j.jobId);
      }
      await e.queue.addBulk(
        jobs.map((j) => ({
          name,
          data: j.payload,
          opts: {
            ...e.jobOpts,
            ...(j.jobId ? { jobId: j.jobId } : {}),
            ...(j.delayMs && j.delayMs > 0 ? { delay: Math.ceil(j.delayMs) } : {}),
          },
        })),
      );
    },

    async every(name, everyMs, payload = {}) {
      const e = entry(name);
      if (!(everyMs > 0)) {
        await e.queue.removeJobScheduler(name);
        return;
      }
      checkPayload(name, payload);
      // Every instance upserts the same scheduler: BullMQ keeps one next run per interval.
      await e.queue.upsertJobScheduler(name, { every: Math.ceil(everyMs) }, { name, data: payload, opts: e.jobOpts });
    },

    async deadLetters(o = {}) {
      const limit = Math.max(1, Math.min(o.limit ?? 50, 1_000));
      const names = o.name ? [o.name] : [...entries.keys()];
      const all: DeadLetter[] = [];
      for (const name of names) {
        for (const job of await entry(name).queue.getFailed(0, limit - 1)) {
          if (!job?.id) continue;
          all.push({
            id: `${name}/${job.id}`,
            name,
            jobId: job.id,
            payload: job.data as JobPayload,
            error: job.failedReason ?? '',
            attempts: job.attemptsMade,
            failedAt: new Date(job.finishedOn ?? job.timestamp),
          });
        }
      }
      return all.sort((a, b) => b.failedAt.getTime() - a.failedAt.getTime()).slice(0, limit);
    },

    async retryDead(id) {
      const parsed = parseDeadId(id);
      const e = parsed && entries.get(parsed.name);
      if (!parsed || !e) return false;
      const job = await e.queue.getJob(parsed.jobId);
      if (!job || !(await job.isFailed())) return false;
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      log.info({ job: parsed.name, jobId: parsed.jobId }, 'dead job put back in line');
      return true;
    },

    async counts() {
      const out: Record<string, JobCounts> = {};
      for (const [name, e] of entries) {
        const c = await e.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
        out[name] = {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          failed: c.failed ?? 0,
          completed: c.completed ?? 0,
        };
      }
      return out;
    },

    start() {
      if (started) return;
      started = true;
      for (const [name, e] of entries) startWorker(name, e);
    },

    async stopWorkers() {
      await Promise.all([...entries.values()].map((e) => e.worker?.close()));
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...entries.values()].map((e) => e.worker?.close()));
      await Promise.all([...entries.values()].map((e) => e.queue.close()));
      for (const conn of [producer, consumer]) await conn?.quit().catch(() => conn.disconnect());
    },
  };
}
