import t from 'tap';
import { reportFromQuery } from '../../../server/src/orders/service.js';
import { WxPayError, type OrderQueryResult } from '../../../server/src/wechat/index.js';

const paid = (over: Partial<OrderQueryResult> = {}): OrderQueryResult => ({
  trade_state: 'SUCCESS',
  out_trade_no: '20261201123456000000000001',
  transaction_id: '4200001234567890123456789012',
  total_fee: 1800,
  time_end: '20261201093000',
  openid: 'o-buyer',
  trade_type: 'JSAPI',
  raw: { fee_type: 'CNY' },
  ...over,
});

t.test('time_end is Beijing time, whatever the process time zone', async (t) => {
  const r = reportFromQuery(paid());
  t.match(r, { state: 'SUCCESS', transactionId: '4200001234567890123456789012', totalFee: 1800, openid: 'o-buyer', tradeType: 'JSAPI', feeType: 'CNY' });
  t.equal((r as { paidAt: Date }).paidAt.toISOString(), '2026-12-01T01:30:00.000Z', '09:30 in Beijing is 01:30 UTC');
});

t.test('REFUND means the trade was paid (and then refunded): it settles as paid', async (t) => {
  t.match(reportFromQuery(paid({ trade_state: 'REFUND' })), { state: 'SUCCESS', totalFee: 1800 });
});

t.test('a malformed or impossible time_end is refused, never read as "now"', async (t) => {
  for (const time_end of ['2026120109300', '20261201093000Z', '20261301093000', '20260230093000', 'yesterday']) {
    t.throws(() => reportFromQuery(paid({ time_end })), WxPayError, time_end);
  }
  t.throws(() => reportFromQuery(paid({ transaction_id: undefined })), WxPayError, 'a paid trade without its transaction');
});

t.test('the other trade states', async (t) => {
  t.same(reportFromQuery(paid({ trade_state: 'CLOSED' })), { state: 'CLOSED' });
  t.same(reportFromQuery(paid({ trade_state: 'REVOKED' })), { state: 'CLOSED' });
  t.match(reportFromQuery(paid({ trade_state: 'PAYERROR', trade_state_desc: 'bank' })), { state: 'PAYERROR', reason: 'bank' });
  for (const s of ['NOTPAY', 'USERPAYING', 'ACCEPT'] as const) t.same(reportFromQuery(paid({ trade_state: s })), { state: 'NOTPAY' });
});
