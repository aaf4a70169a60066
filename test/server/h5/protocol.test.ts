// The 公众号 protocol pieces alone: the JS-SDK signature (WeChat's published example), the authorize
// link's exact shape, the code exchange and the jsapi_ticket cache, against the sandbox and real Redis.
import t from 'tap';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { buildSandbox } from '../../../server/src/sandbox/app.js';
import { inPayDirectory } from '../../../server/src/sandbox/jsbridge.js';
import { DEMO_MERCHANT } from '../../../server/src/sandbox/demo.js';
import { authorizeUrl, oauthAccessToken } from '../../../server/src/wechat/oauth.js';
import { createTicketClient, jssdkConfig, jssdkSignature } from '../../../server/src/wechat/jssdk.js';
import { createMpClient } from '../../../server/src/wechat/mp-client.js';
import { WxLoginError } from '../../../server/src/wechat/errors.js';
import { serviceUrls } from '../../helpers/services.js';
import { loadConfig } from '../../../server/src/config.js';
import { createOauthStates, newBinding } from '../../../server/src/h5/oauth-state.js';

const OA = { kind: 'oa' as const, appid: 'wx0a5a0dbe0d0e0f01', mchId: DEMO_MERCHANT.mchId, key: DEMO_MERCHANT.key, secret: `oa-secret-${randomBytes(6).toString('hex')}` };

t.test('jssdkSignature: WeChat\'s published example', async (t) => {
  const input = {
    noncestr: 'Wm3WZYTPz0wzccnW',
    jsapi_ticket: 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg',
    timestamp: 1414587457,
    url: 'http://mp.weixin.qq.com?params=value',
  };
  t.equal(jssdkSignature(input), '0f9de62fce790f9a083d5c99e95740ceb90c27ed');
  t.equal(jssdkSignature({ ...input, url: `${input.url}#wechat_redirect` }), '0f9de62fce790f9a083d5c99e95740ceb90c27ed', 'the fragment is not signed');
  t.not(jssdkSignature({ ...input, url: 'http://mp.weixin.qq.com?params=other' }), '0f9de62fce790f9a083d5c99e95740ceb90c27ed');
  const c = jssdkConfig({ appid: OA.appid, ticket: input.jsapi_ticket, url: input.url, now: new Date(1414587457_000), nonce: input.noncestr });
  t.same(c, { appId: OA.appid, timestamp: 1414587457, nonceStr: input.noncestr, signature: '0f9de62fce790f9a083d5c99e95740ceb90c27ed' });
});

t.test('authorizeUrl: five parameters in WeChat\'s order, redirect_uri encoded, #wechat_redirect', async (t) => {
  const url = authorizeUrl({
    openBase: 'https://open.weixin.qq.com/',
    appid: OA.appid,
    redirectUri: 'https://shop.example.com/h5/oauth/callback?next=a&b=c',
    scope: 'snsapi_base',
    state: 'abc123',
  });
  t.equal(
    url,
    'https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx0a5a0dbe0d0e0f01' +
      '&redirect_uri=https%3A%2F%2Fshop.example.com%2Fh5%2Foauth%2Fcallback%3Fnext%3Da%26b%3Dc' +
      '&response_type=code&scope=snsapi_base&state=abc123#wechat_redirect',
  );
  t.throws(() => authorizeUrl({ openBase: 'https://open.weixin.qq.com', appid: OA.appid, redirectUri: 'https://x.example/cb', scope: 'snsapi_base', state: 'a&b' }), /state/);
  t.throws(() => authorizeUrl({ openBase: 'https://open.weixin.qq.com', appid: OA.appid, redirectUri: '/cb', scope: 'snsapi_base', state: 'a' }), /absolute/);
});

