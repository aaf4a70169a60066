import t from 'tap';
import { buildSandbox, startSandbox } from '../../../server/src/sandbox/app.js';
import { DEMO_APPS, DEMO_MERCHANT } from '../../../server/src/sandbox/demo.js';
import { oauthAccessToken, WxLoginError } from '../../../server/src/wechat/index.js';

const merchants = [
  { ...DEMO_MERCHANT, kind: 'mp' as const },
  { appid: DEMO_APPS.oa.appid, secret: DEMO_APPS.oa.secret, mchId: DEMO_MERCHANT.mchId, key: DEMO_MERCHANT.key, kind: 'oa' as const },
  { appid: DEMO_APPS.open.appid, secret: DEMO_APPS.open.secret, mchId: DEMO_MERCHANT.mchId, key: DEMO_MERCHANT.key, kind: 'open' as const },
];

t.test('/sns/oauth2/access_token redeems a code once, for its own appid and secret', async (t) => {
  const sb = await buildSandbox({ merchants, logger: false });
  t.teardown(() => sb.close());
  const mint = async (body: object) => sb.inject({ method: 'POST', url: '/sandbox/oauth-codes', payload: body });
  const token = async (q: Record<string, string>) => {
    const res = await sb.inject({ method: 'GET', url: `/sns/oauth2/access_token?${new URLSearchParams(q)}` });
    t.equal(res.statusCode, 200, 'WeChat answers 200 even for errors');
    return res.json() as Record<string, unknown>;
  };
  const minted = (await mint({ appid: DEMO_APPS.open.appid, unionid: 'oUNION1' })).json() as { code: string; openid: string };
  const q = { appid: DEMO_APPS.open.appid, secret: DEMO_APPS.open.secret, code: minted.code, grant_type: 'authorization_code' };
  t.match(await token({ ...q, secret: 'wrong-secret-000' }), { errcode: 40125 });
  t.match(await token({ ...q, grant_type: 'client_credential' }), { errcode: 40002 });
  t.match(await token({ ...q, appid: DEMO_APPS.oa.appid, secret: DEMO_APPS.oa.secret }), { errcode: 40029 }, "another app's code is invalid here");
  const ok = await token(q);
  t.match(ok, { openid: minted.openid, unionid: 'oUNION1', scope: 'snsapi_userinfo', expires_in: 7200, access_token: /^[A-Za-z0-9_-]{20,}$/ });
  t.notOk('errcode' in ok);
  t.match(await token(q), { errcode: 40163 }, 'a code is single use');
  t.match(await token({ ...q, code: 'nosuchcode' }), { errcode: 40029 });
  t.match(await token({ appid: DEMO_MERCHANT.appid, secret: DEMO_MERCHANT.secret, code: 'x', grant_type: 'authorization_code' }), { errcode: 40013 }, 'a mini-program has no web OAuth');
  t.equal((await mint({ appid: DEMO_MERCHANT.appid })).statusCode, 400, 'mini-program codes come from /sandbox/login-codes');
  const oa = (await mint({ appid: DEMO_APPS.oa.appid })).json() as { code: string };
  t.match(await token({ appid: DEMO_APPS.oa.appid, secret: DEMO_APPS.oa.secret, code: oa.code, grant_type: 'authorization_code' }), { scope: 'snsapi_base' });
});

t.test('oauthAccessToken: openid and unionid from the sandbox; errors mapped', async (t) => {
  const sb = await startSandbox({ merchants, logger: false, port: 0 });
  t.teardown(() => sb.close());
  const res = await fetch(`${sb.url}/sandbox/oauth-codes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid: DEMO_APPS.open.appid, unionid: 'oUNION2' }) });
  const { code, openid } = (await res.json()) as { code: string; openid: string };
  const opts = { appid: DEMO_APPS.open.appid, secret: DEMO_APPS.open.secret, baseUrl: sb.url };
  t.same(await oauthAccessToken(opts, code), { openid, unionid: 'oUNION2', scope: 'snsapi_userinfo' });
  const used = await oauthAccessToken(opts, code).catch((e: unknown) => e);
  t.ok(used instanceof WxLoginError);
  t.match(used, { code: 'CODE_USED', errcode: 40163 });
  t.match(await oauthAccessToken(opts, 'bad code!').catch((e: unknown) => e), { code: 'INVALID_ARGUMENT' });
  const wrong = await oauthAccessToken({ ...opts, secret: 'nope-nope-nope' }, 'abc').catch((e: Error) => e);
  t.notMatch(String((wrong as Error).message), /nope/, 'the secret is not in the error');
});
