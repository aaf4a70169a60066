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
  /** fen, once any refund is made */
  refundedAmount?: number;
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
  signType: 'MD5' | 'HMAC-SHA256';
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
