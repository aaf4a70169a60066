import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createHttpClient } from '../../../miniprogram/services/http.js';
import { depsFromWx, type WxLike } from '../../../miniprogram/services/wx-adapter.js';
import { createWxShim } from '../helpers/wx-shim.js';

function fakeWx() {
  const calls: Record<string, unknown[]> = { request: [], requestPayment: [], login: [] };
  let requestAnswer: (o: Parameters<WxLike['request']>[0]) => void = (o) => o.success?.({ statusCode: 200, data: { ok: true } });
  let payAnswer: (o: Parameters<WxLike['requestPayment']>[0]) => void = (o) => o.success?.({ errMsg: 'requestPayment:ok' });
  let loginAnswer: (o: Parameters<WxLike['login']>[0]) => void = (o) => o.success?.({ code: 'c1', errMsg: 'login:ok' });
  let subscribeAnswer: (o: Parameters<WxLike['requestSubscribeMessage']>[0]) => void = (o) =>
    o.success?.({ errMsg: 'requestSubscribeMessage:ok', ...Object.fromEntries(o.tmplIds.map((id) => [id, 'accept'])) });
  const store = new Map<string, unknown>();
  const wx: WxLike = {
    request: (o) => {
      calls.request!.push(o);
      requestAnswer(o);
    },
    requestPayment: (o) => {
      calls.requestPayment!.push(o);
      payAnswer(o);
    },
    login: (o) => {
      calls.login!.push(o);
      loginAnswer(o);
    },
    requestSubscribeMessage: (o) => {
      (calls.requestSubscribeMessage ??= []).push(o);
      subscribeAnswer(o);
    },
    getStorageSync: (k) => (store.has(k) ? store.get(k) : ''),
    setStorageSync: (k, v) => void store.set(k, v),
    removeStorageSync: (k) => void store.delete(k),
  };
  return {
    wx,
    calls,
    store,
    onRequest: (f: typeof requestAnswer) => (requestAnswer = f),
    onPay: (f: typeof payAnswer) => (payAnswer = f),
    onLogin: (f: typeof loginAnswer) => (loginAnswer = f),
    onSubscribe: (f: typeof subscribeAnswer) => (subscribeAnswer = f),
  };
}

t.test('request: any HTTP status resolves, a wx fail rejects', async (t) => {
  const f = fakeWx();
  const deps = depsFromWx(f.wx);
  t.same(await deps.request({ url: 'http://x/a', method: 'POST', data: { a: 1 }, header: { h: 'v' }, timeout: 5 }), {
    statusCode: 200,
    data: { ok: true },
  });
  t.match(f.calls.request![0], { url: 'http://x/a', method: 'POST', data: { a: 1 }, header: { h: 'v' }, timeout: 5, dataType: 'json' });
  f.onRequest((o) => o.success?.({ statusCode: 500, data: 'oops' }));
  t.same(await deps.request({ url: 'http://x/a', method: 'GET', header: {} }), { statusCode: 500, data: 'oops' });
  f.onRequest((o) => o.fail?.({ errMsg: 'request:fail timeout' }));
  const http = createHttpClient({ baseUrl: 'http://x', request: deps.request });
  t.match(await http.send({ method: 'GET', path: '/a' }).catch((e: unknown) => e), { kind: 'network', message: 'request:fail timeout' });
});

t.test('requestPayment: exactly the five params plus callbacks; fail resolves with its errMsg', async (t) => {
  const f = fakeWx();
  const deps = depsFromWx(f.wx);
  const five = { timeStamp: '1', nonceStr: 'n', package: 'prepay_id=p', signType: 'MD5' as const, paySign: 'S' };
  t.same(await deps.requestPayment(five), { errMsg: 'requestPayment:ok' });
  const arg = f.calls.requestPayment![0] as Record<string, unknown>;
  t.same(Object.keys(arg).sort(), ['fail', 'nonceStr', 'package', 'paySign', 'signType', 'success', 'timeStamp']);
  t.same({ ...arg, success: undefined, fail: undefined }, { ...five, success: undefined, fail: undefined });
  f.onPay((o) => o.fail?.({ errMsg: 'requestPayment:fail cancel' }));
  t.same(await deps.requestPayment(five), { errMsg: 'requestPayment:fail cancel' });
});

