// /secapi/pay/refund (申请退款) and /pay/refundquery (查询退款) as WeChat Pay v2 answers them.
//
// /secapi/ paths need the merchant certificate: on the sandbox's TLS listener the handshake itself
// refuses a client without one issued by the sandbox CA (as WeChat's does: SDKs then report a
// handshake failure or "failed to respond"), and a certificate of another merchant than the request's
// mch_id is answered CERT_ERROR. The plain listener has no TLS at all, so it closes the connection
// without answering, which is what a client without a certificate sees at WeChat.
//
// The refund rules and the answers WeChat is known to give (SDK captures and developers' reports):
// refund_fee > total_fee → return_msg "invalid refund_fee"; total_fee other than the trade's, or an
// out_refund_no again with other amounts → REFUND_FEE_MISMATCH; a fully refunded trade → ERROR
// 订单已全额退款; more than what is left → REFUND_FEE_INVALID 累计退款金额大于支付金额; an unknown
// or unpaid trade → ORDERNOTEXIST (unknown transaction_id: INVALID_TRANSACTIONID); more than 50
// refunds → INVALID_REQ_TOO_MUCH; paid over a year ago → TRADE_OVERDUE.
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { toBeijingDateTime } from '../wechat/beijing-datetime.js';
import { FieldError, OUT_TRADE_NO_RE, parseIntField } from '../wechat/fields.js';
import { fromBeijingTime } from '../wechat/time.js';
import type { SandboxCore } from './core.js';
import { notifyUrlOk } from './delivery.js';
import { MAX_REFUNDS_PER_TRADE, newRefundId, REFUND_SETTLE_MS, REFUND_WINDOW_MS, type RefundMerchant, type SandboxRefund } from './refund-state.js';
import type { Trade } from './state.js';
import {
  authenticate,
  checkAppid,
  lackParams,
  present,
  render,
  resultFail,
  returnFail,
  sendXml,
  takeRawBodies,
  xmlErrorHandler,
  type Outcome,
  type XmlCtx,
} from './xml-api.js';

const OUT_REFUND_NO_RE = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const REFUND_ACCOUNTS = new Set(['REFUND_SOURCE_UNSETTLED_FUNDS', 'REFUND_SOURCE_RECHARGE_FUNDS']);
const PAGE = 10;

const FEE_MISMATCH = '订单金额或退款金额与之前请求不一致，请核实后再试';
/** How /secapi/pay/refund answers each refusal (see the head of this file). */
const V2_REFUSALS: Record<RefundRefusal, () => Outcome> = {
  REUSED: () => resultFail('INVALID_REQUEST', '商户退款单号重复'),
  CHANGED: () => resultFail('REFUND_FEE_MISMATCH', FEE_MISMATCH),
  NO_TRANSACTION: () => resultFail('INVALID_TRANSACTIONID', '无效transaction_id'),
  NO_TRADE: () => resultFail('ORDERNOTEXIST', '订单不存在'),
  OVERDUE: () => resultFail('TRADE_OVERDUE', '订单已经超过退款期限'),
  FULL: () => resultFail('ERROR', '订单已全额退款'),
  TOO_MANY: () => resultFail('INVALID_REQ_TOO_MUCH', '部分退款次数超过50次'),
  EXCEEDS: () => resultFail('REFUND_FEE_INVALID', '累计退款金额大于支付金额'),
  NOTENOUGH: () => resultFail('NOTENOUGH', '基本账户余额不足，请充值后重新发起'),
  SYSTEMERROR: () => resultFail('SYSTEMERROR', '系统超时'),
};

function fen(p: Record<string, string>, name: string): number | undefined {
  try {
    const n = parseIntField(p[name], name);
    return n > 0 ? n : undefined;
  } catch (err) {
    if (err instanceof FieldError) return undefined;
    throw err;
  }
}


function refundAnswer(r: SandboxRefund): Outcome {
  return {
    kind: 'success',
    fields: {
      transaction_id: r.transactionId,
      out_trade_no: r.outTradeNo,
      out_refund_no: r.outRefundNo,
      refund_id: r.refundId,
      refund_fee: String(r.refundFee),
      total_fee: String(r.totalFee),
      cash_fee: String(r.totalFee),
      cash_refund_fee: String(r.refundFee),
      coupon_refund_fee: '0',
      coupon_refund_count: '0',
    },
  };
}

