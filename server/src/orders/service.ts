import { createHash, randomInt } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Order, OrderItemInput, OrderStatus, PayParams } from '../../../shared/api.js';
import { MAX_LINE_QUANTITY, MAX_LINES, MAX_ORDER_AMOUNT, type Catalog } from '../catalog.js';
import type { Config } from '../config.js';
import { Errors } from '../errors.js';
import type { Jobs } from '../jobs/queue.js';
import { withLock } from '../lock.js';
import { fromBeijingTime, toBeijingTime, WxPayError, type OrderQueryResult, type PayClient } from '../wechat/index.js';
import type { ClientSigner } from '../wechat/client-signer.js';
import { PAYABLE, SETTLED_PAID, type OrderChannel, type OrderDoc, type OrderTradeType, type PrepayDoc } from './model.js';
import { enqueueExpiry, enqueueFulfilment, enqueuePaymentCheck, enqueueWechatClose } from './jobs.js';
import type { OrderRepository } from './repository.js';
import { applyTradeState, type SettleDeps, type SettleResult, type TradeReport } from './settle.js';

/** WeChat keeps a prepay_id for 2 hours; we stop reusing one 10 minutes before that. */
const PREPAY_REUSE_MS = (120 - 10) * 60_000;
/**
 * WeChat refuses a JSAPI unifiedorder whose time_expire is less than 5 minutes away ("time_expire时间过短"):
 * a first payment is not started in an order's last 6 minutes (a prepay made earlier stays usable).
 */
const MIN_PAY_WINDOW_MS = 6 * 60_000;
/** lock leases, renewed while held (see lock.ts): a dead holder frees its order within this */
const PAY_LOCK_MS = 5_000;
/** how long a pay request waits for a concurrent one's prepay before answering ORDER_BUSY */
const PAY_WAIT_MS = 5_000;
const QUERY_LOCK_MS = 5_000;

export interface OrderServiceDeps {
  orders: OrderRepository;
  pay: PayClient;
  /** signs the buyer's pay params the way each prepay was made (API v2 key / v3 private key) */
  signer: ClientSigner;
  redis: Redis;
  catalog: Catalog;
  config: Config;
  log: FastifyBaseLogger;
  /** the notify_url sent to WeChat (resolved once the server listens, in sandbox mode) */
  notifyUrl: () => string;
  /**
   * Starts the fulfilment of an order that just became PAID (unflagged). Defaults to enqueueing the
   * orders.fulfil job. Its failure never undoes the payment:
   * the order's PENDING mark stays, and the background scan finishes it.
   */
  fulfil?: (order: OrderDoc) => Promise<void>;
  /** background jobs: a new order's expiry is scheduled on it */
  jobs: Jobs;
}

/**
 * Who an order is for and how it is paid: the buyer that owns it, the app (appid) and channel it is
 * paid through, the payer's openid under that appid (JSAPI needs it), and a Native order's product_id.
 */
export interface Payer {
  /** the owner (buyers/); a Native order from a desktop checkout may have none */
  buyerId?: string;
  appid: string;
  openid?: string;
  channel: OrderChannel;
  /** default from the channel: mp and oa-h5 JSAPI, app APP, native NATIVE */
  tradeType?: OrderTradeType;
  /** NATIVE: the product or till the printed code is for (at most 32 characters) */
  productId?: string;
}

const CHANNEL_TRADE_TYPE: Record<OrderChannel, OrderTradeType> = { mp: 'JSAPI', 'oa-h5': 'JSAPI', app: 'APP', native: 'NATIVE' };

function checkPayer(p: Payer): Required<Pick<Payer, 'tradeType'>> & Payer {
  const tradeType = p.tradeType ?? CHANNEL_TRADE_TYPE[p.channel];
  if (!p.appid) throw new TypeError('orders.create: payer.appid is required');
  if (tradeType === 'JSAPI' && !p.openid) throw new TypeError('orders.create: a JSAPI order needs the payer\'s openid');
  if (tradeType === 'NATIVE' && !(p.productId && /^[\x21-\x7e]{1,32}$/.test(p.productId))) {
    throw new TypeError('orders.create: a NATIVE order needs a product_id of 1 to 32 printable characters');
  }
  return { ...p, tradeType };
}

/** What the mobile app's WeChat SDK (PayReq) takes, keys exactly as WeChat's APP doc names them. */
export interface AppPayParams {
  appid: string;
  partnerid: string;
  prepayid: string;
  package: 'Sign=WXPay';
  noncestr: string;
  timestamp: string;
  sign: string;
}

