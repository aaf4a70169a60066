import { createHash, randomInt } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Types } from 'mongoose';
import { Errors } from '../errors.js';
import type { OrderDoc } from '../orders/model.js';
import type { OrderRepository } from '../orders/repository.js';
import { toBeijingTime, WxPayError } from '../wechat/index.js';
import type { RefundDoc, RefundRequestDoc } from './model.js';
import type { RefundRepository } from './repository.js';
import { applyEffect, applyRefundReport, type RefundReport, type RefundSettleDeps } from './settle.js';

/** The two WeChat calls refunds make (wechat/refund.ts and wechat/refund-query.ts, over mutual TLS). */
export interface RefundGateway {
  /** POST /secapi/pay/refund; throws WxPayError (retriable, NOTENOUGH, or final with WeChat's words) */
  refund(req: {
    transaction_id: string;
    out_refund_no: string;
    total_fee: number;
    refund_fee: number;
    refund_desc?: string;
    notify_url?: string;
  }): Promise<{ refundId: string }>;
  /** POST /pay/refundquery for one out_refund_no; null when WeChat has no such refund */
  query(outRefundNo: string): Promise<RefundReport | null>;
}

export interface RefundDelays {
  /** delays before retrying a refund WeChat could not take now (SYSTEMERROR, network, ...), ms */
  retry: readonly number[];
  /** between two tries while WeChat answers NOTENOUGH (merchant balance too low), ms */
  notEnough: number;
  /** delays between refundquery calls for a refund WeChat is processing, ms */
  query: readonly number[];
}

export const DEFAULT_REFUND_DELAYS: RefundDelays = {
  retry: [30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000],
  notEnough: 600_000,
  query: [10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000],
};

export interface RefundServiceDeps {
  refunds: RefundRepository;
  orders: OrderRepository;
  gateway: RefundGateway;
  log: FastifyBaseLogger;
  /** runs `submit` or `query` for a refund later, on the job queue (deduplicated per refund and step) */
  later(step: 'submit' | 'query', refundId: string, delayMs: number, attempt: number): Promise<void>;
  /** the refund notify_url sent to WeChat */
  notifyUrl: () => string;
  delays?: RefundDelays;
}

const REFUNDABLE = ['PAID', 'PARTIALLY_REFUNDED'];
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** ≤ 64 chars of [0-9A-Za-z_-|*@], unique per merchant: R + Beijing time + 12 random digits. */
export function newOutRefundNo(now = new Date()): string {
  let digits = '';
  for (let i = 0; i < 12; i++) digits += randomInt(10).toString();
  return `R${toBeijingTime(now)}${digits}`;
}

/** refund_desc is at most 80 bytes at WeChat. */
function refundDesc(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out, 'utf8') > 80) out = out.slice(0, -1);
  return out;
}

export type RefundService = ReturnType<typeof createRefundService>;

