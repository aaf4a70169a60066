import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../server/src/config.js';

/**
 * The real services the tests run against. `npm test` starts them (scripts/with-services.ts)
 * and passes them in MONGODB_URI and REDIS_URL; a test run without them is a setup mistake.
 */
export function serviceUrls(): { mongodbUri: string; redisUrl: string } {
  const mongodbUri = process.env.MONGODB_URI;
  const redisUrl = process.env.REDIS_URL;
  if (!mongodbUri || !redisUrl) {
    throw new Error('MONGODB_URI and REDIS_URL must be set: run the tests with `npm test`, which starts local servers');
  }
  return { mongodbUri, redisUrl };
}

/** A database name of its own for each test file (and each app built in it, unless shared on purpose). */
export function freshDbName(label = 'test'): string {
  return `t_${label.replace(/[^a-z0-9]/gi, '_').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
}

/** A config as loadConfig builds it from the environment, on the real test services, quiet, sandbox mode. */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  const urls = serviceUrls();
  return loadConfig({ MONGODB_URI: urls.mongodbUri, REDIS_URL: urls.redisUrl, LOG_LEVEL: 'silent', ...env });
}
