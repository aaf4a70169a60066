import { spawn, type ChildProcess } from 'node:child_process';
import { findExecutable, freePort, pingRedis, startLocalServices } from '../../../server/src/local-services.js';

export interface OwnRedis {
  url: string;
  port: number;
  /** SIGSTOP: the connection stays open and nothing answers */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /** stops it for good (SIGKILL, like a crash) */
  kill(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * A redis-server of this test's own on a free loopback port, so that it can be paused, filled or
 * killed without harming the shared one. Stopped at teardown.
 */
export async function startOwnRedis(t: Teardown, extraArgs: string[] = []): Promise<OwnRedis> {
  const bin = await findExecutable('redis-server');
  if (!bin) throw new Error('redis-server is not installed (npm test installs it: scripts/ensure-services.sh)');
  const port = await freePort();
  const proc: ChildProcess = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning', ...extraArgs],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let dead = false;
  const kill = async () => {
    if (dead) return;
    dead = true;
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  };
  t.teardown(kill);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await pingRedis(port);
      break;
    } catch (err) {
      if (Date.now() > deadline || proc.exitCode !== null) {
        await kill();
        throw new Error(`own redis-server did not start: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: () => void proc.kill('SIGSTOP'),
    resume: () => void proc.kill('SIGCONT'),
    kill,
  };
}

/** A throwaway MongoDB-compatible server (FerretDB here), to stop while the app runs on it. */
export async function startOwnDatabase(t: Teardown): Promise<{ uri: string; stop(): Promise<void> }> {
  const services = await startLocalServices({ need: { mongo: true, redis: false } });
  t.teardown(() => services.stop());
  return { uri: services.mongoUri!, stop: () => services.stop() };
}

/** Resolves with what `p` gives, or with 'no answer' once `ms` have passed: a guard, not a timing assertion. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | 'no answer'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'no answer'>((resolve) => {
    timer = setTimeout(() => resolve('no answer'), ms);
  });
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(timer);
  }
}
