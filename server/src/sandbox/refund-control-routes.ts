// The sandbox's JSON views of refunds: their delivery log and their states (what WeChat's merchant
// platform would show). Faults for refunds are armed through POST /sandbox/faults (refund-faults.ts).
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { SandboxCore } from './core.js';
import { DeliveryFields } from './delivery.js';

const AttemptSchema = Type.Object({
  outRefundNo: Type.String(),
  refundId: Type.String(),
  outTradeNo: Type.String(),
  refundStatus: Type.String(),
  notifyUrl: Type.String(),
  ...DeliveryFields,
});

const RefundSchema = Type.Object({
  mchId: Type.String(),
  appid: Type.String(),
  outTradeNo: Type.String(),
  transactionId: Type.String(),
  outRefundNo: Type.String(),
  refundId: Type.String(),
  totalFee: Type.Integer(),
  refundFee: Type.Integer(),
  status: Type.String(),
  notifyUrl: Type.Optional(Type.String()),
  createdAt: Type.String(),
  settledAt: Type.Optional(Type.String()),
});

export async function refundControlRoutes(app: FastifyInstance, opts: { core: SandboxCore }): Promise<void> {
  const { refunds, refundNotifier } = opts.core;

  app.get<{ Querystring: { out_refund_no?: string } }>(
    '/sandbox/refund-notifications',
    {
      schema: {
        querystring: Type.Object({ out_refund_no: Type.Optional(Type.String({ maxLength: 64 })) }),
        response: { 200: Type.Object({ attempts: Type.Array(AttemptSchema) }) },
      },
    },
    async (req) => ({ attempts: refundNotifier.list(req.query.out_refund_no) }),
  );

  app.get<{ Querystring: { out_trade_no?: string } }>(
    '/sandbox/refunds',
    {
      schema: {
        querystring: Type.Object({ out_trade_no: Type.Optional(Type.String({ maxLength: 32 })) }),
        response: { 200: Type.Object({ refunds: Type.Array(RefundSchema) }) },
      },
    },
    async (req) => ({
      refunds: refunds
        .all()
        .filter((r) => req.query.out_trade_no === undefined || r.outTradeNo === req.query.out_trade_no)
        .map((r) => ({
          mchId: r.mchId,
          appid: r.appid,
          outTradeNo: r.outTradeNo,
          transactionId: r.transactionId,
          outRefundNo: r.outRefundNo,
          refundId: r.refundId,
          totalFee: r.totalFee,
          refundFee: r.refundFee,
          status: r.status,
          ...(r.notifyUrl ? { notifyUrl: r.notifyUrl } : {}),
          createdAt: new Date(r.createdAt).toISOString(),
          ...(r.settledAt !== undefined ? { settledAt: new Date(r.settledAt).toISOString() } : {}),
        })),
    }),
  );
}
