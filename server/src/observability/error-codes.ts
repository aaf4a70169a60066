import { Errors } from '../errors.js';

/** Codes the error handler itself answers with (app.ts), besides the named errors of errors.ts. */
export const FRAMEWORK_ERRORS: ReadonlyArray<{ code: string; status: number; message: string }> = [
  { code: 'VALIDATION_ERROR', status: 400, message: 'A body, query string or path parameter fails its schema (the message names it)' },
  { code: 'INVALID_JSON', status: 400, message: 'The body is not JSON, or is empty where JSON is expected' },
  { code: 'BAD_REQUEST', status: 400, message: 'The request itself is malformed' },
  { code: 'BODY_TOO_LARGE', status: 413, message: 'The body is larger than the route takes' },
  { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'The body is not application/json' },
  { code: 'ROUTE_NOT_FOUND', status: 404, message: 'No such route' },
  { code: 'INTERNAL', status: 500, message: 'A bug or an unexpected failure: quote requestId' },
];

/** Named in errors.ts but thrown by no route today: documented in the catalogue, on no route. */
export const RESERVED_CODES: ReadonlySet<string> = new Set(['ORDER_NOT_CANCELLABLE', 'PAYMENT_IN_PROGRESS']);

/** Every code a client can see, with its HTTP status and what it means. */
export const ERROR_CATALOGUE: ReadonlyMap<string, { status: number; message: string }> = new Map([
  ...Object.values(Errors).map((E) => {
    const e = new (E as new () => Error & { code: string; statusCode?: number })();
    return [e.code, { status: e.statusCode ?? 500, message: e.message.replace(/%s/g, '…') }] as const;
  }),
  ...FRAMEWORK_ERRORS.map((f) => [f.code, { status: f.status, message: f.message }] as const),
]);

const USER = ['UNAUTHORIZED', 'REDIS_UNAVAILABLE', 'DATABASE_UNAVAILABLE'];
const ADMIN = ['UNAUTHORIZED', 'NOT_FOUND', 'DATABASE_UNAVAILABLE'];
const REFUND_CREATE = ['NOT_FOUND', 'ORDER_NOT_REFUNDABLE', 'BAD_REFUND_AMOUNT', 'REFUND_EXCEEDS_PAID', 'IDEMPOTENCY_KEY_REUSED'];

/**
 * The domain codes each route answers with, by `METHOD url` (the route's own pattern). Codes that
 * follow from the route's schema are added by `routeErrorCodes`: VALIDATION_ERROR for any validated
 * part, the body codes for a body, INTERNAL for all. A route missing here is documented with every
 * code of each error status it declares, so a new route is never undocumented, only less precise.
 */
export const ROUTE_ERRORS: Readonly<Record<string, readonly string[]>> = {
  'POST /api/session': ['LOGIN_INVALID_CODE', 'LOGIN_CODE_USED', 'LOGIN_RISKY_USER', 'LOGIN_RATE_LIMITED', 'RATE_LIMITED', 'WECHAT_BUSY', 'WECHAT_UNAVAILABLE', 'REDIS_UNAVAILABLE'],
  'DELETE /api/session': ['REDIS_UNAVAILABLE'],
  'GET /api/products': [],
  'GET /healthz': [],
  'POST /api/orders': [...USER, 'EMPTY_CART', 'UNKNOWN_SKU', 'BAD_QUANTITY', 'DUPLICATE_SKU', 'ORDER_TOO_LARGE', 'BAD_IDEMPOTENCY_KEY', 'IDEMPOTENCY_KEY_REUSED', 'RATE_LIMITED'],
  'GET /api/orders': [...USER, 'BAD_CURSOR'],
  'GET /api/orders/:id': [...USER, 'NOT_FOUND'],
  'POST /api/orders/:id/pay': [...USER, 'NOT_FOUND', 'ORDER_ALREADY_PAID', 'ORDER_NOT_PAYABLE', 'ORDER_EXPIRED', 'ORDER_BUSY', 'PAY_REQUEST_FAILED', 'WECHAT_UNAVAILABLE'],
  // the 公众号 H5 checkout's JSON calls (its pages are HTML); at the default payment directory /h5/
  'GET /h5/api/orders/:id': [...USER, 'NOT_FOUND', 'WECHAT_UNAVAILABLE'],
  'POST /h5/api/orders/:id/pay': [...USER, 'NOT_FOUND', 'CSRF_INVALID', 'ORDER_ALREADY_PAID', 'ORDER_NOT_PAYABLE', 'ORDER_EXPIRED', 'ORDER_BUSY', 'PAY_REQUEST_FAILED', 'WECHAT_UNAVAILABLE', 'WRONG_CHANNEL'],
  'POST /api/orders/:id/cancel': [...USER, 'NOT_FOUND', 'ORDER_BUSY'],
  'POST /api/orders/:id/refund-requests': [...USER, 'NOT_FOUND', 'ORDER_NOT_REFUNDABLE', 'REFUND_REQUEST_OPEN', 'RATE_LIMITED'],
  'GET /api/orders/:id/refunds': [...USER, 'NOT_FOUND'],
  'GET /api/orders/:id/refund-requests': [...USER, 'NOT_FOUND'],
  'GET /admin/api/follow-ups': ADMIN,
  'GET /admin/api/orders/:id': ADMIN,
  'POST /admin/api/orders/:id/refunds': [...ADMIN, 'BAD_IDEMPOTENCY_KEY', ...REFUND_CREATE],
  'POST /admin/api/orders/:id/refund-in-full': [...ADMIN, ...REFUND_CREATE],
  'GET /admin/api/refunds': ADMIN,
  'GET /admin/api/refunds/:id': ADMIN,
  'GET /admin/api/refund-requests': ADMIN,
  'POST /admin/api/refund-requests/:id/approve': [...ADMIN, 'REFUND_REQUEST_DECIDED', ...REFUND_CREATE],
  'POST /admin/api/refund-requests/:id/reject': [...ADMIN, 'REFUND_REQUEST_DECIDED'],
  'GET /admin/api/audit': ADMIN,
};

interface SchemaParts {
  body?: unknown;
  querystring?: unknown;
  params?: unknown;
  response?: Record<string, unknown>;
}

/** status -> the codes a route answers with at that status (sorted), for its OpenAPI responses. */
export function routeErrorCodes(method: string, url: string, schema: SchemaParts): Map<number, string[]> {
  const listed = ROUTE_ERRORS[`${method} ${url}`];
  const codes = new Set<string>(['INTERNAL']);
  if (schema.body || schema.querystring || schema.params) codes.add('VALIDATION_ERROR');
  if (schema.body) for (const c of ['INVALID_JSON', 'BAD_REQUEST', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE']) codes.add(c);
  if (listed) {
    for (const c of listed) codes.add(c);
  } else {
    const declared = new Set(Object.keys(schema.response ?? {}).map(Number));
    for (const [code, { status }] of ERROR_CATALOGUE) if (declared.has(status) && status >= 400 && !RESERVED_CODES.has(code)) codes.add(code);
  }
  const byStatus = new Map<number, string[]>();
  for (const code of codes) {
    const status = ERROR_CATALOGUE.get(code)?.status;
    if (status === undefined) throw new Error(`error-codes: ${method} ${url} lists ${code}, which is no known code`);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code].sort());
  }
  return byStatus;
}
