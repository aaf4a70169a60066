// Operators' view of the job queues until the console has one:
//   npm run jobs -- counts
//   npm run jobs -- dead [--limit 20]
//   npm run jobs -- retry <id>          (an id as `dead` prints it: <name>/<jobId>)
// REDIS_URL names the server's Redis; --prefix its queue prefix (default `jobs`, as main.ts uses).
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ORDER_JOBS } from '../orders/jobs.js';
import { RECONCILE_JOBS } from '../reconciliation/jobs.js';
import { createJobs, type JobLog } from './queue.js';

/** Every job name the server defines; a new domain's jobs are added here. */
const KNOWN_JOBS: readonly string[] = [...Object.values(ORDER_JOBS), ...Object.values(RECONCILE_JOBS)];

const USAGE = 'usage: npm run jobs -- counts | dead [--limit N] | retry <name>/<jobId>  [--prefix jobs]';

export interface CliIo {
  env: Record<string, string | undefined>;
  out(line: string): void;
  err(line: string): void;
}

/** The CLI as a function (tests call it in-process): returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { prefix: { type: 'string', default: 'jobs' }, limit: { type: 'string', default: '20' } },
  });
  const [command, arg] = positionals;
  const { out, err } = io;
  if (!command || !['counts', 'dead', 'retry'].includes(command) || (command === 'retry' && !arg)) {
    err(USAGE);
    return 2;
  }
  const redisUrl = io.env.REDIS_URL;
  if (!redisUrl) {
    err('REDIS_URL must name the Redis the server uses (npm start prints it when it starts one)');
    return 2;
  }
  const quiet = () => undefined;
  const log = { debug: quiet, info: quiet, warn: (_o: unknown, m?: string) => err(`warning: ${m ?? ''}`), error: (_o: unknown, m?: string) => err(`error: ${m ?? ''}`) };
  const jobs = await createJobs({ redisUrl, prefix: values.prefix!, workers: false, log: log as unknown as JobLog });
  try {
    for (const name of KNOWN_JOBS) jobs.attach(name);
    if (command === 'counts') {
      for (const [name, c] of Object.entries(await jobs.counts())) {
        out(`${name.padEnd(22)} waiting ${c.waiting}  active ${c.active}  delayed ${c.delayed}  dead ${c.failed}`);
      }
      return 0;
    }
    if (command === 'dead') {
      const limit = Number.parseInt(values.limit!, 10);
      const dead = await jobs.deadLetters({ limit: Number.isFinite(limit) && limit > 0 ? limit : 20 });
      if (dead.length === 0) out('no dead jobs');
      for (const d of dead) out(`${d.failedAt.toISOString()}  ${d.id}  after ${d.attempts} attempts: ${d.error}  ${JSON.stringify(d.payload)}`);
      return 0;
    }
    if (await jobs.retryDead(arg!)) {
      out(`${arg} is back in line, with all its attempts`);
      return 0;
    }
    err(`no dead job ${arg} (see: npm run jobs -- dead)`);
    return 1;
  } finally {
    await jobs.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
