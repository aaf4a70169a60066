// API v3's 基础支付 on the sandbox's one trade store: JSAPI / APP / NATIVE prepay, query by
// out_trade_no and by transaction_id, close. The rules are v2's (pay-routes.ts), answered the v3 way:
// a repeat of the same prepay gets the same prepay_id (a new one after its 2 hours), other fields →
// 403 OUT_TRADE_NO_USED, paid → 400 ORDERPAID, closed → 400 ORDER_CLOSED; the /sandbox/faults payApi
// rules (SYSTEMERROR → 500 SYSTEM_ERROR, hang) and the closeorder minimum age apply the same way.
import type { FastifyInstance } from 'fastify';
import { OUT_TRADE_NO_RE } from '../../wechat/fields.js';
import type { SandboxCore } from '../core.js';
import { notifyUrlOk } from '../delivery.js';
import type { PayApi } from '../faults.js';
import { placePrepay } from '../pay-trade.js';
import { codeUrlOf } from '../pay-routes.js';
import type { Trade } from '../state.js';
import { optCurrency, optString, reqObject, reqPositiveInt, reqString } from './fields.js';
import { paramError, systemError, V3Error, v3Api, type V3Answer, type V3Ctx } from './http.js';
import type { V3Keys } from './keys.js';
import { transactionJson } from './resources.js';
import { parseRfc3339 } from '../../wechat/v3/wire.js';

const V3_OUT_TRADE_NO = { min: 6, max: 32, re: OUT_TRADE_NO_RE };
const MIN_EXPIRE_MS = 5 * 60 * 1000;
type PrepayKind = 'jsapi' | 'app' | 'native';