export function createRefundService(deps: RefundServiceDeps) {
  const { refunds, orders, gateway, log } = deps;
  const delays = deps.delays ?? DEFAULT_REFUND_DELAYS;
  const settleDeps: RefundSettleDeps = { refunds, orders, log };
  const pick = (list: readonly number[], attempt: number) => list[Math.min(attempt, list.length - 1)]!;

  async function schedule(step: 'submit' | 'query', refund: RefundDoc, delayMs: number, attempt: number) {
    try {
      await deps.later(step, refund._id.toString(), delayMs, attempt);
    } catch (err) {
      // The background scan picks up every PENDING and PROCESSING refund anyway.
      log.warn({ err: { message: (err as Error).message }, outRefundNo: refund.outRefundNo, step }, 'could not schedule refund work; the scan will');
    }
  }

  /** Asks WeChat whether it has this refund, and applies what it says. */
  async function settleByQuery(refund: RefundDoc, source: string): Promise<RefundDoc | 'absent'> {
    const report = await gateway.query(refund.outRefundNo);
    if (!report) return 'absent';
    const r = await applyRefundReport(settleDeps, { id: refund._id }, report, source);
    return r.refund ?? refund;
  }

  const service = {
    /**
     * Records a refund of a paid order and sends it to WeChat. The amount is reserved on the order
     * first, so refunds never add up past the payment; a refused request stores nothing.
     */
    async create(
      input: { orderId: string; amount: number; reason: string; requestedBy: string; idempotencyKey?: string },
      now = new Date(),
    ): Promise<{ refund: RefundDoc; replayed: boolean }> {
      const order = await orders.find({ id: input.orderId });
      if (!order) throw new Errors.NotFound('Order');
      const idemKey = input.idempotencyKey !== undefined ? `key:${sha256(`${order._id.toString()}\n${input.idempotencyKey}`)}` : undefined;
      if (idemKey) {
        const first = await refunds.findByIdemKey(idemKey);
        if (first) return replay(first, input);
      }
      if (!REFUNDABLE.includes(order.status) || !order.transactionId) throw new Errors.OrderNotRefundable(order.status);
      const paid = order.paidAmount ?? order.amount;
      if (!Number.isSafeInteger(input.amount) || input.amount < 1) throw new Errors.BadRefundAmount(String(paid - (order.refundReserved ?? 0)));
      if ((order.refundReserved ?? 0) + input.amount > paid) throw new Errors.RefundExceedsPaid(String(paid - (order.refundReserved ?? 0)));

      const outRefundNo = newOutRefundNo(now);
      let refund: RefundDoc;
      try {
        refund = await refunds.create({
          orderId: order._id,
          outTradeNo: order.outTradeNo,
          transactionId: order.transactionId,
          outRefundNo,
          amount: input.amount,
          totalFee: paid,
          reason: input.reason,
          requestedBy: input.requestedBy,
          idemKey: idemKey ?? `refund:${outRefundNo}`,
          createdAt: now,
        });
      } catch (err) {
        if ((err as { code?: number }).code === 11000 && idemKey) {
          const first = await refunds.findByIdemKey(idemKey);
          if (first) return replay(first, input);
        }
        throw err;
      }
      const reserved = await orders.reserveRefund(order._id, refund._id, input.amount);
      if (reserved !== 'reserved') {
        // Another refund took the room first: this one was never sent, so it goes.
        await refunds.remove(refund._id);
        if (reserved === 'exceeds') {
          const fresh = await orders.find({ id: input.orderId });
          throw new Errors.RefundExceedsPaid(String((fresh?.paidAmount ?? paid) - (fresh?.refundReserved ?? 0)));
        }
        throw new Errors.OrderNotRefundable(reserved === 'gone' ? 'gone' : order.status);
      }
      log.info({ event: 'refund_created', outRefundNo, outTradeNo: order.outTradeNo, amount: input.amount, requestedBy: input.requestedBy }, 'refund recorded');
      return { refund: await service.submit(refund._id.toString(), 0), replayed: false };
    },

    /**
     * Sends a PENDING refund to WeChat (again, with the same out_refund_no). What WeChat cannot take
     * now is retried later; an answer that never came is settled by refundquery, never by guessing.
     */
    async submit(refundId: string, attempt: number): Promise<RefundDoc> {
      const refund = await refunds.find({ id: refundId });
      if (!refund) throw new Errors.NotFound('Refund');
      if (refund.status !== 'PENDING') return refund;
      try {
        const { refundId: wxRefundId } = await gateway.refund({
          transaction_id: refund.transactionId,
          out_refund_no: refund.outRefundNo,
          total_fee: refund.totalFee,
          refund_fee: refund.amount,
          refund_desc: refundDesc(refund.reason),
          notify_url: deps.notifyUrl(),
        });
        const r = await applyRefundReport(settleDeps, { id: refund._id }, { status: 'PROCESSING', refundFee: refund.amount, refundId: wxRefundId }, 'refund');
        const now = r.refund ?? refund;
        if (now.status === 'PROCESSING') await schedule('query', now, pick(delays.query, 0), 0);
        return now;
      } catch (err) {
        if (!(err instanceof WxPayError)) throw err;
        const code = err.code;
        const message = err.message;
        if (code === 'NOTENOUGH') {
          log.warn({ followUp: true, event: 'refund_notenough', outRefundNo: refund.outRefundNo }, 'WeChat: merchant balance too low for this refund; retrying later');
          await refunds.noteAttempt(refund._id, { code, message }, true);
          await schedule('submit', refund, delays.notEnough, attempt + 1);
          return (await refunds.find({ id: refund._id })) ?? refund;
        }
        if (err.retriable) {
          // A timeout or a dropped connection may hide a refund WeChat did take: ask before resending.
          if (code === 'NETWORK' || code === 'TIMEOUT' || code === 'SYSTEMERROR') {
            try {
              const settled = await settleByQuery(refund, 'refundquery');
              if (settled !== 'absent' && settled.status !== 'PENDING') {
                if (settled.status === 'PROCESSING') await schedule('query', settled, pick(delays.query, 0), 0);
                return settled;
              }
            } catch {
              // WeChat is unreachable for the query too: retry the whole step later.
            }
          }
          await refunds.noteAttempt(refund._id, { code, message }, false);
          await schedule('submit', refund, pick(delays.retry, attempt), attempt + 1);
          return (await refunds.find({ id: refund._id })) ?? refund;
        }
        // Final: WeChat refused this refund for good; its words are kept and the amount freed.
        const failed = await refunds.transition(refund._id, 'PENDING', 'FAILED', 'refund', { lastError: { code, message, at: new Date() }, applied: false }, message);
        if (failed) {
          log.warn({ followUp: true, event: 'refund_refused', outRefundNo: refund.outRefundNo, code }, 'WeChat refused the refund');
          await applyEffect(settleDeps, failed);
          return failed;
        }
        return (await refunds.find({ id: refund._id })) ?? refund;
      }
    },

    /** Keeps a PROCESSING refund moving until WeChat says how it ended, even when no notification comes. */
    async query(refundId: string, attempt: number): Promise<RefundDoc> {
      const refund = await refunds.find({ id: refundId });
      if (!refund) throw new Errors.NotFound('Refund');
      if (refund.status !== 'PROCESSING' && refund.status !== 'CHANGE') return refund;
      const settled = await settleByQuery(refund, 'refundquery');
      const now = settled === 'absent' ? refund : settled;
      if (now.status === 'PROCESSING') await schedule('query', now, pick(delays.query, attempt + 1), attempt + 1);
      return now;
    },

    /** Applies a verified refund notification: the same single path as refundquery. */
    applyNotify(outRefundNo: string, report: RefundReport) {
      return applyRefundReport(settleDeps, { outRefundNo }, report, 'refund-notify');
    },

    /**
     * The safety net, run by the background scan: refunds a lost job or a crash left behind are moved
     * on (PENDING resent, PROCESSING queried, a final state's effect on the order finished).
     */
    async sweep(now = new Date()): Promise<{ submitted: number; queried: number; applied: number }> {
      let applied = 0;
      for (const r of await refunds.unapplied()) {
        await applyEffect(settleDeps, r);
        applied++;
      }
      let submitted = 0;
      for (const r of await refunds.inState('PENDING', new Date(now.getTime() - 60_000))) {
        if (r.waitingSince || (r.lastError && now.getTime() - r.lastError.at.getTime() < pick(delays.retry, r.attempts))) continue;
        await schedule('submit', r, 0, r.attempts);
        submitted++;
      }
      let queried = 0;
      for (const r of await refunds.inState('PROCESSING', new Date(now.getTime() - 60_000))) {
        await schedule('query', r, 0, 0);
        queried++;
      }
      return { submitted, queried, applied };
    },

    get: (id: string) => refunds.find({ id }),
    forOrder: (orderId: Types.ObjectId) => refunds.listForOrder(orderId),
    // reconciliation's lookups: a bill's refunds by out_refund_no, and the refunds WeChat took on a day
    findByOutRefundNos: (outRefundNos: readonly string[]) => refunds.findByOutRefundNos(outRefundNos),
    acceptedOnDay: (day: string) => refunds.acceptedOnDay(day),
    list: (filter: Parameters<RefundRepository['list']>[0], limit: number) => refunds.list(filter, limit),

    // Buyers' refund requests: a buyer asks, an operator approves (a refund) or rejects.
    async request(order: OrderDoc, reason: string, now = new Date()): Promise<RefundRequestDoc> {
      if (!REFUNDABLE.includes(order.status)) throw new Errors.OrderNotRefundable(order.status);
      if ((order.refundReserved ?? 0) >= (order.paidAmount ?? order.amount)) throw new Errors.OrderNotRefundable('REFUNDED');
      const created = await refunds.createRequest({ orderId: order._id, openid: order.openid, reason, createdAt: now });
      if (!created) throw new Errors.RefundRequestOpen();
      log.info({ event: 'refund_requested', outTradeNo: order.outTradeNo }, 'buyer asked for a refund');
      return created;
    },

    requestsFor: (orderId: Types.ObjectId) => refunds.requestsForOrder(orderId),
    openRequests: (limit?: number) => refunds.openRequests(limit),
    findRequest: (id: string) => refunds.findRequest(id),

    async approve(requestId: string, by: string, amount?: number): Promise<{ request: RefundRequestDoc; refund: RefundDoc }> {
      const req = await refunds.findRequest(requestId);
      if (!req) throw new Errors.NotFound('Refund request');
      if (req.status !== 'PENDING') throw new Errors.RefundRequestDecided(req.status);
      const order = await orders.find({ id: req.orderId.toString() });
      if (!order) throw new Errors.NotFound('Order');
      const left = (order.paidAmount ?? order.amount) - (order.refundReserved ?? 0);
      const { refund } = await service.create({
        orderId: req.orderId.toString(),
        amount: amount ?? left,
        reason: req.reason,
        requestedBy: `${by} (buyer request ${requestId})`,
        idempotencyKey: `request-${requestId}`,
      });
      const decided = await refunds.decideRequest(req._id, { status: 'APPROVED', decidedBy: by, refundId: refund._id });
      return { request: decided ?? req, refund };
    },

    async reject(requestId: string, by: string, note: string): Promise<RefundRequestDoc> {
      const req = await refunds.findRequest(requestId);
      if (!req) throw new Errors.NotFound('Refund request');
      const decided = await refunds.decideRequest(req._id, { status: 'REJECTED', decidedBy: by, note });
      if (!decided) throw new Errors.RefundRequestDecided(req.status);
      return decided;
    },
  };

  function replay(first: RefundDoc, input: { orderId: string; amount: number }): { refund: RefundDoc; replayed: true } {
    if (first.orderId.toString() !== input.orderId || first.amount !== input.amount) throw new Errors.IdempotencyKeyReused();
    return { refund: first, replayed: true };
  }

  return service;
}
