import fp from 'fastify-plugin';
import type { AddressInfo } from 'node:net';
import { createAuditLog, type AuditLog } from '../admin/audit.js';
import type { RefundReport } from '../refunds/settle.js';
import { refundModels } from '../refunds/model.js';
import { countRefundTransitions } from '../observability/refunds.js';
import { createRefundRepository } from '../refunds/repository.js';
import { createRefundService, type RefundContext, type RefundDelays, type RefundGateway, type RefundService } from '../refunds/service.js';
import { WxPayError } from '../wechat/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    refunds: RefundService;
    /** the append-only log of operators' money and access actions */
    audit: AuditLog;
  }
}

export const REFUND_JOBS = { submit: 'refunds.submit', query: 'refunds.query', scan: 'refunds.scan' } as const;

export interface RefundsPluginOptions {
  /** tests shorten the waits between WeChat calls */
  delays?: RefundDelays;
  /** ms between two runs of the safety-net scan (0: none) */
  scanEveryMs?: number;
}

export default fp<RefundsPluginOptions>(
  async (app, opts) => {
    const { pay } = app.wechat;
    // A refund goes to WeChat under its order's appid (orders from before channels: the mini-program's).
    const appidOf = async (ctx: RefundContext) => ({ appid: (await app.orderRepo.find({ id: ctx.orderId.toString() }))?.appid ?? app.config.wechat.appid });
    const gateway: RefundGateway = {
      async refund(req, ctx) {
        const r = await pay.refund(req, await appidOf(ctx));
        return { refundId: r.refund_id };
      },
      async query(outRefundNo, ctx) {
        let answer;
        try {
          answer = await pay.refundQuery({ out_refund_no: outRefundNo }, await appidOf(ctx));
        } catch (err) {
          if (err instanceof WxPayError && err.code === 'REFUNDNOTEXIST') return null;
          throw err;
        }
        const item = answer.refunds.find((r) => r.out_refund_no === outRefundNo);
        if (!item) return null;
        const report: RefundReport = {
          status: item.refund_status,
          refundFee: item.refund_fee,
          refundId: item.refund_id,
          ...(item.succeededAt ? { successAt: item.succeededAt } : {}),
          ...(item.refund_recv_accout ? { recvAccount: item.refund_recv_accout } : {}),
        };
        return report;
      },
    };
    const refundNotifyUrl = () => {
      const { pay } = app.config;
      const configured = pay.apiVersion === 'v3' ? pay.v3?.refundNotifyUrl : pay.refundNotifyUrl;
      if (configured) return configured;
      const address = app.server.address() as AddressInfo | null;
      return `http://127.0.0.1:${address?.port ?? app.config.port}${pay.apiVersion === 'v3' ? '/wxpay/v3/refund-notify' : '/wxpay/refund-notify'}`;
    };
    const repo = countRefundTransitions(createRefundRepository(await refundModels(app.mongo)), app.metrics);
    const service = createRefundService({
      refunds: repo,
      orders: app.orderRepo,
      gateway,
      log: app.log,
      notifyUrl: refundNotifyUrl,
      ...(opts.delays ? { delays: opts.delays } : {}),
      later: async (step, refundId, delayMs, attempt) => {
        await app.jobs.enqueue(step === 'submit' ? REFUND_JOBS.submit : REFUND_JOBS.query, { refundId, attempt }, {
          jobId: `refund-${step}-${refundId}-${attempt}`,
          delayMs,
        });
      },
    });
    app.decorate('refunds', service);
    app.decorate('audit', await createAuditLog(app.mongo));

    const idOf = (p: Record<string, unknown>) => (typeof p.refundId === 'string' ? p.refundId : '');
    const attemptOf = (p: Record<string, unknown>) => (typeof p.attempt === 'number' ? p.attempt : 0);
    // A thrown error (the database down, say) is retried by the queue; WeChat's own answers are
    // handled inside submit/query, which schedule their next step themselves.
    app.jobs.define(REFUND_JOBS.submit, async (p) => ({ status: (await service.submit(idOf(p), attemptOf(p))).status }), {
      attempts: 5,
      backoff: { type: 'exponential', delayMs: 10_000 },
      concurrency: 2,
    });
    app.jobs.define(REFUND_JOBS.query, async (p) => ({ status: (await service.query(idOf(p), attemptOf(p))).status }), {
      attempts: 5,
      backoff: { type: 'exponential', delayMs: 10_000 },
      concurrency: 2,
    });
    app.jobs.define(REFUND_JOBS.scan, async () => service.sweep(), { attempts: 1, keepDead: 20 });
    await app.jobs.every(REFUND_JOBS.scan, opts.scanEveryMs ?? 60_000);
  },
  { name: 'refunds', dependencies: ['mongo', 'orders', 'wechat', 'jobs', 'metrics'] },
);
