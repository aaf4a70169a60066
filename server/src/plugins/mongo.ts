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
}

export default fp<MongoPluginOptions>(
  async (app, opts) => {
    const conn = mongoose.createConnection(opts.uri, {
      dbName: opts.dbName,
      serverSelectionTimeoutMS: 10_000,
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
