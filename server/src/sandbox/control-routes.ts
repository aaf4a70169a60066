// The sandbox's own JSON endpoints under /sandbox/: what the WeChat client and WeChat's back office
// would do in real life (mint login codes, pay at the cashier) plus fault knobs and delivery logs.
// The fault JSON shape is documented at the top of faults.ts.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { isSignType, verifySign, type SignType } from '../wechat/sign.js';
import { CloseorderSettingSchema, FaultsBodySchema, LoginFaultSchema, NotifyFaultSchema, PayApiFaultSchema, SubscribeFaultSchema, type Faults, type FaultsBody } from './faults.js';
import type { Notifier } from './notifier.js';
import { RefundArmedProps } from './refund-faults.js';
import { payTrade, unpayable } from './pay-trade.js';
import type { SandboxState } from './state.js';
import { DeliveryFields } from './delivery.js';
import { jsapiPayMessage, rsaVerify } from '../wechat/v3/crypto.js';
import type { V3Keys } from './v3/keys.js';

export interface ControlRoutesOptions {
  state: SandboxState;
  faults: Faults;
  notifier: Notifier;
  /** API v3's keys: a v3 prepay's paySign (signType RSA) verifies with the merchant's API certificate */
  v3?: V3Keys;
}

const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});

const LoginCodeBodySchema = Type.Object(
  {
    appid: Type.String({ minLength: 1, maxLength: 32 }),
    openid: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' })),
    unionid: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' })),
  },
  { additionalProperties: false },
);
type LoginCodeBody = Static<typeof LoginCodeBodySchema>;

// Loose on purpose: the cashier reports type mistakes the way wx.requestPayment does, not as a 400 from a schema.
const CashierBodySchema = Type.Object({
  appId: Type.Optional(Type.Unknown()),
  timeStamp: Type.Optional(Type.Unknown()),
  nonceStr: Type.Optional(Type.Unknown()),
  package: Type.Optional(Type.Unknown()),
  signType: Type.Optional(Type.Unknown()),
  paySign: Type.Optional(Type.Unknown()),
  outcome: Type.Optional(Type.Union([Type.Literal('pay'), Type.Literal('cancel'), Type.Literal('fail')])),
});
type CashierBody = Static<typeof CashierBodySchema>;

const CashierReplySchema = Type.Object({ errMsg: Type.String(), code: Type.Optional(Type.String()) });

const AttemptSchema = Type.Object({
  outTradeNo: Type.String(),
  transactionId: Type.String(),
  notifyUrl: Type.String(),
  ...DeliveryFields,
});

