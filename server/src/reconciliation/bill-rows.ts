// WeChat's ALL bill (parseBill's records) as typed rows: payments (交易状态 SUCCESS), refunds
// (交易状态 REFUND) and anything else, with amounts in fen. Pure: no I/O.
import { billYuanToFen, BillParseError, type ParsedBill } from '../wechat/download-bill.js';

interface RowBase {
  /** 1-based line of the bill text (the header is line 1) */
  line: number;
  appid: string;
  mchId: string;
  outTradeNo: string;
  transactionId: string;
  feeType: string;
  /** 交易时间, Beijing "yyyy-MM-dd HH:mm:ss" */
  at: string;
}

export interface BillPayment extends RowBase {
  kind: 'payment';
  /** 订单金额 (total_fee), fen */
  totalFee: number;
  /** 应结订单金额 (less coupons), fen */
  settlementFee: number;
}

export interface BillRefund extends RowBase {
  kind: 'refund';
  outRefundNo: string;
  refundId: string;
  /** 申请退款金额 (refund_fee as asked), fen */
  refundFee: number;
  /** 退款金额 (settled), fen */
  settledRefund: number;
  /** 退款状态: SUCCESS, PROCESSING, CHANGE, REFUNDCLOSE, ... */
  refundStatus: string;
}

export interface BillOther extends RowBase {
  kind: 'other';
  tradeState: string;
}

export type BillRow = BillPayment | BillRefund | BillOther;

export interface BillSummary {
  rows: number;
  settlementTotal: number;
  refundTotal: number;
  orderTotal: number;
  appliedRefundTotal: number;
}

export interface BillContent {
  payments: BillPayment[];
  refunds: BillRefund[];
  others: BillOther[];
  /** what the summary line says, and what the rows add up to */
  summary: { stated: BillSummary; computed: BillSummary };
}

const REQUIRED = ['交易时间', '公众账号ID', '商户号', '微信订单号', '商户订单号', '交易状态', '货币种类', '应结订单金额', '微信退款单号', '商户退款单号', '退款金额', '退款状态', '订单金额', '申请退款金额'];

function fen(value: string | undefined, column: string, line: number): number {
  try {
    return billYuanToFen(value ?? '');
  } catch {
    throw new BillParseError(`${column} is not an amount: ${JSON.stringify(value)}`, line);
  }
}

/** Reads an ALL bill; throws BillParseError when a column is missing or an amount unreadable. */
export function readBill(bill: ParsedBill): BillContent {
  for (const column of REQUIRED) {
    if (!bill.header.includes(column)) throw new BillParseError(`the bill has no ${column} column (not an ALL bill?)`, 1);
  }
  const payments: BillPayment[] = [];
  const refunds: BillRefund[] = [];
  const others: BillOther[] = [];
  bill.records.forEach((r, i) => {
    const line = i + 2;
    const base: RowBase = {
      line,
      appid: r['公众账号ID'] ?? '',
      mchId: r['商户号'] ?? '',
      outTradeNo: r['商户订单号'] ?? '',
      transactionId: r['微信订单号'] ?? '',
      feeType: r['货币种类'] ?? '',
      at: r['交易时间'] ?? '',
    };
    const state = r['交易状态'] ?? '';
    if (state === 'SUCCESS') {
      payments.push({ ...base, kind: 'payment', totalFee: fen(r['订单金额'], '订单金额', line), settlementFee: fen(r['应结订单金额'], '应结订单金额', line) });
    } else if (state === 'REFUND') {
      refunds.push({
        ...base,
        kind: 'refund',
        outRefundNo: r['商户退款单号'] ?? '',
        refundId: r['微信退款单号'] ?? '',
        refundFee: fen(r['申请退款金额'], '申请退款金额', line),
        settledRefund: fen(r['退款金额'], '退款金额', line),
        refundStatus: r['退款状态'] ?? '',
      });
    } else {
      others.push({ ...base, kind: 'other', tradeState: state });
    }
  });
  const s = bill.summary;
  const summaryLine = bill.rows.length + 3;
  const count = Number(s['总交易单数']);
  if (!Number.isSafeInteger(count)) throw new BillParseError(`总交易单数 is not a number: ${JSON.stringify(s['总交易单数'])}`, summaryLine);
  const stated: BillSummary = {
    rows: count,
    settlementTotal: fen(s['应结订单总金额'], '应结订单总金额', summaryLine),
    refundTotal: fen(s['退款总金额'], '退款总金额', summaryLine),
    orderTotal: fen(s['订单总金额'], '订单总金额', summaryLine),
    appliedRefundTotal: fen(s['申请退款总金额'], '申请退款总金额', summaryLine),
  };
  const sum = <T>(rows: T[], f: (r: T) => number) => rows.reduce((a, r) => a + f(r), 0);
  const computed: BillSummary = {
    rows: bill.rows.length,
    settlementTotal: sum(payments, (p) => p.settlementFee),
    refundTotal: sum(refunds, (r) => r.settledRefund),
    orderTotal: sum(payments, (p) => p.totalFee),
    appliedRefundTotal: sum(refunds, (r) => r.refundFee),
  };
  return { payments, refunds, others, summary: { stated, computed } };
}
