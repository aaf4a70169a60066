// Run as a child process by lock.test.ts: takes a lock, says "held", and holds it until killed.
import { Redis } from 'ioredis';
import { withLock } from '../../../server/src/lock.js';

const [url, key, lease] = process.argv.slice(2);
const redis = new Redis(url!);
await withLock(redis, key!, Number(lease), async () => {
  process.stdout.write('held\n');
  await new Promise(() => undefined);
});
