import type { FastifyBaseLogger } from 'fastify';
import type { OrderStatus } from '../../../shared/api.js';
import { PAYABLE, SETTLED_PAID, type OrderDoc } from './model.js';
import type { OrderKey, OrderRepository } from './repository.js';

/** What WeChat says about a trade, from a notify, an orderquery or a closeorder, in our words. */
export type TradeReport =
  | { state: 'SUCCESS'; transactionId: string; totalFee: number; paidAt: Date }
  | { state: 'CLOSED' }
  | { state: 'PAYERROR'; reason?: string }
  | { state: 'NOTPAY' };

export type SettleOutcome =
  /** this call made the order PAID (and recorded its fulfilment) */
  | 'paid'
  /** this call changed the order to CLOSED or FAILED */
  | 'changed'
  /** the order already reflects the report: nothing to do */
  | 'unchanged'
  | 'unknown_order'
  | 'amount_mismatch'
  /** the order kept changing under us: not applied, ask again (notify answers FAIL so WeChat retries) */
  | 'contended';

export interface SettleResult {
  outcome: SettleOutcome;
  order: OrderDoc | null;
}

export interface SettleDeps {
  orders: OrderRepository;
  log: FastifyBaseLogger;
}

const CLOSABLE: readonly OrderStatus[] = ['CREATED', 'PAYING', 'FAILED'];

/**
 * The one code path that applies WeChat's view of a trade to an order. Notify, orderquery and
 * closeorder all end here, so "this order is now paid" happens in exactly one place, once.
 */
export async function applyTradeState(
  deps: SettleDeps,
  key: OrderKey,
  report: TradeReport,
  source: string,
): Promise<SettleResult> {
  const { orders, log } = deps;
  // A few rounds: between reading and updating, another instance may have moved the order.
  for (let round = 0; round < 5; round++) {
    const order = await orders.find(key);
    if (!order) return { outcome: 'unknown_order', order: null };

    switch (report.state) {
      case 'SUCCESS': {
        if (report.totalFee !== order.amount) {
          log.warn(
            { security: true, event: 'amount_mismatch', outTradeNo: order.outTradeNo, expected: order.amount, got: report.totalFee, source },
            'payment amount differs from the order amount: order left unchanged',
          );
          return { outcome: 'amount_mismatch', order };
        }
        if (SETTLED_PAID.includes(order.status)) {
          if (order.transactionId && order.transactionId !== report.transactionId) {
            await orders.addFlag(key, 'SECOND_TRANSACTION');
            log.warn(
              { security: true, event: 'second_transaction', outTradeNo: order.outTradeNo, source },
              'a second WeChat transaction reported for a paid order: flagged for follow-up',
            );
          }
          return { outcome: 'unchanged', order };
        }
        const from = order.status === 'CLOSED' ? (['CLOSED'] as const) : PAYABLE;
        if (!from.includes(order.status)) break;
        const won = await orders.transition(key, from, 'PAID', source, {
          set: {
            paidAt: report.paidAt,
            transactionId: report.transactionId,
            paidAmount: report.totalFee,
            fulfilment: { state: 'PENDING', createdAt: new Date() },
          },
          // Money arrived for an order we had closed: keep it, and tell an operator.
          addFlag: order.status === 'CLOSED' ? 'PAID_AFTER_CLOSE' : undefined,
        });
        if (!won) continue;
        if (order.status === 'CLOSED') {
          log.warn({ event: 'paid_after_close', outTradeNo: order.outTradeNo }, 'payment received for a closed order: recorded as PAID and flagged');
        }
        log.info({ event: 'order_paid', outTradeNo: won.outTradeNo, source }, 'order paid');
        try {
          await orders.emitFulfilment(won);
        } catch (err) {
          // The PENDING marker stays on the order; the sweep emits it later.
          log.error({ err, outTradeNo: won.outTradeNo }, 'fulfilment not emitted yet; the sweep will retry');
        }
        return { outcome: 'paid', order: won };
      }
      case 'CLOSED': {
        if (!CLOSABLE.includes(order.status)) return { outcome: 'unchanged', order };
        const won = await orders.transition(key, CLOSABLE, 'CLOSED', source);
        if (!won) continue;
        return { outcome: 'changed', order: won };
      }
      case 'PAYERROR': {
        if (order.status !== 'PAYING') return { outcome: 'unchanged', order };
        const won = await orders.transition(key, ['PAYING'], 'FAILED', source);
        if (!won) continue;
        return { outcome: 'changed', order: won };
      }
      case 'NOTPAY':
        return { outcome: 'unchanged', order };
    }
  }
  // Contended beyond reason: nothing was applied, and the caller must not claim otherwise.
  return { outcome: 'contended', order: await orders.find(key) };
}
