import t from 'tap';
import { Writable } from 'node:stream';
import { buildApp } from '../../server/src/app.js';
import { loggerOptions } from '../../server/src/logger.js';
import { apiClient } from '../helpers/api.js';
import { freshDbName, testConfig } from '../helpers/services.js';
import { startStack } from '../helpers/stack.js';
import { startOwnRedis } from './helpers/own-services.js';

function capture() {
  const lines: string[] = [];
  return {
    lines,
    stream: { write: (line: string) => void lines.push(line) },
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

// WeChat's session_key: base64 of 16 bytes.
const SESSION_KEY_RE = /[A-Za-z0-9+/]{22}==/;

t.test('Redis refusing a write (OOM) during a real login: the log says what failed, not the session it was writing', async (t) => {
  const redis = await startOwnRedis(t, ['--maxmemory-policy', 'noeviction']);
  const log = capture();
  const s = await startStack({ env: { REDIS_URL: redis.url }, logStream: log.stream });
  t.teardown(() => s.close());

  // A login while Redis has room: its token and session_key are what must never appear below.
  const first = await s.login('oLogTest_first_login_00000001');
  const stored = JSON.parse((await s.app.redis.get((await s.app.redis.keys('sess:*'))[0]!))!) as { sessionKey: string };
  t.match(stored.sessionKey, SESSION_KEY_RE, 'the sandbox hands out session_keys of the real format');

  await s.app.redis.config('SET', 'maxmemory', '1mb');
  t.teardown(() => s.app.redis.config('SET', 'maxmemory', '0').catch(() => undefined));
  const openid = 'oLogTest_refused_login_000002';
  const res = await apiClient(s.apiBase).call('POST', '/api/session', { code: await s.mintCode(openid) });
  t.equal(res.status, 503);
  t.match(res.body, { code: 'REDIS_UNAVAILABLE' });

  const text = log.lines.join('');
  const failed = log.records().find((r) => r.msg === 'request failed');
  t.ok(failed, 'the failure is logged');
  t.match(failed, { code: 'REDIS_UNAVAILABLE', err: { type: 'ReplyError', message: /^OOM/, command: 'eval' } }, 'it says what failed');
  t.notMatch(text, SESSION_KEY_RE, 'no session_key');
  t.notOk(text.includes(stored.sessionKey), "not the first login's session_key either");
  t.notOk(text.includes(first.token), 'no token');
  t.notOk(text.includes(openid), 'nothing of the session being written');
  t.notMatch(text, /sessionKey|session_key|"args"|sess:/);
});

t.test('a driver error carrying the documents it was writing (bulk write) is logged without them', async (t) => {
  const log = capture();
  const app = await buildApp({
    config: testConfig(),
    dbName: freshDbName('logger'),
    logger: { ...(loggerOptions('info') as object), stream: log.stream },
  });
  t.teardown(() => app.close());
  const collection = app.mongo.collection('log_test');
  const secret = 'do_not_log_me_0123456789abcdef';
  // The driver keeps each refused document on its error (writeErrors[].err.op), whatever the server says.
  const err = await collection.insertMany([{ _id: 'dup' as never, note: secret }, { _id: 'dup' as never, note: secret }]).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof Error, 'the database refused the duplicate');
  t.match(err, { code: 11000 });
  t.ok(JSON.stringify(err).includes(secret), 'the error does carry the document');

  log.lines.length = 0;
  const logger = app.log;
  logger.error({ err }, 'insert failed');
  logger.error({ cause: err, nested: { error: err } }, 'under other keys too');
  logger.error(err as Error);
  const text = log.lines.join('');
  t.equal(log.lines.length, 3);
  t.notOk(text.includes(secret), 'the document is not in the log');
  t.notMatch(text, /keyValue|errorResponse|writeErrors|insertedIds|"op"/);
  for (const r of log.records()) {
    const e = (r.err ?? r.cause ?? (r.nested as { error: unknown }).error) as Record<string, unknown>;
    t.match(e, { type: 'MongoBulkWriteError', code: 11000, message: /E11000 duplicate key/ }, 'still says what failed');
  }
});
