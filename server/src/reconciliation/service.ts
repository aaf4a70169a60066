// The daily reconciliation: WeChat's ALL bill of one Beijing day against our orders and refunds.
//
// Our side is read without scanning, in two steps. First the day's own records: the payments we
// recorded on it (orders.paidDay, from WeChat's time_end) and the refunds WeChat accepted on it
// (refunds.acceptedDay), each a string equality on an index of its own, which our embedded FerretDB
// answers from the index as MongoDB does; on a normal day they hold every row of the bill. Then the
// bill's rows they do not hold (a payment we missed, one we recorded on another day, an unknown
// out_trade_no) are looked up by out_trade_no / out_refund_no in batches (`$in` on the unique
// indexes). On FerretDB a `$in` of 1,000 values costs about four times what the same documents cost
// through the day's index (bench/README.md), so the `$in` is kept for the exceptions.
//
// A day field on the document the payment already writes was chosen over a per-day ledger
// collection: the ledger would be a second write on the payment's hot path that a crash could leave
// out of step with the order; the field costs nothing more and cannot disagree with it.
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { withLock } from '../lock.js';
import { SETTLED_PAID, type OrderDoc } from '../orders/model.js';
import type { OrderRepository, PaidOnDay } from '../orders/repository.js';
import type { RefundDoc } from '../refunds/model.js';
import { BillParseError, parseBill, WxPayError, type DownloadBillRequest, type DownloadBillResult } from '../wechat/index.js';
import { readBill, type BillContent, type BillRow } from './bill-rows.js';
import { compactDay, isoDay } from './day.js';
import {
  DIFFERENCE_KINDS,
  MAX_LISTED_DIFFERENCES,
  type DifferenceDoc,
  type DifferenceKind,
  type ReconciliationReportDoc,
  type ReportCounts,
  type ReportError,
  type ReportRepository,
} from './model.js';

export interface ReconcileDeps {
  orders: Pick<OrderRepository, 'findByOutTradeNos' | 'paidOnDay'>;
  /** the orders service's orderquery path (orders.confirmWithWechat): heals a payment we missed */
  confirmPayment(order: OrderDoc): Promise<OrderDoc>;
  refunds: {
    findByOutRefundNos(outRefundNos: readonly string[]): Promise<RefundDoc[]>;
    acceptedOnDay(day: string): Promise<RefundDoc[]>;
    /** refundquery and the one refund settle path (refunds.query) */
    query(refundId: string, attempt: number): Promise<RefundDoc>;
  };
  downloadBill(req: DownloadBillRequest): Promise<DownloadBillResult>;
  reports: ReportRepository;
  redis: Redis;
  /**
   * The database whose reports the day's lock guards: one Redis may serve several databases (shops,
   * staging beside production, parallel test stacks), whose runs of the same day must not block each other.
   */
  lockScope: string;
  /** what the bill's rows must name: our appids and mch_id */
  merchant: { appids: readonly string[]; mchId: string };
  log: FastifyBaseLogger;
  /** out_trade_nos (or out_refund_nos) per `$in` lookup (default 1,000) */
  batchSize?: number;
  now?: () => Date;
}

/** WeChat has not made the bill yet (before about 10:00 Beijing the next day): try later, nothing stored. */
export class BillNotReadyError extends Error {
  constructor(readonly wechatMessage: string | undefined) {
    super(`the bill is not ready yet${wechatMessage ? ` (${wechatMessage})` : ''}`);
    this.name = 'BillNotReadyError';
  }
}

/** Another run of the same day holds its lock (another instance, an operator's re-run). */
export class ReconcileBusyError extends Error {
  constructor(day: string) {
    super(`reconciliation of ${day} is running elsewhere`);
    this.name = 'ReconcileBusyError';
  }
}

export interface RunResult {
  report: ReconciliationReportDoc;
  /** the run failed in a way worth retrying (WeChat busy or unreachable) */
  retriable: boolean;
}

type Found = Omit<DifferenceDoc, 'foundAt'>;

