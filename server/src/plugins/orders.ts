import fp from 'fastify-plugin';
import type { AddressInfo } from 'node:net';
import { createCatalog, type Catalog } from '../catalog.js';
import { migrateOrderBuyers, orderModels } from '../orders/model.js';
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
    const models = await orderModels(app.mongo);
    // Orders from before buyers and channels: the mini-program's, owned by the buyer of (its appid, openid).
    const migrated = await migrateOrderBuyers(models.Order, (l) => app.buyers.link(l), app.config.apps.mp?.appid ?? app.config.wechat.appid);
    if (migrated > 0) app.log.info({ event: 'orders_migrated', migrated }, 'orders linked to their buyers');
    const repo = createOrderRepository(models);
    const catalog = createCatalog();
    // Each API version's notifications have their own endpoint (v2 XML, v3 JSON): the one of the API the prepay is made with.
    const notifyUrl = () => {
      const { pay } = app.config;
      const configured = pay.apiVersion === 'v3' ? pay.v3?.notifyUrl : pay.notifyUrl;
      if (configured) return configured;
      // Sandbox mode: the sandbox posts to this very server.
      const address = app.server.address() as AddressInfo | null;
      return `http://127.0.0.1:${address?.port ?? app.config.port}${pay.apiVersion === 'v3' ? '/wxpay/v3/notify' : '/wxpay/notify'}`;
    };
    const service = createOrderService({
      orders: repo,
      pay: app.wechat.pay,
      signer: app.wechat.signer,
      redis: app.redis,
      catalog,
      config: app.config,
      log: app.log,
      notifyUrl,
      jobs: app.jobs,
      // an unflagged payment: its fulfilment, then the payment-success message (when a template is set)
      fulfil: async (order) => {
        await enqueueFulfilment(app.jobs, order);
        // subscribe messages are the mini-program's: an order of another app has no subscriber there
        if (!order.appid || order.appid === app.config.apps.mp?.appid) await enqueuePaidMessage(app.jobs, app.config.notifications, order);
      },
    });
    app.decorate('catalog', catalog);
    app.decorate('orderRepo', repo);
    app.decorate('orders', service);

    await defineOrderJobs({ jobs: app.jobs, service, orders: repo, redis: app.redis, log: app.log, settings: opts.jobs });
  },
  { name: 'orders', dependencies: ['mongo', 'redis', 'wechat', 'jobs', 'buyers'] },
);
