// API v3's 退款: POST /v3/refund/domestic/refunds and GET /v3/refund/domestic/refunds/{out_refund_no},
// on the refund ledger v2's /secapi/pay/refund uses (refund-state.ts), with v2's rules (amounts,
// partial refunds, one year, 50 refunds, the /sandbox/faults "refund" rules) answered the v3 way. No
// client certificate: the RSA signature is the merchant's proof. A refund made here is notified in
// v3's format, to the request's notify_url or else the merchant's configured refund notify URL.
import type { FastifyInstance } from 'fastify';
import { OUT_TRADE_NO_RE } from '../../wechat/fields.js';
import { fromBeijingTime } from '../../wechat/time.js';
import type { SandboxCore } from '../core.js';
import { settleRefund } from '../refund-routes.js';
import { MAX_REFUNDS_PER_TRADE, newRefundId, REFUND_WINDOW_MS, type RefundMerchant, type SandboxRefund } from '../refund-state.js';
import type { Trade } from '../state.js';
import { notifyUrlOk, optCurrency, optString, reqObject, reqPositiveInt, reqString } from './fields.js';
import { paramError, systemError, V3Error, v3Api } from './http.js';
import type { V3Keys } from './keys.js';
import { refundJson } from './resources.js';

const OUT_REFUND_NO_RE = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const MISMATCH = '订单金额或退款金额与之前请求不一致，请核实后再试';

export async function v3RefundRoutes(app: FastifyInstance, opts: { core: SandboxCore; keys: V3Keys }): Promise<void> {
  const { core } = opts;
  const { state, faults, refunds } = core;
  const { route } = v3Api(app, state, opts.keys);

  route('POST', '/v3/refund/domestic/refunds', (ctx) => {
    const b = ctx.json as Record<string, unknown>;
    const merchant = ctx.merchant as RefundMerchant;
    const transactionId = optString(b, 'transaction_id', { max: 32, re: /^[0-9A-Za-z]+$/ });
    const outTradeNo = optString(b, 'out_trade_no', { max: 32, min: 1, re: OUT_TRADE_NO_RE });
    if (transactionId === undefined && outTradeNo === undefined) throw paramError('/out_trade_no', 'transaction_id和out_trade_no必须二选一');
    const outRefundNo = reqString(b, 'out_refund_no', { max: 64, re: OUT_REFUND_NO_RE });
    const reason = optString(b, 'reason', { max: 80 });
    const notifyUrl = optString(b, 'notify_url', { max: 256 });
    if (notifyUrl !== undefined && !notifyUrlOk(notifyUrl)) throw paramError('/notify_url', 'notify_url格式错误：须为http(s)的绝对地址，不能携带参数');
    const fundsAccount = optString(b, 'funds_account', { max: 32 });
    if (fundsAccount !== undefined && fundsAccount !== 'AVAILABLE') throw paramError('/funds_account', 'funds_account只支持AVAILABLE');
    reqObject(b, 'amount');
    const refundFee = reqPositiveInt(b, 'amount.refund');
    const totalFee = reqPositiveInt(b, 'amount.total');
    optCurrency(b, 'amount.currency');
    if (refundFee > totalFee) throw paramError('/amount/refund', '退款金额不能大于订单金额');

    const existing = refunds.refund(merchant.mchId, outRefundNo);
    if (existing) {
      const sameTrade = transactionId !== undefined ? existing.transactionId === transactionId : existing.outTradeNo === outTradeNo;
      if (!sameTrade) throw new V3Error(400, 'INVALID_REQUEST', '商户退款单号重复');
      if (existing.totalFee !== totalFee || existing.refundFee !== refundFee) throw new V3Error(400, 'INVALID_REQUEST', MISMATCH);
      return { json: refundJson(existing) };
    }

    const trade: Trade | undefined = transactionId !== undefined ? state.tradeByTransactionId(merchant.mchId, transactionId) : state.trade(merchant.mchId, outTradeNo as string);
    if (!trade || trade.state !== 'SUCCESS' || !trade.transactionId || !trade.timeEnd) throw new V3Error(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    if (totalFee !== trade.totalFee) throw new V3Error(400, 'INVALID_REQUEST', MISMATCH);
    const now = state.now();
    if (now - fromBeijingTime(trade.timeEnd).getTime() > REFUND_WINDOW_MS) throw new V3Error(400, 'INVALID_REQUEST', '订单已经超过退款期限');
    const committed = refunds.committed(trade);
    if (committed >= trade.totalFee) throw new V3Error(400, 'INVALID_REQUEST', '订单已全额退款');
    if (refunds.refundsOf(trade).length >= MAX_REFUNDS_PER_TRADE) throw new V3Error(400, 'INVALID_REQUEST', '部分退款次数超过50次');
    if (committed + refundFee > trade.totalFee) throw new V3Error(400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');

    const answerFault = faults.refunds.takeRefundAnswer(outRefundNo);
    if (answerFault?.action === 'NOTENOUGH') throw new V3Error(403, 'NOT_ENOUGH', '基本账户余额不足，请充值后重新发起');
    if (answerFault?.action === 'SYSTEMERROR' && !answerFault.applied) throw systemError();

    const to = notifyUrl ?? merchant.refundNotifyUrl;
    const r: SandboxRefund = {
      api: 'v3',
      mchId: merchant.mchId,
      appid: trade.appid,
      outTradeNo: trade.outTradeNo,
      transactionId: trade.transactionId,
      outRefundNo,
      refundId: newRefundId(now),
      totalFee,
      refundFee,
      ...(reason !== undefined ? { refundDesc: reason } : {}),
      refundAccount: fundsAccount === 'AVAILABLE' ? 'REFUND_SOURCE_RECHARGE_FUNDS' : 'REFUND_SOURCE_UNSETTLED_FUNDS',
      ...(to ? { notifyUrl: to } : {}),
      signType: 'MD5',
      status: 'PROCESSING',
      outcome: faults.refunds.takeRefundOutcome(outRefundNo) ?? 'SUCCESS',
      createdAt: now,
      recvAccount: '支付用户零钱',
      requestSource: 'API',
    };
    refunds.add(r);
    settleRefund(core, r, merchant);
    if (answerFault?.action === 'SYSTEMERROR') throw systemError();
    return { json: refundJson(r) };
  });

  route<{ out_refund_no: string }>('GET', '/v3/refund/domestic/refunds/:out_refund_no', (ctx, req) => {
    const r = refunds.refund(ctx.merchant.mchId, req.params.out_refund_no);
    if (!r) throw new V3Error(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return { json: refundJson(r) };
  });
}
