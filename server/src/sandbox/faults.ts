/*
 * Fault knobs of the sandbox, armed with POST /sandbox/faults and cleared with DELETE /sandbox/faults.
 *
 * Body (JSON; every part optional, each part one rule or an array of rules; a POST adds to what is armed):
 *
 * {
 *   "notify": {                       // payment notifications (one notification = one payment's series of attempts),
 *                                     //   v2 XML or v3 JSON alike (v3 corrupt: a Wechatpay-Signature that does not verify)
 *     "action": "drop"                // never deliver it (GET /sandbox/notifications shows it with dropped: true)
 *             | "duplicate"           // every attempt is posted `copies` times at once (default 2, at most 100)
 *             | "delay"               // wait `delayMs` (real milliseconds, not scaled) before the first attempt
 *             | "corrupt",            // deliver with a wrong sign (as a forger would); the retry schedule runs as usual
 *     "count": 1,                     // how many notifications it applies to (default 1)
 *     "outTradeNo": "...",            // only the notification of this out_trade_no (default: the next ones, any order)
 *     "delayMs": 1000,                // for "delay"
 *     "copies": 2                     // for "duplicate"
 *   },
 *   "payApi": {                       // POST /pay/unifiedorder, /pay/orderquery, /pay/closeorder, and their API v3
 *                                     // equivalents: unifiedorder = POST /v3/pay/transactions/{jsapi,app,native},
 *                                     // orderquery = GET /v3/pay/transactions/{out-trade-no,id}/…, closeorder = …/close
 *     "action": "SYSTEMERROR"         // answer result_code FAIL, err_code SYSTEMERROR (signed, as WeChat does);
 *                                     //   v3: HTTP 500 {code: SYSTEM_ERROR}, signed
 *             | "hang",               // never answer (the caller must time out); released when the sandbox closes
 *     "count": 1,                     // how many calls it applies to (default 1)
 *     "api": "unifiedorder" | "orderquery" | "closeorder"   // default: any of them
 *   },
 *   "login": {                        // GET /sns/jscode2session
 *     "errcode": 45011 | 40226 | -1,  // rate limited, high-risk user, system busy
 *     "count": 1                      // default 1; the code is not consumed by a faulted call
 *   },
 *   "subscribe": {                    // POST /cgi-bin/message/subscribe/send
 *     "errcode": 43101 | 40037 | 47003 | 40001 | 42001 | -1 | 45009,   // answered instead of sending
 *     "count": 1                      // default 1; a faulted call uses no subscription
 *   },
 *   "closeorder": {                   // a setting, not a counted fault: it stays until changed
 *     "minAgeSeconds": 300            // closeorder on a trade younger than this (since the unifiedorder that
 *                                     // created it, on the sandbox clock) is refused; 0 turns the rule off.
 *                                     // DELETE /sandbox/faults puts back the value the sandbox started with
 *                                     // (SandboxOptions.closeorderMinAgeSeconds, by default WeChat's 300)
 *   }
 * }
 *
 * Answer: { armed: { notify: [...], payApi: [...], login: [...], closeorder: { minAgeSeconds } } } with the
 * remaining counts.
 *
 * Refund and bill faults ("refund", "refundNotify", "bill") are documented in refund-faults.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefundFaults, RefundFaultsBodyProps } from './refund-faults.js';

const Count = Type.Integer({ minimum: 1, maximum: 10_000 });

export const NotifyFaultSchema = Type.Object(
  {
    action: Type.Union([Type.Literal('drop'), Type.Literal('duplicate'), Type.Literal('delay'), Type.Literal('corrupt')]),
    count: Type.Optional(Count),
    outTradeNo: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 24 * 3600 * 1000 })),
    copies: Type.Optional(Type.Integer({ minimum: 2, maximum: 100 })),
  },
  { additionalProperties: false },
);

export const PayApiName = Type.Union([Type.Literal('unifiedorder'), Type.Literal('orderquery'), Type.Literal('closeorder')]);

export const PayApiFaultSchema = Type.Object(
  {
    action: Type.Union([Type.Literal('SYSTEMERROR'), Type.Literal('hang')]),
    count: Type.Optional(Count),
    api: Type.Optional(PayApiName),
  },
  { additionalProperties: false },
);

export const LoginFaultSchema = Type.Object(
  {
    errcode: Type.Union([Type.Literal(45011), Type.Literal(40226), Type.Literal(-1)]),
    count: Type.Optional(Count),
  },
  { additionalProperties: false },
);

export const SubscribeFaultSchema = Type.Object(
  {
    errcode: Type.Union([43101, 40037, 47003, 40001, 42001, -1, 45009].map((c) => Type.Literal(c))),
    count: Type.Optional(Count),
  },
  { additionalProperties: false },
);

/** WeChat's documented minimum age of an order before closeorder: 订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟. */
export const CLOSEORDER_MIN_AGE_SECONDS = 300;

export const CloseorderSettingSchema = Type.Object(
  { minAgeSeconds: Type.Integer({ minimum: 0, maximum: 24 * 3600 }) },
  { additionalProperties: false },
);

const oneOrMany = <T extends Parameters<typeof Type.Array>[0]>(s: T) => Type.Union([s, Type.Array(s, { maxItems: 100 })]);

export const FaultsBodySchema = Type.Object(
  {
    notify: Type.Optional(oneOrMany(NotifyFaultSchema)),
    payApi: Type.Optional(oneOrMany(PayApiFaultSchema)),
    login: Type.Optional(oneOrMany(LoginFaultSchema)),
    subscribe: Type.Optional(oneOrMany(SubscribeFaultSchema)),
    closeorder: Type.Optional(CloseorderSettingSchema),
    ...RefundFaultsBodyProps,
  },
  { additionalProperties: false },
);

