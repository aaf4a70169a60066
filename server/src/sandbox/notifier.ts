import { nonceStr } from '../wechat/nonce.js';
import { sign } from '../wechat/sign.js';
import { parseXml, toXml } from '../wechat/xml.js';
import type { NotifyPlan } from './faults.js';
import type { SandboxMerchant, Trade } from './state.js';

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

export interface DeliveryAttempt {
  outTradeNo: string;
  transactionId: string;
  notifyUrl: string;
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

const MAX_REPLY_CHARS = 2000;
const MAX_LOG = 10_000;

interface Log {
  warn(obj: object, msg: string): void;
}

/** The fields of the payment notification WeChat posts, signed with the trade's sign type. */
export function notifyFields(trade: Trade, merchant: SandboxMerchant, corrupt: boolean): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    appid: trade.appid,
    mch_id: trade.mchId,
    device_info: trade.deviceInfo,
    nonce_str: nonceStr(32),
    sign_type: trade.signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : undefined,
    result_code: 'SUCCESS',
    openid: trade.payerOpenid,
    is_subscribe: 'N',
    trade_type: trade.tradeType,
    bank_type: trade.bankType,
    total_fee: String(trade.totalFee),
    fee_type: trade.feeType,
    cash_fee: String(trade.totalFee),
    cash_fee_type: 'CNY',
    transaction_id: trade.transactionId,
    out_trade_no: trade.outTradeNo,
    attach: trade.attach,
    time_end: trade.timeEnd,
    return_code: 'SUCCESS',
  };
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') clean[k] = v;
  // A forger does not know the key: sign with another one.
  const key = corrupt ? `${merchant.key.slice(1)}x` : merchant.key;
  clean.sign = sign(clean, key, trade.signType);
  return clean;
}

function isSuccessReply(status: number | null, body: string): boolean {
  if (status === null || status < 200 || status > 299) return false;
  try {
    return parseXml(body).return_code === 'SUCCESS';
  } catch {
    return false;
  }
}

/** Posts payment notifications to notify_url on WeChat's schedule until one is answered SUCCESS. */
export class Notifier {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly closing = new AbortController();
  private readonly attempts: DeliveryAttempt[] = [];
  private closed = false;

  constructor(
    private readonly opts: { fetch: typeof fetch; timeScale: number; log: Log },
  ) {}

  /** Starts the delivery series of one paid trade. */
  start(trade: Trade, merchant: SandboxMerchant, plan: NotifyPlan): void {
    if (this.closed) return;
    if (plan.drop) {
      this.record({
        outTradeNo: trade.outTradeNo,
        transactionId: trade.transactionId ?? '',
        notifyUrl: trade.notifyUrl,
        attempt: 0,
        copy: 1,
        at: new Date().toISOString(),
        status: null,
        reply: '',
        success: false,
        corrupted: false,
        dropped: true,
      });
      return;
    }
    this.later(plan.delayMs, () => this.attempt(trade, merchant, plan, 1));
  }

  list(outTradeNo?: string): DeliveryAttempt[] {
    return this.attempts.filter((a) => outTradeNo === undefined || a.outTradeNo === outTradeNo).map((a) => ({ ...a }));
  }

  clearLog(): void {
    this.attempts.length = 0;
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
      fn().catch((err: unknown) => this.opts.log.warn({ err }, 'sandbox notifier: unexpected failure'));
    }, ms);
    this.timers.add(timer);
  }

  private record(a: DeliveryAttempt): void {
    this.attempts.push(a);
    if (this.attempts.length > MAX_LOG) this.attempts.splice(0, this.attempts.length - MAX_LOG);
  }

  private async attempt(trade: Trade, merchant: SandboxMerchant, plan: NotifyPlan, n: number): Promise<void> {
    if (this.closed) return;
    const copies = Array.from({ length: plan.copies }, (_, i) => this.deliver(trade, merchant, plan, n, i + 1));
    const results = await Promise.all(copies);
    if (this.closed || results.some(Boolean)) return;
    const wait = retryDelayMs(n, this.opts.timeScale);
    if (wait === undefined) return;
    this.later(wait, () => this.attempt(trade, merchant, plan, n + 1));
  }

  private async deliver(trade: Trade, merchant: SandboxMerchant, plan: NotifyPlan, n: number, copy: number): Promise<boolean> {
    const at = new Date().toISOString();
    const body = toXml(notifyFields(trade, merchant, plan.corrupt));
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(attemptTimeoutMs(this.opts.timeScale))]);
    let status: number | null = null;
    let reply = '';
    let error: string | undefined;
    try {
      const res = await this.opts.fetch(trade.notifyUrl, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', 'user-agent': 'Mozilla/4.0 (WeChat Pay sandbox notifier)' },
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
    const success = error === undefined && isSuccessReply(status, reply);
    this.record({
      outTradeNo: trade.outTradeNo,
      transactionId: trade.transactionId ?? '',
      notifyUrl: trade.notifyUrl,
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
