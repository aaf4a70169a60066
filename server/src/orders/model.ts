import { Schema, type Connection, type Model, type Types } from 'mongoose';
import type { OrderStatus } from '../../../shared/api.js';
import { beijingDay } from '../wechat/beijing-datetime.js';

export const ORDER_STATUSES: readonly OrderStatus[] = [
  'CREATED',
  'PAYING',
  'PAID',
  'CLOSED',
  'FAILED',
  'REFUNDING',
  'REFUNDED',
  'PARTIALLY_REFUNDED',
];

/** States from which an order may still be paid (FAILED: WeChat reported a failed attempt, the user may try again). */
export const PAYABLE: readonly OrderStatus[] = ['CREATED', 'PAYING', 'FAILED'];
/** States that mean money was received. */
export const SETTLED_PAID: readonly OrderStatus[] = ['PAID', 'REFUNDING', 'REFUNDED', 'PARTIALLY_REFUNDED'];

export interface OrderItemDoc {
  sku: string;
  name: string;
  price: number;
  quantity: number;
}

/** Where a buyer paid from: the mini-program, a 公众号 H5 page, the mobile app, or a Native QR code. */
export type OrderChannel = 'mp' | 'oa-h5' | 'app' | 'native';
export const ORDER_CHANNELS: readonly OrderChannel[] = ['mp', 'oa-h5', 'app', 'native'];
/** The WeChat Pay trade types our channels use (JSAPI: mini-program and 公众号 alike). */
export type OrderTradeType = 'JSAPI' | 'APP' | 'NATIVE';

export interface PrepayDoc {
  prepayId: string;
  /** NATIVE: the weixin://wxpay/bizpayurl?pr=… the QR code carries, valid as long as the prepay */
  codeUrl?: string;
  /**
   * the sign type of the unifiedorder that made it: its notify is signed the same way; RSA: made by
   * API v3 (its client params are RSA-signed with the merchant key, its notify is v3's)
   */
  signType: 'MD5' | 'HMAC-SHA256' | 'RSA';
  createdAt: Date;
  /** when we stop reusing it (WeChat's 2 hours, less a margin, capped by the order's expiry) */
  reuseUntil: Date;
}

export interface TransitionDoc {
  from: OrderStatus;
  to: OrderStatus;
  at: Date;
  /** what caused it: notify, orderquery, closeorder, pay, cancel, expiry */
  source: string;
}

/**
 * PENDING: paid, the fulfilment event is on its way; EMITTED: recorded in fulfilment_events;
 * HELD: paid, but something about the payment needs an operator first (see `flags`): never emitted automatically.
 */
export interface FulfilmentDoc {
  state: 'PENDING' | 'EMITTED' | 'HELD';
  createdAt: Date;
  emittedAt?: Date;
}

/** A payment WeChat reported beyond the one that settled the order: money an operator must return. */
export interface ExtraPaymentDoc {
  transactionId: string;
  totalFee: number;
  paidAt: Date;
  reportedAt: Date;
  source: string;
}

/** Why an order waits for an operator (the follow-up queue). */
export const FOLLOW_UP_FLAGS = [
  'PAID_AFTER_CLOSE',
  'AMOUNT_MISMATCH',
  'OPENID_MISMATCH',
  'TRADE_TYPE_MISMATCH',
  'FEE_TYPE_MISMATCH',
  'SECOND_TRANSACTION',
  'TRANSACTION_REUSED',
  'APPID_MISMATCH',
] as const;
export type FollowUpFlag = (typeof FOLLOW_UP_FLAGS)[number];

