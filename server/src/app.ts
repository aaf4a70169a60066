import cookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { Config } from './config.js';
import { Errors, isNamedError } from './errors.js';
import { loggerOptions } from './logger.js';
import type { OrderJobSettings } from './orders/jobs.js';
import mongoPlugin, { isDatabaseUnavailable } from './plugins/mongo.js';
import redisPlugin, { isRedisUnavailable } from './plugins/redis.js';
import rateLimit from '@fastify/rate-limit';
import authPlugin from './plugins/auth.js';
import buyersPlugin from './plugins/buyers.js';
import jobsPlugin from './plugins/jobs.js';
import type { PaidMessageJobSettings } from './notifications/paid-message.js';
import notificationsPlugin from './plugins/notifications.js';
import type { RefundsPluginOptions } from './plugins/refunds.js';
import ordersPlugin from './plugins/orders.js';
import docsPlugin from './plugins/docs.js';
import metricsPlugin from './observability/plugin.js';
import wechatPlugin from './plugins/wechat.js';
import h5Routes from './h5/routes.js';
import healthRoutes from './routes/health.js';
import adminRoutes from './routes/admin.js';
import adminPlugin from './admin/plugin.js';
import adminConsoleRoutes from './routes/admin-console.js';
import adminOperatorRoutes from './routes/admin-operators.js';
import adminSessionRoutes from './routes/admin-session.js';
import consolePlugin from './console/plugin.js';
import refundNotifyRoutes from './routes/refund-notify.js';
import refundRequestRoutes from './routes/refund-requests.js';
import refundsPlugin from './plugins/refunds.js';
import type { ReconcileJobSettings } from './reconciliation/jobs.js';
import reconciliationPlugin from './reconciliation/plugin.js';
import adminReconciliationRoutes from './routes/admin-reconciliation.js';
import notifyRoutes from './routes/notify.js';
import v3NotifyRoutes from './routes/v3-notify.js';
import orderRoutes from './routes/orders.js';
import productRoutes from './routes/products.js';
import sessionRoutes from './routes/session.js';
import appChannelRoutes from './channels/app/routes.js';
import nativeChannelRoutes from './channels/native/routes.js';
import scanRoutes from './channels/scan/routes.js';

export interface AppOptions {
  config: Config;
  /** a pino logger config or instance; defaults to the config's level with secrets redacted */
  logger?: FastifyServerOptions['logger'];
  /** overrides the database named in MONGODB_URI (tests use a fresh one per file) */
  dbName?: string;
  /** Redis key prefix of the job queues (default `jobs`; tests isolate themselves with one of their own) */
  jobsPrefix?: string;
  /** background jobs: `workers` runs their handlers in this instance (default false; main.ts turns it on) */
  jobs?: {
    workers?: boolean;
    orders?: Partial<OrderJobSettings>;
    notifications?: Partial<PaidMessageJobSettings>;
    reconciliation?: Partial<ReconcileJobSettings>;
  };
  /** refunds' waits between WeChat calls and their scan interval (tests shorten them) */
  refunds?: RefundsPluginOptions;
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

  // TypeBox validates every part. Query strings and params are text, converted strictly by the
  // schema (limit=2 is 2; 1e2, 1.5, 0x10, a repeated key or an unknown one are refused); bodies are
  // JSON and validated as they are (a quantity of "2" is not 2).
  app.setValidatorCompiler((route) => {
    const schema = route.schema as TSchema;
    const check = TypeCompiler.Compile(schema);
    const part = route.httpPart === 'querystring' ? 'query' : (route.httpPart ?? 'input');
    const fromText = route.httpPart === 'querystring' || route.httpPart === 'params';
    return (data: unknown) => {
      let value = data;
      if (fromText) {
        const converted = convertText(schema, data, part, route.httpPart === 'querystring');
        if ('error' in converted) return { error: new Error(converted.error) };
        value = Value.Default(schema, converted.value);
      } else if (route.httpPart !== 'body') {
        value = Value.Default(schema, Value.Convert(schema, data));
      }
      if (check.Check(value)) return { value };
      const first = check.Errors(value).First();
      const where = first?.path ? `${part}${first.path.replace(/\//g, '.')}` : part;
      return { error: new Error(`${where} ${first?.message.toLowerCase() ?? 'is invalid'}`) };
    };
  });

