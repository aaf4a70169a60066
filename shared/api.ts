// The HTTP contract between the server and the mini-program (and outside tools).
// Types only: the mini-program may import this file with `import type` alone.

export type OrderStatus =
  | 'CREATED'
  | 'PAYING'
  | 'PAID'
  | 'CLOSED'
  | 'FAILED'
  | 'REFUNDING'
  | 'REFUNDED'
  | 'PARTIALLY_REFUNDED';

/** Every error body the server sends: `code` is stable and machine-readable. */
export interface ApiError {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  requestId?: string;
}

// POST /api/session
export interface SessionRequest {
  code: string;
}
export interface SessionResponse {
  token: string;
  /** seconds */
  expiresIn: number;
}

// GET /api/products
export interface Product {
  sku: string;
  name: string;
  description: string;
  /** fen */
  price: number;
}
export interface ProductList {
  items: Product[];
}

// POST /api/orders
export interface OrderItemInput {
  sku: string;
  quantity: number;
}
export interface CreateOrderRequest {
  items: OrderItemInput[];
}

export interface OrderItem {
  sku: string;
  name: string;
  /** fen, per unit, from the server's catalog */
  price: number;
  quantity: number;
}

export interface Order {
  id: string;
  outTradeNo: string;
  /** fen */
  amount: number;
  status: OrderStatus;
  items: OrderItem[];
  /** ISO 8601 */
  createdAt: string;
  /** ISO 8601: after this the order can no longer be paid */
  expiresAt: string;
  paidAt?: string;
  transactionId?: string;
  /** fen, once a refund succeeded (PARTIALLY_REFUNDED / REFUNDED) */
  refundedAmount?: number;
  /** where it is paid: the mini-program, a 公众号 H5 page, the mobile app, or a Native QR code */
  channel?: 'mp' | 'oa-h5' | 'app' | 'native';
}

// GET /api/orders/:id/refunds (the buyer's own order only; 404 otherwise)
/**
 * PENDING: recorded, not yet accepted by WeChat; PROCESSING: WeChat accepted it; SUCCESS: the money is
 * back with the buyer; CHANGE: WeChat could not return it, an operator acts; REFUNDCLOSE: closed
 * without refunding; FAILED: refused for good.
 */
export type RefundStatus = 'PENDING' | 'PROCESSING' | 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE' | 'FAILED';
export interface Refund {
  id: string;
  /** fen */
  amount: number;
  status: RefundStatus;
  reason: string;
  /** ISO 8601 */
  createdAt: string;
  /** ISO 8601, once SUCCESS */
  successAt?: string;
}
export interface RefundList {
  items: Refund[];
}

// POST /api/orders/:id/refund-requests { reason } → 201 RefundRequest; GET → RefundRequestList
// Errors: 409 ORDER_NOT_REFUNDABLE (not paid, or fully refunded), 409 REFUND_REQUEST_OPEN (one is
// already waiting), 404 for someone else's order, 429 RATE_LIMITED.
export interface RefundRequestBody {
  /** 1 to 200 characters */
  reason: string;
}
export type RefundRequestStatus = 'PENDING' | 'APPROVED' | 'REJECTED';
export interface RefundRequest {
  id: string;
  orderId: string;
  reason: string;
  status: RefundRequestStatus;
  /** the refund an approval made */
  refundId?: string;
  /** the shop's words with its decision */
  decisionNote?: string;
  /** ISO 8601 */
  decidedAt?: string;
  /** ISO 8601 */
  createdAt: string;
}
export interface RefundRequestList {
  items: RefundRequest[];
}

// GET /api/orders?limit=&before=
export interface OrderList {
  items: Order[];
  /** pass as `before` to get the next page; absent on the last page */
  nextCursor?: string;
}

// POST /api/orders/:id/pay
export interface PayParams {
  /** the appid the params are signed for (wx.requestPayment takes it implicitly; the sandbox cashier needs it) */
  appId?: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
  /** MD5 / HMAC-SHA256 under API v2, RSA under API v3 (wx.requestPayment takes all three) */
  signType: 'MD5' | 'HMAC-SHA256' | 'RSA';
  paySign: string;
  /** present and true when the server talks to the WeChat sandbox, not real WeChat */
  sandbox?: boolean;
  /** sandbox only: the base URL of the sandbox (its /sandbox/cashier pays) */
  sandboxBase?: string;
}

// Sandbox control API (JSON, on the sandbox's own port)
export interface SandboxLoginCodeRequest {
  appid: string;
  openid?: string;
}
export interface SandboxLoginCodeResponse {
  code: string;
  openid: string;
}
export type CashierOutcome = 'pay' | 'cancel' | 'fail';
export interface SandboxCashierRequest {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: string;
  paySign: string;
  outcome?: CashierOutcome;
}
export interface SandboxCashierResponse {
  errMsg: string;
}

// Sandbox: what the WeChat client records when the user accepts a subscribe message
// (wx.requestSubscribeMessage → accept): one send of that template to that user.
export interface SandboxSubscriptionRequest {
  appid: string;
  openid: string;
  template_id: string;
  /** sends granted (default 1: a one-time subscription) */
  count?: number;
}
export interface SandboxSubscriptionResponse {
  /** sends of this template to this user still allowed */
  remaining: number;
}
/** GET /sandbox/subscribe-messages: every subscribe/send call that got past the access_token check */
export interface SandboxSubscribeMessage {
  at: string;
  appid: string;
  touser: string;
  template_id: string;
  page?: string;
  miniprogram_state?: string;
  lang?: string;
  data: Record<string, { value: string }>;
  /** what the sandbox answered: 0 sent */
  errcode: number;
  /** its errmsg, without the rid */
  errmsg: string;
}