export interface OrderDoc {
  _id: Types.ObjectId;
  /** the buyer that owns it (buyers/); every buyer-facing query is scoped to it */
  buyerId?: string;
  /**
   * the payer's openid under the order's appid (JSAPI needs it; APP knows it from the app login);
   * empty for a Native order, whose payer is whoever scans it (recorded in payerOpenid)
   */
  openid: string;
  channel?: OrderChannel;
  /** the app the order is paid through: every unifiedorder / orderquery / closeorder / refund uses it */
  appid?: string;
  /** NATIVE: the product_id of the unifiedorder (the printed code's product or till) */
  productId?: string;
  /** who paid, as WeChat reported it (Native orders learn their payer only then) */
  payerOpenid?: string;
  /** a Native order without a buyer: sha256 (hex) of the token its checkout page is opened with */
  viewKey?: string;
  outTradeNo: string;
  status: OrderStatus;
  amount: number;
  items: OrderItemDoc[];
  /** the trade type its prepays are made with (JSAPI for the mini-program and 公众号, APP, NATIVE) */
  tradeType?: string;
  /**
   * One order per (buyer, Idempotency-Key): a hash of both, unique. Orders made without a key get a
   * value of their own (`order:<outTradeNo>`), so that the unique index never sees a missing value.
   */
  idemKey?: string;
  /** the hash of the request body that made it, to refuse the same key for another cart */
  idemBodyHash?: string;
  /** every sign type this order's prepays were made with (its notifies are signed with one of them) */
  signTypes?: string[];
  /** the buyer's IP at ordering: every unifiedorder of this out_trade_no sends the same one */
  clientIp: string;
  createdAt: Date;
  expiresAt: Date;
  prepay?: PrepayDoc | null;
  paidAt?: Date;
  /**
   * The Beijing day (yyyyMMdd) of paidAt, WeChat's time_end: the day's bill lists the payment. Indexed
   * (a string equality), so that reconciliation finds a day's payments without scanning every order.
   */
  paidDay?: string;
  transactionId?: string;
  /** total_fee WeChat reported for the payment */
  paidAmount?: number;
  /** for operators: PAID_AFTER_CLOSE, AMOUNT_MISMATCH, SECOND_TRANSACTION, ... (see FOLLOW_UP_FLAGS) */
  flags: string[];
  /**
   * PENDING: closed here (a cancel) while WeChat does not yet allow closeorder (5 minutes after the
   * first prepay): the orders.wechat-close job closes it there; DONE once it has.
   */
  wechatClose?: 'PENDING' | 'DONE' | null;
  /** OPEN while an operator must look at it (a flag was raised); RESOLVED once one has */
  followUp?: 'OPEN' | 'RESOLVED' | null;
  /** payments reported beyond the one recorded in transactionId */
  extraPayments?: ExtraPaymentDoc[];
  /** fen of refunds that still count against the payment (pending, processing, succeeded, CHANGE) */
  refundReserved?: number;
  /** the refunds counted in refundReserved */
  reservedRefunds?: Types.ObjectId[];
  /** fen refunded for good (SUCCESS); the order is PARTIALLY_REFUNDED or REFUNDED from it */
  refundedAmount?: number;
  /** the refunds counted in refundedAmount */
  succeededRefunds?: Types.ObjectId[];
  lastQueryAt?: Date;
  fulfilment?: FulfilmentDoc | null;
  history: TransitionDoc[];
  version: number;
}

/** The outbox record of "this order was paid": one per order, whatever crashes or retries happen. */
export interface FulfilmentEventDoc {
  _id: Types.ObjectId;
  orderId: Types.ObjectId;
  outTradeNo: string;
  openid: string;
  amount: number;
  transactionId: string;
  paidAt: Date;
  createdAt: Date;
}

const ItemSchema = new Schema<OrderItemDoc>(
  { sku: String, name: String, price: Number, quantity: Number },
  { _id: false },
);

const OrderSchema = new Schema<OrderDoc>(
  {
    buyerId: String,
    // '' for a Native order (no payer known until it is paid)
    openid: { type: String, default: '' },
    channel: String,
    appid: String,
    productId: String,
    payerOpenid: String,
    viewKey: String,
    outTradeNo: { type: String, required: true },
    status: { type: String, required: true, enum: ORDER_STATUSES },
    amount: { type: Number, required: true },
    items: { type: [ItemSchema], required: true },
    tradeType: String,
    idemKey: { type: String, required: true },
    idemBodyHash: String,
    signTypes: { type: [String], default: undefined },
    clientIp: { type: String, required: true },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    prepay: {
      type: new Schema<PrepayDoc>(
        { prepayId: String, codeUrl: String, signType: String, createdAt: Date, reuseUntil: Date },
        { _id: false },
      ),
      default: null,
    },
    paidAt: Date,
    paidDay: String,
    transactionId: String,
    paidAmount: Number,
    flags: { type: [String], default: [] },
    followUp: { type: String, default: null },
    refundReserved: Number,
    reservedRefunds: { type: [Schema.Types.ObjectId], default: undefined },
    refundedAmount: Number,
    succeededRefunds: { type: [Schema.Types.ObjectId], default: undefined },
    wechatClose: { type: String, default: null },
    extraPayments: {
      type: [
        new Schema<ExtraPaymentDoc>(
          { transactionId: String, totalFee: Number, paidAt: Date, reportedAt: Date, source: String },
          { _id: false },
        ),
      ],
      default: undefined,
    },
    lastQueryAt: Date,
    fulfilment: {
      type: new Schema<FulfilmentDoc>({ state: String, createdAt: Date, emittedAt: Date }, { _id: false }),
      default: null,
    },
    history: {
      type: [new Schema<TransitionDoc>({ from: String, to: String, at: Date, source: String }, { _id: false })],
      default: [],
    },
    version: { type: Number, default: 0 },
  },
  { collection: 'orders', versionKey: false },
);
OrderSchema.index({ outTradeNo: 1 }, { unique: true });
OrderSchema.index({ openid: 1, createdAt: -1 });
// the buyer's order list, whatever the channel: first-key equality, so the embedded database answers it from the index
OrderSchema.index({ buyerId: 1, createdAt: -1 });
OrderSchema.index({ 'fulfilment.state': 1 });
OrderSchema.index({ status: 1, expiresAt: 1 });
OrderSchema.index({ idemKey: 1 }, { unique: true });
OrderSchema.index({ followUp: 1 });
OrderSchema.index({ wechatClose: 1 });
// The console finds an order by WeChat's transaction_id: an indexed lookup, not a scan.
OrderSchema.index({ transactionId: 1 });
OrderSchema.index({ paidDay: 1 });

