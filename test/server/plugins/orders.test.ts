import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { claimSweepTurn } from '../../../server/src/plugins/orders.js';
import { serviceUrls } from '../../helpers/services.js';

t.test('one sweep turn per interval across instances', async (t) => {
  const a = new Redis(serviceUrls().redisUrl);
  const b = new Redis(serviceUrls().redisUrl);
  t.teardown(() => {
    a.disconnect();
    b.disconnect();
  });
  const key = `sweep:turn:test:${randomBytes(4).toString('hex')}`;
  const claims = await Promise.all([a, b, a, b].map((r) => claimSweepTurn(r, 300, key)));
  t.equal(claims.filter(Boolean).length, 1, 'exactly one instance gets the turn');
  await new Promise((r) => setTimeout(r, 350));
  t.equal(await claimSweepTurn(b, 300, key), true, 'the next interval has a turn again');
});
