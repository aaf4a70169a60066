import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import { pageSchema } from '../routes/schemas.js';
import type { FastifyPluginAsync } from 'fastify';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
// chart.js from node_modules, served by us: the console loads nothing from elsewhere
const CHART_JS = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');

/**
 * The operators' console under /admin/: one page and its scripts (vanilla JS over the JSON API at
 * /admin/api/), served with a strict CSP (no inline script or style, nothing from another origin).
 */
const consolePlugin: FastifyPluginAsync = async (app) => {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
    hsts: false,
  });
  const index = await readFile(join(here, 'public', 'index.html'), 'utf8');
  app.get('/admin', { schema: pageSchema('a redirect to /admin/') }, async (_req, reply) => reply.redirect('/admin/'));
  app.get('/admin/', { schema: pageSchema('the console (one page; its screens call /admin/api)') }, async (_req, reply) => reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(index));
  await app.register(fastifyStatic, { root: join(here, 'public'), prefix: '/admin/assets/', index: false, wildcard: true, cacheControl: false });
  const chart = await readFile(CHART_JS);
  app.get('/admin/vendor/chart.js', { schema: pageSchema('chart.js, served from node_modules', 'text/javascript') }, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(chart));
};
export default consolePlugin;
