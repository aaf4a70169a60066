// api.weixin.qq.com side with plain fetch: login codes, jscode2session, cgi-bin/token, login faults.
import t from 'tap';
import { MERCHANT, OTHER, sandbox } from './helpers.js';

type Sb = Awaited<ReturnType<typeof sandbox>>;

async function code2session(sb: Sb, q: Record<string, string>) {
  const res = await fetch(`${sb.url}/sns/jscode2session?${new URLSearchParams(q)}`);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), body: JSON.parse(text) as Record<string, unknown> };
}

const q = (code: string, extra: Record<string, string> = {}) => ({
  appid: MERCHANT.appid,
  secret: MERCHANT.secret,
  js_code: code,
  grant_type: 'authorization_code',
  ...extra,
});

t.test('login code → jscode2session → openid + session_key; single use', async (t) => {
  const sb = await sandbox(t);
  const minted = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  t.equal(minted.status, 200);
  t.match(minted.body, { code: /^[A-Za-z0-9]{32}$/, openid: /^o[A-Za-z0-9_-]{27}$/ });
  const r = await code2session(sb, q(minted.body.code));
  t.equal(r.status, 200);
  t.equal(r.contentType, 'text/plain', 'WeChat answers JSON as text/plain');
  t.same(Object.keys(r.body).sort(), ['openid', 'session_key']);
  t.equal(r.body.openid, minted.body.openid);
  t.match(r.body.session_key, /^[A-Za-z0-9+/]{22}==$/);
  const again = await code2session(sb, q(minted.body.code));
  t.match(again.body, { errcode: 40163, errmsg: /^code been used, rid: / });
  t.notOk(again.body.openid);

  const second = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid, openid: minted.body.openid, unionid: 'oU_union_1' });
  t.equal(second.body.openid, minted.body.openid, 'an openid can be named');
  const r2 = await code2session(sb, q(second.body.code));
  t.equal(r2.body.openid, minted.body.openid);
  t.equal(r2.body.unionid, 'oU_union_1');
  t.not(r2.body.session_key, r.body.session_key, 'a new session_key per login');
});

t.test('jscode2session errors', async (t) => {
  const sb = await sandbox(t);
  const { body: minted } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  t.match((await code2session(sb, q('nosuchcode'))).body, { errcode: 40029, errmsg: /^invalid code/ });
  t.match((await code2session(sb, q(minted.code, { secret: 'wrong' }))).body, { errcode: 40125, errmsg: /^invalid appsecret/ });
  t.match((await code2session(sb, q(minted.code, { appid: 'wx9999999999999999' }))).body, { errcode: 40013, errmsg: /^invalid appid/ });
  // A code minted for one appid does not work for another.
  t.match((await code2session(sb, { ...q(minted.code), appid: OTHER.appid, secret: OTHER.secret })).body, { errcode: 40029 });
  t.match((await code2session(sb, q(''))).body, { errcode: 41008 });
  // None of the failures consumed the code.
  const ok = await code2session(sb, q(minted.code));
  t.equal(ok.body.openid, minted.openid);
});

t.test('login codes expire after 5 minutes', async (t) => {
  let now = Date.now();
  const sb = await sandbox(t, { now: () => now });
  const a = (await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid })).body;
  const b = (await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid })).body;
  now += 5 * 60_000 - 1000;
  t.ok((await code2session(sb, q(a.code))).body.openid, 'valid just before 5 minutes');
  now += 2000;
  t.match((await code2session(sb, q(b.code))).body, { errcode: 40029 });
});

t.test('login faults: 45011, 40226, -1, each once, then normal', async (t) => {
  const sb = await sandbox(t);
  await sb.json('POST', '/sandbox/faults', { login: [{ errcode: 45011 }, { errcode: 40226 }, { errcode: -1 }] });
  const { body: minted } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const seen = [];
  for (let i = 0; i < 3; i++) seen.push((await code2session(sb, q(minted.code))).body.errcode);
  t.same(seen, [45011, 40226, -1]);
  t.equal((await code2session(sb, q(minted.code))).body.openid, minted.openid, 'the code survived the faults');
});

t.test('login-codes endpoint validation', async (t) => {
  const sb = await sandbox(t);
  t.match(await sb.json('POST', '/sandbox/login-codes', { appid: 'wx_unknown' }), { status: 400, body: { code: 'UNKNOWN_APPID' } });
  t.match(await sb.json('POST', '/sandbox/login-codes', {}), { status: 400, body: { code: 'VALIDATION_ERROR' } });
  t.match(await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid, openid: 'bad openid!' }), { status: 400 });
  const mine = (await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid, openid: 'oExplicitOpenid' })).body;
  t.equal(mine.openid, 'oExplicitOpenid');
  t.match(await sb.json('POST', '/sandbox/login-codes', { appid: OTHER.appid, openid: 'oExplicitOpenid' }), {
    status: 409,
    body: { code: 'OPENID_OF_OTHER_APPID' },
  });
});

t.test('cgi-bin/token', async (t) => {
  const sb = await sandbox(t);
  const get = async (params: Record<string, string>) => {
    const res = await fetch(`${sb.url}/cgi-bin/token?${new URLSearchParams(params)}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const ok = await get({ grant_type: 'client_credential', appid: MERCHANT.appid, secret: MERCHANT.secret });
  t.match(ok, { access_token: /^[A-Za-z0-9_-]{100,}$/, expires_in: 7200 });
  t.notOk(ok.errcode);
  t.match(await get({ grant_type: 'client_credential', appid: MERCHANT.appid, secret: 'nope' }), { errcode: 40125, errmsg: /^invalid appsecret/ });
  t.match(await get({ grant_type: 'client_credential', appid: 'wx9999999999999999', secret: 'x' }), { errcode: 40013, errmsg: /^invalid appid/ });
  t.match(await get({ grant_type: 'password', appid: MERCHANT.appid, secret: MERCHANT.secret }), { errcode: 40002 });

  // api.weixin.qq.com's header, byte for byte, on success and on error alike.
  for (const secret of [MERCHANT.secret, 'nope']) {
    const res = await fetch(`${sb.url}/cgi-bin/token?${new URLSearchParams({ grant_type: 'client_credential', appid: MERCHANT.appid, secret })}`);
    t.equal(res.headers.get('content-type'), 'application/json; encoding=utf-8');
    await res.arrayBuffer();
  }
});

t.test('GET /sandbox/merchants lists appid and mch_id, never keys or secrets', async (t) => {
  const sb = await sandbox(t);
  const { status, body } = await sb.json('GET', '/sandbox/merchants');
  t.equal(status, 200);
  t.same(body, { merchants: [{ appid: MERCHANT.appid, mchId: MERCHANT.mchId }, { appid: OTHER.appid, mchId: OTHER.mchId }] });
  const text = JSON.stringify(body);
  t.notOk(text.includes(MERCHANT.key) || text.includes(MERCHANT.secret) || text.includes(OTHER.key));
});

t.test('secrets in query strings never reach a log line', async (t) => {
  const lines: string[] = [];
  const stream = { write: (s: string) => void lines.push(s) };
  const sb = await sandbox(t, { logger: { level: 'info', stream } });
  const { body: minted } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  await code2session(sb, q(minted.code));
  await fetch(`${sb.url}/cgi-bin/token?grant_type=client_credential&appid=${MERCHANT.appid}&secret=${MERCHANT.secret}`);
  const all = lines.join('');
  t.ok(all.includes('/sns/jscode2session'), 'requests are logged');
  t.notOk(all.includes(MERCHANT.secret), 'appsecret not logged');
  t.notOk(all.includes(minted.code), 'login code not logged');
});
