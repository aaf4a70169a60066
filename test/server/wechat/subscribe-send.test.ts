// mp-client's sendSubscribeMessage against a stand-in for api.weixin.qq.com that records what it
// got: the cached token in the query, the message as JSON, WeChat's errcodes mapped, a refused
// token refreshed once, and the token never in an error.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { createMpClient, WxSubscribeError, type SubscribeMessage } from '../../../server/src/wechat/mp-client.js';

const SECRET = `demo-secret-${randomBytes(8).toString('hex')}`;

interface Seen {
  path: string;
  query: URLSearchParams;
  body: string;
}

/** `send(n)` answers the n-th subscribe/send (1-based); tokens are TOKEN_1, TOKEN_2… in issue order. */
async function weixin(t: Test, send: (n: number, token: string) => { status?: number; raw?: string; body?: object; hang?: boolean }, tokenAnswer?: () => object) {
  const seen: Seen[] = [];
  let tokens = 0;
  let sends = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ path: url.pathname, query: url.searchParams, body });
      let a: { status?: number; raw?: string; body?: object; hang?: boolean };
      if (url.pathname === '/cgi-bin/token') a = { body: tokenAnswer?.() ?? { access_token: `TOKEN_${++tokens}`, expires_in: 7200 } };
      else a = send(++sends, url.searchParams.get('access_token') ?? '');
      if (a.hang) return;
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json' }).end(a.raw ?? JSON.stringify(a.body ?? {}));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mp = createMpClient({ appid: `wx${randomBytes(8).toString('hex')}`, secret: SECRET, baseUrl, timeoutMs: 300 });
  return { mp, seen, sendsSeen: () => seen.filter((s) => s.path === '/cgi-bin/message/subscribe/send') };
}

const MSG: SubscribeMessage = {
  touser: 'oUser123',
  template_id: 'tpl-paid',
  page: 'pages/order-detail/index?id=abc',
  data: { amount2: { value: '¥12.34' }, thing3: { value: '绿茶 × 2' } },
  miniprogram_state: 'developer',
  lang: 'zh_CN',
};

async function failure(p: Promise<unknown>): Promise<WxSubscribeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WxSubscribeError) return e;
    throw e;
  }
  throw new Error('expected a WxSubscribeError');
}

t.test('sends the message as JSON with the cached access token', async (t) => {
  const w = await weixin(t, () => ({ body: { errcode: 0, errmsg: 'ok' } }));
  await w.mp.sendSubscribeMessage(MSG);
  await w.mp.sendSubscribeMessage({ ...MSG, touser: 'oOther' });
  const sends = w.sendsSeen();
  t.equal(sends.length, 2);
  t.same(JSON.parse(sends[0]!.body), MSG, 'the fields as WeChat spells them');
  t.equal(sends[0]!.query.get('access_token'), 'TOKEN_1');
  t.equal(sends[1]!.query.get('access_token'), 'TOKEN_1', 'the token is cached');
  t.equal(w.seen.filter((s) => s.path === '/cgi-bin/token').length, 1);
});

t.test('40001 and 42001: the token is refreshed once and the send repeated', async (t) => {
  for (const errcode of [40001, 42001]) {
    const w = await weixin(t, (n) => ({ body: n === 1 ? { errcode, errmsg: 'invalid credential, rid: x' } : { errcode: 0, errmsg: 'ok' } }));
    await w.mp.sendSubscribeMessage(MSG);
    t.same(w.sendsSeen().map((s) => s.query.get('access_token')), ['TOKEN_1', 'TOKEN_2'], `${errcode}: a fresh token the second time`);
  }
  const stubborn = await weixin(t, () => ({ body: { errcode: 40001, errmsg: 'invalid credential' } }));
  const e = await failure(stubborn.mp.sendSubscribeMessage(MSG));
  t.match(e, { code: 'TOKEN_INVALID', errcode: 40001, retriable: true });
  t.equal(stubborn.sendsSeen().length, 2, 'refreshed once only');
});

t.test("WeChat's refusals: final ones are not repeated, busy ones are retriable later", async (t) => {
  const table: Array<[number, string, boolean]> = [
    [43101, 'NOT_SUBSCRIBED', false],
    [40037, 'INVALID_TEMPLATE', false],
    [47003, 'INVALID_DATA', false],
    [40003, 'INVALID_OPENID', false],
    [41030, 'INVALID_PAGE', false],
    [-1, 'WECHAT_BUSY', true],
    [45009, 'QUOTA', true],
    [48001, 'WECHAT_ERROR', false],
  ];
  for (const [errcode, code, retriable] of table) {
    const w = await weixin(t, () => ({ body: { errcode, errmsg: `argument invalid! data.thing3.value invalid, rid: 1` } }));
    const e = await failure(w.mp.sendSubscribeMessage(MSG));
    t.match(e, { code, errcode, retriable }, String(errcode));
    t.equal(w.sendsSeen().length, 1, `${errcode}: one call`);
    t.notMatch(e.message, 'TOKEN_', 'no token in the message');
  }
});

t.test('transport trouble and bad answers', async (t) => {
  const cases: Array<[string, { status?: number; raw?: string; hang?: boolean }, string, boolean]> = [
    ['hang', { hang: true }, 'TIMEOUT', true],
    ['502', { status: 502, raw: 'bad gateway' }, 'WECHAT_BUSY', true],
    ['404', { status: 404, raw: 'no' }, 'BAD_RESPONSE', false],
    ['not json', { raw: '<html>' }, 'BAD_RESPONSE', true],
    ['no errcode', { raw: '{}' }, 'BAD_RESPONSE', true],
  ];
  for (const [label, answer, code, retriable] of cases) {
    const w = await weixin(t, () => answer);
    const e = await failure(w.mp.sendSubscribeMessage(MSG));
    t.match(e, { code, retriable }, label);
    t.notMatch(`${e.message} ${e.stack ?? ''}`, /TOKEN_\d|access_token=/, `${label}: neither the token nor the URL in the error`);
  }
  const down = createMpClient({ appid: 'wx0000000000000001', secret: SECRET, baseUrl: 'http://127.0.0.1:1', timeoutMs: 300 });
  t.match(await failure(down.sendSubscribeMessage(MSG)), { code: 'TOKEN_UNAVAILABLE', retriable: true }, 'no token to be had: retriable');
  const badSecret = await weixin(t, () => ({ body: { errcode: 0 } }), () => ({ errcode: 40125, errmsg: 'invalid appsecret' }));
  const e = await failure(badSecret.mp.sendSubscribeMessage(MSG));
  t.match(e, { code: 'TOKEN_UNAVAILABLE', retriable: false }, 'a wrong appsecret will not get better');
  t.notMatch(`${e.message} ${JSON.stringify(e)}`, SECRET);
});

t.test('a message without touser or template_id is refused before any call', async (t) => {
  const w = await weixin(t, () => ({ body: { errcode: 0 } }));
  await t.rejects(w.mp.sendSubscribeMessage({ ...MSG, touser: '' }), TypeError);
  await t.rejects(w.mp.sendSubscribeMessage({ ...MSG, template_id: '' }), TypeError);
  t.equal(w.seen.length, 0);
});
