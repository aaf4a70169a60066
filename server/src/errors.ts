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
  BadIdempotencyKey: createError('BAD_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 64 letters, digits, _ or -', 400),
  IdempotencyKeyReused: createError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different order', 409),
};
