import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { createJobs, RetryLater, type JobLog, type JobPayload, type Jobs } from '../../../server/src/jobs/queue.js';
import { eventually } from '../../helpers/api.js';
import { serviceUrls } from '../../helpers/services.js';
import { startOwnRedis } from '../helpers/own-services.js';

const { redisUrl } = serviceUrls();

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

function memoryLog(): JobLog & { lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (obj: unknown, msg?: unknown): void => {
      lines.push({ level, obj: (obj ?? {}) as Record<string, unknown>, msg: String(msg ?? '') });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as JobLog & { lines: Line[] };
}

/** what the helpers need of a tap test */
type Teardown = { teardown(fn: () => unknown): void };

const newPrefix = () => `jobs-test-${randomBytes(4).toString('hex')}`;

async function jobsFor(t: Teardown, prefix: string, workers = true, log: JobLog = memoryLog()): Promise<Jobs> {
  const jobs = await createJobs({ redisUrl, prefix, workers, log });
  t.teardown(() => jobs.close());
  return jobs;
}

t.test('a defined job runs its handler with the payload; a jobId is one job while it lives', async (t) => {
  const prefix = newPrefix();
  const jobs = await jobsFor(t, prefix);
  const seen: Array<{ payload: JobPayload; id: string; attempt: number }> = [];
  jobs.define('test.echo', async (payload, ctx) => {
    seen.push({ payload, id: ctx.id, attempt: ctx.attempt });
  });
  jobs.start();
  // Held back an hour, the first enqueue is still delayed when the second one comes: a no-op.
  await jobs.enqueue('test.echo', { orderId: 'a' }, { jobId: 'echo-a', delayMs: 3_600_000 });
  await jobs.enqueue('test.echo', { orderId: 'a-again' }, { jobId: 'echo-a', delayMs: 3_600_000 });
  t.match(await jobs.counts(), { 'test.echo': { delayed: 1, waiting: 0 } });

  await jobs.enqueue('test.echo', { orderId: 'b' }, { jobId: 'echo-b' });
  await eventually(async () => seen.length, (n) => n >= 1);
  t.same(seen, [{ payload: { orderId: 'b' }, id: 'echo-b', attempt: 1 }]);

  // A finished job is forgotten: the same jobId may be enqueued again.
  await eventually(async () => (await jobs.counts())['test.echo']!.active, (n) => n === 0);
  await jobs.enqueue('test.echo', { orderId: 'b2' }, { jobId: 'echo-b' });
  await eventually(async () => seen.length, (n) => n >= 2);
  t.same(seen[1]?.payload, { orderId: 'b2' });
});

t.test('bad names, ids and payloads are refused before reaching Redis', async (t) => {
  const jobs = await jobsFor(t, newPrefix(), false);
  t.throws(() => jobs.define('Not A Name', async () => undefined), /job name/);
  jobs.define('test.strict', async () => undefined);
  t.throws(() => jobs.define('test.strict', async () => undefined), /defined twice/);
  await t.rejects(jobs.enqueue('test.unknown', {}), /not defined/);
  await t.rejects(jobs.enqueue('test.strict', {}, { jobId: 'expire:1' }), /jobId/);
  await t.rejects(jobs.enqueue('test.strict', {}, { jobId: '42' }), /jobId/);
  await t.rejects(jobs.enqueue('test.strict', { blob: 'x'.repeat(2_000) }), /payload of \d+ bytes/);
});

t.test('a failing job backs off, is retried up to its attempts, then is a dead letter that can be retried', async (t) => {
  const prefix = newPrefix();
  const log = memoryLog();
  const jobs = await jobsFor(t, prefix, true, log);
  let failing = true;
  const runs: number[] = [];
  jobs.define(
    'test.flaky',
    async (_payload, ctx) => {
      runs.push(ctx.attempt);
      if (failing) throw Object.assign(new Error('WeChat Pay is unavailable'), { code: 'WECHAT_UNAVAILABLE' });
    },
    // An hour's backoff: each retry waits in the delayed set until the test promotes it.
    { attempts: 3, backoff: { type: 'exponential', delayMs: 3_600_000 } },
  );
  jobs.start();
  const inspect = new Queue('test.flaky', { prefix, connection: { url: redisUrl } });
  t.teardown(() => inspect.close());

  await jobs.enqueue('test.flaky', { orderId: 'o1' }, { jobId: 'flaky-o1' });
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    const job = await eventually(
      () => inspect.getJob('flaky-o1'),
      (j) => j?.attemptsMade === attempt,
    );
    t.equal(await job!.getState(), 'delayed', `after attempt ${attempt} the job waits out its backoff`);
    delays.push(job!.delay);
    await job!.promote();
  }
  t.same(delays, [3_600_000, 7_200_000], 'exponential: the wait doubles after each failure');

  const dead = await eventually(() => jobs.deadLetters(), (d) => d.length === 1);
  t.match(dead, [{ id: 'test.flaky/flaky-o1', name: 'test.flaky', jobId: 'flaky-o1', payload: { orderId: 'o1' }, error: 'WECHAT_UNAVAILABLE: WeChat Pay is unavailable', attempts: 3, failedAt: Date }]);
  t.same(runs, [1, 2, 3]);
  t.match((await jobs.counts())['test.flaky'], { failed: 1, delayed: 0, waiting: 0 });
  const deadLine = log.lines.find((l) => l.level === 'error');
  t.match(deadLine, { obj: { job: 'test.flaky', jobId: 'flaky-o1', attempt: 3, attempts: 3 }, msg: /retry test\.flaky\/flaky-o1/ });
  t.notOk(JSON.stringify(log.lines).includes('"o1"'), 'log lines name the job, not its payload');

  // Dead means the jobId stays taken: the scan enqueueing it again changes nothing.
  await jobs.enqueue('test.flaky', { orderId: 'o1' }, { jobId: 'flaky-o1' });
  t.equal(runs.length, 3);

  failing = false;
  t.equal(await jobs.retryDead('test.flaky/nope'), false);
  t.equal(await jobs.retryDead('nonsense'), false);
  t.equal(await jobs.retryDead('test.flaky/flaky-o1'), true);
  await eventually(async () => runs.length, (n) => n === 4);
  t.equal(runs[3], 1, 'a retried dead job starts again with all its attempts');
  await eventually(() => jobs.deadLetters(), (d) => d.length === 0);
  t.same(await jobs.deadLetters(), []);
});

