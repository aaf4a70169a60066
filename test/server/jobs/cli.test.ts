import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { runCli } from '../../../server/src/jobs/cli.js';
import { createJobs, type JobLog } from '../../../server/src/jobs/queue.js';
import { eventually } from '../../helpers/api.js';
import { serviceUrls } from '../../helpers/services.js';

const { redisUrl } = serviceUrls();
const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as JobLog;

async function cli(args: string[], env: Record<string, string | undefined> = { REDIS_URL: redisUrl }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

t.test('npm run jobs: lists dead jobs and puts one back in line', async (t) => {
  const prefix = `jobs-cli-${randomBytes(4).toString('hex')}`;
  const jobs = await createJobs({ redisUrl, prefix, workers: true, log: quiet });
  t.teardown(() => jobs.close());
  let fail = true;
  let runs = 0;
  jobs.define('orders.expire', async () => {
    runs++;
    if (fail) throw new Error('closeorder keeps failing');
  });
  jobs.start();
  await jobs.enqueue('orders.expire', { orderId: 'abc' }, { jobId: 'expire-abc' });
  await eventually(() => jobs.deadLetters(), (d) => d.length === 1);

  const dead = await cli(['dead', '--prefix', prefix]);
  t.equal(dead.code, 0);
  t.match(dead.stdout, /orders\.expire\/expire-abc {2}after 1 attempts: closeorder keeps failing {2}\{"orderId":"abc"\}/);
  t.match((await cli(['counts', '--prefix', prefix])).stdout, /orders\.expire +waiting 0 {2}active 0 {2}delayed 0 {2}dead 1/);

  fail = false;
  t.match(await cli(['retry', 'orders.expire/expire-abc', '--prefix', prefix]), { code: 0, stdout: /back in line/ });
  await eventually(async () => runs, (n) => n === 2);
  t.equal(runs, 2, 'the job ran again');
  t.match(await cli(['retry', 'orders.expire/expire-abc', '--prefix', prefix]), { code: 1, stderr: /no dead job/ });
  t.match(await cli(['dead', '--prefix', prefix]), { code: 0, stdout: /no dead jobs/ });
});

t.test('npm run jobs: usage and a missing REDIS_URL are clear errors', async (t) => {
  t.match(await cli([]), { code: 2, stderr: /usage: npm run jobs/ });
  t.match(await cli(['retry']), { code: 2, stderr: /usage/ });
  t.match(await cli(['dead'], {}), { code: 2, stderr: /REDIS_URL/ });
  // The script itself, as npm runs it.
  const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'server/src/jobs/cli.ts', 'bogus'], { env: { PATH: process.env.PATH } }, (err, _stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr }),
    );
  });
  t.match(run, { code: 2, stderr: /usage: npm run jobs/ });
});
