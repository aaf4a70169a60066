// The delivery machinery WeChat uses for every notification it posts (payment results, refund
// results): each attempt is POSTed, `copies` times for the duplicate fault, and retried on WeChat's
// schedule (time-scaled) until one is answered 2xx with return_code SUCCESS; every attempt is logged.
// What differs between kinds of notification is what is posted and how an attempt is named; how the
// answer is read follows from what was posted: v2 XML is acknowledged by 2xx with return_code SUCCESS,
// API v3's signed JSON (a body with its own headers) by HTTP 200 or 204.
import { Type } from '@sinclair/typebox';
import { parseXml } from '../wechat/xml.js';
import type { NotifyPlan } from './faults.js';
import type { SandboxMerchant } from './state.js';

/** WeChat's notify retry schedule, in seconds after a failed attempt (about 24 hours in all). */
export const RETRY_SCHEDULE_S = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600] as const;

/** The wait before attempt n+1 (n from 1), scaled; undefined after the last attempt. */
export function retryDelayMs(failedAttempt: number, timeScale: number): number | undefined {
  const s = RETRY_SCHEDULE_S[failedAttempt - 1];
  return s === undefined ? undefined : s * 1000 * timeScale;
}

/** How long one delivery attempt may take: 5 s scaled, at least 200 ms. */
export function attemptTimeoutMs(timeScale: number): number {
  return Math.max(200, 5000 * timeScale);
}

/** How one attempt went (the part of a log entry every kind of notification shares). */
export interface Delivery {
  /** 1 for the first delivery, 2 for the first retry...; 0 for a dropped notification */
  attempt: number;
  /** 1..copies when the duplicate fault posts the same attempt several times */
  copy: number;
  at: string;
  status: number | null;
  reply: string;
  success: boolean;
  error?: string;
  corrupted: boolean;
  dropped: boolean;
}

/** The shared fields of a delivery log entry, for the sandbox's JSON views of each log. */
export const DeliveryFields = {
  attempt: Type.Integer(),
  copy: Type.Integer(),
  at: Type.String(),
  status: Type.Union([Type.Integer(), Type.Null()]),
  reply: Type.String(),
  success: Type.Boolean(),
  error: Type.Optional(Type.String()),
  corrupted: Type.Boolean(),
  dropped: Type.Boolean(),
};

/** A kind of notification: where it goes, what is posted, and the ids its log entries carry. */
export interface NotificationKind<T, Id extends object> {
  /** in the user agent and in log lines */
  name: string;
  url(item: T): string | undefined;
  /** v2 XML (posted as text/xml), or API v3's JSON with its own (signature) headers */
  body(item: T, merchant: SandboxMerchant, corrupt: boolean): string | PreparedNotification;
  identify(item: T): Id;
}

/**
 * A notify_url WeChat takes (v2 and v3, payments and refunds): an absolute http(s) URL without query,
 * fragment or credentials, at most `maxBytes` bytes (each API's field limit).
 */
export function notifyUrlOk(s: string, maxBytes: number): boolean {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return false;
  }
  return (u.protocol === 'http:' || u.protocol === 'https:') && !/[?#]/.test(s) && u.username === '' && u.password === '' && Buffer.byteLength(s, 'utf8') <= maxBytes;
}

/** An API v3 notification: JSON whose signature travels in headers; acknowledged by HTTP 200 or 204. */
export interface PreparedNotification {
  body: string;
  headers: Record<string, string>;
}

export interface DeliveryOptions {
  fetch: typeof fetch;
  timeScale: number;
  log: { warn(obj: object, msg: string): void };
}

const MAX_REPLY_CHARS = 2000;
const MAX_LOG = 10_000;

/** v2's acknowledgement: 2xx with return_code SUCCESS. */
function isXmlSuccess(status: number | null, body: string): boolean {
  if (status === null || status < 200 || status > 299) return false;
  try {
    return parseXml(body).return_code === 'SUCCESS';
  } catch {
    return false;
  }
}

/** Posts notifications of one kind on WeChat's schedule until one is answered SUCCESS. */
export class XmlNotifier<T, Id extends object> {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly closing = new AbortController();
  private readonly log: Array<Id & Delivery> = [];
  private closed = false;

  constructor(
    private readonly kind: NotificationKind<T, Id>,
    private readonly opts: DeliveryOptions,
  ) {}

  /** Starts the delivery series of one notification (nothing when it has nowhere to go). */
  start(item: T, merchant: SandboxMerchant, plan: NotifyPlan): void {
    if (this.closed || !this.kind.url(item)) return;
    if (plan.drop) {
      const at = new Date().toISOString();
      this.record({ ...this.kind.identify(item), attempt: 0, copy: 1, at, status: null, reply: '', success: false, corrupted: false, dropped: true });
      return;
    }
    this.later(plan.delayMs, () => this.attempt(item, merchant, plan, 1));
  }

  /** The log, oldest first (copies), optionally only the entries `match` keeps. */
  entries(match?: (a: Id & Delivery) => boolean): Array<Id & Delivery> {
    return this.log.filter((a) => match === undefined || match(a)).map((a) => ({ ...a }));
  }

  clearLog(): void {
    this.log.length = 0;
  }

  /** Stops every pending timer and aborts deliveries in flight. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.closing.abort();
  }

  private later(ms: number, fn: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn().catch((err: unknown) => this.opts.log.warn({ err }, `sandbox ${this.kind.name}: unexpected failure`));
    }, ms);
    this.timers.add(timer);
  }

  private record(a: Id & Delivery): void {
    this.log.push(a);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
  }

  private async attempt(item: T, merchant: SandboxMerchant, plan: NotifyPlan, n: number): Promise<void> {
    if (this.closed) return;
    const results = await Promise.all(Array.from({ length: plan.copies }, (_, i) => this.deliver(item, merchant, plan, n, i + 1)));
    if (this.closed || results.some(Boolean)) return;
    const wait = retryDelayMs(n, this.opts.timeScale);
    if (wait === undefined) return;
    this.later(wait, () => this.attempt(item, merchant, plan, n + 1));
  }

  private async deliver(item: T, merchant: SandboxMerchant, plan: NotifyPlan, n: number, copy: number): Promise<boolean> {
    const at = new Date().toISOString();
    const prepared = this.kind.body(item, merchant, plan.corrupt);
    const body = typeof prepared === 'string' ? prepared : prepared.body;
    const headers = typeof prepared === 'string' ? { 'content-type': 'text/xml; charset=utf-8' } : prepared.headers;
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(attemptTimeoutMs(this.opts.timeScale))]);
    let status: number | null = null;
    let reply = '';
    let error: string | undefined;
    try {
      const res = await this.opts.fetch(this.kind.url(item) as string, {
        method: 'POST',
        headers: { ...headers, 'user-agent': `Mozilla/4.0 (WeChat Pay sandbox ${this.kind.name})` },
        body,
        signal,
        redirect: 'manual',
      });
      status = res.status;
      reply = (await res.text()).slice(0, MAX_REPLY_CHARS);
    } catch (err) {
      const e = err as Error;
      error = e.name === 'TimeoutError' || e.name === 'AbortError' ? (this.closed ? 'aborted' : 'timeout') : e.message;
    }
    if (this.closed && error === 'aborted') return false;
    const success = error === undefined && (typeof prepared === 'string' ? isXmlSuccess(status, reply) : status === 200 || status === 204);
    this.record({
      ...this.kind.identify(item),
      attempt: n,
      copy,
      at,
      status,
      reply,
      success,
      ...(error !== undefined ? { error } : {}),
      corrupted: plan.corrupt,
      dropped: false,
    });
    return success;
  }
}
