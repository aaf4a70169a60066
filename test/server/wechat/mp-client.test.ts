import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createMpClient } from '../../../server/src/wechat/mp-client.js';
import { WxLoginError } from '../../../server/src/wechat/errors.js';

// Demo credentials generated for this test run; nothing real.
const SECRET = `demo-secret-${randomBytes(8).toString('hex')}`;

type Answer = { status?: number; body?: unknown; raw?: string; hang?: boolean; delayMs?: number };

async function fakeApi(t: Test, handler: (path: string, q: URLSearchParams, n: number) => Answer) {
  const seen: { path: string; query: URLSearchParams }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ path: url.pathname, query: url.searchParams });
    const a = handler(url.pathname, url.searchParams, seen.length);
    if (a.hang) return;
    const send = () => {
      res.statusCode = a.status ?? 200;
      res.setHeader('content-type', 'application/json');
      res.end(a.raw ?? JSON.stringify(a.body ?? {}));
    };
    if (a.delayMs) setTimeout(send, a.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function newAppid(): string {
  return `wx${randomBytes(8).toString('hex')}`;
}

async function loginError(p: Promise<unknown>): Promise<WxLoginError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WxLoginError) return e;
    throw e;
  }
  throw new Error('expected a WxLoginError');
}

function assertNoSecret(t: Test, e: Error) {
  t.notMatch(`${e.message}\n${e.stack ?? ''}\n${JSON.stringify(e)}`, SECRET, 'the appsecret is not in the error');
}

t.test('code2Session: success, with and without unionid', async (t) => {
  const appid = newAppid();
  const api = await fakeApi(t, (_p, q) => ({
    body: q.get('js_code') === 'code-u' ? { openid: 'o1', session_key: 'sk==', unionid: 'u1' } : { openid: 'o2', session_key: 'sk2==' },
  }));
  const mp = createMpClient({ appid, secret: SECRET, baseUrl: `${api.baseUrl}/` });
  t.same(await mp.code2Session('code-u'), { openid: 'o1', session_key: 'sk==', unionid: 'u1' });
  t.same(await mp.code2Session('code_2'), { openid: 'o2', session_key: 'sk2==' });
  const q = api.seen[0]!;
  t.equal(q.path, '/sns/jscode2session');
  t.equal(q.query.get('appid'), appid);
  t.equal(q.query.get('secret'), SECRET);
  t.equal(q.query.get('js_code'), 'code-u');
  t.equal(q.query.get('grant_type'), 'authorization_code');
});

t.test('code2Session: WeChat errcodes map to stable codes, never retried', async (t) => {
  const table: [number, string, boolean][] = [
    [40029, 'INVALID_CODE', false],
    [40163, 'CODE_USED', false],
    [45011, 'RATE_LIMITED', false],
    [40226, 'RISKY_USER', false],
    [-1, 'WECHAT_BUSY', true],
    [40013, 'WECHAT_ERROR', false],
  ];
  for (const [errcode, code, retriable] of table) {
    const api = await fakeApi(t, () => ({ body: { errcode, errmsg: `msg ${errcode}, rid: 1` } }));
    const e = await loginError(createMpClient({ appid: newAppid(), secret: SECRET, baseUrl: api.baseUrl }).code2Session('abc'));
    t.equal(e.code, code, String(errcode));
    t.equal(e.errcode, errcode);
    t.equal(e.retriable, retriable);
    t.equal(api.seen.length, 1);
    assertNoSecret(t, e);
  }
});

t.test('code2Session: malformed code refused before any request', async (t) => {
  const api = await fakeApi(t, () => ({ body: {} }));
  const mp = createMpClient({ appid: newAppid(), secret: SECRET, baseUrl: api.baseUrl });
  for (const bad of ['', 'a b', 'a&secret=x', 'x'.repeat(129), 42 as unknown as string]) {
    t.equal((await loginError(mp.code2Session(bad))).code, 'INVALID_CODE');
  }
  t.equal(api.seen.length, 0);
});

t.test('code2Session: transport failures and bad answers', async (t) => {
  const cases: [string, Answer, string][] = [
    ['not json', { raw: '<html>' }, 'BAD_RESPONSE'],
    ['array', { raw: '[]' }, 'BAD_RESPONSE'],
    ['no session_key', { body: { openid: 'o' } }, 'BAD_RESPONSE'],
    ['errcode 0 without data', { body: { errcode: 0, errmsg: 'ok' } }, 'BAD_RESPONSE'],
    ['http 502', { status: 502, raw: 'bad gateway' }, 'WECHAT_BUSY'],
    ['http 404', { status: 404, raw: 'nope' }, 'BAD_RESPONSE'],
    ['hang', { hang: true }, 'TIMEOUT'],
  ];
  for (const [label, answer, code] of cases) {
    const api = await fakeApi(t, () => answer);
    const e = await loginError(createMpClient({ appid: newAppid(), secret: SECRET, baseUrl: api.baseUrl, timeoutMs: 200 }).code2Session('abc'));
    t.equal(e.code, code, label);
    assertNoSecret(t, e);
  }
  const e = await loginError(createMpClient({ appid: newAppid(), secret: SECRET, baseUrl: 'http://127.0.0.1:1' }).code2Session('abc'));
  t.equal(e.code, 'NETWORK');
  assertNoSecret(t, e);
  t.throws(() => createMpClient({ appid: 'wx1', secret: '', baseUrl: 'http://x' }), TypeError);
});

// ---------- access token ----------