export interface CreateOptions {
  /** the client's Idempotency-Key: one order per (buyer, key), kept by the database's unique index */
  idempotencyKey?: string;
  /** what the key is bound to (the cart): the same key with another cart is refused */
  body?: unknown;
  /** a Native order without a buyer: the hash of the token that opens its checkout page */
  viewKey?: string;
}

export function toApiOrder(o: OrderDoc): Order {
  return {
    id: o._id.toString(),
    outTradeNo: o.outTradeNo,
    amount: o.amount,
    status: o.status,
    items: o.items.map(({ sku, name, price, quantity }) => ({ sku, name, price, quantity })),
    createdAt: o.createdAt.toISOString(),
    expiresAt: o.expiresAt.toISOString(),
    ...(o.paidAt ? { paidAt: o.paidAt.toISOString() } : {}),
    ...(o.transactionId ? { transactionId: o.transactionId } : {}),
    ...(o.refundedAmount ? { refundedAmount: o.refundedAmount } : {}),
    ...(o.channel ? { channel: o.channel } : {}),
  };
}

/** 32 chars at most, unique per merchant: Beijing time to the second plus 12 random digits. */
export function newOutTradeNo(now = new Date()): string {
  let digits = '';
  for (let i = 0; i < 12; i++) digits += randomInt(10).toString();
  return `${toBeijingTime(now)}${digits}`;
}