t.test('RetryLater runs the job again later without using an attempt', async (t) => {
  const jobs = await jobsFor(t, newPrefix());
  const attempts: number[] = [];
  jobs.define(
    'test.busy',
    async (_p, ctx) => {
      attempts.push(ctx.attempt);
      if (attempts.length < 4) throw new RetryLater(10, 'lock held');
    },
    { attempts: 2 },
  );
  jobs.start();
  await jobs.enqueue('test.busy', { orderId: 'x' });
  await eventually(async () => attempts.length, (n) => n >= 4);
  t.same(attempts, [1, 1, 1, 1], 'three deferrals, then it ran: no attempt spent, never dead');
  t.same(await jobs.deadLetters(), []);
});

t.test('a scheduled job runs once per interval across instances sharing a prefix', async (t) => {
  const prefix = newPrefix();
  const runs: Array<{ instance: string; id: string }> = [];
  const instances: Jobs[] = [];
  for (const name of ['a', 'b']) {
    const jobs = await jobsFor(t, prefix);
    jobs.define('test.tick', async (_p, ctx) => {
      runs.push({ instance: name, id: ctx.id });
    });
    instances.push(jobs);
  }
  // Both instances upsert the same schedule, as every booting instance does.
  await Promise.all(instances.map((j) => j.every('test.tick', 200)));
  instances.forEach((j) => j.start());
  await eventually(async () => runs.length, (n) => n >= 6, 10_000);
  await Promise.all(instances.map((j) => j.stopWorkers()));

  const slots = runs.map((r) => Number(r.id.split(':').pop()));
  t.equal(new Set(runs.map((r) => r.id)).size, runs.length, 'no interval ran twice');
  const sorted = [...slots].sort((a, b) => a - b);
  const gaps = sorted.slice(1).map((v, i) => v - sorted[i]!);
  t.ok(gaps.every((g) => g > 0 && g % 200 === 0), 'each run is its own 200 ms slot of the one schedule');

  // 0 removes the schedule.
  await instances[0]!.every('test.tick', 0);
  const inspect = new Queue('test.tick', { prefix, connection: { url: redisUrl } });
  t.teardown(() => inspect.close());
  t.equal(await inspect.getJobSchedulersCount(), 0);
});

t.test('a failing scheduled run is logged as such: the next run is its retry', async (t) => {
  const log = memoryLog();
  const jobs = await jobsFor(t, newPrefix(), true, log);
  jobs.define('test.scan', async () => {
    throw new Error('database unavailable');
  });
  await jobs.every('test.scan', 100);
  jobs.start();
  const line = await eventually(async () => log.lines.find((l) => l.obj.job === 'test.scan'), (l) => l !== undefined);
  t.match(line, { level: 'warn', msg: /next run tries again/, obj: { err: { message: 'database unavailable' } } });
  t.notOk(log.lines.some((l) => l.level === 'error'), 'not reported as a dead letter to retry by hand');
});

t.test('jobs wait in Redis for a worker: enqueued by one process, run by the next', async (t) => {
  const prefix = newPrefix();
  const producer = await createJobs({ redisUrl, prefix, workers: false, log: memoryLog() });
  let ran = 0;
  producer.define('test.later', async () => {
    ran++;
  });
  producer.start();
  await producer.enqueue('test.later', { orderId: 'z' }, { jobId: 'later-z' });
  t.match(await producer.counts(), { 'test.later': { waiting: 1 } });
  await producer.close();
  t.equal(ran, 0, 'no worker, no run');

  const consumer = await jobsFor(t, prefix);
  const payloads: JobPayload[] = [];
  consumer.define('test.later', async (p) => {
    payloads.push(p);
  });
  consumer.start();
  await eventually(async () => payloads.length, (n) => n === 1);
  t.same(payloads, [{ orderId: 'z' }]);
});

t.test('an enqueue on a hung or lost Redis fails instead of waiting for it', async (t) => {
  // A Redis of our own, to hang and to kill without touching the one other tests share.
  const own = await startOwnRedis(t);
  const jobs = await createJobs({ redisUrl: own.url, prefix: newPrefix(), workers: false, log: memoryLog(), commandTimeoutMs: 200 });
  t.teardown(() => jobs.close());
  jobs.define('test.fast', async () => undefined);
  t.ok(await jobs.enqueue('test.fast', {}), 'works while Redis answers');

  // Hung: the connection stays open and nothing answers; the command times out.
  own.pause();
  await t.rejects(jobs.enqueue('test.fast', {}), /timed out/i);
  own.resume();

  // Lost: no offline queue, so the enqueue is refused at once rather than held until Redis returns.
  await own.kill();
  await t.rejects(jobs.enqueue('test.fast', {}));
});