t.test('requestSubscribeMessage: called at once with the template ids; success resolves, fail rejects with errCode', async (t) => {
  const f = fakeWx();
  const deps = depsFromWx(f.wx);
  const pending = deps.requestSubscribeMessage(['tpl-1']);
  t.equal(f.calls.requestSubscribeMessage?.length, 1, 'wx was called synchronously (WeChat only accepts it inside the tap)');
  t.same(await pending, { errMsg: 'requestSubscribeMessage:ok', 'tpl-1': 'accept' });
  t.match(f.calls.requestSubscribeMessage![0], { tmplIds: ['tpl-1'] });
  f.onSubscribe((o) => o.fail?.({ errCode: 20004, errMsg: 'requestSubscribeMessage:fail main switch is off' }));
  t.match(await deps.requestSubscribeMessage(['tpl-1']).catch((e: unknown) => e), { errCode: 20004 });
});

t.test('login and storage', async (t) => {
  const f = fakeWx();
  const deps = depsFromWx(f.wx);
  t.equal(await deps.login(), 'c1');
  f.onLogin((o) => o.fail?.({ errMsg: 'login:fail no network' }));
  t.match(await deps.login().catch((e: unknown) => e), { message: 'login:fail no network' });
  f.onLogin((o) => o.success?.({ code: '', errMsg: 'login:ok' }));
  t.match(await deps.login().catch((e: unknown) => e), { message: /login/ });
  t.equal(deps.storage.get('k'), undefined, "wx's '' for a missing key reads as undefined");
  deps.storage.set('k', { token: 't', expiresAt: 1 });
  t.same(deps.storage.get('k'), { token: 't', expiresAt: 1 });
  deps.storage.remove('k');
  t.equal(deps.storage.get('k'), undefined);
});

t.test('the test shim speaks HTTP like wx.request', async (t) => {
  const seen: Array<{ method: string; url: string; auth: string | undefined; type: string | undefined; body: string }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, type: req.headers['content-type'], body });
      if (req.url === '/text') {
        res.writeHead(502, { 'content-type': 'text/plain' }).end('Bad Gateway');
      } else if (req.url === '/sandbox/cashier') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ errMsg: 'requestPayment:fail cancel' }));
      } else {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ echo: body === '' ? null : JSON.parse(body) }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const shim = createWxShim({ mintCode: async () => 'minted', sandboxBase: base, appId: 'wxapp', outcome: () => 'cancel' });
  const deps = depsFromWx(shim);
  const http = createHttpClient({ baseUrl: base, request: deps.request });
  t.same(await http.send({ method: 'POST', path: '/p', body: { a: 1 }, token: 'tk' }), { echo: { a: 1 } });
  t.match(seen[0], { method: 'POST', url: '/p', auth: 'Bearer tk', type: 'application/json' });
  t.match(await http.send({ method: 'GET', path: '/text' }).catch((e: unknown) => e), { kind: 'server', statusCode: 502 });
  t.equal(await deps.login(), 'minted');
  const five = { timeStamp: '1', nonceStr: 'n', package: 'prepay_id=p', signType: 'MD5' as const, paySign: 'S' };
  t.same(await deps.requestPayment(five), { errMsg: 'requestPayment:fail cancel' });
  t.same(shim.payments, [five]);
  t.same(JSON.parse(seen.at(-1)!.body), { appId: 'wxapp', ...five, outcome: 'cancel' });
  // nothing listening: a wx fail, hence a network error
  const dead = createHttpClient({ baseUrl: 'http://127.0.0.1:1', request: deps.request });
  t.match(await dead.send({ method: 'GET', path: '/' }).catch((e: unknown) => e), { kind: 'network', code: 'NETWORK' });
});
