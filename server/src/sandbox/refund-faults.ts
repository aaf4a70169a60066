/*
 * Fault knobs for refunds and bills, armed with POST /sandbox/faults beside the others (faults.ts) and
 * cleared with DELETE /sandbox/faults. Every part optional, one rule or an array of rules:
 *
 * {
 *   "refund": {                       // POST /secapi/pay/refund and POST /v3/refund/domestic/refunds (v3: NOTENOUGH →
 *                                     //   403 NOT_ENOUGH, SYSTEMERROR → 500 SYSTEM_ERROR, CHANGE → ABNORMAL, REFUNDCLOSE → CLOSED)
 *     "action": "NOTENOUGH"           // answer err_code NOTENOUGH (基本账户余额不足); nothing is refunded
 *             | "SYSTEMERROR"         // answer err_code SYSTEMERROR; with "applied": true the refund IS taken
 *                                     //   (as when WeChat's answer is lost), so a retry finds it
 *             | "CHANGE"              // the refund is taken but ends CHANGE (退款异常) instead of SUCCESS
 *             | "REFUNDCLOSE",        // ... or REFUNDCLOSE (退款关闭)
 *     "count": 1,                     // how many refund calls it applies to (default 1)
 *     "sticky": false,                // true: until DELETE /sandbox/faults, whatever the count
 *     "outRefundNo": "...",           // only this out_refund_no (default: any)
 *     "applied": false                // for SYSTEMERROR, see above
 *   },
 *   "refundNotify": {                 // refund notifications (one per refund, with its retries)
 *     "action": "drop" | "duplicate" | "delay" | "corrupt",   // as for "notify"; corrupt = req_info
 *                                     //   encrypted with another key, as a forger would (v3: a bad signature)
 *     "count": 1, "outRefundNo": "...", "delayMs": 1000, "copies": 2
 *   },
 *   "bill": {                         // POST /pay/downloadbill and GET /v3/bill/tradebill (applied when the v3 bill is
 *                                     //   requested, so its hash_value is of the faulted file)
 *     "action": "omit"                // leave a payment line out of the bill (reconciliation must notice)
 *             | "amount",             // change a payment line's amount by deltaFen
 *     "outTradeNo": "...",            // which trade (default: the bill's first payment line)
 *     "deltaFen": 1,                  // for "amount" (default 1, not 0)
 *     "count": 1,                     // how many downloads it applies to (default 1)
 *     "sticky": false                 // true: until cleared
 *   }
 * }
 */
import { Type, type Static } from '@sinclair/typebox';
import { consumeNotifyRules, type NotifyPlan } from './faults.js';

const Count = Type.Integer({ minimum: 1, maximum: 10_000 });
const OutRefundNo = Type.String({ minLength: 1, maxLength: 64 });

export const RefundFaultSchema = Type.Object(
  {
    action: Type.Union([Type.Literal('NOTENOUGH'), Type.Literal('SYSTEMERROR'), Type.Literal('CHANGE'), Type.Literal('REFUNDCLOSE')]),
    count: Type.Optional(Count),
    sticky: Type.Optional(Type.Boolean()),
    outRefundNo: Type.Optional(OutRefundNo),
    applied: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const RefundNotifyFaultSchema = Type.Object(
  {
    action: Type.Union([Type.Literal('drop'), Type.Literal('duplicate'), Type.Literal('delay'), Type.Literal('corrupt')]),
    count: Type.Optional(Count),
    outRefundNo: Type.Optional(OutRefundNo),
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 24 * 3600 * 1000 })),
    copies: Type.Optional(Type.Integer({ minimum: 2, maximum: 100 })),
  },
  { additionalProperties: false },
);

export const BillFaultSchema = Type.Object(
  {
    action: Type.Union([Type.Literal('omit'), Type.Literal('amount')]),
    outTradeNo: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    deltaFen: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, not: { const: 0 } })),
    count: Type.Optional(Count),
    sticky: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export type RefundFault = Static<typeof RefundFaultSchema>;
export type RefundNotifyFault = Static<typeof RefundNotifyFaultSchema>;
export type BillFault = Static<typeof BillFaultSchema>;

const oneOrMany = <T extends Parameters<typeof Type.Array>[0]>(s: T) => Type.Union([s, Type.Array(s, { maxItems: 100 })]);

