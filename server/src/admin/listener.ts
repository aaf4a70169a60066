import type { FastifyInstance } from 'fastify';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { kAdminListener } from './plugin.js';

/**
 * ADMIN_PORT: a second listener for the same app, serving only /admin (the console and its API), so
 * that it can stay on an internal address while the buyers' API faces the internet. Requests are
 * marked as coming from here and routed by the app itself; its plugin refuses /admin elsewhere.
 */
export async function startAdminListener(app: FastifyInstance, opts: { port: number; host: string }): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    (req as IncomingMessage & { [kAdminListener]?: boolean })[kAdminListener] = true;
    app.routing(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeIdleConnections();
        server.close(() => resolve());
      }),
  };
}
