import createError from '@fastify/error';

// Named domain errors: a stable machine-readable code and the HTTP status that goes with it.
// The route layer throws these; the error handler turns them into `ApiError` bodies.
export const Errors = {
  Unauthorized: createError('UNAUTHORIZED', 'A valid session token is required', 401),
  NotFound: createError('NOT_FOUND', '%s not found', 404),
  InvalidCode: createError('LOGIN_INVALID_CODE', 'The login code is invalid or expired: call wx.login again', 400),
  CodeUsed: createError('LOGIN_CODE_USED', 'The login code was already used: call wx.login again', 400),
  RiskyUser: createError('LOGIN_RISKY_USER', 'WeChat refused this login as risky', 403),
  LoginRateLimited: createError('LOGIN_RATE_LIMITED', 'WeChat is rate limiting logins: try again shortly', 429),
  WechatBusy: createError('WECHAT_BUSY', 'WeChat is busy: try again shortly', 503),
  WechatUnavailable: createError('WECHAT_UNAVAILABLE', 'WeChat could not be reached: try again shortly', 502),
  EmptyCart: createError('EMPTY_CART', 'An order needs at least one item', 400),
  UnknownSku: createError('UNKNOWN_SKU', 'Unknown product: %s', 400),
  BadQuantity: createError('BAD_QUANTITY', 'Quantity of %s must be a whole number from 1 to %s', 400),
  DuplicateSku: createError('DUPLICATE_SKU', 'Product %s appears twice in the cart: give its total quantity once', 400),
  OrderTooLarge: createError('ORDER_TOO_LARGE', 'The order total exceeds the limit of %s fen', 400),
  OrderNotPayable: createError('ORDER_NOT_PAYABLE', 'The order is %s and cannot be paid', 409),
  OrderExpired: createError('ORDER_EXPIRED', 'The order expired and was closed', 409),
  OrderNotCancellable: createError('ORDER_NOT_CANCELLABLE', 'The order is %s and cannot be cancelled', 409),
  PaymentInProgress: createError('PAYMENT_IN_PROGRESS', 'The payment is being confirmed: do not pay again', 409),
  Busy: createError('ORDER_BUSY', 'The order is being updated: try again in a moment', 409),
  OrderAlreadyPaid: createError('ORDER_ALREADY_PAID', 'The order is already paid', 409),
  PayFailed: createError('PAY_REQUEST_FAILED', 'WeChat Pay refused the request: %s', 502),
  BadCursor: createError('BAD_CURSOR', 'before is not a cursor this server gave out', 400),
  BadIdempotencyKey: createError('BAD_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 64 letters, digits, _ or -', 400),
  IdempotencyKeyReused: createError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different request', 409),
  OrderNotRefundable: createError('ORDER_NOT_REFUNDABLE', 'The order is %s and cannot be refunded', 409),
  BadRefundAmount: createError('BAD_REFUND_AMOUNT', 'A refund is a whole number of fen from 1 to what is left (%s)', 400),
  RefundExceedsPaid: createError('REFUND_EXCEEDS_PAID', 'Refunds cannot add up past the payment: %s fen are left to refund', 409),
  RefundRequestOpen: createError('REFUND_REQUEST_OPEN', 'A refund request for this order is already waiting for the shop', 409),
  RefundRequestDecided: createError('REFUND_REQUEST_DECIDED', 'The refund request was already decided (%s)', 409),
  InvalidDay: createError('INVALID_DAY', '%s is not a day written YYYY-MM-DD', 400),
  DayNotOver: createError('DAY_NOT_OVER', '%s is not over in Beijing yet: WeChat makes its bill the next morning', 400),
  BillNotReady: createError('BILL_NOT_READY', 'WeChat is still making the bill of %s (from about 10:00 Beijing the next day): try again later', 409),
  ReconcileRunning: createError('RECONCILE_RUNNING', 'The reconciliation of %s is running already', 409),
  /** a route of a channel whose app this merchant has not configured (WECHAT_OA_APPID, WECHAT_OPEN_APPID...) */
  ChannelNotConfigured: createError('CHANNEL_NOT_CONFIGURED', 'This payment channel is not configured on this server: %s', 404),
  /** an order of another channel sent to this channel's pay route (an APP order to the mini-program's, ...) */
  WrongChannel: createError('WRONG_CHANNEL', 'This order is paid through another channel (%s)', 409),
  RateLimited: createError('RATE_LIMITED', 'Too many requests: try again in %s', 429),
  /** our own login limits (failed codes per client, logins per user); WeChat's 45011 is LoginRateLimited */
  LoginThrottled: createError('LOGIN_RATE_LIMITED', 'Too many logins: try again in %s', 429),
  // The operators' console (server/src/admin)
  Forbidden: createError('FORBIDDEN', 'Your role (%s) may not do this: it needs %s', 403),
  /** a state-changing request of the console or of an H5 page without its session's token */
  CsrfInvalid: createError('CSRF_INVALID', 'The x-csrf-token header is missing or does not match this session: reload the page', 403),
  LoginFailed: createError('LOGIN_FAILED', 'Wrong name or password', 401),
  AccountLocked: createError('ACCOUNT_LOCKED', 'This account is locked after too many wrong passwords: ask an admin to unlock it, or wait %s', 423),
  RefundOverLimit: createError('REFUND_OVER_LIMIT', 'Your role may refund at most %s fen at once: ask finance', 403),
  OperatorExists: createError('OPERATOR_EXISTS', 'An operator named %s already exists', 409),
  LastAdmin: createError('LAST_ADMIN', 'This is the last active admin: make another admin first', 409),
  RedisUnavailable: createError('REDIS_UNAVAILABLE', 'A service the server depends on (Redis) is unavailable: try again shortly', 503),
  DatabaseUnavailable: createError('DATABASE_UNAVAILABLE', 'The database is unavailable: try again shortly', 503),
};

type NamedErrorConstructor = (typeof Errors)[keyof typeof Errors];

/** code -> HTTP status of every named error: the only codes (besides VALIDATION_ERROR and Fastify's own 4xx) a client sees. */
export const ERROR_STATUS: ReadonlyMap<string, number> = new Map(
  (Object.values(Errors) as NamedErrorConstructor[]).map((E) => {
    const e = new E('', '');
    return [e.code, e.statusCode ?? 500] as const;
  }),
);

/**
 * One of ours: an instance of a named error, or an error built elsewhere with the code and status of
 * one (some routes still assemble theirs with Object.assign). Anything else is masked as INTERNAL.
 */
export function isNamedError(err: unknown): err is Error & { code: string; statusCode: number } {
  if (!(err instanceof Error)) return false;
  const { code, statusCode } = err as { code?: unknown; statusCode?: unknown };
  return typeof code === 'string' && ERROR_STATUS.get(code) === statusCode;
}