const LOCK_LEASE_MS = 30_000;
/** A bill in PROCESSING is WeChat's view when the bill was made: our final state since is no difference. */
const LATER_THAN_PROCESSING = ['SUCCESS', 'CHANGE', 'REFUNDCLOSE'];

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const keyOf = (d: Pick<DifferenceDoc, 'kind' | 'outTradeNo' | 'transactionId' | 'outRefundNo' | 'refundId'>) =>
  [d.kind, d.outTradeNo ?? '', d.outRefundNo ?? '', d.transactionId ?? '', d.refundId ?? ''].join('|');

function compareDiffs(a: DifferenceDoc, b: DifferenceDoc): number {
  const k = DIFFERENCE_KINDS.indexOf(a.kind) - DIFFERENCE_KINDS.indexOf(b.kind);
  return k !== 0 ? k : keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
}

function emptyCounts(): ReportCounts {
  return { billPayments: 0, billRefunds: 0, ourPayments: 0, ourRefunds: 0, matched: 0, differences: 0, open: 0, byKind: {} };
}

export type ReconcileService = ReturnType<typeof createReconcileService>;

/** The Redis key of the lock one reconciliation of `day` holds, per database (ReconcileDeps.lockScope). */
export function reconcileLockKey(scope: string, day: string): string {
  return `lock:reconcile:${scope}:${day}`;
}

