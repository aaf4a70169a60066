import t from 'tap';
import { buildApp } from '../../server/src/app.js';
import { freshDbName, testConfig } from '../helpers/services.js';

t.test('healthz pings the real MongoDB and Redis', async (t) => {
  const app = await buildApp({ config: testConfig(), dbName: freshDbName('app') });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok', mongo: 'ok', redis: 'ok' });
});

t.test('healthz says 503 and which service is down', async (t) => {
  const app = await buildApp({ config: testConfig(), dbName: freshDbName('app') });
  t.teardown(() => app.close());
  app.redis.disconnect(false);
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 503);
  t.same(res.json(), { status: 'down', mongo: 'ok', redis: 'down' });
});

t.test('unknown routes get a machine-readable 404', async (t) => {
  const app = await buildApp({ config: testConfig(), dbName: freshDbName('app') });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
  t.equal(res.statusCode, 404);
  t.match(res.json(), { code: 'ROUTE_NOT_FOUND', message: 'No route GET /nope' });
});

t.test('an unreachable service stops buildApp with an error, not a hang', async (t) => {
  const config = { ...testConfig(), redisUrl: 'redis://127.0.0.1:1' };
  await t.rejects(buildApp({ config, dbName: freshDbName('app') }));
});