function peerCommonName(req: FastifyRequest): string | undefined {
  const socket = req.raw.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** A taken refund ends (its outcome) after a time-scaled delay, then its notification starts (v2 and v3 alike). */
export function settleRefund(core: SandboxCore, r: SandboxRefund, merchant: RefundMerchant): void {
  core.refunds.later(REFUND_SETTLE_MS * core.timeScale, () => {
    r.status = r.outcome;
    r.settledAt = core.state.now();
    core.refundNotifier.start(r, merchant, core.faults.refunds.takeNotifyPlan(r.outRefundNo));
  });
}

/** A refund request once its fields are checked, in either API's terms. */
export interface RefundAsk {
  api: 'v2' | 'v3';
  merchant: RefundMerchant;
  /** v2's request names its app (the trade and an earlier refund must be of it); v3's does not */
  appid?: string;
  transactionId?: string;
  outTradeNo?: string;
  outRefundNo: string;
  totalFee: number;
  refundFee: number;
  refundDesc?: string;
  refundAccount: SandboxRefund['refundAccount'];
  notifyUrl?: string;
  signType: SandboxRefund['signType'];
  /** where the money goes, in the API's words */
  recvAccount: string;
}

/**
 * Why WeChat refuses a refund, whatever API asked: each API answers a reason its own way.
 * REUSED: the out_refund_no refunded another trade; CHANGED: it, or the trade's total, with other
 * amounts; NO_TRANSACTION: an unknown transaction_id; NO_TRADE: an unknown or unpaid trade; OVERDUE:
 * paid over a year ago; FULL: nothing left; TOO_MANY: 50 refunds already; EXCEEDS: more than is left;
 * NOTENOUGH / SYSTEMERROR: the "refund" faults (a SYSTEMERROR with applied: true is no refusal: see lostAnswer).
 */
export type RefundRefusal = 'REUSED' | 'CHANGED' | 'NO_TRANSACTION' | 'NO_TRADE' | 'OVERDUE' | 'FULL' | 'TOO_MANY' | 'EXCEEDS' | 'NOTENOUGH' | 'SYSTEMERROR';

/**
 * WeChat's refund rules, one copy for /secapi/pay/refund and /v3/refund/domestic/refunds: the same
 * out_refund_no again is the same refund; otherwise the trade's amounts are checked, the refund taken
 * and its settlement (then notification) scheduled. `lostAnswer`: the refund was taken but the
 * "applied" SYSTEMERROR fault says the caller must be answered SYSTEMERROR, as when WeChat's answer is lost.
 */
export function takeRefund(core: SandboxCore, ask: RefundAsk): { refusal: RefundRefusal } | { refund: SandboxRefund; lostAnswer: boolean } {
  const { state, faults, refunds } = core;
  const mchId = ask.merchant.mchId;
  const existing = refunds.refund(mchId, ask.outRefundNo);
  if (existing) {
    const sameTrade = ask.transactionId !== undefined ? existing.transactionId === ask.transactionId : existing.outTradeNo === ask.outTradeNo;
    if (!sameTrade || (ask.appid !== undefined && existing.appid !== ask.appid)) return { refusal: 'REUSED' };
    if (existing.totalFee !== ask.totalFee || existing.refundFee !== ask.refundFee) return { refusal: 'CHANGED' };
    return { refund: existing, lostAnswer: false };
  }
  let trade: Trade | undefined;
  if (ask.transactionId !== undefined) {
    trade = state.tradeByTransactionId(mchId, ask.transactionId);
    if (!trade) return { refusal: 'NO_TRANSACTION' };
  } else {
    trade = state.trade(mchId, ask.outTradeNo as string);
  }
  if (!trade || (ask.appid !== undefined && trade.appid !== ask.appid) || trade.state !== 'SUCCESS' || !trade.transactionId || !trade.timeEnd) {
    return { refusal: 'NO_TRADE' };
  }
  if (ask.totalFee !== trade.totalFee) return { refusal: 'CHANGED' };
  const now = state.now();
  if (now - fromBeijingTime(trade.timeEnd).getTime() > REFUND_WINDOW_MS) return { refusal: 'OVERDUE' };
  const committed = refunds.committed(trade);
  if (committed >= trade.totalFee) return { refusal: 'FULL' };
  if (refunds.refundsOf(trade).length >= MAX_REFUNDS_PER_TRADE) return { refusal: 'TOO_MANY' };
  if (committed + ask.refundFee > trade.totalFee) return { refusal: 'EXCEEDS' };

  const answerFault = faults.refunds.takeRefundAnswer(ask.outRefundNo);
  if (answerFault?.action === 'NOTENOUGH') return { refusal: 'NOTENOUGH' };
  if (answerFault?.action === 'SYSTEMERROR' && !answerFault.applied) return { refusal: 'SYSTEMERROR' };

  const notifyUrl = ask.notifyUrl ?? ask.merchant.refundNotifyUrl;
  const r: SandboxRefund = {
    ...(ask.api === 'v3' ? { api: 'v3' as const } : {}),
    mchId,
    appid: trade.appid,
    outTradeNo: trade.outTradeNo,
    transactionId: trade.transactionId,
    outRefundNo: ask.outRefundNo,
    refundId: newRefundId(now),
    totalFee: ask.totalFee,
    refundFee: ask.refundFee,
    ...(ask.refundDesc !== undefined ? { refundDesc: ask.refundDesc } : {}),
    refundAccount: ask.refundAccount,
    ...(notifyUrl ? { notifyUrl } : {}),
    signType: ask.signType,
    status: 'PROCESSING',
    outcome: faults.refunds.takeRefundOutcome(ask.outRefundNo) ?? 'SUCCESS',
    createdAt: now,
    recvAccount: ask.recvAccount,
    requestSource: 'API',
  };
  refunds.add(r);
  settleRefund(core, r, ask.merchant);
  return { refund: r, lostAnswer: answerFault?.action === 'SYSTEMERROR' };
}

export interface RefundRoutesOptions {
  core: SandboxCore;
  /** true on the TLS listener (client certificate checked); false on the plain one */
  secure: boolean;
}

export async function refundRoutes(app: FastifyInstance, opts: RefundRoutesOptions): Promise<void> {
  const { core, secure } = opts;
  const { state, refunds } = core;
  takeRawBodies(app);
  xmlErrorHandler(app);

  function handler(run: (ctx: XmlCtx, req: FastifyRequest) => Outcome) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const auth = authenticate(req, state);
      if ('fail' in auth) return render(reply, undefined, auth.fail);
      const { ctx } = auth;
      const bad = checkAppid(ctx, state);
      if (bad) return render(reply, ctx, bad);
      return render(reply, ctx, run(ctx, req));
    };
  }

  function refund(ctx: XmlCtx, req: FastifyRequest): Outcome {
    const { p, merchant } = ctx;
    const cn = peerCommonName(req);
    if (cn !== undefined && cn !== merchant.mchId) return resultFail('CERT_ERROR', '证书校验错误，请检查证书是否正确，证书是否过期或作废');
    for (const name of ['out_refund_no', 'total_fee', 'refund_fee']) if (!present(p, name)) return lackParams();
    if (!present(p, 'transaction_id') && !present(p, 'out_trade_no')) return lackParams();
    const outRefundNo = p.out_refund_no as string;
    if (!OUT_REFUND_NO_RE.test(outRefundNo)) return returnFail('out_refund_no参数格式错误', 'PARAM_ERROR');
    if (present(p, 'transaction_id') && !/^[0-9A-Za-z]{1,32}$/.test(p.transaction_id as string)) return returnFail('transaction_id参数格式错误', 'PARAM_ERROR');
    if (!present(p, 'transaction_id') && !OUT_TRADE_NO_RE.test(p.out_trade_no as string)) return returnFail('out_trade_no参数格式错误', 'PARAM_ERROR');
    const totalFee = fen(p, 'total_fee');
    if (totalFee === undefined) return returnFail('invalid total_fee', 'PARAM_ERROR');
    const refundFee = fen(p, 'refund_fee');
    if (refundFee === undefined || refundFee > totalFee) return returnFail('invalid refund_fee', 'PARAM_ERROR');
    if (present(p, 'refund_fee_type') && p.refund_fee_type !== 'CNY') return returnFail('refund_fee_type参数格式错误', 'PARAM_ERROR');
    if (present(p, 'refund_desc') && Buffer.byteLength(p.refund_desc as string, 'utf8') > 80) return returnFail('refund_desc参数长度有误', 'PARAM_ERROR');
    if (present(p, 'refund_account') && !REFUND_ACCOUNTS.has(p.refund_account as string)) return returnFail('refund_account参数格式错误', 'PARAM_ERROR');
    if (present(p, 'notify_url') && !notifyUrlOk(p.notify_url as string, 256)) return returnFail('notify_url参数格式错误', 'PARAM_ERROR');

    // One out_refund_no refunds once: the same request again answers the same refund.
    const taken = takeRefund(core, {
      api: 'v2',
      merchant: merchant as RefundMerchant,
      appid: ctx.appid,
      ...(present(p, 'transaction_id') ? { transactionId: p.transaction_id as string } : { outTradeNo: p.out_trade_no as string }),
      outRefundNo,
      totalFee,
      refundFee,
      ...(present(p, 'refund_desc') ? { refundDesc: p.refund_desc as string } : {}),
      refundAccount: (present(p, 'refund_account') ? p.refund_account : 'REFUND_SOURCE_UNSETTLED_FUNDS') as SandboxRefund['refundAccount'],
      ...(present(p, 'notify_url') ? { notifyUrl: p.notify_url as string } : {}),
      signType: ctx.signType,
      recvAccount: '支付用户的零钱',
    });
    if ('refusal' in taken) return V2_REFUSALS[taken.refusal]();
    if (taken.lostAnswer) return resultFail('SYSTEMERROR', '系统超时');
    return refundAnswer(taken.refund);
  }

  function refundquery(ctx: XmlCtx): Outcome {
    const { p, merchant } = ctx;
    const keys = ['refund_id', 'out_refund_no', 'transaction_id', 'out_trade_no'].filter((k) => present(p, k));
    if (keys.length === 0) return lackParams();
    let trade: Trade | undefined;
    let list: SandboxRefund[];
    let offset = 0;
    let totalRefundCount: string | undefined;
    // WeChat's priority: refund_id > out_refund_no > transaction_id > out_trade_no.
    if (present(p, 'refund_id') || present(p, 'out_refund_no')) {
      const r = present(p, 'refund_id') ? refunds.refundById(merchant.mchId, p.refund_id as string) : refunds.refund(merchant.mchId, p.out_refund_no as string);
      if (!r || r.appid !== ctx.appid) return resultFail('REFUNDNOTEXIST', 'not exist');
      trade = state.trade(merchant.mchId, r.outTradeNo);
      list = [r];
    } else {
      trade = present(p, 'transaction_id') ? state.tradeByTransactionId(merchant.mchId, p.transaction_id as string) : state.trade(merchant.mchId, p.out_trade_no as string);
      if (!trade || trade.appid !== ctx.appid) return resultFail('REFUNDNOTEXIST', 'not exist');
      const all = refunds.refundsOf(trade);
      if (all.length === 0) return resultFail('REFUNDNOTEXIST', 'not exist');
      if (present(p, 'offset')) {
        if (!/^\d{1,6}$/.test(p.offset as string)) return returnFail('offset参数格式错误', 'PARAM_ERROR');
        offset = Number(p.offset);
        if (offset >= all.length) return resultFail('PARAM_ERROR', 'offset超过退款单总笔数');
      }
      list = all.slice(offset, offset + PAGE);
      if (all.length > PAGE || offset > 0) totalRefundCount = String(all.length);
    }
    if (!trade) return resultFail('REFUNDNOTEXIST', 'not exist');
    const fields: Record<string, string | undefined> = {
      transaction_id: trade.transactionId,
      out_trade_no: trade.outTradeNo,
      total_fee: String(trade.totalFee),
      cash_fee: String(trade.totalFee),
      fee_type: 'CNY',
      refund_count: String(list.length),
      total_refund_count: totalRefundCount,
    };
    list.forEach((r, n) => {
      fields[`out_refund_no_${n}`] = r.outRefundNo;
      fields[`refund_id_${n}`] = r.refundId;
      fields[`refund_channel_${n}`] = 'ORIGINAL';
      fields[`refund_fee_${n}`] = String(r.refundFee);
      fields[`settlement_refund_fee_${n}`] = String(r.refundFee);
      fields[`coupon_refund_fee_${n}`] = '0';
      fields[`coupon_refund_count_${n}`] = '0';
      fields[`refund_status_${n}`] = r.status;
      fields[`refund_account_${n}`] = r.refundAccount;
      fields[`refund_recv_accout_${n}`] = r.recvAccount;
      if (r.status === 'SUCCESS' && r.settledAt !== undefined) fields[`refund_success_time_${n}`] = toBeijingDateTime(new Date(r.settledAt));
    });
    return { kind: 'success', fields };
  }

  const requirePost = async (_req: FastifyRequest, reply: FastifyReply) =>
    sendXml(reply, { return_code: 'FAIL', return_msg: '请使用post方法' }, 'REQUIRE_POST_METHOD');

  if (secure) {
    app.post('/secapi/pay/refund', handler(refund));
    app.get('/secapi/pay/refund', requirePost);
  } else {
    // No TLS here, so no client certificate: end the connection unanswered, as WeChat's TLS would.
    app.all('/secapi/*', async (req, reply) => {
      req.log.warn({ url: req.url.split('?')[0] }, 'sandbox: /secapi/ needs the merchant certificate; use the TLS listener (secapiUrl)');
      reply.hijack();
      req.raw.socket.destroy();
    });
  }
  app.post('/pay/refundquery', handler(refundquery));
  app.get('/pay/refundquery', requirePost);
}
