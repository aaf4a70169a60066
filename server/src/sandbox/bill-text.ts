// A day's trade bill in WeChat Pay's text format (下载交易账单): a header line, one line per payment or
// refund with every field prefixed by a backtick, then the summary header and line. Columns as WeChat's
// bills have had them since 应结订单金额 / 订单金额 were introduced; amounts in yuan with two decimals,
// fees with five, a 0.60% fee rate; lines end with CRLF.
import { toBeijingDateTime } from '../wechat/beijing-datetime.js';
import type { BillType } from '../wechat/download-bill.js';
import { fromBeijingTime } from '../wechat/time.js';
import type { BillFault } from './refund-faults.js';
import type { SandboxRefund } from './refund-state.js';
import type { Trade } from './state.js';

export const ALL_HEADER = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类',
  '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称', '商户数据包', '手续费', '费率',
  '订单金额', '申请退款金额', '费率备注',
] as const;
export const SUCCESS_HEADER = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类',
  '应结订单金额', '代金券金额', '商品名称', '商户数据包', '手续费', '费率', '订单金额', '费率备注',
] as const;
export const REFUND_HEADER = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类',
  '应结订单金额', '代金券金额', '退款申请时间', '退款成功时间', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称',
  '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注',
] as const;
export const SUMMARY_HEADER = ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'] as const;

/** fen per 10,000 fen of fee: 0.60% */
const RATE_BP = 60;

