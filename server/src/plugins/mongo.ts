import fp from 'fastify-plugin';
import mongoose from 'mongoose';

declare module 'fastify' {
  interface FastifyInstance {
    /** this app's own mongoose connection (models are registered on it, not on the global mongoose) */
    mongo: mongoose.Connection;
  }
}

export interface MongoPluginOptions {
  uri: string;
  /** overrides the database named in the URI (tests use one per file) */
  dbName?: string;
  /** how long an operation waits for a reachable database server before it fails */
  serverSelectionTimeoutMs?: number;
}

export const DEFAULT_MONGODB_TIMEOUT_MS = 3_000;
/**
 * An operation on a connection that stopped answering (a paused or wedged server) fails after this.
 * It must stay well above the slowest legitimate query: bench/ sees 1.6 s at most on the embedded
 * FerretDB/SQLite under load.
 */
const SOCKET_TIMEOUT_MS = 10_000;

const { mongo } = mongoose;
// Server error codes that mean "cannot serve now" (shutting down, stepping down, unreachable), not "bad query".
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/** The database could not be reached or stopped answering: answer 503, not 500. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (
    err instanceof mongo.MongoNetworkError ||
    err instanceof mongo.MongoServerSelectionError ||
    err instanceof mongo.MongoNotConnectedError ||
    err instanceof mongo.MongoTopologyClosedError ||
    err instanceof mongo.MongoServerClosedError ||
    err instanceof mongo.MongoClientClosedError ||
    err instanceof mongo.MongoOperationTimeoutError ||
    err instanceof mongoose.Error.MongooseServerSelectionError
  ) {
    return true;
  }
  if (err instanceof mongo.MongoServerError) {
    return (typeof err.code === 'number' && UNAVAILABLE_CODES.has(err.code)) || err.hasErrorLabel('RetryableWriteError');
  }
  return false;
}

export default fp<MongoPluginOptions>(
  async (app, opts) => {
    const selection = opts.serverSelectionTimeoutMs ?? DEFAULT_MONGODB_TIMEOUT_MS;
    const conn = mongoose.createConnection(opts.uri, {
      dbName: opts.dbName,
      // Fail fast: without a reachable server an operation fails after `selection` ms instead of
      // waiting in mongoose's buffer (bufferCommands) for a reconnection that may never come.
      bufferCommands: false,
      serverSelectionTimeoutMS: selection,
      connectTimeoutMS: Math.max(selection, 1_000),
      socketTimeoutMS: SOCKET_TIMEOUT_MS,
      // Indexes are created explicitly at boot (see the order model), not lazily per model.
      autoIndex: false,
    });
    await conn.asPromise();
    app.decorate('mongo', conn);
    app.addHook('onClose', async () => {
      await conn.close();
    });
  },
  { name: 'mongo' },
);
