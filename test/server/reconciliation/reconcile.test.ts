// A day of trades with payments, partial and full refunds and injected differences, reconciled
// against the sandbox's bill of that day: the report lists exactly those differences, heals what
// WeChat confirms, and a re-run changes nothing.
import t from 'tap';
import { Types } from 'mongoose';
import { eventually } from '../../helpers/api.js';
import { compactDay, dayOf } from '../../../server/src/reconciliation/day.js';
import { awayFromMidnight, clockedStack, orderDoc, paidOrder, placeOrder, refund, refundDoc, sandboxRefunds } from './helpers.js';

t.test('a day with payments, refunds and injected differences: exactly those are reported, healed where WeChat confirms, and a re-run changes nothing', async (t) => {
  await awayFromMidnight();
  const s = await clockedStack(t);
  const day = dayOf(new Date());

  const a = await paidOrder(s, 'TEA-OOLONG', 2); // matched; WeChat also has a refund we never made
  const b = await paidOrder(s, 'COFFEE-LATTE', 1); // partial refund, matched
  const c = await paidOrder(s, 'COFFEE-AMERICANO', 1); // full refund, matched
  const e = await paidOrder(s, 'CAKE-CHEESE', 1); // the bill omits it
  const f = await paidOrder(s, 'TEA-OOLONG', 1); // the bill has a wrong amount
  const h = await paidOrder(s, 'COFFEE-LATTE', 2); // refunded; its refund notification is lost
  const rb = await refund(s, b.id, 500);
  const rc = await refund(s, c.id, c.amount);

  // A payment whose notify was dropped, and nobody polls: paid at WeChat, PAYING here.
  await s.faults({ notify: { action: 'drop' } });
  const g = await placeOrder(s, 'COFFEE-AMERICANO', 2);
  await s.cashier(g.params);
  t.equal((await orderDoc(s, g.order.id))!.status, 'PAYING');

  // A refund WeChat settles while its notification is lost: PROCESSING here, SUCCESS at WeChat.
  await s.faults({ refundNotify: { action: 'drop', count: 5 } });
  const rh = await refund(s, h.id, 1000, 'PROCESSING');
  await eventually(() => sandboxRefunds(s, h.outTradeNo), (l) => l[0]?.status === 'SUCCESS', 20_000);
  await s.clearFaults();

  // A refund made at WeChat outside this server (the merchant platform): WeChat-only.
  const wxOnly = `RWX${Date.now()}`;
  const wxRefund = await s.app.wechat.pay.refund({ transaction_id: a.transactionId, out_refund_no: wxOnly, total_fee: a.amount, refund_fee: 100 });
  // WeChat settles it a moment later; the bill of the morning after shows it settled. Reconciling
  // while it is still PROCESSING would let the re-run below see WeChat's state change under it.
  await eventually(() => sandboxRefunds(s, a.outTradeNo), (l) => l.find((r) => r.outRefundNo === wxOnly)?.status === 'SUCCESS', 20_000);
  // A refund record WeChat never had (restored from a wrong backup, say): ours only.
  const oursOnly = `RUS${Date.now()}`;
  await s.app.mongo.collection('refunds').insertOne({
    orderId: new Types.ObjectId(a.id),
    outTradeNo: a.outTradeNo,
    transactionId: a.transactionId,
    outRefundNo: oursOnly,
    amount: 200,
    totalFee: a.amount,
    reason: 'restored',
    requestedBy: 'test',
    idemKey: `refund:${oursOnly}`,
    status: 'SUCCESS',
    acceptedDay: compactDay(day),
    attempts: 0,
    createdAt: new Date(),
    history: [],
    version: 0,
  });

  // The bill WeChat makes of this day, the next morning: E left out, F's amount off by 7 fen.
  await s.faults({ bill: [{ action: 'omit', outTradeNo: e.outTradeNo, sticky: true }, { action: 'amount', outTradeNo: f.outTradeNo, deltaFen: 7, sticky: true }] });
  s.morningAfter(day);

  const first = await s.app.reconciliation.reconcileDay(day);
  const report = first.report;
  t.equal(first.retriable, false);
  t.match(report, { _id: day, day, status: 'DIFFERENCES', billExists: true, error: null, runs: 1, truncated: false });
  t.match(report.differences, [
    {
      kind: 'PAID_NOT_RECORDED',
      outTradeNo: g.order.outTradeNo,
      transactionId: /^4\d+$/,
      ours: { status: 'PAYING', amount: g.order.amount },
      wechat: { status: 'SUCCESS', amount: g.order.amount },
      resolution: 'HEALED',
      note: /orderquery confirmed the payment: now PAID/,
    },
    { kind: 'PAYMENT_NOT_IN_BILL', outTradeNo: e.outTradeNo, transactionId: e.transactionId, ours: { status: 'PAID', amount: e.amount }, resolution: 'OPEN' },
    { kind: 'PAYMENT_AMOUNT_MISMATCH', outTradeNo: f.outTradeNo, transactionId: f.transactionId, ours: { amount: f.amount }, wechat: { amount: f.amount + 7 }, resolution: 'OPEN' },
    { kind: 'REFUND_UNKNOWN', outTradeNo: a.outTradeNo, outRefundNo: wxOnly, refundId: wxRefund.refund_id, wechat: { status: 'SUCCESS', amount: 100 }, resolution: 'OPEN' },
    { kind: 'REFUND_NOT_IN_BILL', outTradeNo: a.outTradeNo, outRefundNo: oursOnly, ours: { status: 'SUCCESS', amount: 200 }, resolution: 'OPEN' },
    { kind: 'REFUND_STATE_MISMATCH', outTradeNo: h.outTradeNo, outRefundNo: rh.outRefundNo, ours: { status: 'PROCESSING' }, wechat: { status: 'SUCCESS' }, resolution: 'HEALED', note: /refundquery settled it: now SUCCESS/ },
  ]);
  t.equal(report.differences.length, 6, 'exactly the injected differences');
  t.same(report.counts, {
    billPayments: 6,
    billRefunds: 4,
    ourPayments: 7,
    ourRefunds: 4,
    matched: 8,
    differences: 6,
    open: 4,
    byKind: { PAID_NOT_RECORDED: 1, PAYMENT_NOT_IN_BILL: 1, PAYMENT_AMOUNT_MISMATCH: 1, REFUND_UNKNOWN: 1, REFUND_NOT_IN_BILL: 1, REFUND_STATE_MISMATCH: 1 },
  });
  const paidHere = [a, b, c, e, f, h].reduce((sum, o) => sum + o.amount, 0) + g.order.amount;
  t.same(report.totals, {
    wechat: { payments: paidHere - e.amount + 7, refunds: 500 + c.amount + 1000 + 100 },
    ours: { payments: paidHere, refunds: 500 + c.amount + 1000 + 200 },
  });

  // Healed through the one settle paths: the order is PAID (its day recorded), the refund SUCCESS.
  t.match(await orderDoc(s, g.order.id), { status: 'PAID', paidDay: compactDay(day), paidAmount: g.order.amount });
  t.match(await refundDoc(s, rh.outRefundNo), { status: 'SUCCESS' });
  t.match(await refundDoc(s, rb.outRefundNo), { status: 'SUCCESS', acceptedDay: compactDay(day) });
  t.ok(rc);

  // Stored as returned, in one document keyed by the day.
  const stored = await s.app.reconciliation.get(day);
  t.same(stored!.differences, report.differences);

  // Re-running: the same report, the healed ones still listed as HEALED.
  const second = (await s.app.reconciliation.reconcileDay(day)).report;
  const stable = (r: typeof report) => ({ status: r.status, counts: r.counts, totals: r.totals, differences: r.differences, billExists: r.billExists });
  t.same(stable(second), stable(report), 're-running changes nothing');
  t.equal(second.runs, 2);
  t.equal(await s.app.mongo.collection('reconciliation_reports').countDocuments({}), 1, 'one report per day');
});