/** The parts of POST /sandbox/faults this file owns. */
export const RefundFaultsBodyProps = {
  refund: Type.Optional(oneOrMany(RefundFaultSchema)),
  refundNotify: Type.Optional(oneOrMany(RefundNotifyFaultSchema)),
  bill: Type.Optional(oneOrMany(BillFaultSchema)),
};

/** The parts of the armed-faults answer this file owns (listed only when something is armed). */
export const RefundArmedProps = {
  refund: Type.Optional(Type.Array(RefundFaultSchema)),
  refundNotify: Type.Optional(Type.Array(RefundNotifyFaultSchema)),
  bill: Type.Optional(Type.Array(BillFaultSchema)),
};

export interface RefundFaultsBody {
  refund?: RefundFault | RefundFault[];
  refundNotify?: RefundNotifyFault | RefundNotifyFault[];
  bill?: BillFault | BillFault[];
}

type Armed<T> = T & { count: number };
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export class RefundFaults {
  private refund: Armed<RefundFault>[] = [];
  private notify: Armed<RefundNotifyFault>[] = [];
  private bill: Armed<BillFault>[] = [];

  arm(body: RefundFaultsBody): void {
    for (const f of list(body.refund)) this.refund.push({ ...f, count: f.count ?? 1 });
    for (const f of list(body.refundNotify)) this.notify.push({ ...f, count: f.count ?? 1 });
    for (const f of list(body.bill)) this.bill.push({ ...f, count: f.count ?? 1 });
  }

  reset(): void {
    this.refund = [];
    this.notify = [];
    this.bill = [];
  }

  snapshot(): { refund?: RefundFault[]; refundNotify?: RefundNotifyFault[]; bill?: BillFault[] } {
    return {
      ...(this.refund.length ? { refund: this.refund.map((f) => ({ ...f })) } : {}),
      ...(this.notify.length ? { refundNotify: this.notify.map((f) => ({ ...f })) } : {}),
      ...(this.bill.length ? { bill: this.bill.map((f) => ({ ...f })) } : {}),
    };
  }

  private consume<T extends { count: number; sticky?: boolean }>(arr: T[], f: T): T[] {
    if (f.sticky) return arr;
    f.count -= 1;
    return arr.filter((x) => x.count > 0);
  }

  /** A fault that replaces the answer of one refund call (NOTENOUGH, SYSTEMERROR), consumed. */
  takeRefundAnswer(outRefundNo: string): { action: 'NOTENOUGH' | 'SYSTEMERROR'; applied: boolean } | undefined {
    const f = this.match(outRefundNo, (x) => x.action === 'NOTENOUGH' || x.action === 'SYSTEMERROR');
    if (!f) return undefined;
    this.refund = this.consume(this.refund, f);
    return { action: f.action as 'NOTENOUGH' | 'SYSTEMERROR', applied: f.applied === true };
  }

  /** How a new refund ends when a fault says so (CHANGE, REFUNDCLOSE), consumed. */
  takeRefundOutcome(outRefundNo: string): 'CHANGE' | 'REFUNDCLOSE' | undefined {
    const f = this.match(outRefundNo, (x) => x.action === 'CHANGE' || x.action === 'REFUNDCLOSE');
    if (!f) return undefined;
    this.refund = this.consume(this.refund, f);
    return f.action as 'CHANGE' | 'REFUNDCLOSE';
  }

  private match(outRefundNo: string, pred: (f: RefundFault) => boolean): Armed<RefundFault> | undefined {
    return this.refund.find((f) => pred(f) && f.outRefundNo === outRefundNo) ?? this.refund.find((f) => pred(f) && f.outRefundNo === undefined);
  }

  /** What one refund notification must suffer; at most one rule of each action is consumed. */
  takeNotifyPlan(outRefundNo: string): NotifyPlan {
    const plan = consumeNotifyRules([...this.notify.filter((x) => x.outRefundNo === outRefundNo), ...this.notify.filter((x) => x.outRefundNo === undefined)]);
    this.notify = this.notify.filter((f) => f.count > 0);
    return plan;
  }

  /** The bill faults of one download, consumed. */
  takeBillFaults(): BillFault[] {
    const out = this.bill.map((f) => ({ ...f }));
    for (const f of [...this.bill]) this.bill = this.consume(this.bill, f);
    return out;
  }
}
