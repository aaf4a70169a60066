import fp from 'fastify-plugin';
import fastifyRedis from '@fastify/redis';

export interface RedisPluginOptions {
  url: string;
}

// A thin wrapper so the rest of the app depends on a named plugin with the options it needs.
export default fp<RedisPluginOptions>(
  async (app, opts) => {
    await app.register(fastifyRedis, {
      url: opts.url,
      closeClient: true,
      maxRetriesPerRequest: 2,
      connectTimeout: 5_000,
    });
    await app.redis.ping();
  },
  { name: 'redis' },
);
