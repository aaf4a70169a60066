import fp from 'fastify-plugin';
import fastifyRedis from '@fastify/redis';
import { Redis } from 'ioredis';

export interface RedisPluginOptions {
  url: string;
}

// The client is ours, so that boot fails fast on an unreachable Redis and close never throws.
export default fp<RedisPluginOptions>(
  async (app, opts) => {
    const client = new Redis(opts.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      connectTimeout: 5_000,
    });
    client.on('error', (err) => app.log.warn({ err: { message: err.message } }, 'redis connection error'));
    try {
      await client.connect();
    } catch (err) {
      client.disconnect();
      throw new Error(`cannot connect to Redis at REDIS_URL: ${(err as Error).message}`);
    }
    await app.register(fastifyRedis, { client, closeClient: false });
    app.addHook('onClose', async () => {
      await client.quit().catch(() => client.disconnect());
    });
  },
  { name: 'redis' },
);
