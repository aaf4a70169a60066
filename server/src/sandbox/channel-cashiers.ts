// The WeChat clients of the other channels, played by the sandbox:
// - POST /sandbox/app-cashier: the mobile app's WeChat SDK (PayReq). It takes the seven APP params and
//   checks `sign` as WeChat does: over appid, partnerid, prepayid, package, noncestr, timestamp (the
//   lower-case keys), with the merchant key and the sign type the trade's unifiedorder used; for a
//   prepay made by API v3, RSA-SHA256 over appid, timestamp, noncestr, prepayid (merchant certificate). It answers
//   as the SDK's PayResp does: errCode 0 paid, -2 cancelled, -1 failed (errStr says why).
// - POST /sandbox/scan: a WeChat user scanning a Native code_url (weixin://wxpay/bizpayurl?pr=…) and paying.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { isSignType, verifySign } from '../wechat/sign.js';
import type { Faults } from './faults.js';
import type { Notifier } from './notifier.js';
import { payTrade, unpayable } from './pay-trade.js';
import type { SandboxState } from './state.js';
import { appPayMessage, rsaVerify } from '../wechat/v3/crypto.js';
import type { V3Keys } from './v3/keys.js';

export interface ChannelCashierOptions {
  state: SandboxState;
  faults: Faults;
  notifier: Notifier;
  /** API v3's keys: a v3 APP prepay's sign is RSA over appid, timestamp, noncestr, prepayid (merchant certificate key) */
  v3?: V3Keys;
}

const APP_FIELDS = ['appid', 'partnerid', 'prepayid', 'package', 'noncestr', 'timestamp', 'sign'] as const;

// Loose on purpose: a wrong type is the SDK's errCode -1, not a schema 400.
const AppCashierBodySchema = Type.Object({
  appid: Type.Optional(Type.Unknown()),
  partnerid: Type.Optional(Type.Unknown()),
  prepayid: Type.Optional(Type.Unknown()),
  package: Type.Optional(Type.Unknown()),
  noncestr: Type.Optional(Type.Unknown()),
  timestamp: Type.Optional(Type.Unknown()),
  sign: Type.Optional(Type.Unknown()),
  /** the WeChat user on the phone (an openid of the open appid); default: a new user of that appid */
  openid: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' })),
  outcome: Type.Optional(Type.Union([Type.Literal('pay'), Type.Literal('cancel'), Type.Literal('fail')])),
});

const ScanBodySchema = Type.Object(
  {
    codeUrl: Type.String({ minLength: 1, maxLength: 256 }),
    /** who scans: an openid of the trade's appid (default: a new user of that appid) */
    openid: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' })),
    outcome: Type.Optional(Type.Union([Type.Literal('pay'), Type.Literal('fail')])),
  },
  { additionalProperties: false },
);

