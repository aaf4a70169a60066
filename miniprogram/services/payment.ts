// Paying an order: POST /api/orders/:id/pay, then wx.requestPayment (or the
// sandbox cashier), then ask the server until it says how it ended.
// requestPayment's success is not proof: only the server's PAID is.
import type { Order, OrderStatus, PayParams } from '../../shared/api.js';
import type { Auth } from './auth.js';
import { ApiClientError } from './http.js';
import type { OrdersService } from './orders.js';

/** Exactly what wx.requestPayment takes (callbacks aside). */
export interface RequestPaymentParams {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: 'MD5' | 'HMAC-SHA256' | 'RSA';
  paySign: string;
}

export interface PaymentCallbackResult {
  errMsg: string;
}

/** Resolves with the success or the fail result alike (wx.requestPayment's errMsg). */
export type RequestPaymentFn = (params: RequestPaymentParams) => Promise<PaymentCallbackResult>;

export interface SimulatedPayParams extends RequestPaymentParams {
  appId: string;
  /** the sandbox's base URL; its /sandbox/cashier pays */
  sandboxBase: string;
}
export type SimulatedPayFn = (params: SimulatedPayParams) => Promise<PaymentCallbackResult>;

export const CANCEL_ERR_MSG = 'requestPayment:fail cancel';

/** A minimal abort signal (the mini-program runtime has no AbortController). */
export interface StopSignal {
  readonly aborted: boolean;
  /** returns an unsubscribe function; called at once if already aborted */
  onAbort(listener: () => void): () => void;
}

export interface Stopper {
  readonly signal: StopSignal;
  stop(): void;
}

