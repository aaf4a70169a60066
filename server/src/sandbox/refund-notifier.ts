// Posts refund notifications (退款结果通知) to a refund's notify_url on WeChat's retry schedule (the
// payment notifier's: 15s, 15s, 30s, 3m, 10m, ... about 24 hours, time-scaled) until one is answered
// return_code SUCCESS. The body carries no sign; req_info is the encrypted <root> of the refund.
import { nonceStr } from '../wechat/nonce.js';
import { toBeijingDateTime } from '../wechat/beijing-datetime.js';
import { encryptRefundReqInfo } from '../wechat/refund-notify.js';
import { parseXml, toXml } from '../wechat/xml.js';
import type { NotifyPlan } from './faults.js';
import { attemptTimeoutMs, retryDelayMs } from './notifier.js';
import type { SandboxRefund } from './refund-state.js';
import type { SandboxMerchant } from './state.js';

export interface RefundDeliveryAttempt {
  outRefundNo: string;
  refundId: string;
  outTradeNo: string;
  refundStatus: string;
  notifyUrl: string;
  /** 1 for the first delivery, 2 for the first retry...; 0 for a dropped notification */
  attempt: number;
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

/** The <root> fields of a refund's req_info, as WeChat sends them (alphabetical, as in its notifications). */
export function refundReqInfoFields(r: SandboxRefund): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    out_refund_no: r.outRefundNo,
    out_trade_no: r.outTradeNo,
    refund_account: r.refundAccount,
    refund_fee: String(r.refundFee),
    refund_id: r.refundId,
    refund_recv_accout: r.recvAccount,
    refund_request_source: r.requestSource,
    refund_status: r.status,
    settlement_refund_fee: String(r.refundFee),
    settlement_total_fee: String(r.totalFee),
    success_time: r.status === 'SUCCESS' && r.settledAt !== undefined ? toBeijingDateTime(new Date(r.settledAt)) : undefined,
    total_fee: String(r.totalFee),
    transaction_id: r.transactionId,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}

/** The outer notification: return_code, appid, mch_id, nonce_str, req_info. */
export function refundNotifyBody(r: SandboxRefund, merchant: SandboxMerchant, corrupt: boolean): string {
  // A forger does not know the key: encrypt with another one.
  const key = corrupt ? `${merchant.key.slice(1)}x` : merchant.key;
  return toXml({
    return_code: 'SUCCESS',
    appid: r.appid,
    mch_id: r.mchId,
    nonce_str: nonceStr(32),
    req_info: encryptRefundReqInfo(refundReqInfoFields(r), key),
  });
}

function isSuccessReply(status: number | null, body: string): boolean {
  if (status === null || status < 200 || status > 299) return false;
  try {
    return parseXml(body).return_code === 'SUCCESS';
  } catch {
    return false;
  }
}

interface Log {
  warn(obj: object, msg: string): void;
}

export class RefundNotifier {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly closing = new AbortController();
  private readonly attempts: RefundDeliveryAttempt[] = [];
  private closed = false;

  constructor(private readonly opts: { fetch: typeof fetch; timeScale: number; log: Log }) {}

  start(r: SandboxRefund, merchant: SandboxMerchant, plan: NotifyPlan): void {
    if (this.closed || !r.notifyUrl) return;
    if (plan.drop) {
      this.record(this.entry(r, 0, 1, { status: null, reply: '', success: false, corrupted: false, dropped: true }));
      return;
    }
    this.later(plan.delayMs, () => this.attempt(r, merchant, plan, 1));
  }

  list(outRefundNo?: string): RefundDeliveryAttempt[] {
    return this.attempts.filter((a) => outRefundNo === undefined || a.outRefundNo === outRefundNo).map((a) => ({ ...a }));
  }

  clearLog(): void {
    this.attempts.length = 0;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.closing.abort();
  }

  private entry(
    r: SandboxRefund,
    attempt: number,
    copy: number,
    rest: Pick<RefundDeliveryAttempt, 'status' | 'reply' | 'success' | 'corrupted' | 'dropped'> & { error?: string },
  ): RefundDeliveryAttempt {
    return {
      outRefundNo: r.outRefundNo,
      refundId: r.refundId,
      outTradeNo: r.outTradeNo,
      refundStatus: r.status,
      notifyUrl: r.notifyUrl ?? '',
      attempt,
      copy,
      at: new Date().toISOString(),
      ...rest,
    };
  }

  private later(ms: number, fn: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn().catch((err: unknown) => this.opts.log.warn({ err }, 'sandbox refund notifier: unexpected failure'));
    }, ms);
    this.timers.add(timer);
  }

  private record(a: RefundDeliveryAttempt): void {
    this.attempts.push(a);
    if (this.attempts.length > MAX_LOG) this.attempts.splice(0, this.attempts.length - MAX_LOG);
  }

  private async attempt(r: SandboxRefund, merchant: SandboxMerchant, plan: NotifyPlan, n: number): Promise<void> {
    if (this.closed) return;
    const results = await Promise.all(Array.from({ length: plan.copies }, (_, i) => this.deliver(r, merchant, plan, n, i + 1)));
    if (this.closed || results.some(Boolean)) return;
    const wait = retryDelayMs(n, this.opts.timeScale);
    if (wait === undefined) return;
    this.later(wait, () => this.attempt(r, merchant, plan, n + 1));
  }

  private async deliver(r: SandboxRefund, merchant: SandboxMerchant, plan: NotifyPlan, n: number, copy: number): Promise<boolean> {
    const body = refundNotifyBody(r, merchant, plan.corrupt);
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(attemptTimeoutMs(this.opts.timeScale))]);
    let status: number | null = null;
    let reply = '';
    let error: string | undefined;
    try {
      const res = await this.opts.fetch(r.notifyUrl as string, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', 'user-agent': 'Mozilla/4.0 (WeChat Pay sandbox refund notifier)' },
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
    this.record(this.entry(r, n, copy, { status, reply, success, corrupted: plan.corrupt, dropped: false, ...(error !== undefined ? { error } : {}) }));
    return success;
  }
}
