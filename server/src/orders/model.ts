import { Schema, type Connection, type Model, type Types } from 'mongoose';
import type { OrderStatus } from '../../../shared/api.js';

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

export interface PrepayDoc {
  prepayId: string;
  signType: 'MD5' | 'HMAC-SHA256';
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

export interface FulfilmentDoc {
  state: 'PENDING' | 'EMITTED';
  createdAt: Date;
  emittedAt?: Date;
}

export interface OrderDoc {
  _id: Types.ObjectId;
  openid: string;
  outTradeNo: string;
  status: OrderStatus;
  amount: number;
  items: OrderItemDoc[];
  /** the buyer's IP at ordering: every unifiedorder of this out_trade_no sends the same one */
  clientIp: string;
  createdAt: Date;
  expiresAt: Date;
  prepay?: PrepayDoc | null;
  paidAt?: Date;
  transactionId?: string;
  /** total_fee WeChat reported for the payment */
  paidAmount?: number;
  /** for operators: PAID_AFTER_CLOSE, SECOND_TRANSACTION, ... */
  flags: string[];
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
    openid: { type: String, required: true },
    outTradeNo: { type: String, required: true },
    status: { type: String, required: true, enum: ORDER_STATUSES },
    amount: { type: Number, required: true },
    items: { type: [ItemSchema], required: true },
    clientIp: { type: String, required: true },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    prepay: {
      type: new Schema<PrepayDoc>(
        { prepayId: String, signType: String, createdAt: Date, reuseUntil: Date },
        { _id: false },
      ),
      default: null,
    },
    paidAt: Date,
    transactionId: String,
    paidAmount: Number,
    flags: { type: [String], default: [] },
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
OrderSchema.index({ 'fulfilment.state': 1 });
OrderSchema.index({ status: 1, expiresAt: 1 });

const FulfilmentEventSchema = new Schema<FulfilmentEventDoc>(
  {
    orderId: { type: Schema.Types.ObjectId, required: true },
    outTradeNo: { type: String, required: true },
    openid: { type: String, required: true },
    amount: { type: Number, required: true },
    transactionId: { type: String, required: true },
    paidAt: { type: Date, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'fulfilment_events', versionKey: false },
);
FulfilmentEventSchema.index({ orderId: 1 }, { unique: true });

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
  await Order.createIndexes();
  await FulfilmentEvent.createIndexes();
  return { Order, FulfilmentEvent };
}