export function createStopper(): Stopper {
  let aborted = false;
  const listeners = new Set<() => void>();
  const signal: StopSignal = {
    get aborted() {
      return aborted;
    },
    onAbort(listener) {
      if (aborted) {
        listener();
        return () => {};
      }
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
  return {
    signal,
    stop() {
      if (aborted) return;
      aborted = true;
      for (const l of [...listeners]) l();
      listeners.clear();
    },
  };
}

export type PayPhase = 'requesting' | 'paying' | 'confirming';

export type PayOutcome =
  /** the server says PAID */
  | 'paid'
  /** the user cancelled in the WeChat pay sheet: nothing polled, the order stays payable */
  | 'cancelled'
  /** the server says CLOSED */
  | 'closed'
  /**
   * the server says FAILED, and still said it after failedGraceMs: WeChat reported the attempt failed,
   * no money was taken, and the order can be paid again (retryable)
   */
  | 'failed'
  /** the server says REFUNDING / REFUNDED / PARTIALLY_REFUNDED (it was paid) */
  | 'refunded'
  /** no final answer within the polling window: "we are confirming your payment, do not pay again" */
  | 'timeout'
  /** polling stopped because the page hid or unloaded */
  | 'stopped'
  /** network, 5xx or a refusal from the server; see `error` and `retryable` */
  | 'error'
  /** refused: a payment for this order (or another pay request) is already in flight */
  | 'busy';

export interface PayResult {
  outcome: PayOutcome;
  /** the last order the server returned, when one was fetched */
  order?: Order;
  error?: ApiClientError;
  /** requestPayment's (or the cashier's) errMsg, when it was called */
  errMsg?: string;
  /** the user may press pay again for this order */
  retryable: boolean;
}

export type LaunchResult = PayResult | { outcome: 'confirming'; errMsg: string; retryable: false };

export interface PayOptions {
  signal?: StopSignal;
  onPhase?: (phase: PayPhase) => void;
}

export interface PaymentOptions {
  auth: Pick<Auth, 'send'>;
  orders: Pick<OrdersService, 'get'>;
  requestPayment: RequestPaymentFn;
  simulatedPay: SimulatedPayFn;
  /** the mini-program's appid (signed into paySign; the cashier needs it) */
  appId: string | (() => string);
  /**
   * whether a `sandbox: true` pay answer may be paid at the simulated cashier: only a develop build
   * with its sandbox on (config.ts sandboxOf). false: such an answer is refused (SANDBOX_NOT_ALLOWED)
   * and nothing is shown to the user, since a trial or release build never pays into the sandbox
   */
  allowSandbox: boolean;
  /** used when a sandbox pay response carries no sandboxBase */
  defaultSandboxBase?: string;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** seconds between polls; the last one repeats. Default 1,1,2,2,3,5 */
  pollScheduleSeconds?: readonly number[];
  /** stop polling with 'timeout' after this long; default 60 s */
  maxConfirmMs?: number;
  /**
   * FAILED is not final at once: the server keeps asking WeChat about a FAILED order (a late success
   * can still turn it PAID), and right after paying again it can still show the last attempt's FAILED
   * until the notify lands. So the poll goes on while FAILED is younger than this, then answers
   * 'failed'. Default 6 s: past the server's 5 s orderquery interval, so that it asks WeChat once more.
   */
  failedGraceMs?: number;
}

export interface PaymentService {
  /** The whole flow: prepay, pay sheet, then confirm with the server. */
  pay(orderId: string, options?: PayOptions): Promise<PayResult>;
  /** Prepay and the pay sheet only; 'confirming' means: now call confirm(). */
  launch(orderId: string, options?: Omit<PayOptions, 'signal'> & { signal?: StopSignal }): Promise<LaunchResult>;
  /** Poll the order with backoff until the server gives a final state, time runs out or the signal stops it. */
  confirm(orderId: string, options?: PayOptions): Promise<PayResult>;
  /** true while a pay/launch is in flight, or while this order is being confirmed */
  isBusy(orderId?: string): boolean;
}

const SIGN_TYPES = new Set(['MD5', 'HMAC-SHA256', 'RSA']);

// a function, so that TypeScript does not keep a narrowed `aborted` across awaits
function stopped(signal: StopSignal | undefined): boolean {
  return signal !== undefined && signal.aborted;
}

/** Statuses that end a poll at once. FAILED does not: it is payable, like CREATED and PAYING. */
function finalOutcome(status: OrderStatus): PayOutcome | null {
  switch (status) {
    case 'PAID':
      return 'paid';
    case 'CLOSED':
      return 'closed';
    case 'REFUNDING':
    case 'REFUNDED':
    case 'PARTIALLY_REFUNDED':
      return 'refunded';
    default:
      return null;
  }
}

function toClientError(e: unknown): ApiClientError {
  if (e instanceof ApiClientError) return e;
  return new ApiClientError('network', 'UNEXPECTED', e instanceof Error ? e.message : String(e));
}

function readPayParams(data: unknown): (RequestPaymentParams & { sandbox: boolean; sandboxBase?: string; appId?: string }) | null {
  if (typeof data !== 'object' || data === null) return null;
  const p = data as Partial<Record<keyof PayParams | 'appId', unknown>>;
  const timeStamp = typeof p.timeStamp === 'number' ? String(p.timeStamp) : p.timeStamp;
  if (
    typeof timeStamp !== 'string' || timeStamp === '' ||
    typeof p.nonceStr !== 'string' || p.nonceStr === '' ||
    typeof p.package !== 'string' || !p.package.startsWith('prepay_id=') ||
    typeof p.signType !== 'string' || !SIGN_TYPES.has(p.signType) ||
    typeof p.paySign !== 'string' || p.paySign === ''
  ) {
    return null;
  }
  const out: RequestPaymentParams & { sandbox: boolean; sandboxBase?: string; appId?: string } = {
    timeStamp,
    nonceStr: p.nonceStr,
    package: p.package,
    signType: p.signType as RequestPaymentParams['signType'],
    paySign: p.paySign,
    sandbox: p.sandbox === true,
  };
  if (typeof p.sandboxBase === 'string' && p.sandboxBase !== '') out.sandboxBase = p.sandboxBase;
  if (typeof p.appId === 'string' && p.appId !== '') out.appId = p.appId;
  return out;
}

export function createPayment(options: PaymentOptions): PaymentService {
  const { auth, orders, sleep, now } = options;
  const schedule = options.pollScheduleSeconds ?? [1, 1, 2, 2, 3, 5];
  const maxConfirmMs = options.maxConfirmMs ?? 60_000;
  const failedGraceMs = options.failedGraceMs ?? 6_000;
  let launching = false;
  let paying = false;
  const confirming = new Map<string, number>();

  const appId = (): string => (typeof options.appId === 'function' ? options.appId() : options.appId);

  /** resolves true when stopped before the time is up */
  function pause(ms: number, signal: StopSignal | undefined): Promise<boolean> {
    if (signal === undefined) return sleep(ms).then(() => false);
    if (signal.aborted) return Promise.resolve(true);
    return new Promise<boolean>((resolve, reject) => {
      const off = signal.onAbort(() => resolve(true));
      sleep(ms).then(
        () => {
          off();
          resolve(false);
        },
        (e: unknown) => {
          off();
          reject(e);
        },
      );
    });
  }

  async function settledElsewhere(orderId: string, error: ApiClientError): Promise<PayResult> {
    // The server refused to pay (4xx): the order may already be paid or closed.
    try {
      const order = await orders.get(orderId);
      const outcome = finalOutcome(order.status);
      if (outcome !== null) return { outcome, order, retryable: false };
      return { outcome: 'error', error, order, retryable: false };
    } catch {
      return { outcome: 'error', error, retryable: false };
    }
  }

  async function doLaunch(orderId: string, opts: PayOptions): Promise<LaunchResult> {
    if (stopped(opts.signal)) return { outcome: 'stopped', retryable: true };
    opts.onPhase?.('requesting');
    let raw: unknown;
    try {
      raw = await auth.send<PayParams>({ method: 'POST', path: `/api/orders/${encodeURIComponent(orderId)}/pay`, body: {} });
    } catch (e) {
      const error = toClientError(e);
      if (error.kind === 'client') return settledElsewhere(orderId, error);
      return { outcome: 'error', error, retryable: true };
    }
    const params = readPayParams(raw);
    if (params === null) {
      return {
        outcome: 'error',
        error: new ApiClientError('server', 'BAD_PAY_PARAMS', 'the server sent incomplete payment parameters'),
        retryable: true,
      };
    }
    if (params.sandbox && !options.allowSandbox) {
      return {
        outcome: 'error',
        error: new ApiClientError('client', 'SANDBOX_NOT_ALLOWED', 'the server answered with sandbox payment parameters, which this build never pays'),
        retryable: false,
      };
    }
    // Nothing has been shown to the user yet: a page gone now means no pay sheet.
    if (stopped(opts.signal)) return { outcome: 'stopped', retryable: true };
    const five: RequestPaymentParams = {
      timeStamp: params.timeStamp,
      nonceStr: params.nonceStr,
      package: params.package,
      signType: params.signType,
      paySign: params.paySign,
    };
    opts.onPhase?.('paying');
    let res: PaymentCallbackResult;
    try {
      if (params.sandbox) {
        const sandboxBase = params.sandboxBase ?? options.defaultSandboxBase;
        if (sandboxBase === undefined) {
          return {
            outcome: 'error',
            error: new ApiClientError('server', 'BAD_PAY_PARAMS', 'sandbox payment without a sandbox address'),
            retryable: false,
          };
        }
        res = await options.simulatedPay({ ...five, appId: params.appId ?? appId(), sandboxBase });
      } else {
        res = await options.requestPayment(five);
      }
    } catch (e) {
      // An exception is no proof that nothing was paid: confirm with the server.
      res = { errMsg: `requestPayment:fail ${e instanceof Error ? e.message : String(e)}` };
    }
    const errMsg = typeof res?.errMsg === 'string' ? res.errMsg : 'requestPayment:fail unknown';
    if (errMsg === CANCEL_ERR_MSG) return { outcome: 'cancelled', errMsg, retryable: true };
    return { outcome: 'confirming', errMsg, retryable: false };
  }

  async function doConfirm(orderId: string, opts: PayOptions, errMsg?: string): Promise<PayResult> {
    confirming.set(orderId, (confirming.get(orderId) ?? 0) + 1);
    try {
      opts.onPhase?.('confirming');
      const start = now();
      let last: Order | undefined;
      const base = (): Pick<PayResult, 'order' | 'errMsg'> => {
        const b: Pick<PayResult, 'order' | 'errMsg'> = {};
        if (last !== undefined) b.order = last;
        if (errMsg !== undefined) b.errMsg = errMsg;
        return b;
      };
      /** when the answers turned FAILED (reset by any other answer) */
      let failedSince: number | undefined;
      const failed = (): PayResult => ({ outcome: 'failed', ...base(), retryable: true });
      for (let i = 0; ; i++) {
        if (stopped(opts.signal)) return { outcome: 'stopped', ...base(), retryable: false };
        try {
          last = await orders.get(orderId);
          const outcome = finalOutcome(last.status);
          if (outcome !== null) return { outcome, ...base(), retryable: false };
          if (last.status !== 'FAILED') failedSince = undefined;
          else {
            if (failedSince === undefined) failedSince = now();
            if (now() - failedSince >= failedGraceMs) return failed();
          }
        } catch (e) {
          const error = toClientError(e);
          // network trouble and 5xx pass; anything else will not get better by asking again
          if (!error.retryable) return { outcome: 'error', error, ...base(), retryable: false };
        }
        if (stopped(opts.signal)) return { outcome: 'stopped', ...base(), retryable: false };
        const delay = (schedule[Math.min(i, schedule.length - 1)] ?? 5) * 1000;
        if (now() - start + delay > maxConfirmMs) {
          // out of time on a FAILED answer: the server says no money was taken, so not "do not pay again"
          return failedSince !== undefined ? failed() : { outcome: 'timeout', ...base(), retryable: false };
        }
        if (await pause(delay, opts.signal)) return { outcome: 'stopped', ...base(), retryable: false };
      }
    } finally {
      const n = (confirming.get(orderId) ?? 1) - 1;
      if (n <= 0) confirming.delete(orderId);
      else confirming.set(orderId, n);
    }
  }

  const busy = (orderId: string): boolean => paying || launching || confirming.has(orderId);

  return {
    async pay(orderId, opts = {}) {
      if (busy(orderId)) return { outcome: 'busy', retryable: false };
      paying = true;
      try {
        const launched = await doLaunch(orderId, opts);
        if (launched.outcome !== 'confirming') return launched;
        return await doConfirm(orderId, opts, launched.errMsg);
      } finally {
        paying = false;
      }
    },
    async launch(orderId, opts = {}) {
      if (busy(orderId)) return { outcome: 'busy', retryable: false };
      launching = true;
      try {
        return await doLaunch(orderId, opts);
      } finally {
        launching = false;
      }
    },
    confirm(orderId, opts = {}) {
      return doConfirm(orderId, opts);
    },
    isBusy(orderId) {
      return orderId === undefined ? paying || launching || confirming.size > 0 : busy(orderId);
    },
  };
}
