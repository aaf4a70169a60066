// API v3 refunds on v2's ledger: create, query, the amount rules and faults, and the v3 refund
// notification to the refund's notify_url (or the merchant's configured one).
import t from 'tap';
import { payCall } from '../helpers.js';
import { MERCHANT, decryptResource, eventually, jsapiBody, openidOf, rsaPayParams, v3, v3Receiver, v3Sandbox, verifyWechatpay, type Sandbox } from './helpers.js';

async function paidTrade(sb: Sandbox, total = 101) {
  const body = jsapiBody(await openidOf(sb), 'https://shop.example/wxpay/v3/notify', { amount: { total, currency: 'CNY' } });
  const p = await v3(sb, 'POST', '/v3/pay/transactions/jsapi', body);
  await sb.json('POST', '/sandbox/cashier', rsaPayParams(sb, p.json.prepay_id));
  const q = await v3(sb, 'GET', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}?mchid=${MERCHANT.mchId}`);
  return { outTradeNo: body.out_trade_no, transactionId: q.json.transaction_id as string };
}

t.test('refund: PROCESSING, then SUCCESS; notified v3-style; the trade says REFUND', async (t) => {
  const sb = await v3Sandbox(t);
  const rx = await v3Receiver(t);
  const trade = await paidTrade(sb);
  const req = { out_trade_no: trade.outTradeNo, out_refund_no: `R${trade.outTradeNo}`.slice(0, 32), reason: '不想要了', notify_url: rx.url, amount: { refund: 40, total: 101, currency: 'CNY' } };
  const r = await v3(sb, 'POST', '/v3/refund/domestic/refunds', req);
  t.equal(r.status, 200);
  t.ok(r.verified);
  t.match(r.json, {
    refund_id: /^503\d{26}$/,
    out_refund_no: req.out_refund_no,
    transaction_id: trade.transactionId,
    out_trade_no: trade.outTradeNo,
    channel: 'ORIGINAL',
    status: 'PROCESSING',
    create_time: /\+08:00$/,
    amount: { total: 101, refund: 40, payer_total: 101, payer_refund: 40, settlement_refund: 40, settlement_total: 101, discount_refund: 0, currency: 'CNY' },
  });
  const again = await v3(sb, 'POST', '/v3/refund/domestic/refunds', req);
  t.equal(again.json.refund_id, r.json.refund_id, 'the same out_refund_no again: the same refund');

  await rx.waitFor(1);
  const n = rx.received[0]!;
  t.ok(verifyWechatpay(sb, (h) => n.headers[h] as string | undefined, n.body));
  t.match(n.json, { event_type: 'REFUND.SUCCESS', resource: { original_type: 'refund', associated_data: 'refund' } });
  t.match(decryptResource(n), {
    mchid: MERCHANT.mchId,
    out_trade_no: trade.outTradeNo,
    transaction_id: trade.transactionId,
    out_refund_no: req.out_refund_no,
    refund_id: r.json.refund_id,
    refund_status: 'SUCCESS',
    success_time: /\+08:00$/,
    amount: { total: 101, refund: 40, payer_total: 101, payer_refund: 40 },
  });
  const q = await v3(sb, 'GET', `/v3/refund/domestic/refunds/${req.out_refund_no}`);
  t.match(q.json, { status: 'SUCCESS', success_time: /\+08:00$/, refund_id: r.json.refund_id });
  t.match((await v3(sb, 'GET', `/v3/pay/transactions/out-trade-no/${trade.outTradeNo}?mchid=${MERCHANT.mchId}`)).json, { trade_state: 'REFUND' });
  const v2q = await payCall(sb.url, 'orderquery', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: trade.outTradeNo });
  t.equal(v2q.fields.trade_state, 'REFUND', 'v2 sees the v3 refund');
  const log = await sb.json('GET', `/sandbox/refund-notifications?out_refund_no=${req.out_refund_no}`);
  t.match(log.body.attempts, [{ attempt: 1, status: 200, success: true }]);
});

t.test('refund rules: amounts, partial refunds, unknown trade and refund, NOT_ENOUGH and SYSTEMERROR faults', async (t) => {
  const sb = await v3Sandbox(t);
  const trade = await paidTrade(sb, 100);
  const refund = (no: string, refundFee: number, extra: Record<string, unknown> = {}) =>
    v3(sb, 'POST', '/v3/refund/domestic/refunds', { transaction_id: trade.transactionId, out_refund_no: no, amount: { refund: refundFee, total: 100, currency: 'CNY' }, ...extra });

  const tooMuch = await refund('RA1', 101);
  t.equal(tooMuch.status, 400);
  t.match(tooMuch.json, { code: 'PARAM_ERROR', message: /退款金额/ });
  const wrongTotal = await v3(sb, 'POST', '/v3/refund/domestic/refunds', { transaction_id: trade.transactionId, out_refund_no: 'RA2', amount: { refund: 1, total: 99, currency: 'CNY' } });
  t.match(wrongTotal.json, { code: 'INVALID_REQUEST' });
  const neither = await v3(sb, 'POST', '/v3/refund/domestic/refunds', { out_refund_no: 'RA3', amount: { refund: 1, total: 100 } });
  t.match(neither.json, { code: 'PARAM_ERROR' });
  const unknown = await v3(sb, 'POST', '/v3/refund/domestic/refunds', { out_trade_no: 'NoSuchTrade123', out_refund_no: 'RA4', amount: { refund: 1, total: 100 } });
  t.equal(unknown.status, 404);
  t.match(unknown.json, { code: 'RESOURCE_NOT_EXISTS' });

  await sb.json('POST', '/sandbox/faults', { refund: { action: 'NOTENOUGH' } });
  const poor = await refund('RB1', 10);
  t.equal(poor.status, 403);
  t.match(poor.json, { code: 'NOT_ENOUGH' });
  t.equal((await v3(sb, 'GET', '/v3/refund/domestic/refunds/RB1')).status, 404, 'nothing refunded');

  await sb.json('POST', '/sandbox/faults', { refund: { action: 'SYSTEMERROR', applied: true } });
  const lost = await refund('RB2', 60);
  t.equal(lost.status, 500);
  t.match(lost.json, { code: 'SYSTEM_ERROR' });
  t.match((await refund('RB2', 60)).json, { out_refund_no: 'RB2', amount: { refund: 60 } }, 'applied: a retry finds the refund');
  const over = await refund('RB3', 50);
  t.equal(over.status, 400);
  t.match(over.json, { code: 'INVALID_REQUEST', message: /可退金额/ });
  t.match((await refund('RB4', 40)).json, { status: 'PROCESSING' }, 'partial refunds up to the total');
  t.match((await refund('RB5', 1)).json, { code: 'INVALID_REQUEST', message: /全额退款/ });
  t.match((await refund('RB2', 61)).json, { code: 'INVALID_REQUEST' }, 'same out_refund_no, other amount');

  const none = await v3(sb, 'GET', '/v3/refund/domestic/refunds/NoSuchRefund');
  t.equal(none.status, 404);
  t.match(none.json, { code: 'RESOURCE_NOT_EXISTS' });
  t.ok(none.verified);
});

t.test('refund outcome faults: CHANGE → ABNORMAL (REFUND.ABNORMAL); notify to the merchant refund URL when none given', async (t) => {
  const rx = await v3Receiver(t);
  const sb = await v3Sandbox(t, { merchants: [{ ...MERCHANT, refundNotifyUrl: rx.url }] });
  const trade = await paidTrade(sb);
  await sb.json('POST', '/sandbox/faults', { refund: { action: 'CHANGE' } });
  const r = await v3(sb, 'POST', '/v3/refund/domestic/refunds', { out_trade_no: trade.outTradeNo, out_refund_no: 'RC1', amount: { refund: 101, total: 101, currency: 'CNY' } });
  t.equal(r.status, 200);
  await rx.waitFor(1);
  t.equal(rx.received[0]!.json.event_type, 'REFUND.ABNORMAL');
  t.match(decryptResource(rx.received[0]!), { refund_status: 'ABNORMAL', out_refund_no: 'RC1' });
  const q = await eventually(async () => {
    const x = await v3(sb, 'GET', '/v3/refund/domestic/refunds/RC1');
    return x.json.status !== 'PROCESSING' ? x.json : undefined;
  });
  t.equal(q.status, 'ABNORMAL');
});

t.test('one ledger: a v2 refund (secapi) of a v2 trade is seen by the v3 query, a v3 refund of it counts against v2', async (t) => {
  const { paidTrade: v2PaidTrade, refundClient } = await import('../refund-helpers.js');
  const sb = await v3Sandbox(t);
  const client = refundClient(t, sb);
  const trade = await v2PaidTrade(sb, { totalFee: 1000 });
  await client.refund({ out_trade_no: trade.outTradeNo, out_refund_no: 'V2R1', total_fee: 1000, refund_fee: 600 });
  const q = await v3(sb, 'GET', '/v3/refund/domestic/refunds/V2R1');
  t.match(q.json, { out_refund_no: 'V2R1', out_trade_no: trade.outTradeNo, transaction_id: trade.transactionId, amount: { refund: 600, total: 1000 } });
  const over = await v3(sb, 'POST', '/v3/refund/domestic/refunds', { out_trade_no: trade.outTradeNo, out_refund_no: 'V3R1', amount: { refund: 401, total: 1000, currency: 'CNY' } });
  t.match(over.json, { code: 'INVALID_REQUEST', message: /可退金额/ }, 'the v2 refund counts');
  const rest = await v3(sb, 'POST', '/v3/refund/domestic/refunds', { out_trade_no: trade.outTradeNo, out_refund_no: 'V3R2', amount: { refund: 400, total: 1000, currency: 'CNY' } });
  t.equal(rest.status, 200);
  const v2q = await client.refundQuery({ out_refund_no: 'V3R2' });
  t.match(v2q, { out_trade_no: trade.outTradeNo });
});
