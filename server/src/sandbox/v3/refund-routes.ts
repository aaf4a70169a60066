// API v3's 退款: POST /v3/refund/domestic/refunds and GET /v3/refund/domestic/refunds/{out_refund_no},
// on the refund ledger v2's /secapi/pay/refund uses (refund-state.ts), with v2's rules (amounts,
// partial refunds, one year, 50 refunds, the /sandbox/faults "refund" rules) answered the v3 way. No
// client certificate: the RSA signature is the merchant's proof. A refund made here is notified in
// v3's format, to the request's notify_url or else the merchant's configured refund notify URL.
import type { FastifyInstance } from 'fastify';
import { OUT_TRADE_NO_RE } from '../../wechat/fields.js';
import type { SandboxCore } from '../core.js';
import { notifyUrlOk } from '../delivery.js';
import { takeRefund, type RefundRefusal } from '../refund-routes.js';
import type { RefundMerchant } from '../refund-state.js';
import { optCurrency, optString, reqObject, reqPositiveInt, reqString } from './fields.js';
import { paramError, systemError, V3Error, v3Api } from './http.js';
import type { V3Keys } from './keys.js';
import { refundJson } from './resources.js';

const OUT_REFUND_NO_RE = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const MISMATCH = '订单金额或退款金额与之前请求不一致，请核实后再试';
/** How /v3/refund/domestic/refunds answers each refusal of the shared rules (refund-routes.ts takeRefund). */
const V3_REFUSALS: Record<RefundRefusal, () => V3Error> = {
  REUSED: () => new V3Error(400, 'INVALID_REQUEST', '商户退款单号重复'),
  CHANGED: () => new V3Error(400, 'INVALID_REQUEST', MISMATCH),
  NO_TRANSACTION: () => new V3Error(404, 'RESOURCE_NOT_EXISTS', '订单不存在'),
  NO_TRADE: () => new V3Error(404, 'RESOURCE_NOT_EXISTS', '订单不存在'),
  OVERDUE: () => new V3Error(400, 'INVALID_REQUEST', '订单已经超过退款期限'),
  FULL: () => new V3Error(400, 'INVALID_REQUEST', '订单已全额退款'),
  TOO_MANY: () => new V3Error(400, 'INVALID_REQUEST', '部分退款次数超过50次'),
  EXCEEDS: () => new V3Error(400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额'),
  NOTENOUGH: () => new V3Error(403, 'NOT_ENOUGH', '基本账户余额不足，请充值后重新发起'),
  SYSTEMERROR: systemError,
};

export async function v3RefundRoutes(app: FastifyInstance, opts: { core: SandboxCore; keys: V3Keys }): Promise<void> {
  const { core } = opts;
  const { state, refunds } = core;
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
    if (notifyUrl !== undefined && !notifyUrlOk(notifyUrl, 256)) throw paramError('/notify_url', 'notify_url格式错误：须为http(s)的绝对地址，不能携带参数');
    const fundsAccount = optString(b, 'funds_account', { max: 32 });
    if (fundsAccount !== undefined && fundsAccount !== 'AVAILABLE') throw paramError('/funds_account', 'funds_account只支持AVAILABLE');
    reqObject(b, 'amount');
    const refundFee = reqPositiveInt(b, 'amount.refund');
    const totalFee = reqPositiveInt(b, 'amount.total');
    optCurrency(b, 'amount.currency');
    if (refundFee > totalFee) throw paramError('/amount/refund', '退款金额不能大于订单金额');

    const taken = takeRefund(core, {
      api: 'v3',
      merchant,
      ...(transactionId !== undefined ? { transactionId } : { outTradeNo: outTradeNo as string }),
      outRefundNo,
      totalFee,
      refundFee,
      ...(reason !== undefined ? { refundDesc: reason } : {}),
      refundAccount: fundsAccount === 'AVAILABLE' ? 'REFUND_SOURCE_RECHARGE_FUNDS' : 'REFUND_SOURCE_UNSETTLED_FUNDS',
      ...(notifyUrl !== undefined ? { notifyUrl } : {}),
      signType: 'MD5',
      recvAccount: '支付用户零钱',
    });
    if ('refusal' in taken) throw V3_REFUSALS[taken.refusal]();
    if (taken.lostAnswer) throw systemError();
    return { json: refundJson(taken.refund) };
  });

  route<{ out_refund_no: string }>('GET', '/v3/refund/domestic/refunds/:out_refund_no', (ctx, req) => {
    const r = refunds.refund(ctx.merchant.mchId, req.params.out_refund_no);
    if (!r) throw new V3Error(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return { json: refundJson(r) };
  });
}