t.test('sandbox authorize + oauth2/access_token', async (t) => {
  const sandbox = await buildSandbox({ merchants: [DEMO_MERCHANT, OA], logger: false });
  t.teardown(() => sandbox.close());
  await sandbox.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(sandbox.server.address() as AddressInfo).port}`;
  const link = (redirectUri: string, state = 'S1') => authorizeUrl({ openBase: base, appid: OA.appid, redirectUri, scope: 'snsapi_base', state });
  const path = (url: string) => url.slice(base.length).split('#')[0]!;
  const cookie = `sandbox_wx_user=u${randomBytes(8).toString('hex')}`;

  // A browser never sends the fragment: the sandbox takes the link without it.
  const ok = await sandbox.inject({ method: 'GET', url: path(link('http://127.0.0.1:3000/h5/oauth/callback?x=1')), headers: { cookie } });
  t.equal(ok.statusCode, 302);
  const to = new URL(ok.headers.location as string);
  t.equal(`${to.origin}${to.pathname}`, 'http://127.0.0.1:3000/h5/oauth/callback');
  t.equal(to.searchParams.get('x'), '1', 'the redirect keeps its own query');
  t.equal(to.searchParams.get('state'), 'S1');
  const code = to.searchParams.get('code')!;
  t.match(code, /^[A-Za-z0-9]{32}$/);

  const client = { exchangeCode: (c: string) => oauthAccessToken({ appid: OA.appid, secret: OA.secret, baseUrl: base }, c) };
  const who = await client.exchangeCode(code);
  t.match(who, { openid: /^o[A-Za-z0-9_-]{27}$/, unionid: cookie.split('=')[1], scope: 'snsapi_base' });
  const again = await client.exchangeCode(code).catch((e: unknown) => e);
  t.match(again, { name: 'WxLoginError', code: 'CODE_USED', errcode: 40163 }, 'a code is single use');
  const bogus = await client.exchangeCode('x'.repeat(32)).catch((e: unknown) => e);
  t.match(bogus, { code: 'INVALID_CODE', errcode: 40029 });
  t.notMatch(String((again as Error).message) + String((bogus as Error).message), OA.secret, 'no secret in errors');

  // the same person gets the same openid for the same 公众号
  const second = await sandbox.inject({ method: 'GET', url: path(link('http://127.0.0.1:3000/cb')), headers: { cookie } });
  const code2 = new URL(second.headers.location as string).searchParams.get('code')!;
  t.equal((await client.exchangeCode(code2)).openid, who.openid);

  const wrongSecret = await oauthAccessToken({ appid: OA.appid, secret: 'not-the-secret', baseUrl: base }, code2).catch((e: unknown) => e);
  t.match(wrongSecret, { errcode: 40125 });

  // the link is held to WeChat's rules
  const refused = async (url: string) => {
    const r = await sandbox.inject({ method: 'GET', url, headers: { cookie } });
    t.equal(r.statusCode, 200, url);
    t.notOk(r.headers.location, 'no redirect');
    return r.headers['x-sandbox-error'];
  };
  const goodPath = path(link('http://127.0.0.1:3000/cb'));
  const q = new URLSearchParams(goodPath.split('?')[1]);
  const reordered = `/connect/oauth2/authorize?redirect_uri=${encodeURIComponent('http://127.0.0.1:3000/cb')}&appid=${OA.appid}&response_type=code&scope=snsapi_base&state=S1`;
  t.equal(await refused(reordered), 'LINK_INVALID', 'parameters out of order: 该链接无法访问');
  t.equal(await refused(`${goodPath}&extra=1`), 'LINK_INVALID', 'an extra parameter');
  t.equal(await refused(`/connect/oauth2/authorize?appid=${OA.appid}&redirect_uri=http://127.0.0.1:3000/cb&response_type=code&scope=snsapi_base&state=S1`), 'LINK_INVALID', 'redirect_uri not encoded');
  t.equal(await refused(path(link('http://evil.example.com/cb'))), '10003', 'a redirect domain not registered');
  t.equal(await refused(goodPath.replace(`appid=${OA.appid}`, 'appid=wx0000000000000000')), '10002', 'an unknown appid');
  t.equal(await refused(goodPath.replace('scope=snsapi_base', 'scope=snsapi_login')), '10005');
  t.equal(await refused(goodPath.replace(`appid=${OA.appid}`, `appid=${DEMO_MERCHANT.appid}`)), '10016', 'a mini-program appid has no web authorize');
  t.equal(q.get('response_type'), 'code');

  // a registered domain list replaces the default
  const set = await sandbox.inject({ method: 'POST', url: '/sandbox/oauth/domains', payload: { appid: OA.appid, domains: ['shop.example.com'] } });
  t.equal(set.statusCode, 200);
  t.equal(await refused(path(link('http://127.0.0.1:3000/cb'))), '10003');
  const there = await sandbox.inject({ method: 'GET', url: path(link('https://shop.example.com/h5/cb')), headers: { cookie } });
  t.equal(there.statusCode, 302);
});

