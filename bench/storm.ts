import { Types } from 'mongoose';
import { sign, toBeijingTime, toXml } from '../server/src/wechat/index.js';
import { startStack } from '../test/helpers/stack.js';
import { closeStack } from './teardown.js';
import { purchase } from './flow.js';
import { json, request } from './http.js';
import { sample, type MemorySample } from './memory.js';
import { nowMs, pool, prng, shuffle, summarize, type Percentiles } from './stats.js';

export interface StormOptions {
  /** distinct PAYING orders the notifies are about */
  orders: number;
  /** notifies per order: 1 original, copies of it, and re-signed retries (see below) */
  perOrder: number;
  concurrency: number;
  instances: number;
  setupConcurrency: number;
  seed: number;
}

export interface StormResult {
  notifies: number;
  orders: number;
  instances: number;
  concurrency: number;
  mix: { exactDuplicates: number; resignedRetries: number };
  wallSeconds: number;
  repliesPerSec: number;
  latencyMs: Percentiles;
  replies: Record<string, number>;
  correctness: {
    ok: boolean;
    ordersPaid: number;
    ordersWithOnePaidTransition: number;
    ordersWithOneFulfilmentEvent: number;
    fulfilmentEventsTotal: number;
    successReplies: number;
    problems: string[];
  };
  memory: { before: MemorySample; after: MemorySample; afterGc: MemorySample; beforeRaw: MemorySample };
  setupSeconds: number;
  /** CPU time of this Node process (load generator + sandbox + 2 servers) during the storm */
  nodeCpuSeconds: number;
}

const SUCCESS_REPLY = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

/**
 * The notify storm: `orders` orders are paid at the sandbox with their notifies dropped; then
 * orders × perOrder signed notifies are posted, shuffled, to `instances` server instances (round
 * robin) with `concurrency` in flight. Per order: the original body and exact copies of it (as a
 * retry from WeChat looks), plus retries re-signed with a fresh nonce_str (as another attempt of the
 * same payment). Afterwards the database must show each order PAID once with one fulfilment event.
 */
