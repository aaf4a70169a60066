// readBill: an ALL bill's rows as payments, refunds and others, amounts in fen, and the summary both
// as stated and as the rows add up.
import t from 'tap';
import { readBill } from '../../../server/src/reconciliation/bill-rows.js';
import { BillParseError, parseBill } from '../../../server/src/wechat/download-bill.js';
import { ALL_HEADER, SUMMARY_HEADER } from '../../../server/src/sandbox/bill-text.js';

function bill(rows: Array<Partial<Record<(typeof ALL_HEADER)[number], string>>>, summary: string[]): string {
  const line = (r: Partial<Record<string, string>>) => ALL_HEADER.map((h) => `\`${r[h] ?? ''}`).join(',');
  return [ALL_HEADER.join(','), ...rows.map(line), SUMMARY_HEADER.join(','), summary.map((v) => `\`${v}`).join(',')].join('\r\n') + '\r\n';
}

const pay = { 交易时间: '2026-03-01 09:30:00', 公众账号ID: 'wxd930ea5d5a258f4f', 商户号: '10000100', 微信订单号: '4200', 商户订单号: 'T1', 交易状态: 'SUCCESS', 货币种类: 'CNY', 应结订单金额: '12.00', 微信退款单号: '0', 商户退款单号: '0', 退款金额: '0.00', 订单金额: '12.00', 申请退款金额: '0.00' };
const ref = { ...pay, 交易状态: 'REFUND', 应结订单金额: '0.00', 订单金额: '0.00', 微信退款单号: '5030', 商户退款单号: 'R1', 退款金额: '3.00', 申请退款金额: '3.00', 退款状态: 'SUCCESS' };

t.test('rows by kind, in fen, with the summary as stated and as computed', async (t) => {
  const c = readBill(parseBill(bill([pay, ref, { ...pay, 交易状态: 'REVOKED', 商户订单号: 'T2' }], ['3', '12.00', '3.00', '0.00', '0.07000', '12.00', '3.00'])));
  t.match(c.payments, [{ kind: 'payment', line: 2, outTradeNo: 'T1', transactionId: '4200', totalFee: 1200, settlementFee: 1200, appid: 'wxd930ea5d5a258f4f', mchId: '10000100', feeType: 'CNY' }]);
  t.match(c.refunds, [{ kind: 'refund', line: 3, outRefundNo: 'R1', refundId: '5030', refundFee: 300, settledRefund: 300, refundStatus: 'SUCCESS' }]);
  t.match(c.others, [{ kind: 'other', line: 4, tradeState: 'REVOKED', outTradeNo: 'T2' }]);
  t.same(c.summary.stated, c.summary.computed);
  const off = readBill(parseBill(bill([pay], ['1', '12.01', '0.00', '0.00', '0.07000', '12.00', '0.00'])));
  t.equal(off.summary.stated.settlementTotal, 1201);
  t.equal(off.summary.computed.settlementTotal, 1200);
});

t.test('an unreadable amount or a missing column is a BillParseError naming the line', async (t) => {
  t.throws(() => readBill(parseBill(bill([{ ...pay, 订单金额: '12' }], ['1', '12.00', '0.00', '0.00', '0.07000', '12.00', '0.00']))), { name: 'BillParseError', line: 2 });
  const success = parseBill(['交易时间,商户订单号', '`x,`y', SUMMARY_HEADER.join(','), SUMMARY_HEADER.map(() => '`0').join(',')].join('\r\n'));
  t.throws(() => readBill(success), BillParseError);
});
