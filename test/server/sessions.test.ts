import t from 'tap';
import { createHash } from 'node:crypto';
import { apiClient, sleep } from '../helpers/api.js';
import { startStack } from '../helpers/stack.js';

t.test('a session token lives SESSION_TTL_SECONDS and then stops working', async (t) => {
  const s = await startStack({ env: { SESSION_TTL_SECONDS: '1' } });
  t.teardown(() => s.close());
  const { token } = await s.login();
  const key = `sess:${createHash('sha256').update(token).digest('hex')}`;
  const ttl = await s.app.redis.pttl(key);
  t.ok(ttl > 0 && ttl <= 1000, `the Redis key expires with the session (pttl ${ttl})`);
  const me = apiClient(s.apiBase, token);
  t.equal((await me.call('GET', '/api/orders')).status, 200);
  await sleep(1300);
  const after = await me.call('GET', '/api/orders');
  t.equal(after.status, 401, 'expired');
  t.match(after.body, { code: 'UNAUTHORIZED' });
});
