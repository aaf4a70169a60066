import fp from 'fastify-plugin';
import type { AddressInfo } from 'node:net';
import { createCatalog, type Catalog } from '../catalog.js';
import { orderModels } from '../orders/model.js';
import { enqueuePaidMessage } from '../notifications/paid-message.js';
import { defineOrderJobs, enqueueFulfilment, type OrderJobSettings } from '../orders/jobs.js';
import { createOrderRepository, type OrderRepository } from '../orders/repository.js';
import { createOrderService, type OrderService } from '../orders/service.js';

declare module 'fastify' {
  interface FastifyInstance {
    catalog: Catalog;
    orderRepo: OrderRepository;
    orders: OrderService;
  }
}

export interface OrdersPluginOptions {
  /** timings of the orders' background jobs (tests shorten them) */
  jobs?: Partial<OrderJobSettings>;
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
      jobs: app.jobs,
      // an unflagged payment: its fulfilment, then the payment-success message (when a template is set)
      fulfil: async (order) => {
        await enqueueFulfilment(app.jobs, order);
        await enqueuePaidMessage(app.jobs, app.config.notifications, order);
      },
    });
    app.decorate('catalog', catalog);
    app.decorate('orderRepo', repo);
    app.decorate('orders', service);

    await defineOrderJobs({ jobs: app.jobs, service, orders: repo, redis: app.redis, log: app.log, settings: opts.jobs });
  },
  { name: 'orders', dependencies: ['mongo', 'redis', 'wechat', 'jobs'] },
);
