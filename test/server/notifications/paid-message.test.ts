// The payment-success subscribe message end to end: an order paid at the sandbox cashier, the
// notifications.paid-message job, WeChat's subscribe/send (the sandbox's, which records what it
// got), once per order, retried when WeChat is busy, never when it refuses for good.
import t from 'tap';
import { Types } from 'mongoose';
import { PAID_MESSAGE_JOB, paidMessageJobId } from '../../../server/src/notifications/paid-message.js';
import { DEFAULT_PAID_FIELDS, paidMessageData, parseFieldMap } from '../../../server/src/notifications/template.js';
import { SANDBOX_PAID_TEMPLATE } from '../../../server/src/sandbox/subscribe.js';
import { loadConfig } from '../../../server/src/config.js';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack, type Stack } from '../../helpers/stack.js';
import { queue } from '../jobs/helpers.js';

const TEMPLATE = SANDBOX_PAID_TEMPLATE.id;

t.test('the data: each keyword its fact, shaped to its type', async (t) => {
  const facts = {
    outTradeNo: '20240501123000123456',
    amount: 3650,
    items: [{ name: '拿铁咖啡 Latte', quantity: 2 }, { name: '乌龙茶 Oolong tea', quantity: 1 }],
    paidAt: new Date('2024-05-01T04:30:59Z'),
    transactionId: '4200001234202405011234567890',
  };
  t.same(paidMessageData(DEFAULT_PAID_FIELDS, facts), {
    character_string1: { value: '20240501123000123456' },
    amount2: { value: '¥36.50' },
    thing3: { value: '拿铁咖啡 Latte等3件' },
    time4: { value: '2024年5月1日 12:30' },
  }, 'Beijing time, whatever the server zone');
  const long = paidMessageData({ thing1: 'items', date2: 'paidAt', phrase3: 'status', character_string4: 'transactionId' }, {
    ...facts,
    items: [{ name: '一'.repeat(30), quantity: 1 }],
    amount: 5,
  });
  t.equal([...long.thing1!.value].length, 20, 'thing: 20 characters at most');
  t.match(long.thing1!.value, /…$/);
  t.equal(long.date2!.value, '2024年5月1日');
  t.equal(long.phrase3!.value, '支付成功');
  t.equal(paidMessageData({ amount1: 'amount' }, { ...facts, amount: 5 }).amount1!.value, '¥0.05');
});

t.test('the field map is checked at boot: WECHAT_SUBSCRIBE_TEMPLATE_PAID_FIELDS', async (t) => {
  t.same(parseFieldMap('thing1=items, amount9=amount'), { thing1: 'items', amount9: 'amount' });
  for (const bad of ['thing1', 'thing=items', 'colour1=items', 'thing1=price', 'thing1=items,thing1=status', 'a=b=c']) {
    t.throws(() => parseFieldMap(bad), bad);
  }
  t.throws(() => loadConfig({ WECHAT_SUBSCRIBE_TEMPLATE_PAID_FIELDS: 'thing1=price' }), /WECHAT_SUBSCRIBE_TEMPLATE_PAID_FIELDS/);
  t.throws(() => loadConfig({ WECHAT_SUBSCRIBE_TEMPLATE_PAID: 'has space' }), /WECHAT_SUBSCRIBE_TEMPLATE_PAID/);
  t.throws(() => loadConfig({ WECHAT_SUBSCRIBE_STATE: 'beta' }), /WECHAT_SUBSCRIBE_STATE/);
  t.match(loadConfig({}).notifications, { fields: DEFAULT_PAID_FIELDS, miniprogramState: 'developer' });
  t.notOk('templateId' in loadConfig({}).notifications, 'no template unless configured');
  t.match(loadConfig({ WECHAT_SUBSCRIBE_TEMPLATE_PAID: 'T1', WECHAT_SUBSCRIBE_STATE: 'trial' }).notifications, { templateId: 'T1', miniprogramState: 'trial' });
});