const FulfilmentEventSchema = new Schema<FulfilmentEventDoc>(
  {
    orderId: { type: Schema.Types.ObjectId, required: true },
    outTradeNo: { type: String, required: true },
    // the payer; '' only for a Native order paid without WeChat naming its payer (an orderquery without openid)
    openid: { type: String, default: '' },
    amount: { type: Number, required: true },
    transactionId: { type: String, required: true },
    paidAt: { type: Date, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'fulfilment_events', versionKey: false },
);
FulfilmentEventSchema.index({ orderId: 1 }, { unique: true });
// A WeChat transaction pays one order: a second order claiming it is held for an operator.
FulfilmentEventSchema.index({ transactionId: 1 }, { unique: true });

export interface OrderModels {
  Order: Model<OrderDoc>;
  FulfilmentEvent: Model<FulfilmentEventDoc>;
}

/** Registers the models on this app's connection and makes sure their indexes exist. */
export async function orderModels(conn: Connection): Promise<OrderModels> {
  const Order = (conn.models.Order as Model<OrderDoc> | undefined) ?? conn.model<OrderDoc>('Order', OrderSchema);
  const FulfilmentEvent =
    (conn.models.FulfilmentEvent as Model<FulfilmentEventDoc> | undefined) ??
    conn.model<FulfilmentEventDoc>('FulfilmentEvent', FulfilmentEventSchema);
  await migrateIdemKeys(Order);
  await migratePaidDays(Order);
  await Order.createIndexes();
  await FulfilmentEvent.createIndexes();
  return { Order, FulfilmentEvent };
}

/**
 * Orders stored before buyers and channels existed were all the mini-program's: each gets the buyer
 * linked to (mini-program appid, openid), channel mp and that appid. Idempotent: only orders without
 * a buyerId are touched, and linking the same (appid, openid) twice gives the same buyer.
 */
export async function migrateOrderBuyers(
  Order: Model<OrderDoc>,
  link: (input: { appid: string; openid: string }) => Promise<{ buyerId: string }>,
  mpAppid: string,
): Promise<number> {
  let migrated = 0;
  for (;;) {
    const batch = await Order.find({ buyerId: { $exists: false } }, { _id: 1, openid: 1 }).limit(500).lean<Pick<OrderDoc, '_id' | 'openid'>[]>();
    if (batch.length === 0) return migrated;
    const ops = [];
    for (const o of batch) {
      const { buyerId } = await link({ appid: mpAppid, openid: o.openid });
      ops.push({
        updateOne: {
          filter: { _id: o._id, buyerId: { $exists: false } },
          update: { $set: { buyerId, channel: 'mp', appid: mpAppid, tradeType: 'JSAPI' } },
        },
      });
    }
    await Order.bulkWrite(ops);
    migrated += batch.length;
  }
}

/**
 * Orders stored before idemKey existed get their own value, so that the unique index can be built
 * (a missing value counts as null, and two nulls would clash).
 */
async function migrateIdemKeys(Order: Model<OrderDoc>): Promise<void> {
  for (;;) {
    const batch = await Order.find({ idemKey: { $exists: false } }, { _id: 1, outTradeNo: 1 }).limit(500).lean<Pick<OrderDoc, '_id' | 'outTradeNo'>[]>();
    if (batch.length === 0) return;
    await Order.bulkWrite(
      batch.map((o) => ({
        updateOne: { filter: { _id: o._id, idemKey: { $exists: false } }, update: { $set: { idemKey: `order:${o.outTradeNo}` } } },
      })),
    );
  }
}

/**
 * Orders paid before paidDay existed get it from their paidAt, in one pass over the orders; a marker
 * (looked up by _id) keeps later boots from scanning again. Payments written meanwhile set it themselves.
 */
async function migratePaidDays(Order: Model<OrderDoc>): Promise<void> {
  const marks = Order.db.collection<{ _id: string; at: Date }>('migrations');
  if (await marks.findOne({ _id: 'orders.paidDay' })) return;
  let batch: Array<{ updateOne: { filter: Record<string, unknown>; update: Record<string, unknown> } }> = [];
  const flush = async () => {
    if (batch.length > 0) await Order.bulkWrite(batch);
    batch = [];
  };
  const cursor = Order.find({ paidAt: { $exists: true }, paidDay: { $exists: false } }, { _id: 1, paidAt: 1 }).lean<Pick<OrderDoc, '_id' | 'paidAt'>[]>().cursor();
  for await (const o of cursor) {
    if (!o.paidAt) continue;
    batch.push({ updateOne: { filter: { _id: o._id, paidDay: { $exists: false } }, update: { $set: { paidDay: beijingDay(o.paidAt) } } } });
    if (batch.length >= 500) await flush();
  }
  await flush();
  await marks.updateOne({ _id: 'orders.paidDay' }, { $set: { at: new Date() } }, { upsert: true });
}