async function redisForTest(t: Test): Promise<Redis> {
  let url = process.env.REDIS_URL;
  if (!url) {
    const dir = mkdtempSync(join(tmpdir(), 'wx-redis-'));
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    t.teardown(() => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    });
    url = `redis://127.0.0.1:${port}`;
  }
  const redis = new Redis(url, { maxRetriesPerRequest: 3, retryStrategy: (n) => (n > 50 ? null : 100) });
  t.teardown(() => redis.quit().catch(() => undefined));
  await redis.ping();
  return redis;
}

function tokenApi(t: Test, opts: { expiresIn?: number; delayMs?: number; fail?: (n: number) => boolean } = {}) {
  return fakeApi(t, (path, q, n) => {
    if (path !== '/cgi-bin/token' || q.get('grant_type') !== 'client_credential' || q.get('secret') !== SECRET) {
      return { body: { errcode: 40013, errmsg: 'bad request' } };
    }
    if (opts.fail?.(n)) return { body: { errcode: 40001, errmsg: 'invalid credential' } };
    return { body: { access_token: `TOKEN_${n}`, expires_in: opts.expiresIn ?? 7200 }, delayMs: opts.delayMs ?? 0 };
  });
}

t.test('access token without Redis: cached in process, one fetch for concurrent callers', async (t) => {
  const api = await tokenApi(t, { delayMs: 50 });
  const mp = createMpClient({ appid: newAppid(), secret: SECRET, baseUrl: api.baseUrl });
  const tokens = await Promise.all(Array.from({ length: 10 }, () => mp.getAccessToken()));
  t.same(new Set(tokens), new Set(['TOKEN_1']));
  t.equal(await mp.getAccessToken(), 'TOKEN_1');
  t.equal(api.seen.length, 1);
  await mp.invalidateAccessToken('TOKEN_1');
  t.equal(await mp.getAccessToken(), 'TOKEN_2');
});

t.test('access token shared through Redis: one refresh across instances, TTL below expires_in', async (t) => {
  const redis = await redisForTest(t);
  const appid = newAppid();
  t.teardown(() => redis.del(`wx:access_token:${appid}`).catch(() => undefined));
  const api = await tokenApi(t, { delayMs: 150 });
  const instances = Array.from({ length: 3 }, () => createMpClient({ appid, secret: SECRET, baseUrl: api.baseUrl, redis }));
  const tokens = await Promise.all(instances.flatMap((mp) => Array.from({ length: 8 }, () => mp.getAccessToken())));
  t.same(new Set(tokens), new Set(['TOKEN_1']), 'every caller got the same token');
  t.equal(api.seen.length, 1, 'WeChat was asked once');
  t.equal(await redis.get(`wx:access_token:${appid}`), 'TOKEN_1');
  const ttl = await redis.pttl(`wx:access_token:${appid}`);
  t.ok(ttl > 0 && ttl <= (7200 - 300) * 1000, `ttl ${ttl} leaves a margin before WeChat's expiry`);
  t.equal(await redis.exists(`wx:access_token:${appid}:lock`), 0, 'lock released');

  // A fresh instance reads the shared cache without asking WeChat.
  const late = createMpClient({ appid, secret: SECRET, baseUrl: api.baseUrl, redis });
  t.equal(await late.getAccessToken(), 'TOKEN_1');
  t.equal(api.seen.length, 1);

  // Invalidation removes only the token it names.
  await late.invalidateAccessToken('SOMETHING_ELSE');
  t.equal(await redis.get(`wx:access_token:${appid}`), 'TOKEN_1');
  await late.invalidateAccessToken('TOKEN_1');
  t.equal(await instances[0]!.getAccessToken(), 'TOKEN_2');
  t.equal(api.seen.length, 2);
});

t.test('access token: a lock left by a crashed instance expires and the refresh goes ahead', async (t) => {
  const redis = await redisForTest(t);
  const appid = newAppid();
  t.teardown(() => redis.del(`wx:access_token:${appid}`).catch(() => undefined));
  await redis.set(`wx:access_token:${appid}:lock`, 'crashed-instance', 'PX', 300);
  const api = await tokenApi(t);
  const mp = createMpClient({ appid, secret: SECRET, baseUrl: api.baseUrl, redis, timeoutMs: 1000 });
  t.equal(await mp.getAccessToken(), 'TOKEN_1');
  t.equal(api.seen.length, 1);
});

t.test('access token: WeChat refusing is a WxLoginError, nothing cached, lock released', async (t) => {
  const redis = await redisForTest(t);
  const appid = newAppid();
  t.teardown(() => redis.del(`wx:access_token:${appid}`).catch(() => undefined));
  const api = await tokenApi(t, { fail: (n) => n === 1 });
  const mp = createMpClient({ appid, secret: SECRET, baseUrl: api.baseUrl, redis });
  const e = await loginError(mp.getAccessToken());
  t.equal(e.code, 'WECHAT_ERROR');
  t.equal(e.errcode, 40001);
  assertNoSecret(t, e);
  t.equal(await redis.exists(`wx:access_token:${appid}`), 0);
  t.equal(await redis.exists(`wx:access_token:${appid}:lock`), 0);
  t.equal(await mp.getAccessToken(), 'TOKEN_2', 'the next call tries again');

  const bad = await fakeApi(t, () => ({ body: { access_token: '', expires_in: 7200 } }));
  t.equal((await loginError(createMpClient({ appid: newAppid(), secret: SECRET, baseUrl: bad.baseUrl }).getAccessToken())).code, 'BAD_RESPONSE');
});
