import fp from 'fastify-plugin';
import fastifyRedis from '@fastify/redis';
import { Redis, ReplyError, type Command, type RedisOptions } from 'ioredis';

export interface RedisPluginOptions {
  url: string;
  /** how long one command may take before it fails (a paused or overloaded Redis) */
  commandTimeoutMs?: number;
}

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;

const FAILED_AT_REDIS = Symbol('wxpay-mp.redis-failure');

/**
 * A client whose every failed command is marked as a Redis failure, so that the error handler can
 * answer 503 REDIS_UNAVAILABLE without guessing from messages. Marking happens where ioredis settles
 * the command (reply error, timeout, closed connection), and the error itself is passed on unchanged.
 */
class MarkingRedis extends Redis {
  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    const reject = command.reject;
    if (!(reject as { marks?: boolean }).marks) {
      const marking = (err: Error) => {
        if (err instanceof Error) Object.defineProperty(err, FAILED_AT_REDIS, { value: true });
        reject(err);
      };
      command.reject = Object.assign(marking, { marks: true });
    }
    return super.sendCommand(command, stream);
  }
}

// Reply errors that mean "Redis cannot serve now", not "our command is wrong" (WRONGTYPE, syntax, ...).
const UNAVAILABLE_REPLY = /^(OOM|MISCONF|READONLY|LOADING|BUSY|MASTERDOWN|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|NOAUTH|WRONGPASS)\b|^ERR max number of clients/;

/** A command failed because Redis is down, paused, out of memory, refusing writes, ...: answer 503. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error) || !(err as { [FAILED_AT_REDIS]?: boolean })[FAILED_AT_REDIS]) return false;
  return !(err instanceof ReplyError) || UNAVAILABLE_REPLY.test(err.message);
}

/** Fail fast: a request never waits on a Redis that cannot answer. */
export function redisOptions(commandTimeoutMs = DEFAULT_REDIS_COMMAND_TIMEOUT_MS) {
  return {
    lazyConnect: true,
    connectTimeout: 5_000,
    // A paused Redis keeps the connection open and never answers: each command gives up on its own.
    commandTimeout: commandTimeoutMs,
    // While disconnected, commands fail at once instead of queueing until Redis comes back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Reconnect quickly and keep trying; the request paths above do not wait for it.
    retryStrategy: (times: number) => Math.min(100 * times, 2_000),
  } satisfies RedisOptions;
}

// The client is ours, so that boot fails fast on an unreachable Redis and close never throws.
export default fp<RedisPluginOptions>(
  async (app, opts) => {
    const client = new MarkingRedis(opts.url, redisOptions(opts.commandTimeoutMs));
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
