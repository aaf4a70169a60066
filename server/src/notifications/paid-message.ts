// The payment-success subscribe message: once the server has an order PAID (unflagged), the
// notifications.paid-message job sends it through WeChat's subscribe/send, once per order, with
// retries for what may pass (WeChat busy, quota, token trouble, network) and none for WeChat's
// final refusals (43101 the user did not subscribe, 40037, 47003, …). No template configured:
// nothing is enqueued, nothing sent.
import type { FastifyBaseLogger } from 'fastify';
import type { Model } from 'mongoose';
import { Types } from 'mongoose';
import type { Backoff, JobPayload, Jobs } from '../jobs/queue.js';
import { SETTLED_PAID, type OrderDoc } from '../orders/model.js';
import type { OrderRepository } from '../orders/repository.js';
import { WxSubscribeError, type MpClient, type SubscribeMessage } from '../wechat/mp-client.js';
import type { PaidMessageDoc } from './model.js';
import { paidMessageData, type PaidFieldMap } from './template.js';

export const PAID_MESSAGE_JOB = 'notifications.paid-message';
/** BullMQ's job ids take no ':' (its key separator), hence `paid-msg-<orderId>` */
export const paidMessageJobId = (orderId: string) => `paid-msg-${orderId}`;

export interface PaidMessageConfig {
  /** WECHAT_SUBSCRIBE_TEMPLATE_PAID; unset: no message */
  templateId?: string;
  fields: PaidFieldMap;
  miniprogramState: 'developer' | 'trial' | 'formal';
}

export type PaidMessageOutcome =
  | 'sent'
  /** WeChat refused it for good (errcode kept on the record) */
  | 'refused'
  /** sent (or refused) before: once per order */
  | 'already_done'
  | 'no_template'
  | 'no_order'
  /** not paid, or paid but held for an operator (a flagged payment gets no "payment succeeded") */
  | 'not_eligible';

export interface PaidMessagesDeps {
  model: Model<PaidMessageDoc>;
  orders: Pick<OrderRepository, 'find'>;
  mp: Pick<MpClient, 'sendSubscribeMessage'>;
  config: PaidMessageConfig;
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

/** The mini-program page the message opens. */
export const orderPage = (orderId: string) => `pages/order-detail/index?id=${orderId}`;

export function createPaidMessages(deps: PaidMessagesDeps) {
  const { model, orders, mp, config, log } = deps;

  function eligible(order: OrderDoc): boolean {
    return SETTLED_PAID.includes(order.status) && order.fulfilment?.state !== 'HELD' && (order.flags ?? []).length === 0 && !!order.paidAt && !!order.transactionId;
  }

  return {
    /**
     * Sends the message for one order, at most once. Throws a retriable error (the job retries it);
     * returns how it ended otherwise.
     */
    async sendPaidMessage(orderId: string, now = new Date()): Promise<PaidMessageOutcome> {
      const templateId = config.templateId;
      if (!templateId) return 'no_template';
      if (!Types.ObjectId.isValid(orderId)) return 'no_order';
      const order = await orders.find({ id: orderId });
      if (!order) return 'no_order';
      if (!eligible(order)) return 'not_eligible';

      // the claim: one record per order (unique index); a retry finds its own SENDING record
      const _id = new Types.ObjectId(orderId);
      try {
        await model.create({ orderId: _id, templateId, state: 'SENDING', attempts: 0, createdAt: now, updatedAt: now });
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
      }
      const claimed = await model.findOneAndUpdate(
        { orderId: _id, state: 'SENDING' },
        { $inc: { attempts: 1 }, $set: { updatedAt: now } },
        { returnDocument: 'after' },
      ).lean<PaidMessageDoc>();
      if (!claimed) return 'already_done';

      const msg: SubscribeMessage = {
        touser: order.openid,
        template_id: claimed.templateId,
        page: orderPage(orderId),
        miniprogram_state: config.miniprogramState,
        lang: 'zh_CN',
        data: paidMessageData(config.fields, {
          outTradeNo: order.outTradeNo,
          amount: order.paidAmount ?? order.amount,
          items: order.items,
          paidAt: order.paidAt!,
          transactionId: order.transactionId!,
        }),
      };
      try {
        await mp.sendSubscribeMessage(msg);
      } catch (err) {
        if (!(err instanceof WxSubscribeError)) throw err;
        const lastError = { code: err.code, ...(err.errcode !== undefined ? { errcode: err.errcode } : {}), at: new Date() };
        if (err.retriable) {
          await model.updateOne({ _id: claimed._id, state: 'SENDING' }, { $set: { lastError, updatedAt: new Date() } });
          throw err;
        }
        await model.updateOne({ _id: claimed._id, state: 'SENDING' }, { $set: { state: 'FAILED', lastError, updatedAt: new Date() } });
        // 43101 is the buyer's choice, not a fault
        const level = err.code === 'NOT_SUBSCRIBED' ? 'info' : 'warn';
        log[level]({ event: 'paid_message_refused', outTradeNo: order.outTradeNo, code: err.code, errcode: err.errcode }, 'payment-success message not sent: WeChat refused it');
        return 'refused';
      }
      await model.updateOne({ _id: claimed._id }, { $set: { state: 'SENT', sentAt: new Date(), lastError: null, updatedAt: new Date() } });
      log.info({ event: 'paid_message_sent', outTradeNo: order.outTradeNo }, 'payment-success message sent');
      return 'sent';
    },

    async record(orderId: string): Promise<PaidMessageDoc | null> {
      return Types.ObjectId.isValid(orderId) ? model.findOne({ orderId: new Types.ObjectId(orderId) }).lean<PaidMessageDoc>() : null;
    },
  };
}

export type PaidMessages = ReturnType<typeof createPaidMessages>;

export interface PaidMessageJobSettings {
  attempts: number;
  backoff: Backoff;
  concurrency: number;
}

// 10 s, 20 s, 40 s … about 40 minutes of WeChat trouble before a dead letter.
export const DEFAULT_PAID_MESSAGE_JOB: PaidMessageJobSettings = { attempts: 8, backoff: { type: 'exponential', delayMs: 10_000 }, concurrency: 4 };

export function definePaidMessageJob(jobs: Pick<Jobs, 'define'>, messages: PaidMessages, settings: Partial<PaidMessageJobSettings> = {}): void {
  const s = { ...DEFAULT_PAID_MESSAGE_JOB, ...settings };
  jobs.define<JobPayload>(
    PAID_MESSAGE_JOB,
    async (payload) => {
      const orderId = typeof payload.orderId === 'string' ? payload.orderId : '';
      return { outcome: await messages.sendPaidMessage(orderId) };
    },
    { attempts: s.attempts, backoff: s.backoff, concurrency: s.concurrency },
  );
}

/**
 * Called right after the single winning PAID update of an unflagged payment. Never throws: the
 * payment is recorded whatever happens here, and a message lost to a Redis outage is only a message.
 */
export async function enqueuePaidMessage(jobs: Pick<Jobs, 'enqueue' | 'log'>, config: Pick<PaidMessageConfig, 'templateId'>, order: Pick<OrderDoc, '_id'>): Promise<void> {
  if (!config.templateId) return;
  const orderId = order._id.toString();
  try {
    await jobs.enqueue(PAID_MESSAGE_JOB, { orderId }, { jobId: paidMessageJobId(orderId) });
  } catch (err) {
    jobs.log.warn({ job: PAID_MESSAGE_JOB, orderId, err: { message: (err as Error).message } }, 'payment-success message not enqueued');
  }
}
