import fp from 'fastify-plugin';
import { defineReconcileJobs, DEFAULT_RECONCILE_JOB_SETTINGS, type ReconcileJobSettings } from './jobs.js';
import { createReportRepository } from './model.js';
import { createReconcileService, type ReconcileService } from './service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** the daily reconciliation of WeChat's bill with our orders and refunds */
    reconciliation: ReconcileService;
  }
}

export interface ReconciliationPluginOptions {
  /** the jobs' timings (tests turn the schedule off or shorten the waits); atMinute defaults to RECONCILE_AT */
  jobs?: Partial<ReconcileJobSettings>;
}

export default fp<ReconciliationPluginOptions>(
  async (app, opts) => {
    const reports = await createReportRepository(app.mongo);
    const service = createReconcileService({
      orders: app.orderRepo,
      confirmPayment: (order) => app.orders.confirmWithWechat(order, 'reconciliation'),
      refunds: app.refunds,
      downloadBill: (req) => app.wechat.pay.downloadBill(req),
      reports,
      redis: app.redis,
      lockScope: app.mongo.name,
      merchant: { appids: [app.config.wechat.appid], mchId: app.config.pay.mchId },
      log: app.log,
    });
    app.decorate('reconciliation', service);
    await defineReconcileJobs({
      jobs: app.jobs,
      service,
      reports,
      log: app.log,
      settings: { ...DEFAULT_RECONCILE_JOB_SETTINGS, atMinute: app.config.reconciliation.atMinute, ...opts.jobs },
    });
  },
  { name: 'reconciliation', dependencies: ['mongo', 'redis', 'wechat', 'jobs', 'orders', 'refunds'] },
);