t.test('jsapi_ticket: fetched once across instances through Redis, and checked by the sandbox', async (t) => {
  const sandbox = await buildSandbox({ merchants: [DEMO_MERCHANT, OA], logger: false });
  t.teardown(() => sandbox.close());
  await sandbox.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(sandbox.server.address() as AddressInfo).port}`;
  const redis = new Redis(serviceUrls().redisUrl);
  t.teardown(() => redis.quit());
  await redis.del(`wx:jsapi_ticket:${OA.appid}`, `wx:access_token:${OA.appid}`);
  t.teardown(() => redis.del(`wx:jsapi_ticket:${OA.appid}`, `wx:access_token:${OA.appid}`).then(() => undefined));

  const calls: string[] = [];
  const counting: typeof fetch = (input, init) => {
    const url = String(input);
    calls.push(new URL(url).pathname);
    return fetch(input, init);
  };
  const instance = () => {
    const mp = createMpClient({ appid: OA.appid, secret: OA.secret, baseUrl: base, redis, fetch: counting });
    return createTicketClient({ appid: OA.appid, baseUrl: base, redis, fetch: counting, getAccessToken: () => mp.getAccessToken(), invalidateAccessToken: (x) => mp.invalidateAccessToken(x) });
  };
  const a = instance();
  const b = instance();
  const tickets = await Promise.all([a.getTicket(), b.getTicket(), a.getTicket(), b.getTicket()]);
  t.equal(new Set(tickets).size, 1, 'one ticket for everyone');
  t.equal(calls.filter((p) => p === '/cgi-bin/ticket/getticket').length, 1, 'one getticket call for two instances');
  t.equal(calls.filter((p) => p === '/cgi-bin/token').length, 1, 'with the 公众号\'s own access token, fetched once');
  t.ok((await redis.pttl(`wx:jsapi_ticket:${OA.appid}`)) > 6000 * 1000, 'cached for about its 7200 s, less a margin');

  // the sandbox's WeChat client accepts a wx.config signed with it, and nothing else
  const url = 'http://127.0.0.1:3000/h5/orders/abc?x=1';
  const cfg = jssdkConfig({ appid: OA.appid, ticket: tickets[0]!, url });
  const verify = (body: object) => sandbox.inject({ method: 'POST', url: '/sandbox/jssdk/verify', payload: body }).then((r) => r.json() as { errMsg: string });
  t.same(await verify({ ...cfg, url: `${url}#frag` }), { errMsg: 'config:ok' });
  t.same(await verify({ ...cfg, url: 'http://127.0.0.1:3000/h5/other' }), { errMsg: 'config:invalid signature' });
  t.same(await verify({ ...cfg, url: 'http://evil.example.com/h5/orders/abc?x=1' }), { errMsg: 'config:invalid url domain' });

  // a token replaced behind the cache's back (40001): dropped, fetched again, the ticket call made once more
  await redis.del(`wx:jsapi_ticket:${OA.appid}`);
  await redis.set(`wx:access_token:${OA.appid}`, 'stale-token-from-elsewhere');
  const fresh = await a.getTicket();
  t.equal(fresh, tickets[0], 'WeChat hands out the current ticket again');
  t.not(await redis.get(`wx:access_token:${OA.appid}`), 'stale-token-from-elsewhere');

  // getticket refuses a token it never issued
  const res = await fetch(`${base}/cgi-bin/ticket/getticket?access_token=nope&type=jsapi`);
  t.match(await res.json(), { errcode: 40001 });
  const err = await createTicketClient({ appid: OA.appid, baseUrl: base, getAccessToken: async () => 'nope', invalidateAccessToken: async () => undefined })
    .getTicket()
    .catch((e: unknown) => e);
  t.ok(err instanceof WxLoginError);
  t.match(err, { errcode: 40001 });
});

