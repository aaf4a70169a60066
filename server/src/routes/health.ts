import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

const Check = Type.Union([Type.Literal('ok'), Type.Literal('down')]);
export const HealthSchema = Type.Object({
  status: Check,
  mongo: Check,
  redis: Check,
});

async function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz: really pings MongoDB and Redis; 503 when either is down. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    { schema: { response: { 200: HealthSchema, 503: HealthSchema } }, logLevel: 'warn' },
    async (_req, reply) => {
      const [mongo, redis] = await Promise.all([
        probe(() => app.mongo.db!.admin().ping(), 2_000),
        probe(() => app.redis.ping(), 2_000),
      ]);
      const status = mongo === 'ok' && redis === 'ok' ? 'ok' : 'down';
      return reply.code(status === 'ok' ? 200 : 503).send({ status, mongo, redis });
    },
  );
};
export default health;