export function createReconcileService(deps: ReconcileDeps) {
  const { reports, log } = deps;
  const now = deps.now ?? (() => new Date());
  const batchSize = deps.batchSize ?? 1_000;

  function merchantCheck(row: BillRow, found: Found[]): void {
    const ids = { outTradeNo: row.outTradeNo, ...(row.kind === 'refund' ? { outRefundNo: row.outRefundNo } : {}) };
    if (!deps.merchant.appids.includes(row.appid) || row.mchId !== deps.merchant.mchId) {
      found.push({ kind: 'UNKNOWN_MERCHANT', ...ids, ours: { appid: deps.merchant.appids.join(','), mchId: deps.merchant.mchId }, wechat: { appid: row.appid, mchId: row.mchId }, resolution: 'OPEN' });
    }
    if (row.feeType !== 'CNY') found.push({ kind: 'FEE_TYPE_MISMATCH', ...ids, ours: { feeType: 'CNY' }, wechat: { feeType: row.feeType }, resolution: 'OPEN' });
  }

  async function lookupOrders(nos: string[]): Promise<Map<string, OrderDoc>> {
    const map = new Map<string, OrderDoc>();
    for (const batch of chunks([...new Set(nos)], batchSize)) for (const o of await deps.orders.findByOutTradeNos(batch)) map.set(o.outTradeNo, o);
    return map;
  }

  async function lookupRefunds(nos: string[]): Promise<Map<string, RefundDoc>> {
    const map = new Map<string, RefundDoc>();
    for (const batch of chunks([...new Set(nos)], batchSize)) for (const r of await deps.refunds.findByOutRefundNos(batch)) map.set(r.outRefundNo, r);
    return map;
  }

  /** Every difference between the bill and our records; heals what WeChat can confirm. */
  async function compare(compact: string, content: BillContent | undefined) {
    const found: Found[] = [];
    let matched = 0;
    const payments = content?.payments ?? [];
    const refundRows = content?.refunds ?? [];
    // The day's own records first (indexed day fields), then `$in` for the bill rows they lack.
    const ourPayments: PaidOnDay[] = await deps.orders.paidOnDay(compact);
    const paidThatDay = new Map(ourPayments.map((o) => [o.outTradeNo, o]));
    const elsewhere = await lookupOrders(payments.filter((p) => !paidThatDay.has(p.outTradeNo)).map((p) => p.outTradeNo));
    const ourRefunds = await deps.refunds.acceptedOnDay(compact);
    const refunds = new Map(ourRefunds.map((r) => [r.outRefundNo, r]));
    for (const [no, r] of await lookupRefunds(refundRows.filter((r) => !refunds.has(r.outRefundNo)).map((r) => r.outRefundNo))) refunds.set(no, r);

    for (const p of payments) {
      const row: Found[] = [];
      merchantCheck(p, row);
      let o: PaidOnDay | undefined = paidThatDay.get(p.outTradeNo) ?? elsewhere.get(p.outTradeNo);
      const wechat = { status: 'SUCCESS', amount: p.totalFee, transactionId: p.transactionId };
      if (!o) {
        row.push({ kind: 'ORDER_UNKNOWN', outTradeNo: p.outTradeNo, transactionId: p.transactionId, wechat, resolution: 'OPEN' });
      } else {
        if (!SETTLED_PAID.includes(o.status)) {
          // not paid here, so not among the day's payments: the whole order came from the `$in`
          const before = elsewhere.get(p.outTradeNo) as OrderDoc;
          let note: string;
          try {
            o = await deps.confirmPayment(before);
            note = SETTLED_PAID.includes(o.status)
              ? `orderquery confirmed the payment: now ${o.status}${o.flags.length > 0 ? `, held for an operator (${o.flags.join(', ')})` : ''}`
              : `orderquery did not confirm it: still ${o.status}`;
          } catch (err) {
            note = `orderquery failed: ${(err as { code?: string }).code ?? (err as Error).message}`;
          }
          const healed = SETTLED_PAID.includes(o.status);
          row.push({
            kind: 'PAID_NOT_RECORDED',
            outTradeNo: p.outTradeNo,
            transactionId: p.transactionId,
            ours: { status: before.status, amount: before.amount },
            wechat,
            resolution: healed ? 'HEALED' : 'OPEN',
            note,
          });
          if (!healed) o = undefined;
          // paid now, on the bill's day: one of the day's payments (a re-run finds it by paidDay)
          else if (o && o.paidDay === compact && !paidThatDay.has(o.outTradeNo)) {
            ourPayments.push(o);
            paidThatDay.set(o.outTradeNo, o);
          }
        }
        if (o) {
          const extra = o.transactionId !== p.transactionId ? o.extraPayments?.find((e) => e.transactionId === p.transactionId) : undefined;
          if (o.transactionId !== p.transactionId && !extra) {
            row.push({ kind: 'TRANSACTION_MISMATCH', outTradeNo: p.outTradeNo, transactionId: p.transactionId, ours: { transactionId: o.transactionId ?? null }, wechat, resolution: 'OPEN' });
          } else {
            const paid = extra ? extra.totalFee : (o.paidAmount ?? o.amount);
            if (paid !== p.totalFee) {
              row.push({ kind: 'PAYMENT_AMOUNT_MISMATCH', outTradeNo: p.outTradeNo, transactionId: p.transactionId, ours: { amount: paid }, wechat: { amount: p.totalFee }, resolution: 'OPEN' });
            }
            if (!extra && o.paidDay && o.paidDay !== compact) {
              row.push({ kind: 'PAID_DAY_MISMATCH', outTradeNo: p.outTradeNo, transactionId: p.transactionId, ours: { day: isoDay(o.paidDay) }, wechat: { day: isoDay(compact), at: p.at }, resolution: 'OPEN' });
            }
          }
        }
      }
      if (row.every((d) => d.resolution === 'HEALED')) matched++;
      found.push(...row);
    }

    for (const r of refundRows) {
      const row: Found[] = [];
      merchantCheck(r, row);
      const ids = { outTradeNo: r.outTradeNo, transactionId: r.transactionId, outRefundNo: r.outRefundNo, refundId: r.refundId };
      let ours = refunds.get(r.outRefundNo);
      if (!ours) {
        row.push({ kind: 'REFUND_UNKNOWN', ...ids, wechat: { status: r.refundStatus, amount: r.refundFee }, resolution: 'OPEN' });
      } else {
        if (ours.amount !== r.refundFee) {
          row.push({ kind: 'REFUND_AMOUNT_MISMATCH', ...ids, ours: { amount: ours.amount }, wechat: { amount: r.refundFee }, resolution: 'OPEN' });
        }
        const agrees = (x: RefundDoc) => x.status === r.refundStatus || (r.refundStatus === 'PROCESSING' && LATER_THAN_PROCESSING.includes(x.status));
        if (!agrees(ours)) {
          const before = ours.status;
          let note = `ours is ${before}, WeChat's bill ${r.refundStatus}`;
          // Still moving on our side: ask WeChat (refundquery) and settle through the one refund path.
          if (ours.status === 'PROCESSING' || ours.status === 'CHANGE') {
            try {
              ours = await deps.refunds.query(ours._id.toString(), 0);
              note = agrees(ours) ? `refundquery settled it: now ${ours.status}` : `refundquery: still ${ours.status}`;
            } catch (err) {
              note = `refundquery failed: ${(err as { code?: string }).code ?? (err as Error).message}`;
            }
          }
          row.push({ kind: 'REFUND_STATE_MISMATCH', ...ids, ours: { status: before }, wechat: { status: r.refundStatus }, resolution: agrees(ours) ? 'HEALED' : 'OPEN', note });
        }
      }
      if (row.every((d) => d.resolution === 'HEALED')) matched++;
      found.push(...row);
    }

    for (const x of content?.others ?? []) {
      found.push({ kind: 'UNKNOWN_ROW', outTradeNo: x.outTradeNo, transactionId: x.transactionId, wechat: { tradeState: x.tradeState, line: x.line }, resolution: 'OPEN' });
    }

    // Ours but not in the bill: the day's payments and accepted refunds, from their indexed day fields.
    const billTradeNos = new Set(payments.map((p) => p.outTradeNo));
    let ourPaid = 0;
    for (const o of ourPayments) {
      const amount = o.paidAmount ?? o.amount;
      ourPaid += amount;
      if (!billTradeNos.has(o.outTradeNo)) {
        found.push({ kind: 'PAYMENT_NOT_IN_BILL', outTradeNo: o.outTradeNo, ...(o.transactionId ? { transactionId: o.transactionId } : {}), ours: { status: o.status, amount }, resolution: 'OPEN' });
      }
    }
    const billRefundNos = new Set(refundRows.map((r) => r.outRefundNo));
    let ourRefunded = 0;
    for (const r of ourRefunds) {
      ourRefunded += r.amount;
      if (!billRefundNos.has(r.outRefundNo)) {
        found.push({
          kind: 'REFUND_NOT_IN_BILL',
          outTradeNo: r.outTradeNo,
          transactionId: r.transactionId,
          outRefundNo: r.outRefundNo,
          ...(r.refundId ? { refundId: r.refundId } : {}),
          ours: { status: r.status, amount: r.amount },
          resolution: 'OPEN',
        });
      }
    }

    if (content) {
      const { stated, computed } = content.summary;
      if ((Object.keys(stated) as (keyof typeof stated)[]).some((k) => stated[k] !== computed[k])) {
        found.push({ kind: 'BILL_SUMMARY_MISMATCH', ours: { ...computed }, wechat: { ...stated }, resolution: 'OPEN', note: 'ours: what the rows add up to; wechat: the summary line' });
      }
    }

    const sum = <T>(rows: T[], f: (r: T) => number) => rows.reduce((a, x) => a + f(x), 0);
    return {
      found,
      counts: { billPayments: payments.length, billRefunds: refundRows.length, ourPayments: ourPayments.length, ourRefunds: ourRefunds.length, matched },
      totals: {
        wechat: { payments: sum(payments, (p) => p.totalFee), refunds: sum(refundRows, (r) => r.refundFee) },
        ours: { payments: ourPaid, refunds: ourRefunded },
      },
    };
  }

  /**
   * This run's differences, with the previous run's kept: one healed then stays listed as HEALED, and
   * one that no longer differs is listed as healed since (it never silently vanishes).
   */
  function merge(found: Found[], prev: ReconciliationReportDoc | null, at: Date): DifferenceDoc[] {
    const before = new Map((prev?.differences ?? []).map((d) => [keyOf(d), d]));
    const out: DifferenceDoc[] = found.map((d) => {
      const p = before.get(keyOf(d));
      before.delete(keyOf(d));
      if (p && p.resolution === 'HEALED' && d.resolution === 'HEALED') return p;
      return { ...d, foundAt: p?.foundAt ?? at, ...(d.resolution === 'HEALED' ? { healedAt: at } : {}) };
    });
    for (const p of before.values()) {
      out.push(p.resolution === 'HEALED' ? p : { ...p, resolution: 'HEALED', healedAt: at, note: 'no longer differs on a later run' });
    }
    return out.sort(compareDiffs);
  }

  function counted(diffs: DifferenceDoc[], base: Omit<ReportCounts, 'differences' | 'open' | 'byKind'>): ReportCounts {
    const byKind: Partial<Record<DifferenceKind, number>> = {};
    for (const d of diffs) byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
    return { ...base, differences: diffs.length, open: diffs.filter((d) => d.resolution === 'OPEN').length, byKind };
  }

  async function failed(day: string, prev: ReconciliationReportDoc | null, startedAt: Date, error: ReportError, retriable: boolean): Promise<RunResult> {
    // A good report of an earlier run stays; the failure is noted on it.
    const report: ReconciliationReportDoc =
      prev && prev.status !== 'FAILED'
        ? { ...prev, error, runs: prev.runs + 1 }
        : {
            _id: day,
            day,
            status: 'FAILED',
            billExists: false,
            error,
            counts: emptyCounts(),
            totals: { wechat: { payments: 0, refunds: 0 }, ours: { payments: 0, refunds: 0 } },
            differences: prev?.differences ?? [],
            truncated: false,
            startedAt,
            finishedAt: now(),
            runs: (prev?.runs ?? 0) + 1,
          };
    await reports.put(report);
    log.warn({ event: 'reconciliation_failed', day, code: error.code, retriable }, `reconciliation of ${day} failed: ${error.message}`);
    return { report, retriable };
  }

  async function runLocked(day: string): Promise<RunResult> {
    const compact = compactDay(day);
    const startedAt = now();
    const prev = await reports.get(day);
    let bill: DownloadBillResult;
    try {
      bill = await deps.downloadBill({ bill_date: compact, bill_type: 'ALL', tar_type: 'GZIP' });
    } catch (err) {
      if (!(err instanceof WxPayError)) throw err;
      if (err.code === 'BILL_CREATING') throw new BillNotReadyError(err.wechatMessage);
      return failed(day, prev, startedAt, { code: err.code, message: err.wechatMessage ?? err.message, at: now() }, err.retriable);
    }
    let content: BillContent | undefined;
    if (bill.exists) {
      try {
        content = readBill(parseBill(bill.text));
      } catch (err) {
        if (!(err instanceof BillParseError)) throw err;
        return failed(day, prev, startedAt, { code: 'BILL_UNREADABLE', message: err.message, at: now() }, false);
      }
    }
    const { found, counts, totals } = await compare(compact, content);
    const all = merge(found, prev, startedAt);
    const report: ReconciliationReportDoc = {
      _id: day,
      day,
      status: all.length === 0 ? 'OK' : 'DIFFERENCES',
      billExists: bill.exists,
      error: null,
      counts: counted(all, counts),
      totals,
      differences: all.slice(0, MAX_LISTED_DIFFERENCES),
      truncated: all.length > MAX_LISTED_DIFFERENCES,
      startedAt,
      finishedAt: now(),
      runs: (prev?.runs ?? 0) + 1,
    };
    await reports.put(report);
    log.info(
      { event: 'reconciliation_done', day, status: report.status, matched: report.counts.matched, differences: report.counts.differences, open: report.counts.open },
      `reconciliation of ${day}: ${report.status}`,
    );
    return { report, retriable: false };
  }

  return {
    /**
     * Reconciles one Beijing day (YYYY-MM-DD) and stores its report (one replace). Throws
     * BillNotReadyError (nothing stored) and ReconcileBusyError; WeChat's refusals end in a FAILED
     * report (or a noted failure on an earlier good one).
     */
    async reconcileDay(day: string): Promise<RunResult> {
      const locked = await withLock(deps.redis, reconcileLockKey(deps.lockScope, day), LOCK_LEASE_MS, () => runLocked(day));
      if (!locked.acquired) throw new ReconcileBusyError(day);
      return locked.value;
    },
    get: (day: string) => reports.get(day),
    summaries: (days: readonly string[]) => reports.summaries(days),
  };
}
