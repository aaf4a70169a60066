import t from 'tap';
import { ConfigError, loadConfig } from '../../../server/src/config.js';

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted ' + JSON.stringify(env));
}

t.test('docs: on by default, off in production, DOCS_ENABLED decides when given', async (t) => {
  t.equal(loadConfig({}).observability.docsEnabled, true);
  t.equal(loadConfig({ NODE_ENV: 'development' }).observability.docsEnabled, true);
  t.equal(loadConfig({ NODE_ENV: 'production' }).observability.docsEnabled, false);
  t.equal(loadConfig({ NODE_ENV: 'production', DOCS_ENABLED: '1' }).observability.docsEnabled, true);
  t.equal(loadConfig({ NODE_ENV: 'production', DOCS_ENABLED: 'true' }).observability.docsEnabled, true);
  t.equal(loadConfig({ DOCS_ENABLED: '0' }).observability.docsEnabled, false);
  t.equal(failure({ DOCS_ENABLED: 'yes' }).variable, 'DOCS_ENABLED');
});

t.test('metrics: no token and no admin port by default; bad values stop boot naming the variable', async (t) => {
  const c = loadConfig({});
  t.equal(c.observability.metricsToken, undefined);
  t.equal(c.observability.adminPort, undefined);
  const token = 'T'.repeat(32);
  t.equal(loadConfig({ METRICS_TOKEN: token }).observability.metricsToken, token);
  t.equal(loadConfig({ ADMIN_PORT: '9100' }).observability.adminPort, 9100);

  const short = failure({ METRICS_TOKEN: 'short-secret' });
  t.equal(short.variable, 'METRICS_TOKEN');
  t.notOk(short.message.includes('short-secret'), 'the rejected token is not echoed');
  t.equal(failure({ METRICS_TOKEN: 'x'.repeat(31) + ' ' }).variable, 'METRICS_TOKEN');
  t.equal(failure({ ADMIN_PORT: '70000' }).variable, 'ADMIN_PORT');
  t.equal(failure({ ADMIN_PORT: 'admin' }).variable, 'ADMIN_PORT');
});