function yuan(fenAmount: number): string {
  const sign = fenAmount < 0 ? '-' : '';
  const a = Math.abs(fenAmount);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

/** The fee of an amount, rounded half up to the fen, written with five decimals as WeChat does. */
function feeFen(amount: number): number {
  const sign = amount < 0 ? -1 : 1;
  return sign * Math.floor((Math.abs(amount) * RATE_BP + 5000) / 10000);
}
const feeText = (f: number) => `${yuan(f)}000`;

/** Commas and line breaks cannot travel in an unquoted field: the sandbox writes their full-width forms. */
function text(s: string | undefined): string {
  return (s ?? '').replace(/,/g, '，').replace(/[\r\n]+/g, ' ');
}

interface Line {
  at: number;
  values: Record<string, string>;
  settle: number;
  refund: number;
  fee: number;
  order: number;
  applied: number;
  outTradeNo: string;
  kind: 'pay' | 'refund';
}

function common(t: Trade): Record<string, string> {
  return {
    公众账号ID: t.appid,
    商户号: t.mchId,
    特约商户号: '0',
    设备号: text(t.deviceInfo),
    微信订单号: t.transactionId ?? '',
    商户订单号: t.outTradeNo,
    用户标识: t.payerOpenid ?? '',
    交易类型: t.tradeType,
    付款银行: t.bankType ?? 'OTHERS',
    货币种类: 'CNY',
    代金券金额: '0.00',
    商品名称: text(t.body),
    商户数据包: text(t.attach),
    费率: '0.60%',
    费率备注: '',
  };
}

function payLine(t: Trade, amount: number): Line {
  const at = fromBeijingTime(t.timeEnd as string).getTime();
  const fee = feeFen(amount);
  return {
    at,
    kind: 'pay',
    outTradeNo: t.outTradeNo,
    settle: amount,
    refund: 0,
    fee,
    order: amount,
    applied: 0,
    values: {
      ...common(t),
      交易时间: toBeijingDateTime(new Date(at)),
      交易状态: 'SUCCESS',
      应结订单金额: yuan(amount),
      微信退款单号: '0',
      商户退款单号: '0',
      退款金额: '0.00',
      充值券退款金额: '0.00',
      退款类型: '',
      退款状态: '',
      手续费: feeText(fee),
      订单金额: yuan(amount),
      申请退款金额: '0.00',
    },
  };
}

function refundLine(t: Trade, r: SandboxRefund): Line {
  const fee = -feeFen(r.refundFee);
  const refunded = r.status === 'SUCCESS' ? r.refundFee : 0;
  return {
    at: r.createdAt,
    kind: 'refund',
    outTradeNo: t.outTradeNo,
    settle: 0,
    refund: refunded,
    fee,
    order: 0,
    applied: r.refundFee,
    values: {
      ...common(t),
      交易时间: toBeijingDateTime(new Date(r.createdAt)),
      交易状态: 'REFUND',
      应结订单金额: '0.00',
      退款申请时间: toBeijingDateTime(new Date(r.createdAt)),
      退款成功时间: r.settledAt !== undefined && r.status === 'SUCCESS' ? toBeijingDateTime(new Date(r.settledAt)) : '',
      微信退款单号: r.refundId,
      商户退款单号: r.outRefundNo,
      退款金额: yuan(refunded),
      充值券退款金额: '0.00',
      退款类型: 'ORIGINAL',
      退款状态: r.status,
      手续费: feeText(fee),
      订单金额: '0.00',
      申请退款金额: yuan(r.refundFee),
    },
  };
}

export interface BillInput {
  mchId: string;
  /** ms epoch bounds of the Beijing day */
  from: number;
  to: number;
  billType: BillType;
  trades: Trade[];
  refundsOf: (t: Trade) => SandboxRefund[];
  faults?: BillFault[];
  deviceInfo?: string;
}

/** The bill text, or undefined when the merchant had no payment or refund that day ("No Bill Exist"). */
export function billText(input: BillInput): string | undefined {
  const inDay = (ms: number) => ms >= input.from && ms < input.to;
  const payments: Line[] = [];
  const refundLines: Line[] = [];
  for (const t of input.trades) {
    if (t.mchId !== input.mchId || !t.transactionId || !t.timeEnd) continue;
    if (input.deviceInfo !== undefined && t.deviceInfo !== input.deviceInfo) continue;
    if (inDay(fromBeijingTime(t.timeEnd).getTime())) payments.push(payLine(t, t.totalFee));
    for (const r of input.refundsOf(t)) if (inDay(r.createdAt)) refundLines.push(refundLine(t, r));
  }
  if (payments.length === 0 && refundLines.length === 0) return undefined;

  let pays = payments.sort((a, b) => a.at - b.at);
  for (const f of input.faults ?? []) {
    const target = f.outTradeNo === undefined ? pays[0] : pays.find((l) => l.outTradeNo === f.outTradeNo);
    if (!target) continue;
    if (f.action === 'omit') pays = pays.filter((l) => l !== target);
    else {
      const amount = Math.max(0, target.order + (f.deltaFen ?? 1));
      const changed = payLine({ ...tradeOf(input.trades, target.outTradeNo, input.mchId) } as Trade, amount);
      pays = pays.map((l) => (l === target ? changed : l));
    }
  }

  let header: readonly string[];
  let lines: Line[];
  if (input.billType === 'SUCCESS') {
    header = SUCCESS_HEADER;
    lines = pays;
  } else if (input.billType === 'REFUND') {
    header = REFUND_HEADER;
    lines = refundLines;
  } else if (input.billType === 'RECHARGE_REFUND') {
    // Refunds of recharge coupons: the sandbox has no coupons, so the bill has no lines.
    header = REFUND_HEADER;
    lines = [];
  } else {
    header = ALL_HEADER;
    lines = [...pays, ...refundLines];
  }
  lines.sort((a, b) => a.at - b.at);
  const sum = (k: 'settle' | 'refund' | 'fee' | 'order' | 'applied') => lines.reduce((s, l) => s + l[k], 0);
  const out = [header.join(',')];
  for (const l of lines) out.push(header.map((h) => `\`${l.values[h] ?? ''}`).join(','));
  out.push(SUMMARY_HEADER.join(','));
  out.push(
    [String(lines.length), yuan(sum('settle')), yuan(sum('refund')), '0.00', feeText(sum('fee')), yuan(sum('order')), yuan(sum('applied'))]
      .map((v) => `\`${v}`)
      .join(','),
  );
  return `${out.join('\r\n')}\r\n`;
}

function tradeOf(trades: Trade[], outTradeNo: string, mchId: string): Trade {
  return trades.find((t) => t.outTradeNo === outTradeNo && t.mchId === mchId) as Trade;
}