export type NotifyFault = Static<typeof NotifyFaultSchema>;
export type PayApiFault = Static<typeof PayApiFaultSchema>;
export type LoginFault = Static<typeof LoginFaultSchema>;
export type SubscribeFault = Static<typeof SubscribeFaultSchema>;
export type FaultsBody = Static<typeof FaultsBodySchema>;
export type CloseorderSetting = Static<typeof CloseorderSettingSchema>;
export type PayApi = Static<typeof PayApiName>;

type Armed<T> = T & { count: number };

/**
 * The plan of one notification (payment or refund) from the armed rules that match it, best first:
 * at most one rule of each action is used, and each used rule loses one of its count.
 */
/**
 * The "hang" fault of an API (v2 XML or v3 JSON): `hold(req, reply)` never answers the request, and
 * the sandbox destroys what it still holds when it closes, so that closing does not wait on them.
 */
export function hangingReplies(app: FastifyInstance): (req: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const held = new Set<FastifyReply>();
  app.addHook('preClose', async () => {
    for (const reply of held) reply.raw.destroy();
    held.clear();
  });
  return (req, reply) => {
    held.add(reply);
    req.raw.once('close', () => held.delete(reply));
    return reply;
  };
}

export function consumeNotifyRules(
  candidates: Array<{ action: 'drop' | 'duplicate' | 'delay' | 'corrupt'; count: number; delayMs?: number; copies?: number }>,
): NotifyPlan {
  const plan: NotifyPlan = { drop: false, corrupt: false, delayMs: 0, copies: 1 };
  const used = new Set<string>();
  for (const f of candidates) {
    if (used.has(f.action)) continue;
    used.add(f.action);
    f.count -= 1;
    if (f.action === 'drop') plan.drop = true;
    else if (f.action === 'corrupt') plan.corrupt = true;
    else if (f.action === 'delay') plan.delayMs = f.delayMs ?? 1000;
    else plan.copies = f.copies ?? 2;
  }
  return plan;
}

/** What one notification must suffer, decided once when the payment happens. */
export interface NotifyPlan {
  drop: boolean;
  corrupt: boolean;
  delayMs: number;
  copies: number;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export class Faults {
  private notify: Armed<NotifyFault>[] = [];
  private payApi: Armed<PayApiFault>[] = [];
  private login: Armed<LoginFault>[] = [];
  private subscribe: Armed<SubscribeFault>[] = [];
  private closeorderMinAge: number;

  /** @param closeorderMinAgeSeconds the closeorder rule the sandbox starts with (and DELETE returns to) */
  constructor(private readonly closeorderMinAgeSeconds: number = CLOSEORDER_MIN_AGE_SECONDS) {
    this.closeorderMinAge = closeorderMinAgeSeconds;
  }
  readonly refunds = new RefundFaults();

  arm(body: FaultsBody): void {
    this.refunds.arm(body);
    for (const f of list(body.notify)) this.notify.push({ ...f, count: f.count ?? 1 });
    for (const f of list(body.payApi)) this.payApi.push({ ...f, count: f.count ?? 1 });
    for (const f of list(body.login)) this.login.push({ ...f, count: f.count ?? 1 });
    for (const f of list(body.subscribe)) this.subscribe.push({ ...f, count: f.count ?? 1 });
    if (body.closeorder !== undefined) this.closeorderMinAge = body.closeorder.minAgeSeconds;
  }

  reset(): void {
    this.notify = [];
    this.payApi = [];
    this.login = [];
    this.subscribe = [];
    this.closeorderMinAge = this.closeorderMinAgeSeconds;
    this.refunds.reset();
  }

  snapshot(): { notify: NotifyFault[]; payApi: PayApiFault[]; login: LoginFault[]; subscribe: SubscribeFault[]; closeorder: CloseorderSetting } & ReturnType<RefundFaults['snapshot']> {
    return {
      ...this.refunds.snapshot(),
      notify: this.notify.map((f) => ({ ...f })),
      payApi: this.payApi.map((f) => ({ ...f })),
      login: this.login.map((f) => ({ ...f })),
      subscribe: this.subscribe.map((f) => ({ ...f })),
      closeorder: { minAgeSeconds: this.closeorderMinAge },
    };
  }

  /** How old (ms, sandbox clock) a trade must be before closeorder may close it; 0: no rule. */
  closeorderMinAgeMs(): number {
    return this.closeorderMinAge * 1000;
  }

  /** Consumes, for one notification, at most one armed rule of each action that matches it. */
  takeNotifyPlan(outTradeNo: string): NotifyPlan {
    // Rules aimed at this out_trade_no win over the general ones.
    const plan = consumeNotifyRules([
      ...this.notify.filter((f) => f.outTradeNo === outTradeNo),
      ...this.notify.filter((f) => f.outTradeNo === undefined),
    ]);
    this.notify = this.notify.filter((f) => f.count > 0);
    return plan;
  }

  /** Consumes one armed pay-API fault of this action for this API; false when none is armed. */
  takePayApi(api: PayApi, action: PayApiFault['action']): boolean {
    const f = this.payApi.find((x) => x.action === action && (x.api === undefined || x.api === api));
    if (!f) return false;
    f.count -= 1;
    if (f.count <= 0) this.payApi = this.payApi.filter((x) => x !== f);
    return true;
  }

  takeSubscribe(): SubscribeFault['errcode'] | undefined {
    const f = this.subscribe[0];
    if (!f) return undefined;
    f.count -= 1;
    if (f.count <= 0) this.subscribe.shift();
    return f.errcode;
  }

  takeLogin(): LoginFault['errcode'] | undefined {
    const f = this.login[0];
    if (!f) return undefined;
    f.count -= 1;
    if (f.count <= 0) this.login.shift();
    return f.errcode;
  }
}
