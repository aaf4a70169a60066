import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric of one app instance, in a Registry of its own: tests build many apps in one process,
 * and prom-client's global registry would make the second one throw on a duplicate name. Label
 * values are route patterns, API names, states and codes only: never a URL, an id, an openid or a
 * token, so that nothing secret or unbounded reaches a label.
 */
export function createMetrics() {
  const registry = new Registry();
  const http = new Histogram({
    name: 'wxpay_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status class (2xx, 4xx, ...): rate() of _count is the request rate',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const notifies = new Counter({
    name: 'wxpay_notifies_total',
    help: 'WeChat notifications received, by kind (payment, refund) and outcome (paid, duplicate, forged, mismatch, busy, ...)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const orderQueries = new Counter({
    name: 'wxpay_orderquery_total',
    help: 'orderquery calls to WeChat by outcome: the trade_state WeChat answered, or the error code',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const wechatCalls = new Counter({
    name: 'wxpay_wechat_api_calls_total',
    help: 'WeChat API calls (after the client\'s own retries) by API and result: SUCCESS or the error code',
    labelNames: ['api', 'result'] as const,
    registers: [registry],
  });
  const wechatDuration = new Histogram({
    name: 'wxpay_wechat_api_duration_seconds',
    help: 'WeChat API call time, retries included, by API',
    labelNames: ['api'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const refundTransitions = new Counter({
    name: 'wxpay_refund_transitions_total',
    help: 'Refund state changes (from NEW when a refund is recorded), by from and to state',
    labelNames: ['from', 'to'] as const,
    registers: [registry],
  });
  const jobs = new Gauge({
    name: 'wxpay_jobs',
    help: 'Background jobs per job name and state (waiting, active, delayed, dead, completed), read at scrape time',
    labelNames: ['job', 'state'] as const,
    registers: [registry],
  });
  const up = new Gauge({
    name: 'wxpay_dependency_up',
    help: '1 when the dependency (mongo, redis) answered a ping at scrape time, else 0',
    labelNames: ['dependency'] as const,
    registers: [registry],
  });
  return { registry, http, notifies, orderQueries, wechatCalls, wechatDuration, refundTransitions, jobs, up };
}

export type Metrics = ReturnType<typeof createMetrics>;

// Process metrics (CPU, memory, event loop, GC) describe the process, not an app: one set per
// process however many apps it builds, appended to each app's scrape.
let processRegistry: Registry | undefined;
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** A WeChat or internal code as a label value: short upper-case words, anything else is OTHER. */
export function codeLabel(code: unknown): string {
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'OTHER';
}

/** A notify's outcome as a label: what the route did with it (settle outcomes named for operators). */
export const NOTIFY_OUTCOME: Readonly<Record<string, string>> = {
  paid: 'paid',
  held: 'held',
  changed: 'changed',
  unchanged: 'duplicate',
  unknown_order: 'unknown_order',
  unknown_refund: 'unknown_refund',
  wrong_sign_type: 'wrong_sign_type',
  unconfirmed: 'mismatch',
  amount_mismatch: 'mismatch',
  contended: 'busy',
};

/** A notify that failed verification: a bad signature (or one that does not decrypt, or is for another merchant) is forged; the rest malformed. */
export function unverifiedOutcome(code: string): string {
  return ['BAD_SIGN', 'APPID_MISMATCH', 'MCHID_MISMATCH', 'BAD_REQ_INFO', 'BAD_RESOURCE'].includes(code) ? 'forged' : 'invalid';
}

/** Counts one notify: an outcome name, or a settle result (a second transaction is not a duplicate). */
export function countNotify(metrics: Metrics, kind: 'payment' | 'refund', result: string | { outcome: string; flags?: readonly string[] }): void {
  const outcome =
    typeof result === 'string' ? result : result.flags?.includes('SECOND_TRANSACTION') ? 'second_transaction' : (NOTIFY_OUTCOME[result.outcome] ?? result.outcome);
  metrics.notifies.inc({ kind, outcome });
}