export async function v3PayRoutes(app: FastifyInstance, opts: { core: SandboxCore; keys: V3Keys }): Promise<void> {
  const { state, faults, refunds } = opts.core;
  const { route } = v3Api(app, state, opts.keys);

  /** The pay-API faults of v2's api name, answered the v3 way. */
  function fault(api: PayApi): 'hang' | undefined {
    if (faults.takePayApi(api, 'hang')) return 'hang';
    if (faults.takePayApi(api, 'SYSTEMERROR')) throw systemError();
    return undefined;
  }

  function sameMchid(ctx: V3Ctx, mchid: string, location: 'body' | 'query'): void {
    if (mchid !== ctx.merchant.mchId) throw paramError('/mchid', 'mchid与请求头Authorization中的商户号不一致', location);
  }

  function prepay(kind: PrepayKind) {
    return (ctx: V3Ctx): V3Answer => {
      if (fault('unifiedorder')) return 'hang';
      const b = ctx.json as Record<string, unknown>;
      const appid = reqString(b, 'appid', { max: 32 });
      sameMchid(ctx, reqString(b, 'mchid', { max: 32 }), 'body');
      const description = reqString(b, 'description', { max: 127 });
      const outTradeNo = reqString(b, 'out_trade_no', V3_OUT_TRADE_NO);
      const timeExpireText = optString(b, 'time_expire', { max: 64 });
      const attach = optString(b, 'attach', { max: 128 });
      const notifyUrl = reqString(b, 'notify_url', { max: 255 });
      if (!notifyUrlOk(notifyUrl, 255)) throw paramError('/notify_url', 'notify_url格式错误：须为http(s)的绝对地址，不能携带参数');
      const goodsTag = optString(b, 'goods_tag', { max: 32 });
      reqObject(b, 'amount');
      const total = reqPositiveInt(b, 'amount.total');
      optCurrency(b, 'amount.currency');
      const openid = kind === 'jsapi' ? (reqObject(b, 'payer'), reqString(b, 'payer.openid', { max: 128 })) : undefined;

      if (!state.binding(appid, ctx.merchant.mchId)) throw new V3Error(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配，请检查后再试');
      const now = state.now();
      let timeExpire: number | undefined;
      if (timeExpireText !== undefined) {
        try {
          timeExpire = parseRfc3339(timeExpireText).getTime();
        } catch {
          throw paramError('/time_expire', 'time_expire格式错误，应为RFC3339格式，如2018-06-08T10:34:56+08:00');
        }
        if (timeExpire - now < MIN_EXPIRE_MS) throw paramError('/time_expire', 'time_expire时间过短，刷卡至少1分钟，其他5分钟');
      }
      // ASSUMPTION (as v2, pay-routes.ts): APP pay takes only an open-platform appid; WeChat's v3 words are not published.
      if (kind === 'app' && state.kindOf(appid) !== 'open') throw new V3Error(400, 'PARAM_ERROR', 'trade_type与appid不匹配，APP支付请使用开放平台移动应用的appid', { field: '/appid', location: 'body' }, 'APP_NEEDS_OPEN_APPID');
      if (openid !== undefined && !state.openidBelongsTo(openid, appid)) throw paramError('/payer/openid', 'appid和openid不匹配');

      const tradeType = kind.toUpperCase();
      const fp = JSON.stringify({ v3: tradeType, appid, description, attach, notifyUrl, goodsTag, timeExpireText, total, openid });
      const placed = placePrepay(
        state,
        {
          api: 'v3',
          mchId: ctx.merchant.mchId,
          appid,
          outTradeNo,
          fingerprint: fp,
          signType: 'MD5',
          body: description,
          ...(attach !== undefined ? { attach } : {}),
          ...(goodsTag !== undefined ? { goodsTag } : {}),
          totalFee: total,
          feeType: 'CNY',
          tradeType,
          ...(openid !== undefined ? { openid } : {}),
          notifyUrl,
          ...(timeExpire !== undefined ? { timeExpire } : {}),
        },
        now,
      );
      if (placed === 'PAID') throw new V3Error(400, 'ORDERPAID', '该订单已支付');
      if (placed === 'CLOSED') throw new V3Error(400, 'ORDER_CLOSED', '该订单已关闭');
      if (placed === 'CHANGED') throw new V3Error(403, 'OUT_TRADE_NO_USED', '商户订单号重复');
      return prepayAnswer(placed);
    };
  }

  function prepayAnswer(t: Trade): V3Answer {
    return { json: t.tradeType === 'NATIVE' ? { code_url: codeUrlOf(t) } : { prepay_id: t.prepayId } };
  }

  function queryMchid(ctx: V3Ctx, q: Record<string, string | undefined>): void {
    const mchid = q.mchid;
    if (mchid === undefined || mchid === '') throw paramError('mchid', '缺少必填参数 mchid', 'query');
    sameMchid(ctx, mchid, 'query');
  }

  const answerTrade = (t: Trade | undefined): V3Answer => {
    if (!t) throw new V3Error(404, 'ORDER_NOT_EXIST', '订单不存在');
    return { json: transactionJson(t, refunds.hasRefund(t)) };
  };

  for (const kind of ['jsapi', 'app', 'native'] as const) route('POST', `/v3/pay/transactions/${kind}`, prepay(kind));

  route<{ out_trade_no: string }>('GET', '/v3/pay/transactions/out-trade-no/:out_trade_no', (ctx, req) => {
    if (fault('orderquery')) return 'hang';
    queryMchid(ctx, req.query);
    return answerTrade(state.trade(ctx.merchant.mchId, req.params.out_trade_no));
  });

  route<{ transaction_id: string }>('GET', '/v3/pay/transactions/id/:transaction_id', (ctx, req) => {
    if (fault('orderquery')) return 'hang';
    queryMchid(ctx, req.query);
    return answerTrade(state.tradeByTransactionId(ctx.merchant.mchId, req.params.transaction_id));
  });

  route<{ out_trade_no: string }>('POST', '/v3/pay/transactions/out-trade-no/:out_trade_no/close', (ctx, req) => {
    if (fault('closeorder')) return 'hang';
    sameMchid(ctx, reqString(ctx.json as Record<string, unknown>, 'mchid', { max: 32 }), 'body');
    const t = state.trade(ctx.merchant.mchId, req.params.out_trade_no);
    if (!t) throw new V3Error(404, 'ORDER_NOT_EXIST', '订单不存在');
    if (t.state === 'SUCCESS') throw new V3Error(400, 'ORDERPAID', '订单已支付，不能关闭');
    // Closing a closed order again is answered as the first close was (v3's close is idempotent).
    if (t.state === 'CLOSED') return { status: 204 };
    // v2's rule (pay-routes.ts): younger than the minimum age → the documented worst case, a retryable system error.
    if (state.now() - t.createdAt < faults.closeorderMinAgeMs()) throw new V3Error(500, 'SYSTEM_ERROR', '系统错误', undefined, 'CLOSEORDER_TOO_EARLY');
    t.state = 'CLOSED';
    return { status: 204 };
  });
}
