// Usage: node --import tsx scripts/with-services.ts <cmd> [args...]
// Runs <cmd> with MONGODB_URI and REDIS_URL set, starting local servers for
// whichever of them is unset, and stops those servers when <cmd> ends.
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { startLocalServices, type LocalServices } from '../server/src/local-services.js';

const say = (line: string): void => {
  process.stderr.write(`[with-services] ${line}\n`);
};

async function main(): Promise<number> {
  const [cmd, ...args] = process.argv.slice(2);
  if (!cmd) {
    say('usage: node --import tsx scripts/with-services.ts <cmd> [args...]');
    return 2;
  }

  const need = { mongo: !process.env.MONGODB_URI, redis: !process.env.REDIS_URL };
  let services: LocalServices | undefined;
  // A signal during startup must still stop what has started.
  let interrupted: NodeJS.Signals | undefined;
  const early = (signal: NodeJS.Signals): void => {
    interrupted = signal;
  };
  process.on('SIGINT', early);
  process.on('SIGTERM', early);

  if (need.mongo || need.redis) {
    try {
      services = await startLocalServices({ need, log: say });
    } catch (err) {
      say(err instanceof Error ? err.message : String(err));
      return 1;
    }
    if (services.mongoUri) process.env.MONGODB_URI = services.mongoUri;
    if (services.redisUrl) process.env.REDIS_URL = services.redisUrl;
  }
  if (interrupted) {
    await services?.stop();
    return 128 + (osConstants.signals[interrupted] ?? 0);
  }

  const code = await new Promise<number>((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env: process.env });
    const forward = (signal: NodeJS.Signals): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    process.off('SIGINT', early);
    process.off('SIGTERM', early);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.once('error', (err: NodeJS.ErrnoException) => {
      say(err.code === 'ENOENT' ? `command not found: ${cmd}` : `could not run ${cmd}: ${err.message}`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (exitCode, signal) => {
      resolve(exitCode ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1));
    });
  });

  await services?.stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
