import fp from 'fastify-plugin';
import { paidMessageModel } from '../notifications/model.js';
import { createPaidMessages, definePaidMessageJob, type PaidMessageJobSettings, type PaidMessages } from '../notifications/paid-message.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** the payment-success subscribe message (its job: notifications.paid-message) */
    paidMessages: PaidMessages;
  }
}

export interface NotificationsPluginOptions {
  /** retries of the paid-message job (tests shorten them) */
  job?: Partial<PaidMessageJobSettings>;
}

export default fp<NotificationsPluginOptions>(
  async (app, opts) => {
    const messages = createPaidMessages({
      model: await paidMessageModel(app.mongo),
      orders: app.orderRepo,
      mp: app.wechat.mp,
      config: app.config.notifications,
      log: app.log,
    });
    app.decorate('paidMessages', messages);
    definePaidMessageJob(app.jobs, messages, opts.job);
  },
  { name: 'notifications', dependencies: ['mongo', 'wechat', 'jobs', 'orders'] },
);
