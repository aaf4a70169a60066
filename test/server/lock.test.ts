import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { withLock } from '../../server/src/lock.js';
import { serviceUrls } from '../helpers/services.js';
import { sleep } from '../helpers/api.js';

const redis = new Redis(serviceUrls().redisUrl);
t.teardown(() => redis.quit());
const freshKey = () => `lock:test:${randomBytes(6).toString('hex')}`;

/** Blocks this whole process (event loop included) as a long GC pause or an overloaded host would. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

t.test('mutual exclusion: of many concurrent callers exactly one holds the lock', async (t) => {
  const key = freshKey();
  let inside = 0;
  let most = 0;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      withLock(redis, key, 2_000, async () => {
        inside++;
        most = Math.max(most, inside);
        await sleep(200);
        inside--;
        return i;
      }),
    ),
  );
  t.equal(results.filter((r) => r.acquired).length, 1, 'one holder');
  t.equal(most, 1, 'never two inside');
  t.equal(await redis.exists(key), 0, 'released when done');
  t.equal((await withLock(redis, key, 2_000, async () => 'next')).acquired, true, 'free for the next caller');
});

t.test('a long call keeps its lock: the lease is renewed while it runs', async (t) => {
  const key = freshKey();
  const lease = 600;
  let aborted = false;
  const held = await withLock(redis, key, lease, async ({ signal }) => {
    const refusals: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(lease / 2);
      refusals.push(!(await withLock(redis, key, lease, async () => undefined)).acquired);
    }
    aborted = signal.aborted;
    return refusals;
  });
  t.ok(held.acquired);
  if (held.acquired) t.same(held.value, [true, true, true, true, true], 'still held after several leases');
  t.equal(aborted, false, 'the holder was never told it lost the lock');
  t.equal(await redis.exists(key), 0);
});

t.test('owner-only release: a holder whose lease ran out does not delete the next holder\'s lock', async (t) => {
  const key = freshKey();
  const lease = 300;
  let bReleased!: () => void;
  const bMayFinish = new Promise<void>((r) => (bReleased = r));
  let b: Promise<{ acquired: boolean }> | undefined;
  let aSawLoss = false;
  const a = await withLock(redis, key, lease, async ({ signal }) => {
    stall(lease * 2); // no renewal can run: the lease lapses in Redis
    b = withLock(redis, key, 5_000, () => bMayFinish);
    await sleep(lease);
    aSawLoss = signal.aborted;
  });
  t.ok(a.acquired);
  t.ok(aSawLoss, 'the first holder is told it lost the lock');
  t.equal(await redis.exists(key), 1, "the second holder's lock survived the first one's release");
  t.equal((await withLock(redis, key, 1_000, async () => undefined)).acquired, false, 'and still excludes others');
  bReleased();
  t.match(await b, { acquired: true }, 'the second caller held it');
  t.equal(await redis.exists(key), 0);
});

t.test('a holder killed with SIGKILL frees its lock within one lease, not after the whole call', async (t) => {
  const key = freshKey();
  const lease = 5_000; // the pay and query locks' lease (orders/service.ts)
  const holder = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./helpers/lock-holder.ts', import.meta.url)), serviceUrls().redisUrl, key, String(lease)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => void holder.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    holder.once('exit', () => reject(new Error('the holder exited before taking the lock')));
  });
  await sleep(lease * 1.2);
  t.equal((await withLock(redis, key, 1_000, async () => undefined)).acquired, false, 'held past one lease while its holder lives');

  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  t.equal((await withLock(redis, key, 1_000, async () => undefined)).acquired, false, 'a dead holder still blocks at first');
  const until = Date.now() + lease + 5_000; // a guard, not a timing assertion
  let freed = false;
  while (!freed && Date.now() < until) {
    freed = (await withLock(redis, key, 1_000, async () => undefined)).acquired;
    if (!freed) await sleep(200);
  }
  t.ok(freed, 'free again once the lease ran out');
});