/** orderquery's answer as a trade report; a malformed answer is refused, never guessed at. */
export function reportFromQuery(q: OrderQueryResult): TradeReport {
  switch (q.trade_state) {
    case 'SUCCESS':
    // REFUND: paid, then (partly) refunded; the payment happened all the same.
    case 'REFUND': {
      if (!q.transaction_id || q.total_fee === undefined || !q.time_end) {
        throw new WxPayError('BAD_RESPONSE', 'orderquery: a paid trade without transaction_id, total_fee or time_end', { api: 'orderquery' });
      }
      let paidAt: Date;
      try {
        paidAt = fromBeijingTime(q.time_end);
      } catch {
        throw new WxPayError('BAD_RESPONSE', 'orderquery: time_end is not yyyyMMddHHmmss', { api: 'orderquery' });
      }
      return {
        state: 'SUCCESS',
        transactionId: q.transaction_id,
        totalFee: q.total_fee,
        paidAt,
        ...(q.openid ? { openid: q.openid } : {}),
        ...(q.trade_type ? { tradeType: q.trade_type } : {}),
        ...(q.raw.fee_type ? { feeType: q.raw.fee_type } : {}),
      };
    }
    case 'CLOSED':
    case 'REVOKED':
      return { state: 'CLOSED' };
    case 'PAYERROR':
      return { state: 'PAYERROR', reason: q.trade_state_desc };
    default:
      return { state: 'NOTPAY' };
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export type OrderService = ReturnType<typeof createOrderService>;

/** What the stale-payment sweeper found for one order (service.checkPayment). */
export type PaymentCheck =
  | { outcome: 'settled'; status: OrderStatus }
  | { outcome: 'pending'; prepayAt: Date }
  | { outcome: 'expired' | 'gone' | 'busy' };

export type ExpireResult =
  | { outcome: 'closed' | 'settled'; status: OrderStatus }
  | { outcome: 'gone' | 'busy' }
  | { outcome: 'not_due'; dueAt: Date };

export function createOrderService(deps: OrderServiceDeps) {
  const { orders, pay, signer, redis, catalog, config, log } = deps;
  // The PAID write is the only database write of a payment's hot path: the fulfilment event is
  // written by the orders.fulfil job, from the facts in its payload.
  const fulfil = deps.fulfil ?? ((order: OrderDoc) => enqueueFulfilment(deps.jobs, order));
  const settleDeps: SettleDeps = {
    orders,
    log,
    async onPaid(order) {
      try {
        await fulfil(order);
      } catch (err) {
        // The PENDING mark stays on the order; the background scan emits it later.
        log.error({ err, outTradeNo: order.outTradeNo }, 'fulfilment not started yet; the background scan will retry');
      }
    },
  };

  function priceItems(items: OrderItemInput[]) {
    if (items.length === 0) throw new Errors.EmptyCart();
    if (items.length > MAX_LINES) throw new Errors.OrderTooLarge(`${MAX_LINES} lines`);
    const seen = new Set<string>();
    const lines = items.map(({ sku, quantity }) => {
      const product = catalog.get(sku);
      if (!product) throw new Errors.UnknownSku(sku);
      if (seen.has(sku)) throw new Errors.DuplicateSku(sku);
      seen.add(sku);
      if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_LINE_QUANTITY) {
        throw new Errors.BadQuantity(sku, String(MAX_LINE_QUANTITY));
      }
      return { sku, name: product.name, price: product.price, quantity };
    });
    const amount = lines.reduce((sum, l) => sum + l.price * l.quantity, 0);
    if (amount > MAX_ORDER_AMOUNT) throw new Errors.OrderTooLarge(String(MAX_ORDER_AMOUNT));
    return { lines, amount };
  }

  // The app an order is paid through; orders from before channels existed are the mini-program's.
  const appidOf = (order: Pick<OrderDoc, 'appid'>) => ({ appid: order.appid ?? config.wechat.appid });

  async function queryAndApply(order: OrderDoc, source: string): Promise<OrderDoc> {
    let result: OrderQueryResult;
    try {
      result = await pay.orderQuery({ out_trade_no: order.outTradeNo }, appidOf(order));
    } catch (err) {
      if (err instanceof WxPayError && err.code === 'ORDERNOTEXIST') return order;
      throw err;
    }
    if (result.out_trade_no !== order.outTradeNo) return order;
    const settled = await applyTradeState(settleDeps, { id: order._id.toString() }, reportFromQuery(result), { source, confirmed: true });
    return settled.order ?? order;
  }

  /**
   * A live prepay for the order: one still within its reuse window, made with the configured sign type
   * (and for NATIVE, carrying its code_url), or a new one from unifiedorder. Only one request per
   * order talks to WeChat at a time, across instances; the others use what it stores.
   */
  // Under API v2 a prepay is reused only with the configured sign type (its notify is signed the same
  // way). Under v3 a live v2 prepay from before the move is still signed with the v2 key while that is
  // configured, so that a buyer mid-payment is not sent a new prepay with another notify_url.
  const reusableSignType = (t: string): boolean =>
    config.pay.apiVersion === 'v3' ? signer.canSign(t) : t === config.pay.signType || (t === 'RSA' && signer.canSign(t));

  async function livePrepay(order: OrderDoc, now: Date): Promise<PrepayDoc> {
    if (order.status === 'PAID') throw new Errors.OrderAlreadyPaid();
    if (!PAYABLE.includes(order.status)) throw new Errors.OrderNotPayable(order.status);
    const id = order._id.toString();
    const tradeType = (order.tradeType ?? 'JSAPI') as OrderTradeType;
    const reusable = (o: OrderDoc): PrepayDoc | undefined =>
      o.prepay && o.prepay.reuseUntil.getTime() > now.getTime() && reusableSignType(o.prepay.signType) && (tradeType !== 'NATIVE' || o.prepay.codeUrl)
        ? o.prepay
        : undefined;
    const live = reusable(order);
    if (live) return live;
    if (order.expiresAt.getTime() - now.getTime() < MIN_PAY_WINDOW_MS) {
      const closed = await close(order, 'expiry');
      if (closed.status === 'PAID') throw new Errors.OrderAlreadyPaid();
      throw new Errors.OrderExpired();
    }

    const locked = await withLock(redis, `lock:pay:${id}`, PAY_LOCK_MS, async (): Promise<{ prepay?: PrepayDoc; order?: OrderDoc | null }> => {
      const fresh = await orders.find({ id });
      if (!fresh || !PAYABLE.includes(fresh.status)) return { order: fresh };
      const reused = reusable(fresh);
      if (reused) return { prepay: reused };
      try {
        const result = await pay.unifiedOrder(
          {
            body: bodyFor(fresh),
            out_trade_no: fresh.outTradeNo,
            total_fee: fresh.amount,
            spbill_create_ip: fresh.clientIp,
            notify_url: deps.notifyUrl(),
            trade_type: tradeType,
            // JSAPI names its payer; APP's payer is whoever the app's WeChat is; NATIVE's whoever scans
            ...(tradeType === 'JSAPI' ? { openid: fresh.openid } : {}),
            ...(tradeType === 'NATIVE' && fresh.productId ? { product_id: fresh.productId } : {}),
            time_start: toBeijingTime(fresh.createdAt),
            time_expire: toBeijingTime(fresh.expiresAt),
          },
          appidOf(fresh),
        );
        if (tradeType === 'NATIVE' && !result.code_url) {
          throw new WxPayError('BAD_RESPONSE', 'unifiedorder: NATIVE answer without code_url', { api: 'unifiedorder', retriable: false });
        }
        const reuseUntil = new Date(Math.min(now.getTime() + PREPAY_REUSE_MS, fresh.expiresAt.getTime()));
        const prepay: PrepayDoc = {
          prepayId: result.prepay_id,
          ...(result.code_url ? { codeUrl: result.code_url } : {}),
          signType: signer.signType,
          createdAt: now,
          reuseUntil,
        };
        const stored = await orders.attachPrepay(fresh, prepay);
        if (!stored) return { order: await orders.find({ id }) };
        // From now on WeChat may take the money: the sweeper asks it, whether or not a client polls.
        await enqueuePaymentCheck(deps.jobs, fresh, now);
        return { prepay };
      } catch (err) {
        if (!(err instanceof WxPayError)) throw err;
        if (err.code === 'ORDERPAID') return { order: await queryAndApply(fresh, 'unifiedorder') };
        if (err.code === 'ORDERCLOSED') {
          return { order: (await applyTradeState(settleDeps, { id }, { state: 'CLOSED' }, { source: 'unifiedorder', confirmed: true })).order };
        }
        log.warn({ code: err.code, outTradeNo: fresh.outTradeNo, tradeType }, 'unifiedorder failed');
        if (err.retriable) throw new Errors.WechatUnavailable();
        throw new Errors.PayFailed(err.code);
      }
    });
    if (!locked.acquired) {
      // Another request (another device, another instance) is asking WeChat right now: its
      // prepay serves this request too, once stored.
      const waitUntil = Date.now() + PAY_WAIT_MS;
      while (Date.now() < waitUntil) {
        await new Promise((r) => setTimeout(r, 100));
        const fresh = await orders.find({ id });
        if (!fresh) break;
        const reused = reusable(fresh);
        if (reused) return reused;
        if (fresh.status === 'PAID') throw new Errors.OrderAlreadyPaid();
        if (!PAYABLE.includes(fresh.status)) throw new Errors.OrderNotPayable(fresh.status);
      }
      throw new Errors.Busy();
    }
    const value = locked.value;
    if (value.prepay) return value.prepay;
    const status = value.order ? value.order.status : 'gone';
    if (status === 'PAID') throw new Errors.OrderAlreadyPaid();
    throw new Errors.OrderNotPayable(status);
  }

  /** Closes at WeChat (when a prepay exists) and locally; a payment WeChat already took wins. */
  async function close(order: OrderDoc, source: string): Promise<OrderDoc> {
    const key = { id: order._id.toString() };
    if (order.prepay) {
      try {
        await pay.closeOrder({ out_trade_no: order.outTradeNo }, appidOf(order));
      } catch (err) {
        if (!(err instanceof WxPayError)) throw err;
        if (err.code === 'ORDERPAID') return queryAndApply(order, source);
        if (err.code !== 'ORDERCLOSED' && err.code !== 'ORDERNOTEXIST') {
          throw err.retriable ? new Errors.WechatUnavailable() : new Errors.PayFailed(err.code);
        }
      }
    }
    const settled = await applyTradeState(settleDeps, key, { state: 'CLOSED' }, { source, confirmed: true });
    return settled.order ?? order;
  }

  return {
    /**
     * A new order priced from the catalog. With an Idempotency-Key, a retry (after a lost answer, a
     * crash, a Redis restart: whatever happened) gets the order the first request made.
     */
    async create(
      payer: Payer,
      items: OrderItemInput[],
      clientIp: string,
      opts: CreateOptions = {},
      now = new Date(),
    ): Promise<{ order: OrderDoc; replayed: boolean }> {
      const p = checkPayer(payer);
      const { lines, amount } = priceItems(items);
      const expiresAt = new Date(now.getTime() + config.orders.payWindowMinutes * 60_000);
      // one order per (owner, key): the buyer, or the payer in its app when there is no buyer
      const owner = p.buyerId ?? `${p.appid}:${p.openid ?? ''}`;
      const keyed = opts.idempotencyKey !== undefined ? `key:${sha256(`${owner}\n${opts.idempotencyKey}`)}` : undefined;
      const bodyHash = keyed ? sha256(JSON.stringify(opts.body ?? items)) : undefined;
      for (let attempt = 0; ; attempt++) {
        const outTradeNo = newOutTradeNo(now);
        try {
          const order = await orders.create({
            ...(p.buyerId ? { buyerId: p.buyerId } : {}),
            openid: p.openid ?? '',
            channel: p.channel,
            appid: p.appid,
            ...(p.productId ? { productId: p.productId } : {}),
            ...(opts.viewKey ? { viewKey: opts.viewKey } : {}),
            outTradeNo,
            amount,
            items: lines,
            clientIp,
            createdAt: now,
            expiresAt,
            tradeType: p.tradeType,
            idemKey: keyed ?? `order:${outTradeNo}`,
            ...(bodyHash ? { idemBodyHash: bodyHash } : {}),
          });
          await enqueueExpiry(deps.jobs, order);
          return { order, replayed: false };
        } catch (err) {
          if ((err as { code?: number }).code !== 11000) throw err;
          if (keyed) {
            const first = await orders.findByIdemKey(keyed);
            if (first) {
              if (first.idemBodyHash !== bodyHash) throw new Errors.IdempotencyKeyReused();
              return { order: first, replayed: true };
            }
          }
          // An out_trade_no clash: 10^12 numbers a second make it all but impossible; a retry settles it.
          if (attempt >= 3) throw err;
        }
      }
    },

    /**
     * The five wx.requestPayment / getBrandWCPayRequest params of a JSAPI order (mini-program or
     * 公众号 H5), signed for the order's appid, reusing a live prepay_id or asking WeChat for one.
     */
    async pay(order: OrderDoc, now = new Date()): Promise<PayParams & { appId: string }> {
      requireTradeType(order, 'JSAPI');
      const prepay = await livePrepay(order, now);
      return {
        ...(signer.jsapi({ appid: appidOf(order).appid, prepayId: prepay.prepayId, signType: prepay.signType, now }) as PayParams & { appId: string }),
        ...(config.sandbox.enabled ? { sandbox: true, sandboxBase: config.pay.apiBase } : {}),
      };
    },

    /**
     * What the mobile app's WeChat SDK takes for an APP order (WeChat's APP pay doc: lower-case keys,
     * package Sign=WXPay, signed with the unifiedorder's sign type and the API key).
     */
    async payApp(order: OrderDoc, now = new Date()): Promise<AppPayParams> {
      requireTradeType(order, 'APP');
      const prepay = await livePrepay(order, now);
      return signer.app({ appid: appidOf(order).appid, prepayId: prepay.prepayId, signType: prepay.signType, now });
    },

    /** A NATIVE order's code_url (what its QR code carries) and until when it may be shown. */
    async payNative(order: OrderDoc, now = new Date()): Promise<{ codeUrl: string; validUntil: Date }> {
      requireTradeType(order, 'NATIVE');
      const prepay = await livePrepay(order, now);
      if (!prepay.codeUrl) throw new Errors.PayFailed('no code_url');
      return { codeUrl: prepay.codeUrl, validUntil: prepay.reuseUntil };
    },

    /**
     * The order as it truly stands: when a payment may be pending and our view is older than the
     * query interval, ask WeChat (orderquery), one query per order at a time across instances.
     */
    async refresh(order: OrderDoc, now = new Date()): Promise<OrderDoc> {
      const pending = order.status === 'PAYING' || (order.status === 'FAILED' && order.prepay);
      const expired = order.expiresAt.getTime() <= now.getTime();
      if (expired && (order.status === 'CREATED' || (order.status === 'FAILED' && !order.prepay))) {
        return close(order, 'expiry');
      }
      if (!pending) return order;
      const last = order.lastQueryAt?.getTime() ?? 0;
      if (now.getTime() - last < config.orders.queryIntervalSeconds * 1000) return order;
      const id = order._id.toString();
      const locked = await withLock(redis, `lock:query:${id}`, QUERY_LOCK_MS, async () => {
        await orders.markQueried(id, now);
        try {
          const updated = await queryAndApply(order, 'orderquery');
          if (expired && PAYABLE.includes(updated.status)) return close(updated, 'expiry');
          return updated;
        } catch (err) {
          log.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code }, outTradeNo: order.outTradeNo }, 'orderquery failed; answering with the stored state');
          return order;
        }
      });
      return locked.acquired ? locked.value : order;
    },

    /** Cancels an unpaid order; an order WeChat already took money for becomes PAID instead. */
    async cancel(order: OrderDoc, now = new Date()): Promise<OrderDoc> {
      if (order.status === 'CLOSED' || SETTLED_PAID.includes(order.status)) return order;
      const id = order._id.toString();
      const locked = await withLock(redis, `lock:pay:${id}`, PAY_LOCK_MS, async () => {
        const fresh = (await orders.find({ id })) ?? order;
        if (fresh.status === 'CLOSED' || SETTLED_PAID.includes(fresh.status)) return fresh;
        // No prepay was ever made: WeChat has no trade to close.
        if (!fresh.prepay) return close(fresh, 'cancel');
        // WeChat documents closeorder as refused within 5 minutes of the first prepay (it does not
        // always enforce it): try at once, and if WeChat will not close it now, close here and there later.
        try {
          return await close(fresh, 'cancel');
        } catch (err) {
          log.warn({ err: { message: (err as Error).message }, outTradeNo: fresh.outTradeNo }, 'closeorder refused for now; closing locally, at WeChat later');
        }
        const due = new Date(Math.max(wechatCloseDue(fresh).getTime(), now.getTime() + 30_000));
        const settled = await applyTradeState(settleDeps, { id }, { state: 'CLOSED' }, { source: 'cancel', confirmed: true, closeSet: { wechatClose: 'PENDING' } });
        if (settled.order?.status === 'CLOSED' && settled.order.wechatClose === 'PENDING') {
          await enqueueWechatClose(deps.jobs, settled.order, due);
        }
        return settled.order ?? fresh;
      });
      if (!locked.acquired) throw new Errors.Busy();
      return locked.value;
    },

    /**
     * The orders.wechat-close job: closeorder for an order cancelled here. A payment WeChat took
     * meanwhile is recorded (PAID_AFTER_CLOSE, held for an operator); a refusal is retried.
     */
    async closeAtWechat(orderId: string): Promise<'done' | 'paid' | 'gone'> {
      const order = await orders.find({ id: orderId });
      if (!order || order.wechatClose !== 'PENDING') return 'gone';
      try {
        await pay.closeOrder({ out_trade_no: order.outTradeNo }, appidOf(order));
      } catch (err) {
        if (!(err instanceof WxPayError)) throw err;
        if (err.code === 'ORDERPAID') {
          const after = await queryAndApply(order, 'closeorder');
          await orders.markWechatClosed(order._id);
          return SETTLED_PAID.includes(after.status) ? 'paid' : 'done';
        }
        if (err.code !== 'ORDERCLOSED' && err.code !== 'ORDERNOTEXIST') throw err;
      }
      await orders.markWechatClosed(order._id);
      return 'done';
    },

    /**
     * Applies a verified payment notify. A notify that disagrees with its order (amount, buyer, trade
     * type, currency) is confirmed with orderquery before anything is recorded: what WeChat then says
     * is recorded, flagged and held for an operator when it still disagrees.
     */
    async applyNotify(outTradeNo: string, report: TradeReport): Promise<SettleResult> {
      const first = await applyTradeState(settleDeps, { outTradeNo }, report, { source: 'notify', confirmed: false });
      if (first.outcome !== 'unconfirmed' || !first.order) return first;
      let answer: OrderQueryResult;
      try {
        answer = await pay.orderQuery({ out_trade_no: outTradeNo }, appidOf(first.order));
      } catch (err) {
        log.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code }, outTradeNo }, 'orderquery to confirm a notify failed; WeChat will retry the notify');
        return first;
      }
      const confirmed = await applyTradeState(settleDeps, { id: first.order._id.toString() }, reportFromQuery(answer), {
        source: 'notify+orderquery',
        confirmed: true,
      });
      const settled = confirmed.order && (SETTLED_PAID as readonly string[]).includes(confirmed.order.status);
      if (!settled) {
        log.warn(
          { security: true, event: 'notify_not_confirmed', outTradeNo, tradeState: answer.trade_state },
          'a signed payment notify that orderquery does not confirm: nothing recorded, WeChat will retry',
        );
        return { outcome: 'unconfirmed', order: confirmed.order };
      }
      return confirmed;
    },

    /**
     * Asks WeChat (orderquery) how one order's trade stands and applies it through the one settle path:
     * reconciliation heals a payment the bill shows and we missed with it (a closed order becomes
     * PAID_AFTER_CLOSE, held). Throws what orderquery throws; ORDERNOTEXIST leaves the order as it is.
     */
    confirmWithWechat(order: OrderDoc, source: string): Promise<OrderDoc> {
      return queryAndApply(order, source);
    },

    /** The follow-up queue: paid orders an operator must look at (flags raised, fulfilment held). */
    followUps(limit?: number) {
      return orders.openFollowUps(limit);
    },

    /** The buyer's own order, or 404 NOT_FOUND: someone else's order is one that does not exist. */
    async ownOrder(id: string, buyerId: string): Promise<OrderDoc> {
      const order = await orders.findForOwner(id, buyerId);
      if (!order) throw new Errors.NotFound('Order');
      return order;
    },

    /**
     * The stale-payment sweeper's step for one order (the orders.payment-check job): an order with a
     * prepay and no settled state is asked about at WeChat (orderquery, one query per order at a time
     * across instances), and whatever WeChat says is applied through the single settle path. Throws
     * when WeChat cannot answer, so the job backs off and retries. Past its expiry the order is the
     * expire job's (which queries before it closes).
     */
    async checkPayment(orderId: string, now = new Date()): Promise<PaymentCheck> {
      const order = await orders.find({ id: orderId });
      if (!order) return { outcome: 'gone' };
      const pending = order.prepay && (order.status === 'PAYING' || order.status === 'FAILED');
      if (!pending || !order.prepay) return { outcome: 'settled', status: order.status };
      if (order.expiresAt.getTime() <= now.getTime()) return { outcome: 'expired' };
      const locked = await withLock(redis, `lock:query:${orderId}`, QUERY_LOCK_MS, async () => {
        await orders.markQueried(orderId, now);
        return queryAndApply(order, 'sweeper');
      });
      if (!locked.acquired) return { outcome: 'busy' };
      const after = locked.value;
      if (after.status === 'PAYING' || after.status === 'FAILED') return { outcome: 'pending', prepayAt: order.prepay.createdAt };
      return { outcome: 'settled', status: after.status };
    },

    /**
     * Closes one order past its expiry (the orders.expire job), under the order's pay lock. Throws
     * when the close fails (WeChat unavailable...), so the job is retried; `busy` when a pay holds
     * the lock and `not_due` before expiresAt are answers, not failures.
     */
    async expire(orderId: string, now = new Date()): Promise<ExpireResult> {
      const order = await orders.find({ id: orderId });
      if (!order) return { outcome: 'gone' };
      if (!PAYABLE.includes(order.status)) return { outcome: 'settled', status: order.status };
      if (order.expiresAt.getTime() > now.getTime()) return { outcome: 'not_due', dueAt: order.expiresAt };
      const locked = await withLock(redis, `lock:pay:${orderId}`, PAY_LOCK_MS, async () => {
        const fresh = await orders.find({ id: orderId });
        if (!fresh || !PAYABLE.includes(fresh.status)) return fresh;
        return close(fresh, 'expiry');
      });
      if (!locked.acquired) return { outcome: 'busy' };
      const after = locked.value;
      if (!after) return { outcome: 'gone' };
      if (PAYABLE.includes(after.status)) throw new Error(`order ${orderId} is still ${after.status} after closing (contended); will retry`);
      return { outcome: after.status === 'CLOSED' ? 'closed' : 'settled', status: after.status };
    },
  };
}

/** WeChat allows closeorder 5 minutes after the trade's first unifiedorder (plus a margin). */
/** A channel's pay route takes only its own trade type: an APP order has no mini-program params. */
function requireTradeType(order: OrderDoc, tradeType: OrderTradeType): void {
  const actual = order.tradeType ?? 'JSAPI';
  if (actual !== tradeType) throw new Errors.WrongChannel(order.channel ?? actual);
}

export function wechatCloseDue(order: OrderDoc): Date {
  const firstPay = order.history.find((h) => h.to === 'PAYING')?.at ?? order.prepay?.createdAt ?? order.createdAt;
  return new Date(firstPay.getTime() + 5 * 60_000 + 5_000);
}

function bodyFor(order: OrderDoc): string {
  const first = order.items[0]?.name ?? 'Order';
  const text = order.items.length > 1 ? `${first} 等${order.items.length}件` : first;
  // body is at most 128 UTF-8 bytes at WeChat
  let out = text;
  while (Buffer.byteLength(out, 'utf8') > 128) out = out.slice(0, -1);
  return out;
}
