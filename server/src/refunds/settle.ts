import type { FastifyBaseLogger } from 'fastify';
import { beijingDay } from '../wechat/beijing-datetime.js';
import type { OrderRepository } from '../orders/repository.js';
import type { RefundDoc, RefundStatus } from './model.js';
import type { RefundKey, RefundRepository } from './repository.js';

/** What WeChat says of a refund (refund answer, refundquery, refund notification), in our words. */
export interface RefundReport {
  status: 'PROCESSING' | 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE';
  /** refund_fee WeChat reports, fen: must equal ours */
  refundFee: number;
  refundId?: string;
  successAt?: Date;
  recvAccount?: string;
}

export type RefundSettleOutcome = 'changed' | 'unchanged' | 'unknown_refund' | 'amount_mismatch' | 'contended';

export interface RefundSettleDeps {
  refunds: RefundRepository;
  orders: OrderRepository;
  log: FastifyBaseLogger;
}

const FROM: Record<RefundReport['status'], readonly RefundStatus[]> = {
  PROCESSING: ['PENDING'],
  SUCCESS: ['PENDING', 'PROCESSING', 'CHANGE'],
  CHANGE: ['PENDING', 'PROCESSING'],
  REFUNDCLOSE: ['PENDING', 'PROCESSING', 'CHANGE'],
};

/**
 * The one code path that applies WeChat's view of a refund: the refund answer, refundquery and the
 * refund notification all end here. Each transition is one conditional update; its effect on the
 * order (a success counted, a closed refund's amount freed) follows, and a crash in between is
 * finished by `applyEffect` from the background scan.
 */
export async function applyRefundReport(
  deps: RefundSettleDeps,
  key: RefundKey,
  report: RefundReport,
  source: string,
): Promise<{ outcome: RefundSettleOutcome; refund: RefundDoc | null }> {
  const { refunds, log } = deps;
  for (let round = 0; round < 5; round++) {
    const refund = await refunds.find(key);
    if (!refund) return { outcome: 'unknown_refund', refund: null };
    if (report.refundFee !== refund.amount) {
      log.warn(
        { security: true, event: 'refund_amount_mismatch', outRefundNo: refund.outRefundNo, expected: refund.amount, got: report.refundFee, source },
        'refund report amount differs from the refund: ignored',
      );
      return { outcome: 'amount_mismatch', refund };
    }
    if (refund.status === report.status || !FROM[report.status].includes(refund.status)) {
      if (refund.applied === false) await applyEffect(deps, refund);
      return { outcome: 'unchanged', refund };
    }
    const final = report.status === 'SUCCESS' || report.status === 'REFUNDCLOSE';
    const won = await refunds.transition(refund._id, refund.status, report.status, source, {
      ...(report.refundId ? { refundId: report.refundId } : {}),
      ...(report.successAt ? { successAt: report.successAt } : {}),
      ...(report.recvAccount ? { recvAccount: report.recvAccount } : {}),
      ...(final ? { applied: false } : {}),
      // the day WeChat took it, as its bill lists it (reconciliation looks refunds up by it)
      ...(refund.status === 'PENDING' ? { acceptedDay: beijingDay(new Date()) } : {}),
      waitingSince: null,
    });
    if (!won) continue;
    if (report.status === 'CHANGE') {
      log.warn(
        { followUp: true, event: 'refund_change', outRefundNo: won.outRefundNo, outTradeNo: won.outTradeNo },
        'WeChat could not return the money (CHANGE): an operator must act',
      );
    }
    if (final) await applyEffect(deps, won);
    log.info({ event: 'refund_state', outRefundNo: won.outRefundNo, from: refund.status, to: won.status, source }, 'refund changed');
    return { outcome: 'changed', refund: won };
  }
  return { outcome: 'contended', refund: await refunds.find(key) };
}

/** A final refund's effect on its order, once (both halves are idempotent). */
export async function applyEffect(deps: RefundSettleDeps, refund: RefundDoc): Promise<void> {
  if (refund.status === 'SUCCESS') await deps.orders.applyRefundSuccess(refund.orderId, refund._id, refund.amount);
  else if (refund.status === 'REFUNDCLOSE' || refund.status === 'FAILED') await deps.orders.releaseRefund(refund.orderId, refund._id, refund.amount);
  else return;
  await deps.refunds.markApplied(refund._id);
}