export async function runStorm(opts: StormOptions): Promise<StormResult> {
  const s = await startStack({ instances: opts.instances, timeScale: 1 });
  try {
    const setup0 = nowMs();
    // The sandbox takes the payments but delivers none of the notifies: the storm below is all there is.
    await s.faults({ notify: { action: 'drop', count: opts.orders } });
    await pool(opts.orders, opts.setupConcurrency, async (i) => {
      await purchase(s, i, { group: 12, pollMs: 0, paidTimeoutMs: 0, skipPoll: true });
    });
    const attempts = (await json<{ attempts: Array<{ outTradeNo: string; transactionId: string; dropped: boolean }> }>(s.sandboxBase + '/sandbox/notifications')).body.attempts;
    const txOf = new Map(attempts.filter((a) => a.dropped).map((a) => [a.outTradeNo, a.transactionId]));
    const orders = await s.app.mongo
      .collection('orders')
      .find({}, { projection: { outTradeNo: 1, amount: 1, openid: 1, status: 1 } })
      .toArray();
    if (orders.length !== opts.orders || orders.some((o) => o.status !== 'PAYING' || !txOf.has(o.outTradeNo))) {
      throw new Error(`storm setup: expected ${opts.orders} PAYING orders with a dropped notify, got ${orders.length}`);
    }
    const setupSeconds = (nowMs() - setup0) / 1000;

    // Build the notifies (signed with the merchant's key and sign type, as the sandbox/WeChat would).
    const { apiKey, mchId, signType } = s.config.pay;
    const rand = prng(opts.seed);
    const nonce = () => Math.floor(rand() * 2 ** 52).toString(36).padStart(11, '0') + Math.floor(rand() * 2 ** 52).toString(36);
    const timeEnd = toBeijingTime(new Date());
    const signed = (f: Record<string, string>) => toXml({ ...f, sign: sign(f, apiKey, signType) });
    const bodies: string[] = [];
    let exactDuplicates = 0;
    let resignedRetries = 0;
    for (const o of orders) {
      const fields: Record<string, string> = {
        appid: s.appid,
        mch_id: mchId,
        nonce_str: nonce(),
        result_code: 'SUCCESS',
        return_code: 'SUCCESS',
        openid: String(o.openid),
        is_subscribe: 'N',
        trade_type: 'JSAPI',
        bank_type: 'OTHERS',
        total_fee: String(o.amount),
        fee_type: 'CNY',
        cash_fee: String(o.amount),
        transaction_id: txOf.get(o.outTradeNo)!,
        out_trade_no: String(o.outTradeNo),
        time_end: timeEnd,
        ...(signType === 'MD5' ? {} : { sign_type: signType }),
      };
      const original = signed(fields);
      bodies.push(original);
      for (let k = 1; k < opts.perOrder; k++) {
        if (k % 2 === 1) {
          bodies.push(original);
          exactDuplicates++;
        } else {
          bodies.push(signed({ ...fields, nonce_str: nonce() }));
          resignedRetries++;
        }
      }
    }
    shuffle(bodies, rand);

    const beforeRaw = sample(false);
    const before = sample(true);
    const latencies: number[] = [];
    const replies: Record<string, number> = {};
    let successReplies = 0;
    const cpu0 = process.cpuUsage();
    const t0 = nowMs();
    await pool(bodies.length, opts.concurrency, async (i) => {
      const base = s.apiBases[i % s.apiBases.length]!;
      try {
        const res = await request(base + '/wxpay/notify', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: bodies[i]! });
        latencies.push(res.ms);
        const key = res.text === SUCCESS_REPLY ? `${res.status} SUCCESS` : `${res.status} ${res.text.slice(0, 80)}`;
        replies[key] = (replies[key] ?? 0) + 1;
        if (res.status === 200 && res.text === SUCCESS_REPLY) successReplies++;
      } catch (err) {
        const key = `error ${(err as Error).message}`;
        replies[key] = (replies[key] ?? 0) + 1;
      }
    });
    const wallSeconds = (nowMs() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const after = sample(false);
    const afterGc = sample(true);

    // Correctness: every order PAID, exactly one PAID transition and one fulfilment event each.
    const docs = await s.app.mongo.collection('orders').find({}, { projection: { status: 1, history: 1, outTradeNo: 1 } }).toArray();
    const events = await s.app.mongo.collection('fulfilment_events').find({}, { projection: { orderId: 1 } }).toArray();
    const eventsPer = new Map<string, number>();
    for (const e of events) {
      const id = (e.orderId as Types.ObjectId).toString();
      eventsPer.set(id, (eventsPer.get(id) ?? 0) + 1);
    }
    const problems: string[] = [];
    let ordersPaid = 0;
    let onePaid = 0;
    let oneEvent = 0;
    for (const d of docs) {
      const paidTransitions = ((d.history ?? []) as Array<{ to: string }>).filter((h) => h.to === 'PAID').length;
      const ev = eventsPer.get(d._id.toString()) ?? 0;
      if (d.status === 'PAID') ordersPaid++;
      if (paidTransitions === 1) onePaid++;
      if (ev === 1) oneEvent++;
      if (d.status !== 'PAID' || paidTransitions !== 1 || ev !== 1) {
        problems.push(`${d.outTradeNo}: status ${d.status}, ${paidTransitions} PAID transitions, ${ev} fulfilment events`);
      }
    }
    if (successReplies !== bodies.length) problems.push(`${bodies.length - successReplies} replies were not 200 SUCCESS`);

    return {
      notifies: bodies.length,
      orders: orders.length,
      instances: s.apiBases.length,
      concurrency: opts.concurrency,
      mix: { exactDuplicates, resignedRetries },
      wallSeconds,
      repliesPerSec: bodies.length / wallSeconds,
      latencyMs: summarize(latencies),
      replies,
      correctness: {
        ok: problems.length === 0 && docs.length === opts.orders,
        ordersPaid,
        ordersWithOnePaidTransition: onePaid,
        ordersWithOneFulfilmentEvent: oneEvent,
        fulfilmentEventsTotal: events.length,
        successReplies,
        problems: problems.slice(0, 10),
      },
      memory: { beforeRaw, before, after, afterGc },
      setupSeconds,
      nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    const { forced } = await closeStack(s);
    if (forced) console.error(`bench storm: connections still open 2 s after close were cut`);
  }
}
