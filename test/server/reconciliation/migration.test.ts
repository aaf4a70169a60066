// Orders paid and refunds accepted before the day fields existed get them once, at boot.
import t from 'tap';
import { Types } from 'mongoose';
import { buildApp } from '../../../server/src/app.js';
import { startStack } from '../../helpers/stack.js';

t.test('paidDay and acceptedDay are filled in for existing rows, once', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const db = s.app.mongo;
  const orderId = new Types.ObjectId();
  const refundId = new Types.ObjectId();
  // 2026-03-01 23:30 Beijing is 15:30 UTC: the Beijing day is the 1st.
  await db.collection('orders').insertOne({ _id: orderId, outTradeNo: `M${Date.now()}`, idemKey: `m-${orderId}`, openid: 'o', status: 'PAID', amount: 100, paidAt: new Date('2026-03-01T15:30:00Z'), items: [], flags: [], history: [], clientIp: '127.0.0.1', createdAt: new Date(), expiresAt: new Date(), version: 0 });
  await db.collection('refunds').insertOne({
    _id: refundId,
    outRefundNo: `RM${Date.now()}`,
    idemKey: `rm-${refundId}`,
    status: 'SUCCESS',
    amount: 1,
    history: [
      { from: 'PENDING', to: 'PROCESSING', at: new Date('2026-03-01T16:10:00Z'), source: 'refund' },
      { from: 'PROCESSING', to: 'SUCCESS', at: new Date('2026-03-03T01:00:00Z'), source: 'refund-notify' },
    ],
  });
  await db.collection('migrations').deleteMany({});

  const booted = await buildApp(s.appOptions);
  t.teardown(() => booted.close());
  t.match(await db.collection('orders').findOne({ _id: orderId }), { paidDay: '20260301' });
  t.match(await db.collection('refunds').findOne({ _id: refundId }), { acceptedDay: '20260302' }, 'the day WeChat took it, in Beijing');
  t.ok(await db.collection('migrations').findOne({ _id: 'orders.paidDay' as unknown as Types.ObjectId }), 'marked done');
});
