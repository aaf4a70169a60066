// API v3 on the sandbox's plain listener, sharing the v2 state, faults and notifiers (core.ts).
import type { FastifyInstance } from 'fastify';
import type { SandboxCore } from '../core.js';
import { v3BillRoutes } from './bill-routes.js';
import { v3CertificateRoutes } from './certificates.js';
import { v3ControlRoutes } from './control-routes.js';
import type { V3Keys } from './keys.js';
import { v3PayRoutes } from './pay-routes.js';
import { v3RefundRoutes } from './refund-routes.js';

export async function v3Routes(app: FastifyInstance, opts: { core: SandboxCore; keys: V3Keys }): Promise<void> {
  await app.register(v3PayRoutes, opts);
  await app.register(v3RefundRoutes, opts);
  await app.register(v3BillRoutes, opts);
  await app.register(v3CertificateRoutes, opts);
  await app.register(v3ControlRoutes, { state: opts.core.state, keys: opts.keys });
}