t.test('OAuth state: single use, bound to the browser that asked for it', async (t) => {
  const redis = new Redis(serviceUrls().redisUrl);
  t.teardown(() => redis.quit());
  const states = createOauthStates(redis);
  const mine = newBinding();
  const theirs = newBinding();

  const s1 = await states.issue(mine, '/h5/checkout?sku=A');
  t.match(s1, /^[A-Za-z0-9]{32}$/);
  t.ok((await redis.ttl(`h5:oauth:state:${s1}`)) > 500, 'kept about ten minutes');
  t.same(await states.take(s1, mine), { ok: true, next: '/h5/checkout?sku=A' });
  t.same(await states.take(s1, mine), { ok: false, reason: 'unknown' }, 'a replay fails');

  const s2 = await states.issue(mine, '/h5/');
  t.same(await states.take(s2, theirs), { ok: false, reason: 'foreign', next: '/h5/' });
  t.same(await states.take(s2, mine), { ok: false, reason: 'unknown' }, 'spent by the foreign attempt');

  const s3 = await states.issue(mine, '/h5/');
  t.same(await states.take(s3, undefined), { ok: false, reason: 'foreign', next: '/h5/' }, 'no binding cookie');
  t.same(await states.take(undefined, mine), { ok: false, reason: 'missing' });
  t.same(await states.take('', mine), { ok: false, reason: 'missing' });
  t.same(await states.take('not a state!', mine), { ok: false, reason: 'unknown' });
  t.notMatch(await redis.get(`h5:oauth:state:${await states.issue(mine, '/h5/')}`), mine, 'Redis holds a hash of the binding, not the binding');

  // two takes at once: one winner
  const s4 = await states.issue(mine, '/h5/');
  const both = await Promise.all([states.take(s4, mine), states.take(s4, mine)]);
  t.equal(both.filter((r) => r.ok).length, 1);
});

t.test('H5_PAY_PATH and H5_PUBLIC_URL are checked at boot', async (t) => {
  t.match(loadConfig({}).h5, { payPath: '/h5/' });
  t.match(loadConfig({ H5_PAY_PATH: '/pay/h5/', H5_PUBLIC_URL: 'https://shop.example.com' }).h5, { payPath: '/pay/h5/', publicUrl: 'https://shop.example.com' });
  for (const bad of ['h5/', '/h5', '/', '/h5/../x/', '/h 5/']) {
    t.throws(() => loadConfig({ H5_PAY_PATH: bad }), { name: 'ConfigError', variable: 'H5_PAY_PATH' }, bad);
  }
  t.throws(() => loadConfig({ H5_PUBLIC_URL: 'https://shop.example.com/h5/' }), { name: 'ConfigError', variable: 'H5_PUBLIC_URL' });
});

t.test('payment directory (支付授权目录): WeChat\'s matching rule', async (t) => {
  const dirs = ['https://shop.example.com/h5/', 'https://pay.example.com/'];
  t.ok(inPayDirectory('https://shop.example.com/h5/order?id=1', dirs), 'a page directly in it');
  t.notOk(inPayDirectory('https://shop.example.com/h5/x/order', dirs), 'not a subdirectory of a multi-level directory');
  t.notOk(inPayDirectory('https://shop.example.com/order', dirs), 'not its parent');
  t.notOk(inPayDirectory('http://shop.example.com/h5/order', dirs), 'not another scheme');
  t.ok(inPayDirectory('https://pay.example.com/a/b/c', dirs), 'a registered domain root covers the host');
  t.notOk(inPayDirectory('https://evil.example.com/h5/order', dirs));
  t.notOk(inPayDirectory('not a url', dirs));
});