export async function channelCashierRoutes(app: FastifyInstance, opts: ChannelCashierOptions): Promise<void> {
  const { state, faults, notifier } = opts;

  app.post<{ Body: Static<typeof AppCashierBodySchema> }>('/sandbox/app-cashier', { schema: { body: AppCashierBodySchema } }, async (req, reply) => {
    const b = req.body as Record<string, unknown>;
    const refuse = (code: string, errStr: string) => reply.code(400).send({ errCode: -1, errStr, code });
    for (const name of APP_FIELDS) {
      const v = b[name];
      if (v === undefined || v === '') return refuse('PARAM_MISSING', `${name} is missing`);
      if (typeof v !== 'string') return refuse('PARAM_TYPE', `${name} must be a string`);
    }
    const p = b as Record<(typeof APP_FIELDS)[number], string> & { outcome?: string };
    if (p.package !== 'Sign=WXPay') return refuse('PACKAGE_INVALID', 'package must be Sign=WXPay');
    if (!/^[0-9]{10}$/.test(p.timestamp)) return refuse('TIMESTAMP_INVALID', 'timestamp must be seconds since the epoch (10 digits)');
    const trade = state.tradeByPrepayId(p.prepayid);
    if (!trade) return refuse('PREPAY_NOT_FOUND', 'prepayid invalid');
    if (trade.tradeType !== 'APP') return refuse('TRADE_TYPE_MISMATCH', 'prepayid is not an APP trade');
    if (trade.appid !== p.appid) return refuse('APPID_MISMATCH', 'appid and prepayid do not match');
    if (trade.mchId !== p.partnerid) return refuse('PARTNERID_MISMATCH', 'partnerid and prepayid do not match');
    const merchant = state.binding(trade.appid, trade.mchId);
    if (!merchant || !isSignType(trade.signType)) return refuse('PREPAY_NOT_FOUND', 'prepayid invalid');
    if (trade.api === 'v3') {
      const cert = opts.v3?.merchantCert(trade.mchId);
      if (!cert || !rsaVerify(appPayMessage(p.appid, p.timestamp, p.noncestr, p.prepayid), p.sign, cert.certPem)) return refuse('SIGN_INVALID', '签名错误');
    } else {
      const signed = { appid: p.appid, partnerid: p.partnerid, prepayid: p.prepayid, package: p.package, noncestr: p.noncestr, timestamp: p.timestamp, sign: p.sign };
      if (!verifySign(signed, merchant.key, trade.signType)) return refuse('SIGN_INVALID', '签名错误');
    }
    const cannot = unpayable(state, trade);
    if (cannot) return refuse(cannot.code, cannot.detail);
    const payer = typeof b.openid === 'string' ? b.openid : undefined;
    if (payer !== undefined && !state.openidBelongsTo(payer, trade.appid)) return refuse('OPENID_OF_OTHER_APPID', 'openid is not a user of this appid');
    const outcome = p.outcome ?? 'pay';
    if (outcome === 'cancel') return { errCode: -2, errStr: '用户取消' };
    if (outcome === 'fail') {
      trade.state = 'PAYERROR';
      return { errCode: -1, errStr: '支付失败（沙箱模拟）' };
    }
    payTrade({ state, faults, notifier }, trade, merchant, payer);
    return { errCode: 0 };
  });

  app.post<{ Body: Static<typeof ScanBodySchema> }>('/sandbox/scan', { schema: { body: ScanBodySchema } }, async (req, reply) => {
    const { codeUrl, openid, outcome } = req.body;
    const fail = (status: number, code: string, message: string): FastifyReply =>
      reply.code(status).send({ statusCode: status, code, error: status === 404 ? 'Not Found' : 'Bad Request', message });
    if (!/^weixin:\/\/wxpay\/bizpayurl\?pr=/.test(codeUrl)) return fail(400, 'NOT_A_CODE_URL', 'not a WeChat Pay code_url (weixin://wxpay/bizpayurl?pr=…)');
    const trade = state.tradeByCodeUrl(codeUrl);
    if (!trade) return fail(404, 'CODE_URL_NOT_FOUND', '二维码已失效 (no live NATIVE prepay has this code_url)');
    const merchant = state.binding(trade.appid, trade.mchId);
    if (!merchant) return fail(404, 'CODE_URL_NOT_FOUND', '二维码已失效');
    if (openid !== undefined && !state.openidBelongsTo(openid, trade.appid)) return fail(400, 'OPENID_OF_OTHER_APPID', 'this openid is not a user of the code_url appid');
    const cannot = unpayable(state, trade);
    if (cannot) return fail(400, cannot.code, cannot.detail);
    if (outcome === 'fail') {
      trade.state = 'PAYERROR';
      return { result: 'failed', outTradeNo: trade.outTradeNo };
    }
    payTrade({ state, faults, notifier }, trade, merchant, openid);
    return { result: 'paid', outTradeNo: trade.outTradeNo, openid: trade.payerOpenid, transactionId: trade.transactionId };
  });
}
