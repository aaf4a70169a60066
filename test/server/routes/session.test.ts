import t from 'tap';
import { apiClient } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';
import { LOGIN_LIMITS } from '../../../server/src/login-limits.js';

t.test('login: a wx.login code becomes an opaque token; nothing secret comes back', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const api = apiClient(s.apiBase);
  const code = await s.mintCode('oUser_session_test_0000000001');
  const res = await api.call<{ token: string; expiresIn: number }>('POST', '/api/session', { code });
  t.equal(res.status, 200);
  t.match(res.body, { token: /^[A-Za-z0-9_-]{43}$/, expiresIn: s.config.session.ttl });
  t.same(Object.keys(res.body as object).sort(), ['expiresIn', 'token']);
  t.notMatch(res.text, /session_key|openid|secret/i);

  // The token works, and the code cannot be used twice.
  const me = apiClient(s.apiBase, res.body.token);
  t.equal((await me.call('GET', '/api/orders')).status, 200);
  const again = await api.call('POST', '/api/session', { code });
  t.equal(again.status, 400);
  t.match(again.body, { code: 'LOGIN_CODE_USED' });

  // Revoked: the token stops working.
  t.equal((await me.call('DELETE', '/api/session')).status, 204);
  const after = await me.call('GET', '/api/orders');
  t.equal(after.status, 401);
  t.match(after.body, { code: 'UNAUTHORIZED' });
});

t.test("WeChat's login errors map to clear 4xx/5xx codes", async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const api = apiClient(s.apiBase);

  const bogus = await api.call('POST', '/api/session', { code: 'thiscodewasnevergiven' });
  t.equal(bogus.status, 400);
  t.match(bogus.body, { code: 'LOGIN_INVALID_CODE' });

  for (const [errcode, status, code] of [
    [45011, 429, 'LOGIN_RATE_LIMITED'],
    [40226, 403, 'LOGIN_RISKY_USER'],
    [-1, 503, 'WECHAT_BUSY'],
  ] as const) {
    await s.faults({ login: { errcode } });
    const res = await api.call('POST', '/api/session', { code: await s.mintCode() });
    t.equal(res.status, status, `errcode ${errcode}`);
    t.match(res.body, { code });
  }

  for (const body of [{}, { code: '' }, { code: 'a b' }, { code: 12 }, 'not json']) {
    const res = await api.call('POST', '/api/session', body);
    t.equal(res.status, 400, `bad body ${JSON.stringify(body)}`);
    t.type((res.body as { code?: unknown }).code, 'string');
  }
});

t.test('a missing, malformed or unknown token is a 401', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  for (const header of [undefined, 'Bearer', 'Basic abc', 'Bearer ' + 'x'.repeat(43), 'Bearer short']) {
    const res = await apiClient(s.apiBase).call('GET', '/api/orders', undefined, header ? { authorization: header } : {});
    t.equal(res.status, 401, String(header));
    t.match(res.body, { code: 'UNAUTHORIZED' });
  }
});

/** POST /api/session from a given loopback source address, so that tests can be several clients. */
async function loginFrom(from: string, base: string, code: string): Promise<{ status: number; body: unknown; retryAfter?: string }> {
  const { request } = await import('node:http');
  const url = new URL('/api/session', base);
  const payload = JSON.stringify({ code });
  return await new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, retryAfter: res.headers['retry-after'] as string | undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

t.test('a NAT full of honest buyers: 200 different users log in from one IP within a minute', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const statuses: number[] = [];
  for (let batch = 0; batch < 20; batch++) {
    const codes = await Promise.all(Array.from({ length: 10 }, (_, i) => s.mintCode(`oNatUser_${String(batch * 10 + i).padStart(20, '0')}`)));
    const answers = await Promise.all(codes.map((code) => loginFrom('127.0.0.1', s.apiBase, code)));
    statuses.push(...answers.map((a) => a.status));
  }
  t.equal(statuses.length, 200);
  t.equal(statuses.filter((x) => x === 200).length, 200, 'every one got a session');
});

t.test('a client spamming invalid codes is refused after its budget; other clients are not', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const budget = LOGIN_LIMITS.failedPerIp.max;
  const statuses: number[] = [];
  for (let i = 0; i < budget + 5; i++) statuses.push((await loginFrom('127.0.0.2', s.apiBase, `nosuchcode${i}`)).status);
  t.equal(statuses.filter((x) => x === 400).length, budget, `the first ${budget} are judged by WeChat`);
  t.equal(statuses.filter((x) => x === 429).length, 5, 'the rest are refused without asking WeChat');

  const refused = await loginFrom('127.0.0.2', s.apiBase, await s.mintCode());
  t.equal(refused.status, 429, 'that client stays refused for the window');
  t.match(refused.body, { code: 'LOGIN_RATE_LIMITED', statusCode: 429, message: /try again in \d+ seconds/ });
  t.match(refused.retryAfter, /^\d+$/, 'with Retry-After');
  t.ok(Number(refused.retryAfter) <= LOGIN_LIMITS.failedPerIp.windowMs / 1000);

  const other = await loginFrom('127.0.0.3', s.apiBase, await s.mintCode());
  t.equal(other.status, 200, 'another client logs in as usual');
  // Honest failures are rare: one stale code does not cost a client its logins.
  t.equal((await loginFrom('127.0.0.3', s.apiBase, 'expiredcode')).status, 400);
  t.equal((await loginFrom('127.0.0.3', s.apiBase, await s.mintCode())).status, 200);
});

t.test('one user logging in over and over is limited, from whichever IP', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const openid = 'oRepeat_user_000000000000001';
  const max = LOGIN_LIMITS.perUser.max;
  const ips = ['127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'];
  const statuses: number[] = [];
  for (let i = 0; i < max; i++) statuses.push((await loginFrom(ips[i % ips.length]!, s.apiBase, await s.mintCode(openid))).status);
  t.equal(statuses.filter((x) => x === 200).length, max, `${max} logins are plenty for a day`);
  const over = await loginFrom('127.0.0.8', s.apiBase, await s.mintCode(openid));
  t.equal(over.status, 429);
  t.match(over.body, { code: 'LOGIN_RATE_LIMITED' });
  t.match(over.retryAfter, /^\d+$/);
  t.equal((await loginFrom('127.0.0.8', s.apiBase, await s.mintCode())).status, 200, 'another user from the same IP is fine');
});

t.test('a flood of login requests from one IP meets the per-IP ceiling', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const api = apiClient(s.apiBase);
  const max = LOGIN_LIMITS.perIp.max;
  let refused = 0;
  let last: unknown;
  // Malformed bodies: nothing reaches WeChat, only the ceiling counts them.
  for (let i = 0; i < max + 3; i++) {
    const res = await api.call('POST', '/api/session', { code: '' });
    if (res.status === 429) {
      refused++;
      last = res.body;
    }
  }
  t.equal(refused, 3);
  t.match(last, { code: 'RATE_LIMITED', statusCode: 429 });
});
