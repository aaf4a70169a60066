import type { FastifyServerOptions } from 'fastify';

// Secrets must never reach a log line, whatever object they ride on.
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'body',
  'token',
  'session_key',
  'sessionKey',
  'secret',
  'appsecret',
  'apiKey',
  'key',
  'paySign',
  '*.body',
  '*.token',
  '*.session_key',
  '*.sessionKey',
  '*.secret',
  '*.appsecret',
  '*.apiKey',
  '*.key',
  '*.paySign',
];

/**
 * What an error may say in a log line. Client libraries hang the data they were handling on their
 * errors: ioredis the command's arguments (`command.args`: a session's JSON with its session_key),
 * the MongoDB driver and mongoose the document or filter (`keyValue`, `op`, `writeErrors[].op`,
 * `errors[].value`, `errorResponse`), HTTP clients the request or response. Rather than chase each
 * of those, an error is logged with these fields only; anything else it carries is left out.
 */
const SAFE_FIELDS = [
  'code',
  'codeName',
  'errno',
  'syscall',
  'statusCode',
  'status',
  'errcode',
  'api',
  'field',
  'retriable',
  'wechatMessage',
  'errorLabels',
] as const;

const MAX_DEPTH = 3;
const MAX_NESTED = 5;

// Values some drivers quote in their messages: a duplicate key's value, a value that failed a cast.
function scrub(text: string): string {
  return text
    .replace(/dup key: \{[^\n]*?\}(?=$|\s|\n|,)/g, 'dup key: { [redacted] }')
    .replace(/for value (".*?"|'.*?'|\S+) \(type/g, 'for value [redacted] (type');
}

export interface SafeError {
  type: string;
  message: string;
  stack?: string;
  /** the name of the Redis command that failed (never its arguments) */
  command?: string;
  cause?: SafeError | string;
  errors?: Array<SafeError | string>;
  [field: string]: unknown;
}

function isPrimitive(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

// What safeError made (formatters.log runs it before pino's err serializer runs it again).
const reduced = new WeakSet<object>();

/** An error (or error-like object) reduced to what is safe to log; see SAFE_FIELDS. */
export function safeError(value: unknown, depth = 0): SafeError | string {
  if (value === null || typeof value !== 'object') return scrub(String(value));
  if (reduced.has(value)) return value as SafeError;
  const err = value as Record<string, unknown> & { constructor?: { name?: string } };
  const out: SafeError = {
    type: value instanceof Error ? (typeof err.name === 'string' && err.name ? err.name : (err.constructor?.name ?? 'Error')) : 'Object',
    message: scrub(typeof err.message === 'string' ? err.message : ''),
  };
  if (typeof err.stack === 'string') out.stack = scrub(err.stack);
  for (const field of SAFE_FIELDS) {
    const v = err[field];
    if (isPrimitive(v)) out[field] = typeof v === 'string' ? scrub(v) : v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[field] = v.slice(0, 20);
  }
  const command = err.command as { name?: unknown } | string | undefined;
  const commandName = typeof command === 'string' ? command : command?.name;
  if (typeof commandName === 'string') out.command = commandName;
  if (depth < MAX_DEPTH) {
    if (err.cause !== undefined) out.cause = safeError(err.cause, depth + 1);
    if (Array.isArray(err.errors)) out.errors = err.errors.slice(0, MAX_NESTED).map((e) => safeError(e, depth + 1));
  }
  reduced.add(out);
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/**
 * Every error in a log call, under `err` or any other key (one level down too), goes through
 * safeError, so that no client library can carry a secret into a log line.
 */
function safeLogObject(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(obj)) {
    let safe = value;
    if (value instanceof Error || key === 'err') safe = value === undefined ? value : safeError(value);
    else if (isPlainObject(value) && Object.values(value).some((v) => v instanceof Error)) {
      safe = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v instanceof Error ? safeError(v) : v]));
    }
    if (safe !== value) (out ??= { ...obj })[key] = safe;
  }
  return out ?? obj;
}

function serializeErr(e: unknown): { type: string; message: string; stack: string; [field: string]: unknown } {
  const safe = safeError(e);
  return typeof safe === 'string' ? { type: 'Error', message: safe, stack: '' } : { stack: '', ...safe };
}

export function loggerOptions(level: string): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeErr },
    formatters: { log: safeLogObject },
  };
}
