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

t.test('close waits for a request in flight, then does not wait out keep-alive', async (t) => {
  const { request, Agent } = await import('node:http');
  const app = await buildApp({ config: testConfig(), dbName: freshDbName('app') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  let status = 0;
  const answered = new Promise<void>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/wxpay/notify', method: 'POST', agent, headers: { 'content-type': 'text/xml' } },
      (res) => {
        status = res.statusCode ?? 0;
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.write('<xml>');
    setTimeout(() => req.end('</xml>'), 300);
  });
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  const closed = app.close().then(() => Date.now() - started);
  await answered;
  t.equal(status, 400, 'the request in flight was answered (an empty notify gets FAIL)');
  const took = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
  t.not(took, -1, 'closed without waiting for the keep-alive timeout');
});
