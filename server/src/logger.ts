import type { FastifyServerOptions } from 'fastify';

// Secrets must never reach a log line, whatever object they ride on.
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  'session_key',
  'sessionKey',
  'secret',
  'appsecret',
  'apiKey',
  'key',
  'paySign',
  '*.token',
  '*.session_key',
  '*.sessionKey',
  '*.secret',
  '*.appsecret',
  '*.apiKey',
  '*.key',
  '*.paySign',
];

export function loggerOptions(level: string): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
}