  // Only our named errors (errors.ts) and Fastify's own 4xx reach a client as they are. Anything
  // else, whatever code, status or message it carries, is 500 INTERNAL with the request id; a
  // failure of Redis or the database is 503 naming it.
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
    if (isNamedError(error) && error.statusCode < 500) {
      return reply.code(error.statusCode).send({
        statusCode: error.statusCode,
        code: error.code,
        error: httpReason(error.statusCode),
        message: error.message,
      });
    }
    if (typeof error.code === 'string' && error.code.startsWith('FST_ERR_') && error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({
        statusCode: error.statusCode,
        code: normaliseCode(error.code),
        error: httpReason(error.statusCode),
        message: error.message,
      });
    }
    const named = isNamedError(error)
      ? error
      : isRedisUnavailable(error)
        ? new Errors.RedisUnavailable()
        : isDatabaseUnavailable(error)
          ? new Errors.DatabaseUnavailable()
          : undefined;
    const status = named?.statusCode ?? 500;
    req.log.error({ err: error, code: named?.code ?? 'INTERNAL', route: req.routeOptions.url }, 'request failed');
    return reply.code(status).send({
      statusCode: status,
      code: named?.code ?? 'INTERNAL',
      error: httpReason(status),
      message: named ? named.message : `Something went wrong; quote request id ${req.id}`,
      requestId: String(req.id),
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
    // First: their onRoute / onResponse hooks must see every route.
    await app.register(docsPlugin);
    await app.register(metricsPlugin);
    await app.register(mongoPlugin, { uri: config.mongodbUri, dbName: opts.dbName, serverSelectionTimeoutMs: config.timeouts.mongodbMs });
    await app.register(redisPlugin, { url: config.redisUrl, commandTimeoutMs: config.timeouts.redisCommandMs });
    await app.register(rateLimit, {
      global: false,
      redis: app.redis,
      nameSpace: opts.rateLimitNameSpace ?? 'rl:',
      skipOnError: true,
      errorResponseBuilder: (_req, ctx) => new Errors.RateLimited(ctx.after),
    });
    await app.register(wechatPlugin, { retryDelayMs: opts.payRetryDelayMs });
    await app.register(buyersPlugin);
    await app.register(authPlugin);
    await app.register(jobsPlugin, { prefix: opts.jobsPrefix, workers: opts.jobs?.workers });
    await app.register(ordersPlugin, { jobs: opts.jobs?.orders });
    await app.register(notificationsPlugin, { job: opts.jobs?.notifications });
    await app.register(refundsPlugin, opts.refunds ?? {});
    await app.register(reconciliationPlugin, { jobs: opts.jobs?.reconciliation });
    // Cookies, once for the whole app: the console's sessions and the H5 checkout's both use them.
    await app.register(cookie);
    await app.register(adminPlugin);
    await app.register(healthRoutes);
    await app.register(sessionRoutes, { nameSpace: opts.rateLimitNameSpace ?? 'rl:' });
    await app.register(productRoutes);
    await app.register(orderRoutes);
    await app.register(appChannelRoutes, { nameSpace: opts.rateLimitNameSpace ?? 'rl:' });
    await app.register(nativeChannelRoutes);
    await app.register(scanRoutes);
    await app.register(notifyRoutes);
    await app.register(v3NotifyRoutes);
    await app.register(adminRoutes);
    await app.register(adminSessionRoutes);
    await app.register(adminOperatorRoutes);
    await app.register(adminConsoleRoutes);
    if (config.admin.console) await app.register(consolePlugin);
    await app.register(adminReconciliationRoutes);
    await app.register(refundNotifyRoutes);
    await app.register(refundRequestRoutes);
    await app.register(h5Routes, { nameSpace: opts.rateLimitNameSpace ?? 'rl:' });
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
    423: 'Locked',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
  };
  return reasons[status] ?? 'Error';
}

type Converted = { value: unknown } | { error: string };

const INTEGER_TEXT = /^(0|-?[1-9][0-9]*)$/;
const NUMBER_TEXT = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/**
 * Text (a query string or path parameter) to the type its schema names, strictly: an integer is
 * digits only, a number plain decimal, a boolean true or false, and a key given twice where one value
 * is expected is refused. TypeBox's own Value.Convert takes 1e2, 1.5 and 0x10 as integers.
 */
function convertText(schema: TSchema, data: unknown, part: string, refuseUnknown: boolean): Converted {
  if (schema.type !== 'object' || typeof data !== 'object' || data === null) return { value: data };
  const properties = (schema.properties ?? {}) as Record<string, TSchema>;
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(data as Record<string, unknown>)) {
    const prop = properties[key];
    if (!prop) {
      if (refuseUnknown) return { error: `${part}.${key} is not a parameter of this route` };
      out[key] = raw;
      continue;
    }
    const converted = convertValue(prop, raw, `${part}.${key}`);
    if ('error' in converted) return converted;
    out[key] = converted.value;
  }
  return { value: out };
}

function convertValue(schema: TSchema, raw: unknown, where: string): Converted {
  if (schema.type === 'array') {
    const items = Array.isArray(raw) ? raw : [raw];
    const out: unknown[] = [];
    for (const item of items) {
      const c = convertValue((schema.items ?? {}) as TSchema, item, where);
      if ('error' in c) return c;
      out.push(c.value);
    }
    return { value: out };
  }
  if (Array.isArray(raw)) return { error: `${where} must be given once` };
  if (typeof raw !== 'string') return { value: raw };
  switch (schema.type) {
    case 'integer':
      return INTEGER_TEXT.test(raw) ? { value: Number(raw) } : { error: `${where} must be a whole number written in digits` };
    case 'number':
      return NUMBER_TEXT.test(raw) ? { value: Number(raw) } : { error: `${where} must be a decimal number` };
    case 'boolean':
      return raw === 'true' || raw === 'false' ? { value: raw === 'true' } : { error: `${where} must be true or false` };
    default:
      return { value: raw };
  }
}
