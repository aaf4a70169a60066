import fp from 'fastify-plugin';
import type { AddressInfo } from 'node:net';
import { createCatalog, type Catalog } from '../catalog.js';
import { orderModels } from '../orders/model.js';
import { createOrderRepository, type OrderRepository } from '../orders/repository.js';
import { createOrderService, type OrderService } from '../orders/service.js';

declare module 'fastify' {
  interface FastifyInstance {
    catalog: Catalog;
    orderRepo: OrderRepository;
    orders: OrderService;
  }
}

/**
 * One sweep per interval across all instances: the first to claim the turn in Redis sweeps, the
 * others skip it. (The sweep itself is idempotent and takes the per-order lock, so a lapse here
 * costs work, never correctness; a job queue would add machinery for no more than this.)
 */
export async function claimSweepTurn(
  redis: { set(...args: unknown[]): Promise<unknown> },
  intervalMs: number,
  key = 'sweep:turn',
): Promise<boolean> {
  const ttl = Math.max(1, Math.floor(intervalMs * 0.9));
  return (await redis.set(key, String(process.pid), 'PX', ttl, 'NX')) === 'OK';
}

export interface OrdersPluginOptions {
  /** ms between sweeps (pending fulfilments, expired orders); 0 disables the timer */
  sweepIntervalMs?: number;
}

export default fp<OrdersPluginOptions>(
  async (app, opts) => {
    const repo = createOrderRepository(await orderModels(app.mongo));
    const catalog = createCatalog();
    const notifyUrl = () => {
      if (app.config.pay.notifyUrl) return app.config.pay.notifyUrl;
      // Sandbox mode: the sandbox posts to this very server.
      const address = app.server.address() as AddressInfo | null;
      return `http://127.0.0.1:${address?.port ?? app.config.port}/wxpay/notify`;
    };
    const service = createOrderService({
      orders: repo,
      pay: app.wechat.pay,
      redis: app.redis,
      catalog,
      config: app.config,
      log: app.log,
      notifyUrl,
    });
    app.decorate('catalog', catalog);
    app.decorate('orderRepo', repo);
    app.decorate('orders', service);

    const interval = opts.sweepIntervalMs ?? 60_000;
    if (interval > 0) {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        claimSweepTurn(app.redis, interval)
          .then(async (mine) => {
            if (!mine) return;
            const r = await service.sweep();
            if (r.emitted || r.expired) app.log.info(r, 'sweep');
          })
          .catch((err: Error) => app.log.warn({ err: { message: err.message } }, 'sweep failed'))
          .finally(() => {
            running = false;
          });
      }, interval);
      timer.unref();
      app.addHook('onClose', async () => clearInterval(timer));
    }
  },
  { name: 'orders', dependencies: ['mongo', 'redis', 'wechat'] },
);
