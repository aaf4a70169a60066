import t from 'tap';
import { apiClient } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';

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

t.test('logins are rate limited per client', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const api = apiClient(s.apiBase);
  const statuses: number[] = [];
  for (let i = 0; i < 25; i++) statuses.push((await api.call('POST', '/api/session', { code: `nosuchcode${i}` })).status);
  t.equal(statuses.filter((x) => x === 400).length, 20, 'the first 20 are judged');
  t.equal(statuses.filter((x) => x === 429).length, 5, 'the rest are refused');
  const res = await api.call('POST', '/api/session', { code: 'nosuchcode' });
  t.match(res.body, { code: 'RATE_LIMITED', statusCode: 429 });
});
