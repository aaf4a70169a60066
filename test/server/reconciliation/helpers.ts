// Shared by the reconciliation tests: a stack whose sandbox clock can jump to the morning after the
// trades (WeChat makes a day's bill from 10:00 Beijing the next day), and paid orders made through
// the real flow (login, order, unifiedorder, the sandbox's cashier, the notify).
import { Types } from 'mongoose';
import type { Order } from '../../../shared/api.js';
import { beijingDayStart } from '../../../server/src/wechat/beijing-datetime.js';
import { compactDay, dayOf } from '../../../server/src/reconciliation/day.js';
import { apiClient, eventually, sleep } from '../../helpers/api.js';
import { startStack, type Stack, type StackOptions } from '../../helpers/stack.js';

export const TOKEN = 'rec-' + 'k'.repeat(40);
const HOUR = 3600_000;

export interface ClockedStack extends Stack {
  /** moves the sandbox's clock to this Beijing time of the day after `day` (YYYY-MM-DD) */
  morningAfter(day: string, hour?: number): void;
}

/**
 * Trades made now land on today's Beijing day. A few minutes before Beijing midnight, wait for it to
 * pass, so that one test's trades never straddle two days.
 */
export async function awayFromMidnight(): Promise<void> {
  const tomorrow = beijingDayStart(compactDay(dayOf(new Date(Date.now() + 24 * HOUR)))).getTime();
  const left = tomorrow - Date.now();
  if (left < 3 * 60_000) await sleep(left + 1_000);
}

/** The sandbox clock starts `startAt` ms epoch (default: the real time) and runs on from there. */
export async function clockedStack(t: { teardown(fn: () => unknown): void }, opts: StackOptions = {}, startAt?: number): Promise<ClockedStack> {
  let offset = startAt === undefined ? 0 : startAt - Date.now();
  const s = await startStack({
    env: { ADMIN_API_TOKEN: TOKEN },
    sandboxNow: () => Date.now() + offset,
    ...opts,
    jobs: { workers: false, ...opts.jobs, reconciliation: { scheduleEveryMs: 0, ...opts.jobs?.reconciliation } },
  });
  t.teardown(() => s.close());
  return Object.assign(s, {
    morningAfter(day: string, hour = 11) {
      const next = beijingDayStart(compactDay(day)).getTime() + 24 * HOUR;
      offset = next + hour * HOUR - Date.now();
    },
  });
}

export async function placeOrder(s: Stack, sku = 'TEA-OOLONG', quantity = 1) {
  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku, quantity }])).body;
  const params = (await api.pay(order.id)).body;
  return { api, order, params };
}

/** Paid through the cashier and the notify, as a buyer pays. */
export async function paidOrder(s: Stack, sku = 'TEA-OOLONG', quantity = 1): Promise<Order & { transactionId: string }> {
  const { api, order, params } = await placeOrder(s, sku, quantity);
  await s.cashier(params);
  const paid = await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'PAID', 20_000);
  if (paid.body.status !== 'PAID') throw new Error(`order ${order.id} not paid: ${paid.body.status}`);
  return paid.body as Order & { transactionId: string };
}

export const orderDoc = (s: Stack, id: string) => s.app.mongo.collection('orders').findOne({ _id: new Types.ObjectId(id) });
export const refundDoc = (s: Stack, outRefundNo: string) => s.app.mongo.collection('refunds').findOne({ outRefundNo });

/** A refund through our refunds service, waited for until it stands as `status` here. */
export async function refund(s: Stack, orderId: string, amount: number, status = 'SUCCESS') {
  const { refund } = await s.app.refunds.create({ orderId, amount, reason: '测试退款', requestedBy: 'test' });
  const done = await eventually(() => refundDoc(s, refund.outRefundNo), (r) => r?.status === status, 20_000);
  if (done?.status !== status) throw new Error(`refund ${refund.outRefundNo} is ${done?.status}, not ${status}`);
  return done;
}

/** The sandbox's own view of a trade's refunds. */
export async function sandboxRefunds(s: Stack, outTradeNo: string): Promise<Array<{ outRefundNo: string; status: string }>> {
  const res = await fetch(`${s.sandboxBase}/sandbox/refunds?out_trade_no=${outTradeNo}`);
  return ((await res.json()) as { refunds: Array<{ outRefundNo: string; status: string }> }).refunds;
}

export const admin = (s: Stack) => apiClient(s.apiBase, TOKEN);

/** This Beijing time (hour) today, ms epoch. */
export const todayAt = (hour: number) => beijingDayStart(compactDay(dayOf(new Date()))).getTime() + hour * HOUR;
