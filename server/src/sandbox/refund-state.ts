// The sandbox's refunds, beside its trades (state.ts): one record per (mch_id, out_refund_no), in
// memory. A refund is PROCESSING when taken and settles (SUCCESS, or CHANGE / REFUNDCLOSE when a fault
// says so) after a time-scaled delay, as WeChat's do (零钱 within minutes, cards in days).
import { randomInt } from 'node:crypto';
import type { SignType } from '../wechat/sign.js';
import { toBeijingTime } from '../wechat/time.js';
import type { SandboxMerchant, Trade } from './state.js';

export type SandboxRefundStatus = 'PROCESSING' | 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE';

/** A sandbox merchant may name the refund notify URL its merchant platform would have configured. */
export type RefundMerchant = SandboxMerchant & { refundNotifyUrl?: string };

export interface SandboxRefund {
  /** which API made it: its notification goes out in that API's format (default v2) */
  api?: 'v2' | 'v3';
  mchId: string;
  appid: string;
  outTradeNo: string;
  transactionId: string;
  outRefundNo: string;
  refundId: string;
  totalFee: number;
  refundFee: number;
  refundDesc?: string;
  refundAccount: 'REFUND_SOURCE_UNSETTLED_FUNDS' | 'REFUND_SOURCE_RECHARGE_FUNDS';
  /** the request's notify_url, else the merchant's configured one; none: no notification */
  notifyUrl?: string;
  signType: SignType;
  status: SandboxRefundStatus;
  /** what it settles to */
  outcome: Exclude<SandboxRefundStatus, 'PROCESSING'>;
  /** ms epoch (sandbox clock) */
  createdAt: number;
  settledAt?: number;
  recvAccount: string;
  requestSource: 'API';
}

/** WeChat's refund_id: 29 digits (503 + 6 digits + Beijing yyyyMMdd + 12 digits), like the published ones. */
export function newRefundId(now: number): string {
  let tail = '';
  for (let i = 0; i < 18; i++) tail += String(randomInt(10));
  return `503${tail.slice(0, 6)}${toBeijingTime(new Date(now)).slice(0, 8)}${tail.slice(6)}`;
}

/** Base delay from acceptance to the end of a refund, before time scaling. */
export const REFUND_SETTLE_MS = 10_000;
/** WeChat refuses refunds of trades paid more than a year ago. */
export const REFUND_WINDOW_MS = 365 * 24 * 3600 * 1000;
/** ... and more than 50 refunds of one trade. */
export const MAX_REFUNDS_PER_TRADE = 50;

export class RefundLedger {
  private readonly byNo = new Map<string, SandboxRefund>();
  private readonly byId = new Map<string, SandboxRefund>();
  private readonly byTrade = new Map<string, SandboxRefund[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  refund(mchId: string, outRefundNo: string): SandboxRefund | undefined {
    return this.byNo.get(`${mchId}\u0000${outRefundNo}`);
  }

  refundById(mchId: string, refundId: string): SandboxRefund | undefined {
    const r = this.byId.get(refundId);
    return r && r.mchId === mchId ? r : undefined;
  }

  /** The trade's refunds, oldest first. */
  refundsOf(t: Pick<Trade, 'mchId' | 'outTradeNo'>): SandboxRefund[] {
    return [...(this.byTrade.get(`${t.mchId}\u0000${t.outTradeNo}`) ?? [])];
  }

  /** Whether the trade had a refund (orderquery then says trade_state REFUND). */
  hasRefund(t: Pick<Trade, 'mchId' | 'outTradeNo'>): boolean {
    return (this.byTrade.get(`${t.mchId}\u0000${t.outTradeNo}`)?.length ?? 0) > 0;
  }

  /** Fen already refunded or being refunded (a closed refund gives its amount back). */
  committed(t: Pick<Trade, 'mchId' | 'outTradeNo'>): number {
    return this.refundsOf(t).reduce((sum, r) => sum + (r.status === 'REFUNDCLOSE' ? 0 : r.refundFee), 0);
  }

  all(): SandboxRefund[] {
    return [...this.byNo.values()];
  }

  add(r: SandboxRefund): void {
    this.byNo.set(`${r.mchId}\u0000${r.outRefundNo}`, r);
    this.byId.set(r.refundId, r);
    const key = `${r.mchId}\u0000${r.outTradeNo}`;
    this.byTrade.set(key, [...(this.byTrade.get(key) ?? []), r]);
  }

  /** Runs `fn` after `ms` unless the ledger is closed first. */
  later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
