import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifySchema, HTTPMethods } from 'fastify';
import fp from 'fastify-plugin';
import { createRequire } from 'node:module';
import { ERROR_CATALOGUE, RESERVED_CODES, routeErrorCodes } from '../observability/error-codes.js';
import { ErrorSchema } from '../routes/schemas.js';

export interface RegisteredRoute {
  method: HTTPMethods | HTTPMethods[];
  url: string;
  schema?: FastifySchema;
  config?: { schemaExemption?: SchemaExemption };
}

/** A route whose request is not validated by a schema (raw WeChat XML): why, and what the docs show. */
export interface SchemaExemption {
  reason: string;
  /** documentation only, never compiled: body, response and content types as the OpenAPI doc shows them */
  doc: FastifySchema & { consumes?: string[]; produces?: string[] };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    schemaExemption?: SchemaExemption;
  }
  interface FastifyInstance {
    /** every route as it was registered (onRoute), docs on or off: the documentation test walks them */
    registeredRoutes: readonly RegisteredRoute[];
  }
}

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

function tagOf(url: string): string {
  if (url.startsWith('/admin/')) return 'operators';
  if (url.startsWith('/wxpay/')) return 'wechat-callbacks';
  if (url.startsWith('/api/session')) return 'session';
  if (url.startsWith('/api/orders')) return 'orders';
  if (url.startsWith('/api/products')) return 'catalog';
  return 'service';
}

function securityOf(method: string, url: string): Array<Record<string, string[]>> | undefined {
  if (url.startsWith('/admin/api/')) return [{ adminToken: [] }];
  if (url.startsWith('/api/orders') || (url === '/api/session' && method === 'DELETE')) return [{ sessionToken: [] }];
  return undefined;
}

function errorDoc(status: number, codes: string[]) {
  return {
    type: 'object',
    description: codes.map((c) => `\`${c}\`: ${ERROR_CATALOGUE.get(c)?.message ?? ''}`).join('\n\n'),
    required: ['statusCode', 'code', 'error', 'message'],
    properties: {
      statusCode: { type: 'integer', enum: [status] },
      code: { type: 'string', enum: codes },
      error: { type: 'string' },
      message: { type: 'string' },
      requestId: { type: 'string', description: 'on every 5xx: quote it' },
    },
  };
}

/** The route's schema as the OpenAPI doc shows it: its error responses name the exact codes. */
function documented(method: string, url: string, schema: FastifySchema): FastifySchema {
  const response: Record<string, unknown> = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) };
  const codes = routeErrorCodes(method, url, schema as Parameters<typeof routeErrorCodes>[2]);
  // errorResponses spreads every error status onto a route: keep only those it answers with.
  for (const [status, value] of Object.entries(response)) if (value === ErrorSchema && !codes.has(Number(status))) delete response[status];
  for (const [status, list] of codes) response[String(status)] = errorDoc(status, list);
  const security = securityOf(method, url);
  return { ...schema, response, tags: [tagOf(url)], ...(security ? { security } : {}) } as FastifySchema;
}

const catalogueTable = () =>
  [
    'Errors are JSON `{ statusCode, code, error, message }` (plus `requestId` on a 5xx); `code` is stable and machine-readable. Each operation lists the codes it answers with.',
    '',
    '| code | status | meaning |',
    '| --- | --- | --- |',
    ...[...ERROR_CATALOGUE].sort((a, b) => a[1].status - b[1].status || a[0].localeCompare(b[0])).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.message}${RESERVED_CODES.has(code) ? ' (reserved: no route answers with it today)' : ''} |`),
  ].join('\n');

/**
 * OpenAPI 3 from the routes' own TypeBox schemas (@fastify/swagger) and its interactive UI at /docs
 * (@fastify/swagger-ui), when config.observability.docsEnabled. Registered before every route: its
 * onRoute hook collects them all (also into app.registeredRoutes, docs on or off).
 */
export default fp(
  async (app) => {
    const routes: RegisteredRoute[] = [];
    app.decorate('registeredRoutes', routes);
    app.addHook('onRoute', (route) => {
      routes.push({ method: route.method, url: route.url, ...(route.schema ? { schema: route.schema } : {}), ...(route.config ? { config: route.config as RegisteredRoute['config'] } : {}) });
    });
    if (!app.config.observability.docsEnabled) return;

    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: 'wxpay-mp', version, description: catalogueTable() },
        tags: [
          { name: 'session', description: 'mini-program login (wx.login code → our token)' },
          { name: 'catalog', description: 'goods and prices (fen)' },
          { name: 'orders', description: "the buyer's own orders, payment and refund requests" },
          { name: 'operators', description: "the operators' API (ADMIN_API_TOKEN)" },
          { name: 'wechat-callbacks', description: 'what WeChat posts to us (XML)' },
          { name: 'service', description: 'health' },
        ],
        components: {
          securitySchemes: {
            sessionToken: { type: 'http', scheme: 'bearer', description: 'the token of POST /api/session' },
            adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_TOKEN' },
          },
        },
      },
      transform: ({ schema, url, route }) => {
        const exemption = (route.config as RegisteredRoute['config'])?.schemaExemption;
        if (exemption) return { schema: { ...exemption.doc, tags: [tagOf(url)], description: `${exemption.doc.description ?? ''}\n\nNo JSON schema: ${exemption.reason}`.trim() } as FastifySchema, url };
        if (!schema || (schema as { hide?: boolean }).hide) return { schema, url };
        const method = Array.isArray(route.method) ? route.method[0]! : route.method;
        return { schema: documented(method, url, schema), url };
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  },
  { name: 'docs' },
);

/** Routes kept out of the document on purpose: the docs UI itself, and /metrics (for Prometheus, not integrators). */
// /docs itself, /metrics (Prometheus text, for the admin side), and the console's static files
// (/admin/assets/*, served by @fastify/static: scripts, styles and icons, not an API)
export const HIDDEN_ROUTES = (url: string) => url === '/docs' || url.startsWith('/docs/') || url === '/metrics' || url.startsWith('/admin/assets/');

/**
 * What is wrong with each route's documentation ([] when every route is documented): a route needs
 * a response schema with a 2xx answer (or an explicit exemption with a reason and a doc schema that
 * has one), a params schema when its path has parameters, and is hidden only when HIDDEN_ROUTES says so.
 */
export function undocumentedRoutes(routes: readonly RegisteredRoute[]): string[] {
  const problems: string[] = [];
  for (const route of routes) {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    if (methods.length === 0) continue;
    const name = `${methods.join(',')} ${route.url}`;
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    if (hidden) {
      if (!HIDDEN_ROUTES(route.url)) problems.push(`${name}: hidden from the docs without a reason`);
      continue;
    }
    const exemption = route.config?.schemaExemption;
    if (exemption && !exemption.reason.trim()) problems.push(`${name}: schema exemption without a reason`);
    const schema = exemption ? exemption.doc : route.schema;
    const response = (schema?.response ?? {}) as Record<string, unknown>;
    if (!Object.keys(response).some((s) => /^2\d\d$/.test(s))) problems.push(`${name}: no response schema for its success answer`);
    if (route.url.includes(':') && !schema?.params) problems.push(`${name}: path parameters without a params schema`);
  }
  return problems;
}
