import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

// Both act only while the key still holds our token: a holder whose lease ran out (and whose lock
// another took since) neither extends nor deletes the other's lock.
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

export interface HeldLock {
  /** aborted when the lock was lost (taken by another after a lapse, or not renewable for a whole lease) */
  signal: AbortSignal;
}

/**
 * Runs `fn` while holding a Redis lock shared by every server instance; returns `{ acquired: false }`
 * at once when another holder has it.
 *
 * The lock is a lease of `leaseMs`, renewed every third of it for as long as `fn` runs, so work of
 * any length keeps its lock, while a holder that dies (kill -9, a crash) frees it within one lease.
 * The lease need not cover the worst case of the work, only a stall of this process or of Redis.
 * Should the lock be lost anyway, `signal` aborts; the writes it guards stay conditional in the
 * database, so a lapse costs duplicated work, never a wrong state.
 */
export async function withLock<T>(
  redis: Redis,
  key: string,
  leaseMs: number,
  fn: (lock: HeldLock) => Promise<T>,
): Promise<{ acquired: true; value: T } | { acquired: false }> {
  const token = randomBytes(16).toString('hex');
  const lease = Math.max(Math.floor(leaseMs), 30);
  let renewedAt = Date.now();
  const ok = await redis.set(key, token, 'PX', lease, 'NX');
  if (ok !== 'OK') return { acquired: false };

  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const renew = async () => {
    const sentAt = Date.now();
    try {
      const renewed = await redis.eval(RENEW, 1, key, token, String(lease));
      if (renewed === 1) renewedAt = sentAt;
      else controller.abort(new Error(`lock ${key} was taken by another holder`));
    } catch {
      // Redis did not answer: try again next time, unless the lease has surely run out by now.
      if (Date.now() - renewedAt >= lease) controller.abort(new Error(`lock ${key} could not be renewed`));
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      void renew().finally(() => {
        if (!done && !controller.signal.aborted) schedule();
      });
    }, Math.floor(lease / 3));
    timer.unref();
  };
  schedule();
  try {
    return { acquired: true, value: await fn({ signal: controller.signal }) };
  } finally {
    done = true;
    clearTimeout(timer);
    // A failed release leaves the lock to lapse on its own within one lease.
    await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
  }
}