// ---- end to end ------------------------------------------------------------------------

interface Recorded {
  touser: string;
  template_id: string;
  page?: string;
  miniprogram_state?: string;
  data: Record<string, { value: string }>;
  errcode: number;
}

async function stackWith(t: { teardown(fn: () => unknown): void }, template: string | undefined) {
  const s = await startStack({
    ...(template ? { env: { WECHAT_SUBSCRIBE_TEMPLATE_PAID: template } } : {}),
    jobs: { workers: true, orders: { scanEveryMs: 0 }, notifications: { attempts: 4, backoff: { type: 'fixed', delayMs: 50 } } },
  });
  t.teardown(() => s.close());
  return s;
}

const sandboxJson = async (s: Stack, method: string, path: string, body?: object) => {
  const res = await fetch(s.sandboxBase + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  return (await res.json()) as Record<string, unknown>;
};
const sent = async (s: Stack, touser: string) => ((await sandboxJson(s, 'GET', `/sandbox/subscribe-messages?touser=${touser}`)).messages as Recorded[]);
const record = (s: Stack, orderId: string) => s.app.mongo.collection('paid_messages').findOne({ orderId: new Types.ObjectId(orderId) });

/** a buyer who accepted the subscribe message (or not), with an order paid at the cashier */
async function paidOrder(s: Stack, subscribed: boolean) {
  const { token, openid } = await s.login();
  if (subscribed) await sandboxJson(s, 'POST', '/sandbox/subscriptions', { appid: s.appid, openid, template_id: TEMPLATE });
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'COFFEE-LATTE', quantity: 2 }])).body;
  const r = await s.cashier((await api.pay(order.id)).body);
  if (r.errMsg !== 'requestPayment:ok') throw new Error(r.errMsg);
  await eventually(() => api.getOrder(order.id), (x) => x.body.status === 'PAID', 30_000);
  return { openid, order: (await api.getOrder(order.id)).body };
}

t.test('paid and subscribed: one message, with the order in it, and it opens the order', async (t) => {
  const s = await stackWith(t, TEMPLATE);
  const { openid, order } = await paidOrder(s, true);
  const got = await eventually(() => sent(s, openid), (m) => m.length > 0, 30_000);
  t.equal(got.length, 1);
  t.match(got[0], {
    touser: openid,
    template_id: TEMPLATE,
    errcode: 0,
    page: `pages/order-detail/index?id=${order.id}`,
    miniprogram_state: 'developer',
    data: { character_string1: { value: order.outTradeNo }, amount2: { value: '¥36.00' }, thing3: { value: '拿铁咖啡 Latte × 2' }, time4: { value: /^\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d$/ } },
  });
  const rec = await eventually(() => record(s, order.id), (r) => r?.state === 'SENT', 10_000);
  t.match(rec, { state: 'SENT', attempts: 1, templateId: TEMPLATE });

  // once per order: the job again (a duplicate enqueue is a no-op in the queue), the function again
  t.equal(await s.app.paidMessages.sendPaidMessage(order.id), 'already_done');
  const q = queue(t, s, PAID_MESSAGE_JOB);
  await s.app.jobs.enqueue(PAID_MESSAGE_JOB, { orderId: order.id }, { jobId: paidMessageJobId(order.id) });
  await eventually(() => q.getJobCounts('waiting', 'active', 'delayed'), (c) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0, 10_000);
  t.equal((await sent(s, openid)).length, 1, 'still one message: the record says it was sent');
  t.match(await record(s, order.id), { state: 'SENT', attempts: 1 });
});

