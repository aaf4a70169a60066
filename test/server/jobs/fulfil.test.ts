import t from 'tap';
import { Types } from 'mongoose';
import { enqueueFulfilment, ORDER_JOBS } from '../../../server/src/orders/jobs.js';
import type { Stack } from '../../helpers/stack.js';
import { stackWith, queue, orders, events, orderFor, runScan, noScans, until } from './helpers.js';

/** Waits until settle's own emission is over (event written, then order marked), before faking a crash. */
async function emitted(s: Stack, _id: Types.ObjectId) {
  await until(async () => (await orders(s).findOne({ _id }))!.fulfilment?.state, (st) => st === 'EMITTED');
}

t.test('a fulfilment a crash left pending is emitted by the fulfil scan, exactly once', async (t) => {
  const s = await stackWith(t, { scanEveryMs: 150, fulfilAfterMs: 30_000 });
  const scan = queue(t, s, ORDER_JOBS.fulfilScan);
  const { api, order } = await orderFor(s);
  await s.cashier((await api.pay(order.id)).body);
  await until(() => api.getOrder(order.id), (r) => r.body.status === 'PAID');
  const _id = new Types.ObjectId(order.id);
  await emitted(s, _id);
  // A crash between the PAID update and the outbox write: no event, fulfilment PENDING for a minute.
  await events(s).deleteMany({ orderId: _id });
  await orders(s).updateOne({ _id }, { $set: { 'fulfilment.state': 'PENDING', 'fulfilment.createdAt': new Date(Date.now() - 60_000) } });
  // A payment just made (PENDING for less than fulfilAfterMs) is left to settle's own enqueue.
  const recent = await orderFor(s);
  await s.cashier((await recent.api.pay(recent.order.id)).body);
  await until(() => recent.api.getOrder(recent.order.id), (r) => r.body.status === 'PAID');
  const recentId = new Types.ObjectId(recent.order.id);
  await emitted(s, recentId);
  await events(s).deleteMany({ orderId: recentId });
  await orders(s).updateOne({ _id: recentId }, { $set: { 'fulfilment.state': 'PENDING', 'fulfilment.createdAt': new Date() } });

  await until(async () => (await orders(s).findOne({ _id }))!.fulfilment.state, (st) => st === 'EMITTED');
  t.match((await orders(s).findOne({ _id }))!.fulfilment, { state: 'EMITTED' });
  await runScan(scan);
  await runScan(scan);
  t.equal(await events(s).countDocuments({ orderId: _id }), 1, 'one event, however many scans');
  t.match((await orders(s).findOne({ _id: recentId }))!.fulfilment, { state: 'PENDING' }, 'the recent one is not the scan’s yet');
});

t.test('enqueueFulfilment emits a paid order’s fulfilment, and never fails its caller', async (t) => {
  const s = await stackWith(t, noScans);
  const { api, order } = await orderFor(s);
  await s.cashier((await api.pay(order.id)).body);
  await until(() => api.getOrder(order.id), (r) => r.body.status === 'PAID');
  const _id = new Types.ObjectId(order.id);
  await emitted(s, _id);
  await events(s).deleteMany({ orderId: _id });
  await orders(s).updateOne({ _id }, { $set: { 'fulfilment.state': 'PENDING', 'fulfilment.createdAt': new Date() } });

  await enqueueFulfilment(s.app.jobs, (await s.app.orderRepo.find({ id: order.id }))!);
  // The event is written first, then the order marked: wait for the mark.
  await until(async () => (await orders(s).findOne({ _id }))!.fulfilment.state, (st) => st === 'EMITTED');
  t.match((await orders(s).findOne({ _id }))!.fulfilment, { state: 'EMITTED' });
  t.equal(await events(s).countDocuments({ orderId: _id }), 1);

  // With the queue gone, it resolves all the same (the scan is the safety net).
  await s.app.jobs.close();
  await t.resolves(enqueueFulfilment(s.app.jobs, (await s.app.orderRepo.find({ id: order.id }))!));
});
