import Fastify from 'fastify';
import t from 'tap';
import { buildApp } from '../../../server/src/app.js';
import { ERROR_CATALOGUE, RESERVED_CODES, ROUTE_ERRORS } from '../../../server/src/observability/error-codes.js';
import docsPlugin, { undocumentedRoutes } from '../../../server/src/plugins/docs.js';
import { freshDbName, testConfig } from '../../helpers/services.js';

type Operation = {
  tags?: string[];
  security?: unknown[];
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: { properties?: { code?: { enum?: string[] } } } }> }>;
};
type OpenApi = { openapi: string; info: { description: string }; paths: Record<string, Record<string, Operation>> };

async function app(env: Record<string, string> = {}) {
  const a = await buildApp({ config: testConfig(env), dbName: freshDbName('docs'), jobsPrefix: `jobs-${freshDbName('docs')}` });
  t.teardown(() => a.close());
  return a;
}

const codesOf = (op: Operation, status: string) => op.responses[status]?.content?.['application/json']?.schema.properties?.code?.enum ?? [];

t.test('/docs serves the interactive UI and /docs/json the OpenAPI 3 document', async (t) => {
  const a = await app();
  const ui = await a.inject({ method: 'GET', url: '/docs' });
  t.equal(ui.statusCode, 200);
  t.match(ui.body, /swagger/i, 'the Swagger UI page');
  const json = await a.inject({ method: 'GET', url: '/docs/json' });
  t.equal(json.statusCode, 200);
  const doc = json.json<OpenApi>();
  t.match(doc.openapi, /^3\./);
  t.ok(doc.paths['/api/orders/{id}/pay']?.post, 'pay is documented with its path parameter');
  t.notOk(doc.paths['/metrics'], '/metrics is not part of the integrators\' document');
  t.notOk(Object.keys(doc.paths).some((p) => p.startsWith('/docs') || p.startsWith('/sandbox')), 'neither the docs UI nor the sandbox');
  const yaml = await a.inject({ method: 'GET', url: '/docs/yaml' });
  t.equal(yaml.statusCode, 200);
});

t.test('every registered route has a documented schema (or an explicit, documented exemption)', async (t) => {
  const a = await app();
  t.ok(a.registeredRoutes.length > 20, `walked ${a.registeredRoutes.length} routes`);
  t.same(undocumentedRoutes(a.registeredRoutes), [], 'no route lacks a schema');

  const doc = (await a.inject({ method: 'GET', url: '/docs/json' })).json<OpenApi>();
  for (const route of a.registeredRoutes) {
    if ((route.schema as { hide?: boolean } | undefined)?.hide) continue;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const m of (Array.isArray(route.method) ? route.method : [route.method]).filter((x) => x !== 'HEAD')) {
      t.ok(doc.paths[path]?.[m.toLowerCase()], `${m} ${route.url} is in the document`);
    }
  }

  // The raw-XML notify endpoints validate no JSON schema, say why, and still document body and reply.
  for (const path of ['/wxpay/notify', '/wxpay/refund-notify']) {
    const op = doc.paths[path]!.post!;
    t.ok(op.requestBody?.content['text/xml'], `${path}: XML body documented`);
    t.ok(op.responses['200']?.content?.['text/xml'], `${path}: XML reply documented`);
    t.match(JSON.stringify(op), /No JSON schema: /, `${path}: the exemption's reason is in the document`);
  }
});

t.test('the check fails for a route without a schema, a hidden route, and params without a schema', async (t) => {
  const bare = Fastify();
  t.teardown(() => bare.close());
  bare.decorate('config', testConfig({ DOCS_ENABLED: '0' }));
  await bare.register(docsPlugin);
  bare.get('/api/bare', async () => ({ ok: true }));
  bare.get('/api/things/:id', { schema: { response: { 200: { type: 'object' } } } }, async () => ({}));
  bare.get('/api/secret', { schema: { hide: true } }, async () => ({}));
  bare.post('/api/xml', { config: { schemaExemption: { reason: ' ', doc: { response: { 200: { type: 'string' } } } } } }, async () => '');
  await bare.ready();
  t.same(undocumentedRoutes(bare.registeredRoutes), [
    'GET /api/bare: no response schema for its success answer',
    'GET /api/things/:id: path parameters without a params schema',
    'GET /api/secret: hidden from the docs without a reason',
    'POST /api/xml: schema exemption without a reason',
  ]);
});