t.test('not subscribed: WeChat says 43101 once, the record says so, nothing is retried', async (t) => {
  const s = await stackWith(t, TEMPLATE);
  const { openid, order } = await paidOrder(s, false);
  const rec = await eventually(() => record(s, order.id), (r) => r?.state === 'FAILED', 30_000);
  t.match(rec, { state: 'FAILED', attempts: 1, lastError: { code: 'NOT_SUBSCRIBED', errcode: 43101 } });
  await new Promise((r) => setTimeout(r, 300));
  t.same((await sent(s, openid)).map((m) => m.errcode), [43101], 'one call');
  t.equal((await apiClient(s.apiBase).call('GET', '/healthz')).status, 200, 'the order is paid and the server fine');
});

t.test('WeChat busy: retried with backoff until it goes through; 40001: a fresh token at once', async (t) => {
  const s = await stackWith(t, TEMPLATE);
  await s.faults({ subscribe: [{ errcode: -1, count: 2 }] });
  const { openid, order } = await paidOrder(s, true);
  await eventually(() => record(s, order.id), (r) => r?.state === 'SENT', 30_000);
  t.same((await sent(s, openid)).map((m) => m.errcode), [-1, -1, 0]);
  t.match(await record(s, order.id), { attempts: 3, state: 'SENT', lastError: null });

  await s.faults({ subscribe: { errcode: 40001 } });
  const second = await paidOrder(s, true);
  await eventually(() => record(s, second.order.id), (r) => r?.state === 'SENT', 30_000);
  t.same((await sent(s, second.openid)).map((m) => m.errcode), [40001, 0], 'refreshed within the same attempt');
  t.match(await record(s, second.order.id), { attempts: 1 });
});

t.test('WeChat busy for longer than the retries: a dead letter, and the record shows why', async (t) => {
  const s = await stackWith(t, TEMPLATE);
  await s.faults({ subscribe: { errcode: 45009, count: 100 } });
  const { openid, order } = await paidOrder(s, true);
  const dead = await eventually(() => s.app.jobs.deadLetters({ name: PAID_MESSAGE_JOB }), (d) => d.length > 0, 30_000);
  t.match(dead, [{ name: PAID_MESSAGE_JOB, jobId: paidMessageJobId(order.id), attempts: 4 }]);
  t.match(await record(s, order.id), { state: 'SENDING', attempts: 4, lastError: { code: 'QUOTA', errcode: 45009 } });
  t.equal((await sent(s, openid)).length, 4);
});

t.test('no template configured: nothing enqueued, nothing sent', async (t) => {
  const s = await stackWith(t, undefined);
  const { openid, order } = await paidOrder(s, true);
  const q = queue(t, s, PAID_MESSAGE_JOB);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await q.getJob(paidMessageJobId(order.id)), undefined, 'no job');
  t.same(await sent(s, openid), []);
  t.equal(await s.app.paidMessages.sendPaidMessage(order.id), 'no_template');
});

t.test('an order not paid, held for an operator, or unknown gets no message', async (t) => {
  const s = await stackWith(t, TEMPLATE);
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const unpaid = (await api.createOrder([{ sku: 'TEA-OOLONG', quantity: 1 }])).body;
  t.equal(await s.app.paidMessages.sendPaidMessage(unpaid.id), 'not_eligible');
  const { order } = await paidOrder(s, true);
  await eventually(() => record(s, order.id), (r) => r?.state === 'SENT', 30_000);
  const held = await paidOrder(s, true);
  await eventually(() => record(s, held.order.id), (r) => r?.state === 'SENT', 30_000);
  await s.app.mongo.collection('paid_messages').deleteOne({ orderId: new Types.ObjectId(held.order.id) });
  await s.app.mongo.collection('orders').updateOne({ _id: new Types.ObjectId(held.order.id) }, { $set: { 'fulfilment.state': 'HELD', flags: ['AMOUNT_MISMATCH'] } });
  t.equal(await s.app.paidMessages.sendPaidMessage(held.order.id), 'not_eligible', 'a held payment says nothing to the buyer');
  t.equal(await s.app.paidMessages.sendPaidMessage(new Types.ObjectId().toString()), 'no_order');
  t.equal(await s.app.paidMessages.sendPaidMessage('not-an-id'), 'no_order');
});
