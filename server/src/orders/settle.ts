import type { FastifyBaseLogger } from 'fastify';
import type { OrderStatus } from '../../../shared/api.js';
import { beijingDay } from '../wechat/beijing-datetime.js';
import { PAYABLE, SETTLED_PAID, type FollowUpFlag, type OrderDoc } from './model.js';
import type { OrderKey, OrderRepository } from './repository.js';

/** What WeChat says about a trade, from a notify, an orderquery or a closeorder, in our words. */
export type TradeReport =
  | {
      state: 'SUCCESS';
      transactionId: string;
      totalFee: number;
      paidAt: Date;
      /** the payer, as WeChat reports it (checked against the order's buyer) */
      openid?: string;
      tradeType?: string;
      feeType?: string;
      /** the sign type the report was signed with (notifies): one of the order's prepays must have used it */
      signType?: string;
    }
  | { state: 'CLOSED' }
  | { state: 'PAYERROR'; reason?: string }
  | { state: 'NOTPAY' };

export type SettleOutcome =
  /** this call made the order PAID, and its fulfilment is on its way */
  | 'paid'
  /** this call recorded a payment an operator must look at first (flags raised, fulfilment held) */
  | 'held'
  /** this call changed the order to CLOSED or FAILED */
  | 'changed'
  /** the order already reflects the report (a payment beyond the first one is recorded, though) */
  | 'unchanged'
  | 'unknown_order'
  /** the report disagrees with the order and did not come from our own orderquery: ask WeChat first */
  | 'unconfirmed'
  /** signed with a sign type none of the order's prepays used */
  | 'wrong_sign_type'
  /** the order kept changing under us: not applied, ask again (notify answers FAIL so WeChat retries) */
  | 'contended';

export interface SettleResult {
  outcome: SettleOutcome;
  order: OrderDoc | null;
  /** the flags this call raised, if any */
  flags?: FollowUpFlag[];
}

export interface SettleDeps {
  orders: OrderRepository;
  log: FastifyBaseLogger;
  /** after the single winning PAID update of an unflagged payment: start its fulfilment (must not throw) */
  onPaid(order: OrderDoc): Promise<void>;
}

export interface SettleOptions {
  /** notify, orderquery, closeorder, cancel, expiry, ... (kept in the order's history) */
  source: string;
  /** the report is WeChat's answer to our own orderquery: a disagreement with the order is recorded, not doubted */
  confirmed: boolean;
  /** fields written with a CLOSED transition (a cancel records that WeChat's side is still to close) */
  closeSet?: Record<string, unknown>;
}

const CLOSABLE: readonly OrderStatus[] = ['CREATED', 'PAYING', 'FAILED'];

/** How a paid report disagrees with the order it names: each is a flag, and holds the order's fulfilment. */
export function paymentMismatches(order: OrderDoc, report: Extract<TradeReport, { state: 'SUCCESS' }>): FollowUpFlag[] {
  const flags: FollowUpFlag[] = [];
  if (report.totalFee !== order.amount) flags.push('AMOUNT_MISMATCH');
  if (report.openid !== undefined && report.openid !== order.openid) flags.push('OPENID_MISMATCH');
  if (report.tradeType !== undefined && report.tradeType !== (order.tradeType ?? 'JSAPI')) flags.push('TRADE_TYPE_MISMATCH');
  if (report.feeType !== undefined && report.feeType !== 'CNY') flags.push('FEE_TYPE_MISMATCH');
  return flags;
}

/** The sign types this order's notifies may carry: those of its prepays (older orders kept only the last). */
function signTypesOf(order: OrderDoc): string[] {
  if (order.signTypes && order.signTypes.length > 0) return order.signTypes;
  return order.prepay ? [order.prepay.signType] : [];
}

/**
 * The one code path that applies WeChat's view of a trade to an order. Notify, orderquery and
 * closeorder all end here, so "this order is now paid" happens in exactly one place, once.
 *
 * A payment in the common case is one conditional write; anything unusual (a closed order, a
 * disagreement, a second transaction, a race) reads the order and decides.
 */