t.test('every error code is documented, per route and status', async (t) => {
  const a = await app();
  const doc = (await a.inject({ method: 'GET', url: '/docs/json' })).json<OpenApi>();
  const onRoutes = new Set<string>();
  for (const methods of Object.values(doc.paths)) {
    for (const op of Object.values(methods)) {
      for (const [status, res] of Object.entries(op.responses)) {
        for (const code of codesOf(op, status)) {
          onRoutes.add(code);
          t.equal(String(ERROR_CATALOGUE.get(code)?.status), status, `${code} is documented under its own status ${status}`);
          t.ok(res.description?.includes(`\`${code}\``), `${code}: what it means is in the response's description`);
        }
      }
    }
  }
  for (const [code] of ERROR_CATALOGUE) {
    t.ok(doc.info.description.includes(`| \`${code}\` |`), `${code} is in the catalogue`);
    if (!RESERVED_CODES.has(code) && code !== 'ROUTE_NOT_FOUND') t.ok(onRoutes.has(code), `${code} is documented on at least one route`);
  }
  const real = new Set(a.registeredRoutes.flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((m) => `${m} ${r.url}`)));
  for (const key of Object.keys(ROUTE_ERRORS)) t.ok(real.has(key), `ROUTE_ERRORS names a real route: ${key}`);

  const pay = doc.paths['/api/orders/{id}/pay']!.post!;
  t.same(codesOf(pay, '409'), ['ORDER_ALREADY_PAID', 'ORDER_BUSY', 'ORDER_EXPIRED', 'ORDER_NOT_PAYABLE']);
  t.same(codesOf(pay, '401'), ['UNAUTHORIZED']);
  t.same(codesOf(pay, '502'), ['PAY_REQUEST_FAILED', 'WECHAT_UNAVAILABLE']);
  t.same(codesOf(pay, '500'), ['INTERNAL']);
  t.notOk(pay.responses['429'], 'a status the route never answers with is not documented');
  t.same(pay.security, [{ sessionToken: [] }]);
  const create = doc.paths['/api/orders']!.post!;
  t.same(codesOf(create, '400'), ['BAD_IDEMPOTENCY_KEY', 'BAD_QUANTITY', 'BAD_REQUEST', 'DUPLICATE_SKU', 'EMPTY_CART', 'INVALID_JSON', 'ORDER_TOO_LARGE', 'UNKNOWN_SKU', 'VALIDATION_ERROR']);
  t.same(codesOf(create, '413'), ['BODY_TOO_LARGE']);
  t.same(doc.paths['/admin/api/refunds/{id}']!.get!.security, [{ adminToken: [] }]);
});

t.test('off in production unless DOCS_ENABLED=1', async (t) => {
  const prod = await app({ NODE_ENV: 'production' });
  for (const url of ['/docs', '/docs/json', '/docs/static/index.html']) {
    const res = await prod.inject({ method: 'GET', url });
    t.equal(res.statusCode, 404, `${url} is off`);
    t.equal(res.json().code, 'ROUTE_NOT_FOUND');
  }
  t.same(undocumentedRoutes(prod.registeredRoutes), [], 'the routes are walked all the same');
  const enabled = await app({ NODE_ENV: 'production', DOCS_ENABLED: '1' });
  t.equal((await enabled.inject({ method: 'GET', url: '/docs/json' })).statusCode, 200);
  const off = await app({ DOCS_ENABLED: '0' });
  t.equal((await off.inject({ method: 'GET', url: '/docs/json' })).statusCode, 404, 'DOCS_ENABLED=0 turns it off anywhere');
});