function typeName(v: unknown): string {
  if (v === null) return 'Null';
  if (Array.isArray(v)) return 'Array';
  const t = typeof v;
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export async function controlRoutes(app: FastifyInstance, opts: ControlRoutesOptions): Promise<void> {
  const { state, faults, notifier } = opts;

  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { statusCode?: number; code?: string; validation?: unknown };
    const status = e.validation ? 400 : e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status >= 500) req.log.error({ err: e }, 'sandbox control endpoint failed');
    const code = e.validation ? 'VALIDATION_ERROR' : status >= 500 ? 'INTERNAL' : (e.code ?? 'BAD_REQUEST');
    const message = status >= 500 ? 'sandbox internal error' : e.message;
    // errMsg too, so that a cashier caller always gets a wx.requestPayment-shaped answer.
    return reply.code(status).send({ statusCode: status, code, error: status >= 500 ? 'Internal Server Error' : 'Bad Request', message, errMsg: `requestPayment:fail parameter error: ${message}` });
  });

  const fail = (reply: FastifyReply, statusCode: number, code: string, message: string) =>
    reply.code(statusCode).send({ statusCode, code, error: statusCode === 404 ? 'Not Found' : 'Bad Request', message });

  app.post<{ Body: LoginCodeBody }>(
    '/sandbox/login-codes',
    {
      schema: {
        body: LoginCodeBodySchema,
        response: { 200: Type.Object({ code: Type.String(), openid: Type.String() }), 400: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req, reply) => {
      const { appid, openid, unionid } = req.body;
      if (!state.appidKnown(appid)) return fail(reply, 400, 'UNKNOWN_APPID', `appid ${appid} is not registered with the sandbox`);
      if (openid !== undefined && state.openidTakenByOther(openid, appid)) {
        return reply.code(409).send({ statusCode: 409, code: 'OPENID_OF_OTHER_APPID', error: 'Conflict', message: 'this openid belongs to another appid' });
      }
      return state.mintLoginCode(appid, openid, unionid);
    },
  );

  app.post<{ Body: CashierBody }>(
    '/sandbox/cashier',
    { schema: { body: CashierBodySchema, response: { 200: CashierReplySchema, 400: CashierReplySchema } } },
    async (req, reply) => {
      const b = req.body;
      const refuse = (code: string, detail: string) => reply.code(400).send({ errMsg: `requestPayment:fail ${detail}`, code });

      // Type checks exactly as the WeChat client reports them.
      const fields = ['appId', 'timeStamp', 'nonceStr', 'package', 'signType', 'paySign'] as const;
      for (const name of fields) {
        const v = b[name];
        if (v === undefined || v === '') return refuse('PARAM_MISSING', `parameter error: parameter.${name} should be String instead of Undefined;`);
        if (typeof v !== 'string') return refuse('PARAM_TYPE', `parameter error: parameter.${name} should be String instead of ${typeName(v)};`);
      }
      const p = b as Record<(typeof fields)[number], string> & { outcome?: string };
      const rsa = p.signType === 'RSA' && opts.v3 !== undefined;
      if (!rsa && !isSignType(p.signType)) return refuse('SIGN_TYPE_INVALID', `invalid signType ${p.signType}`);
      const m = /^prepay_id=(.+)$/.exec(p.package);
      if (!m) return refuse('PACKAGE_INVALID', 'package error: expected prepay_id=...');
      const trade = state.tradeByPrepayId(m[1] as string);
      if (!trade) return refuse('PREPAY_NOT_FOUND', 'prepay_id invalid');
      if (trade.appid !== p.appId) return refuse('APPID_MISMATCH', 'appId and prepay_id do not match');
      const merchant = state.binding(trade.appid, trade.mchId);
      if (!merchant) return refuse('PREPAY_NOT_FOUND', 'prepay_id invalid');
      if (trade.api === 'v3' || rsa) {
        // API v3: paySign is RSA-SHA256 over appId, timeStamp, nonceStr, package with the merchant's API
        // certificate key; a v3 prepay takes nothing else, a v2 one never RSA.
        // (a v2 prepay answers RSA as v2 always has: an unknown signType)
        if (trade.api !== 'v3') return refuse('SIGN_TYPE_INVALID', `invalid signType ${p.signType}`);
        if (!rsa) return refuse('SIGN_TYPE_MISMATCH', '支付验证签名失败');
        const cert = opts.v3?.merchantCert(trade.mchId);
        if (!cert || !rsaVerify(jsapiPayMessage(p.appId, p.timeStamp, p.nonceStr, p.package), p.paySign, cert.certPem)) return refuse('PAYSIGN_INVALID', '支付验证签名失败');
      } else {
        const signed = { appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType, sign: p.paySign };
        if (!verifySign(signed, merchant.key, p.signType as SignType)) return refuse('PAYSIGN_INVALID', '支付验证签名失败');
        // WeChat: the signType here must be the one unifiedorder was signed with.
        if (p.signType !== trade.signType) return refuse('SIGN_TYPE_MISMATCH', '支付验证签名失败');
      }
      const cannot = unpayable(state, trade);
      if (cannot) return refuse(cannot.code, cannot.detail);

      const outcome = p.outcome ?? 'pay';
      if (outcome === 'cancel') return { errMsg: 'requestPayment:fail cancel' };
      if (outcome === 'fail') {
        trade.state = 'PAYERROR';
        return { errMsg: 'requestPayment:fail 支付失败（沙箱模拟）' };
      }
      payTrade({ state, faults, notifier }, trade, merchant);
      return { errMsg: 'requestPayment:ok' };
    },
  );

  const ArmedSchema = Type.Object({
    armed: Type.Object({
      notify: Type.Array(NotifyFaultSchema),
      payApi: Type.Array(PayApiFaultSchema),
      login: Type.Array(LoginFaultSchema),
      subscribe: Type.Array(SubscribeFaultSchema),
      closeorder: CloseorderSettingSchema,
      ...RefundArmedProps,
    }),
  });

  app.post<{ Body: FaultsBody }>('/sandbox/faults', { schema: { body: FaultsBodySchema, response: { 200: ArmedSchema } } }, async (req) => {
    faults.arm(req.body);
    return { armed: faults.snapshot() };
  });

  app.delete('/sandbox/faults', { schema: { response: { 200: ArmedSchema } } }, async () => {
    faults.reset();
    return { armed: faults.snapshot() };
  });

  app.get<{ Querystring: { out_trade_no?: string } }>(
    '/sandbox/notifications',
    {
      schema: {
        querystring: Type.Object({ out_trade_no: Type.Optional(Type.String({ maxLength: 32 })) }),
        response: { 200: Type.Object({ attempts: Type.Array(AttemptSchema) }) },
      },
    },
    async (req) => ({ attempts: notifier.list(req.query.out_trade_no) }),
  );

  app.get(
    '/sandbox/merchants',
    { schema: { response: { 200: Type.Object({ merchants: Type.Array(Type.Object({ appid: Type.String(), mchId: Type.String() })) }) } } },
    async () => ({ merchants: state.merchants.map((m) => ({ appid: m.appid, mchId: m.mchId })) }),
  );
}
