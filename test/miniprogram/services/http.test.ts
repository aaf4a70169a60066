import t from 'tap';
import {
  ApiClientError,
  createHttpClient,
  joinUrl,
  queryString,
  type HttpRequestOptions,
  type HttpResponse,
} from '../../../miniprogram/services/http.js';

function client(answer: (o: HttpRequestOptions) => Promise<HttpResponse>) {
  const calls: HttpRequestOptions[] = [];
  const http = createHttpClient({
    baseUrl: 'http://api.test/',
    request: async (o) => {
      calls.push(o);
      return answer(o);
    },
  });
  return { http, calls };
}

async function rejection(p: Promise<unknown>): Promise<ApiClientError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiClientError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

t.test('2xx: the JSON body, the Bearer token, a JSON content type only with a body', async (t) => {
  const { http, calls } = client(async () => ({ statusCode: 200, data: { ok: 1 } }));
  t.same(await http.send({ method: 'POST', path: '/api/orders', body: { items: [] }, token: 'tk' }), { ok: 1 });
  t.equal(calls[0]!.url, 'http://api.test/api/orders');
  t.equal(calls[0]!.method, 'POST');
  t.equal(calls[0]!.header.Authorization, 'Bearer tk');
  t.equal(calls[0]!.header['Content-Type'], 'application/json');
  t.same(calls[0]!.data, { items: [] });
  await http.send({ method: 'GET', path: '/api/products' });
  t.equal(calls[1]!.header.Authorization, undefined);
  t.equal(calls[1]!.header['Content-Type'], undefined);
  t.notOk('data' in calls[1]!);
});

t.test('a JSON body delivered as text is parsed; anything else is BAD_RESPONSE', async (t) => {
  t.same(await client(async () => ({ statusCode: 200, data: '{"a":2}' })).http.send({ method: 'GET', path: '/x' }), { a: 2 });
  const e = await rejection(client(async () => ({ statusCode: 200, data: '<html>' })).http.send({ method: 'GET', path: '/x' }));
  t.match(e, { kind: 'server', code: 'BAD_RESPONSE' });
});

t.test('no response at all is a network error, retryable', async (t) => {
  const e = await rejection(client(async () => Promise.reject({ errMsg: 'request:fail timeout' })).http.send({ method: 'GET', path: '/x' }));
  t.match(e, { kind: 'network', code: 'NETWORK', message: 'request:fail timeout', statusCode: undefined });
  t.equal(e.retryable, true);
});

t.test('5xx is a server error, retryable, with the request id', async (t) => {
  const e = await rejection(
    client(async () => ({ statusCode: 503, data: { statusCode: 503, code: 'INTERNAL', error: 'x', message: 'busy', requestId: 'r-1' } })).http.send({
      method: 'GET',
      path: '/x',
    }),
  );
  t.match(e, { kind: 'server', statusCode: 503, requestId: 'r-1' });
  t.equal(e.retryable, true);
  const e2 = await rejection(client(async () => ({ statusCode: 502, data: 'Bad Gateway' })).http.send({ method: 'GET', path: '/x' }));
  t.match(e2, { kind: 'server', code: 'HTTP_502' });
});

t.test("4xx is a client error carrying the server's code", async (t) => {
  const e = await rejection(
    client(async () => ({ statusCode: 400, data: { statusCode: 400, code: 'UNKNOWN_SKU', error: 'Bad Request', message: 'no sku x' } })).http.send({
      method: 'POST',
      path: '/api/orders',
      body: {},
    }),
  );
  t.match(e, { kind: 'client', code: 'UNKNOWN_SKU', statusCode: 400, message: 'no sku x' });
  t.equal(e.retryable, false);
  const e2 = await rejection(client(async () => ({ statusCode: 404, data: '' })).http.send({ method: 'GET', path: '/x' }));
  t.match(e2, { kind: 'client', code: 'HTTP_404' });
});

t.test('401 is unauthorized', async (t) => {
  const e = await rejection(client(async () => ({ statusCode: 401, data: { code: 'TOKEN_EXPIRED' } })).http.send({ method: 'GET', path: '/x' }));
  t.match(e, { kind: 'unauthorized', code: 'TOKEN_EXPIRED', statusCode: 401 });
});

t.test('URL and query helpers', async (t) => {
  t.equal(joinUrl('http://a/', '/b'), 'http://a/b');
  t.equal(joinUrl('http://a', 'b'), 'http://a/b');
  t.equal(queryString({ limit: 10, before: undefined }), '?limit=10');
  t.equal(queryString({ before: 'a b&c' }), '?before=a%20b%26c');
  t.equal(queryString({}), '');
});