export async function applyTradeState(deps: SettleDeps, key: OrderKey, report: TradeReport, opts: SettleOptions): Promise<SettleResult> {
  const { orders, log } = deps;
  const { source } = opts;

  if (report.state === 'SUCCESS' && 'outTradeNo' in key && report.openid && report.tradeType && (report.feeType ?? 'CNY') === 'CNY') {
    const won = await orders.settlePaidFast(
      { outTradeNo: key.outTradeNo, amount: report.totalFee, openid: report.openid, tradeType: report.tradeType, signType: report.signType },
      report,
      source,
    );
    if (won) return paid(deps, won, source);
  }

  // A few rounds: between reading and updating, another instance may have moved the order.
  for (let round = 0; round < 5; round++) {
    const order = await orders.find(key);
    if (!order) return { outcome: 'unknown_order', order: null };

    switch (report.state) {
      case 'SUCCESS': {
        if (report.signType !== undefined) {
          const allowed = signTypesOf(order);
          if (allowed.length > 0 && !allowed.includes(report.signType)) {
            log.warn(
              { security: true, event: 'notify_wrong_sign_type', outTradeNo: order.outTradeNo, signType: report.signType, allowed, source },
              'payment report signed with a sign type this order never used: ignored',
            );
            return { outcome: 'wrong_sign_type', order };
          }
        }
        if (SETTLED_PAID.includes(order.status)) {
          if (order.transactionId === report.transactionId) return { outcome: 'unchanged', order };
          // Money WeChat took a second time for one order: keep it in view, an operator returns it.
          const recorded = await orders.recordExtraPayment(order._id, report, source);
          if (recorded) {
            log.warn(
              { followUp: true, event: 'second_transaction', outTradeNo: order.outTradeNo, transactionId: report.transactionId, totalFee: report.totalFee, source },
              'a second WeChat transaction reported for a paid order: recorded and flagged for follow-up',
            );
          }
          return { outcome: 'unchanged', order, ...(recorded ? { flags: ['SECOND_TRANSACTION' as const] } : {}) };
        }
        if (!PAYABLE.includes(order.status) && order.status !== 'CLOSED') return { outcome: 'unchanged', order };

        const flags = paymentMismatches(order, report);
        if (flags.length > 0 && !opts.confirmed) {
          log.warn(
            { security: true, event: 'payment_report_mismatch', outTradeNo: order.outTradeNo, flags, expected: order.amount, got: report.totalFee, source },
            'payment report disagrees with the order: confirming with WeChat before recording it',
          );
          return { outcome: 'unconfirmed', order, flags };
        }
        // Money arrived for an order we had closed: keep it, and tell an operator.
        if (order.status === 'CLOSED') flags.push('PAID_AFTER_CLOSE');
        const held = flags.length > 0;
        const won = await orders.transition(order._id, order.status, 'PAID', source, {
          set: {
            paidAt: report.paidAt,
            paidDay: beijingDay(report.paidAt),
            transactionId: report.transactionId,
            paidAmount: report.totalFee,
            fulfilment: { state: held ? 'HELD' : 'PENDING', createdAt: new Date() },
          },
          flags,
        });
        if (!won) continue;
        if (held) {
          log.warn(
            { followUp: true, event: 'payment_held', outTradeNo: won.outTradeNo, flags, amount: won.amount, paidAmount: report.totalFee, source },
            'payment recorded and held for an operator: it will not be fulfilled automatically',
          );
          return { outcome: 'held', order: won, flags };
        }
        return paid(deps, won, source);
      }
      case 'CLOSED': {
        if (!CLOSABLE.includes(order.status)) return { outcome: 'unchanged', order };
        const won = await orders.transition(order._id, order.status, 'CLOSED', source, opts.closeSet ? { set: opts.closeSet } : {});
        if (!won) continue;
        return { outcome: 'changed', order: won };
      }
      case 'PAYERROR': {
        if (order.status !== 'PAYING') return { outcome: 'unchanged', order };
        const won = await orders.transition(order._id, 'PAYING', 'FAILED', source);
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

async function paid(deps: SettleDeps, order: OrderDoc, source: string): Promise<SettleResult> {
  deps.log.info({ event: 'order_paid', outTradeNo: order.outTradeNo, source }, 'order paid');
  await deps.onPaid(order);
  return { outcome: 'paid', order };
}
