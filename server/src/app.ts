import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { Config } from './config.js';
import { loggerOptions } from './logger.js';
import mongoPlugin from './plugins/mongo.js';
import redisPlugin from './plugins/redis.js';
import rateLimit from '@fastify/rate-limit';
import authPlugin from './plugins/auth.js';
import ordersPlugin from './plugins/orders.js';
import wechatPlugin from './plugins/wechat.js';
import healthRoutes from './routes/health.js';
import adminRoutes from './routes/admin.js';
import notifyRoutes from './routes/notify.js';
import orderRoutes from './routes/orders.js';
import productRoutes from './routes/products.js';
import sessionRoutes from './routes/session.js';

export interface AppOptions {
  config: Config;
  /** a pino logger config or instance; defaults to the config's level with secrets redacted */
  logger?: FastifyServerOptions['logger'];
  /** overrides the database named in MONGODB_URI (tests use a fresh one per file) */
  dbName?: string;
  /** ms between background sweeps (pending fulfilments, expired orders); 0 turns them off */
  sweepIntervalMs?: number;
  /** Redis key prefix of the rate limiter (tests isolate themselves with one of their own) */
  rateLimitNameSpace?: string;
  /** first retry delay of WeChat Pay calls */
  payRetryDelayMs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
}

/** The whole server as one Fastify instance; main.ts listens on it, tests inject into it. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  if (!config.mongodbUri) throw new Error('buildApp: config.mongodbUri is required (main.ts starts a local server when unset)');
  if (!config.redisUrl) throw new Error('buildApp: config.redisUrl is required (main.ts starts a local server when unset)');

  const app = Fastify({
    logger: opts.logger ?? loggerOptions(config.logLevel),
    bodyLimit: 64 * 1024,
    trustProxy: config.trustProxy,
    logController: new OneLinePerRequest(),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('config', config);

  // Closing waits for requests in flight, but a keep-alive connection that goes idle after its
  // response would otherwise hold close open for keepAliveTimeout (72 s): shut each as it idles.
  let idleCloser: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    idleCloser = setInterval(() => app.server.closeIdleConnections(), 50);
    idleCloser.unref();
  });
  app.addHook('onClose', async () => clearInterval(idleCloser));

  // TypeBox validates every part. Query strings and params are text, so they are converted
  // (limit=2 is 2); bodies are JSON and validated strictly (a quantity of "2" is not 2).
  app.setValidatorCompiler((route) => {
    const schema = route.schema as TSchema;
    const check = TypeCompiler.Compile(schema);
    const convert = route.httpPart !== 'body';
    return (data: unknown) => {
      const value = convert ? Value.Default(schema, Value.Convert(schema, data)) : data;
      if (check.Check(value)) return { value };
      const first = check.Errors(value).First();
      const part = route.httpPart === 'querystring' ? 'query' : (route.httpPart ?? 'input');
      const where = first?.path ? `${part}${first.path.replace(/\//g, '.')}` : part;
      return { error: new Error(`${where} ${first?.message.toLowerCase() ?? 'is invalid'}`) };
    };
  });

  app.setErrorHandler((err, req, reply) => {
    const error = err as Error & { statusCode?: number; code?: string; validation?: unknown };
    if (error.validation || error.code === 'FST_ERR_VALIDATION') {
      return reply.code(400).send({
        statusCode: 400,
        code: 'VALIDATION_ERROR',
        error: 'Bad Request',
        message: error.message,
      });
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err: error, route: req.routeOptions.url }, 'request failed');
      return reply.code(status).send({
        statusCode: status,
        code: status === 500 ? 'INTERNAL' : (error.code ?? 'INTERNAL'),
        error: status === 500 ? 'Internal Server Error' : 'Service Unavailable',
        message: status === 500 ? `Something went wrong; quote request id ${req.id}` : error.message,
        requestId: String(req.id),
      });
    }
    return reply.code(status).send({
      statusCode: status,
      code: normaliseCode(error.code),
      error: httpReason(status),
      message: error.message,
    });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({
      statusCode: 404,
      code: 'ROUTE_NOT_FOUND',
      error: 'Not Found',
      message: `No route ${req.method} ${req.url.split('?')[0]}`,
    });
  });

  try {
    await app.register(mongoPlugin, { uri: config.mongodbUri, dbName: opts.dbName });
    await app.register(redisPlugin, { url: config.redisUrl });
    await app.register(rateLimit, {
      global: false,
      redis: app.redis,
      nameSpace: opts.rateLimitNameSpace ?? 'rl:',
      skipOnError: true,
      errorResponseBuilder: (_req, ctx) =>
        Object.assign(new Error(`Too many requests: try again in ${ctx.after}`), { statusCode: 429, code: 'RATE_LIMITED' }),
    });
    await app.register(wechatPlugin, { retryDelayMs: opts.payRetryDelayMs });
    await app.register(authPlugin);
    await app.register(ordersPlugin, { sweepIntervalMs: opts.sweepIntervalMs });
    await app.register(healthRoutes);
    await app.register(sessionRoutes);
    await app.register(productRoutes);
    await app.register(orderRoutes);
    await app.register(notifyRoutes);
    await app.register(adminRoutes);
    await app.ready();
  } catch (err) {
    // Whatever did connect must not keep the process alive.
    await app.close().catch(() => undefined);
    throw err;
  }
  return app;
}

/** One log line per request, when it completes (Fastify's default adds an "incoming request" line too). */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const line = { method: req.method, url: req.url.split('?')[0], statusCode: reply.statusCode, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

// Fastify's own 4xx codes (FST_ERR_CTP_BODY_TOO_LARGE, ...) are mapped to plain names.
function normaliseCode(code: string | undefined): string {
  switch (code) {
    case undefined:
      return 'BAD_REQUEST';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'BODY_TOO_LARGE';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'INVALID_JSON';
    default:
      return code.startsWith('FST_ERR_') ? 'BAD_REQUEST' : code;
  }
}

function httpReason(status: number): string {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    429: 'Too Many Requests',
  };
  return reasons[status] ?? 'Error';
}
