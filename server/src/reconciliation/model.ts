// One reconciliation report per Beijing day, `_id` the day (YYYY-MM-DD): on our embedded FerretDB
// build a lone `_id` (or an `_id` `$in`) is answered from the primary key, anything else on this
// collection would decode every report.
import { Schema, type Connection, type Model } from 'mongoose';

/** What kind of disagreement between WeChat's bill and our records a difference is. */
export const DIFFERENCE_KINDS = [
  /** WeChat took the payment, our order is not paid: healed through orderquery when WeChat confirms it */
  'PAID_NOT_RECORDED',
  /** a payment in the bill for an out_trade_no we never issued */
  'ORDER_UNKNOWN',
  /** we recorded a payment on this day that the bill does not list */
  'PAYMENT_NOT_IN_BILL',
  /** the bill's order amount differs from what we recorded as paid */
  'PAYMENT_AMOUNT_MISMATCH',
  /** the bill's transaction id is not the one our order was paid with (nor a recorded extra payment) */
  'TRANSACTION_MISMATCH',
  /** the bill lists the payment on this day, we recorded it paid on another */
  'PAID_DAY_MISMATCH',
  /** a refund in the bill whose out_refund_no we never issued */
  'REFUND_UNKNOWN',
  /** a refund WeChat accepted on this day (by our records) that the bill does not list */
  'REFUND_NOT_IN_BILL',
  /** the bill's refund amount (申请退款金额) differs from ours */
  'REFUND_AMOUNT_MISMATCH',
  /** the bill's refund state differs from ours (healed through refundquery when ours was still moving) */
  'REFUND_STATE_MISMATCH',
  /** a row for an appid or mch_id this merchant does not have */
  'UNKNOWN_MERCHANT',
  /** a row in a currency other than CNY */
  'FEE_TYPE_MISMATCH',
  /** a row whose trade state is neither SUCCESS nor REFUND (REVOKED, ...) */
  'UNKNOWN_ROW',
  /** the bill's summary line does not add up to its rows */
  'BILL_SUMMARY_MISMATCH',
] as const;
export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

export type Resolution = 'HEALED' | 'OPEN';
export type ReportStatus = 'OK' | 'DIFFERENCES' | 'FAILED';

/** Values on one side of a difference (status, amount in fen, ids, ...). */
export type SideValues = Record<string, string | number | null>;

export interface DifferenceDoc {
  kind: DifferenceKind;
  outTradeNo?: string;
  transactionId?: string;
  outRefundNo?: string;
  refundId?: string;
  /** what we had when the run found it */
  ours?: SideValues;
  /** what WeChat's bill says */
  wechat?: SideValues;
  resolution: Resolution;
  /** how it was healed, or why it stays open (in our words) */
  note?: string;
  /** when it was found first, and when it was healed */
  foundAt: Date;
  healedAt?: Date;
}

export interface ReportError {
  code: string;
  /** WeChat's own words when WeChat refused (return_msg), else ours */
  message: string;
  at: Date;
}

export interface ReportCounts {
  billPayments: number;
  billRefunds: number;
  ourPayments: number;
  ourRefunds: number;
  /** bill rows that agree with our records (no difference) */
  matched: number;
  /** differences listed (healed and open) */
  differences: number;
  open: number;
  byKind: Partial<Record<DifferenceKind, number>>;
}

export interface ReportTotals {
  /** fen: payments (订单金额) and refunds (申请退款金额) of the day */
  wechat: { payments: number; refunds: number };
  ours: { payments: number; refunds: number };
}

export interface ReconciliationReportDoc {
  /** the Beijing day, YYYY-MM-DD */
  _id: string;
  day: string;
  status: ReportStatus;
  /** false: WeChat answered No Bill Exist (no trade that day) */
  billExists: boolean;
  /** why the last run failed (status FAILED), or why a re-run failed while this report stayed */
  error?: ReportError | null;
  counts: ReportCounts;
  totals: ReportTotals;
  /** every difference, sorted by kind and ids, at most MAX_LISTED_DIFFERENCES */
  differences: DifferenceDoc[];
  /** more differences than listed (the counts have them all) */
  truncated: boolean;
  startedAt: Date;
  finishedAt: Date;
  runs: number;
}

/** A report stays well below MongoDB's 16 MB document limit whatever the day looks like. */
export const MAX_LISTED_DIFFERENCES = 2_000;

const ReportSchema = new Schema<ReconciliationReportDoc>(
  {
    _id: { type: String, required: true },
    day: { type: String, required: true },
    status: { type: String, required: true },
    billExists: { type: Boolean, required: true },
    error: { type: Schema.Types.Mixed, default: null },
    counts: { type: Schema.Types.Mixed, required: true },
    totals: { type: Schema.Types.Mixed, required: true },
    differences: { type: Schema.Types.Mixed, default: [] },
    truncated: { type: Boolean, default: false },
    startedAt: { type: Date, required: true },
    finishedAt: { type: Date, required: true },
    runs: { type: Number, required: true },
  },
  { collection: 'reconciliation_reports', versionKey: false, minimize: false },
);

export type ReportSummary = Omit<ReconciliationReportDoc, 'differences'>;

export type ReportRepository = Awaited<ReturnType<typeof createReportRepository>>;

export async function createReportRepository(conn: Connection) {
  const Report =
    (conn.models.ReconciliationReport as Model<ReconciliationReportDoc> | undefined) ??
    conn.model<ReconciliationReportDoc>('ReconciliationReport', ReportSchema);
  await Report.createCollection().catch(() => undefined);
  return {
    async get(day: string): Promise<ReconciliationReportDoc | null> {
      return Report.findOne({ _id: day }).lean<ReconciliationReportDoc>();
    },

    /** Summaries of these days' reports (an `_id` `$in`: no scan), in no particular order. */
    async summaries(days: readonly string[]): Promise<ReportSummary[]> {
      if (days.length === 0) return [];
      return Report.find({ _id: { $in: [...days] } }, { differences: 0 }).lean<ReportSummary[]>();
    },

    /** The whole report in one replace: a reader sees the previous run's report or this one, never half. */
    async put(report: ReconciliationReportDoc): Promise<void> {
      await Report.replaceOne({ _id: report._id }, report, { upsert: true });
    },
  };
}
