// api.mch.weixin.qq.com as WeChat Pay API v2 behaves: /pay/unifiedorder, /pay/orderquery, /pay/closeorder.
//
// Two kinds of failure, as on the real API:
// - return_code FAIL + return_msg only (unsigned): the request itself could not be taken (empty or
//   malformed XML, unknown mch_id, bad sign, a missing required field — real WeChat answers
//   return_msg 缺少参数 there, not err_code LACK_PARAMS — or a field of the wrong format). WeChat sends
//   no machine-readable code there; the sandbox adds one in the `x-sandbox-error` response header.
// - return_code SUCCESS + result_code FAIL + err_code/err_code_des, signed with the merchant key
//   (INVALID_REQUEST, ORDERPAID, ORDERCLOSED, ORDERNOTEXIST, PARAM_ERROR, SYSTEMERROR...). The
//   `x-sandbox-error` header repeats err_code, or names the sandbox rule behind it when WeChat's code
//   says less (CLOSEORDER_TOO_EARLY).
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FieldError, OUT_TRADE_NO_RE, parseIntField } from '../wechat/fields.js';
import { isSignType, verifySign } from '../wechat/sign.js';
import { fromBeijingTime } from '../wechat/time.js';
import { parseXml, XmlError } from '../wechat/xml.js';
import { hangingReplies, type Faults, type PayApi } from './faults.js';
import { notifyUrlOk } from './delivery.js';
import { placePrepay } from './pay-trade.js';
import { render, resultFail, returnFail, sendXml, type Outcome, type XmlCtx } from './xml-api.js';
import type { SandboxState, Trade, TradeState } from './state.js';

export const PAY_BODY_LIMIT = 64 * 1024;

type Fields = Record<string, string>;

// A required field absent: WeChat's answer names no field, whichever it is.
const lackParams = (): Outcome => returnFail('缺少参数', 'LACK_PARAMS');

type Ctx = XmlCtx;

// String(n) of WeChat's docs, counted in UTF-8 bytes.
const MAX_BYTES: Record<string, number> = {
  appid: 32,
  mch_id: 32,
  device_info: 32,
  nonce_str: 32,
  sign: 64,
  sign_type: 32,
  body: 128,
  detail: 6000,
  attach: 127,
  out_trade_no: 32,
  fee_type: 16,
  spbill_create_ip: 64,
  time_start: 14,
  time_expire: 14,
  goods_tag: 32,
  notify_url: 256,
  trade_type: 16,
  product_id: 32,
  limit_pay: 32,
  openid: 128,
  receipt: 8,
  profit_sharing: 16,
  scene_info: 256,
  transaction_id: 32,
};

const UNIFIEDORDER_REQUIRED = ['body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type'] as const;
const TRADE_TYPES = new Set(['JSAPI', 'NATIVE', 'APP', 'MWEB']);
// Part of the request but not of what makes two orders "the same": they change between honest retries.
const NOT_IN_FINGERPRINT = new Set(['nonce_str', 'sign', 'sign_type', 'spbill_create_ip', 'time_start']);
const MIN_EXPIRE_MS = 5 * 60 * 1000;

const TRADE_STATE_DESC: Record<TradeState, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
  PAYERROR: '支付失败,请重新下单支付',
  USERPAYING: '需要用户输入支付密码',
};

function present(p: Fields, name: string): boolean {
  return p[name] !== undefined && p[name] !== '';
}

function fingerprint(p: Fields): string {
  const keys = Object.keys(p)
    .filter((k) => !NOT_IN_FINGERPRINT.has(k) && p[k] !== '')
    .sort();
  return JSON.stringify(keys.map((k) => [k, p[k]]));
}

function checkLengths(p: Fields): Outcome | undefined {
  for (const [name, max] of Object.entries(MAX_BYTES)) {
    const v = p[name];
    if (v !== undefined && Buffer.byteLength(v, 'utf8') > max) return returnFail(`${name}参数长度有误`, 'PARAM_ERROR');
  }
  return undefined;
}

export interface PayRoutesOptions {
  state: SandboxState;
  faults: Faults;
  /** refunds (refund-state.ts): a refunded trade's orderquery says trade_state REFUND */
  refunds?: { hasRefund(t: Trade): boolean };
}

/** Requests held open by the "hang" fault; released (sockets destroyed) when the sandbox closes. */
export async function payRoutes(app: FastifyInstance, opts: PayRoutesOptions): Promise<void> {
  const { state, faults } = opts;
  const hang = hangingReplies(app);

  // WeChat takes the raw body whatever the content-type says (SDKs send text/xml, application/xml,
  // x-www-form-urlencoded or nothing at all).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PAY_BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { code?: string; statusCode?: number };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendXml(reply, { return_code: 'FAIL', return_msg: 'XML格式错误' }, 'XML_FORMAT_ERROR');
    if (e.statusCode !== undefined && e.statusCode < 500) {
      return sendXml(reply, { return_code: 'FAIL', return_msg: 'XML格式错误' }, 'XML_FORMAT_ERROR');
    }
    req.log.error({ err: e }, 'sandbox pay API failed');
    return sendXml(reply, { return_code: 'FAIL', return_msg: '系统错误' }, 'SYSTEMERROR');
  });

  /** Parse, authenticate (mch_id, sign) and authorise (appid) a pay API call; then run `fn`. */
  function handler(api: PayApi, fn: (ctx: Ctx) => Outcome) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      if (faults.takePayApi(api, 'hang')) return hang(req, reply);
      const raw = req.body;
      if (!Buffer.isBuffer(raw) || raw.length === 0) return render(reply, undefined, returnFail('post数据为空', 'POST_DATA_EMPTY'));
      let p: Fields;
      try {
        p = parseXml(raw, { maxBytes: PAY_BODY_LIMIT });
      } catch (err) {
        if (err instanceof XmlError && /UTF-8/.test(err.message)) return render(reply, undefined, returnFail('编码格式错误', 'NOT_UTF8'));
        return render(reply, undefined, returnFail('XML格式错误', 'XML_FORMAT_ERROR'));
      }
      const mchId = p.mch_id;
      if (!present(p, 'mch_id')) return render(reply, undefined, lackParams());
      const merchant = state.merchantByMchId(mchId as string);
      if (!merchant) return render(reply, undefined, returnFail('mch_id参数格式错误', 'MCHID_NOT_EXIST'));
      const signTypeRaw = present(p, 'sign_type') ? (p.sign_type as string) : 'MD5';
      if (!isSignType(signTypeRaw)) return render(reply, undefined, returnFail('sign_type参数格式错误', 'PARAM_ERROR'));
      if (!present(p, 'sign')) return render(reply, undefined, lackParams());
      if (!verifySign(p, merchant.key, signTypeRaw)) return render(reply, undefined, returnFail('签名错误，请检查后再试', 'SIGNERROR'));

      const ctx: Ctx = { merchant, appid: p.appid ?? '', signType: signTypeRaw, p };
      if (faults.takePayApi(api, 'SYSTEMERROR')) return render(reply, ctx, resultFail('SYSTEMERROR', '系统错误'));
      if (!present(p, 'appid')) return render(reply, ctx, lackParams());
      if (!state.binding(ctx.appid, merchant.mchId)) {
        return state.appidKnown(ctx.appid)
          ? render(reply, ctx, resultFail('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配，请检查后再试'))
          : render(reply, ctx, resultFail('APPID_NOT_EXIST', 'AppID不存在，请检查后再试'));
      }
      if (!present(p, 'nonce_str')) return render(reply, ctx, lackParams());
      const tooLong = checkLengths(p);
      if (tooLong) return render(reply, ctx, tooLong);
      return render(reply, ctx, fn(ctx));
    };
  }

  function unifiedorder(ctx: Ctx): Outcome {
    const { p } = ctx;
    for (const name of UNIFIEDORDER_REQUIRED) {
      if (!present(p, name)) return lackParams();
    }
    const tradeType = p.trade_type as string;
    if (!TRADE_TYPES.has(tradeType)) return returnFail('trade_type参数格式错误', 'PARAM_ERROR');
    const outTradeNo = p.out_trade_no as string;
    if (!OUT_TRADE_NO_RE.test(outTradeNo)) return returnFail('out_trade_no参数格式错误', 'PARAM_ERROR');
    let totalFee: number;
    try {
      totalFee = parseIntField(p.total_fee, 'total_fee');
    } catch (err) {
      if (err instanceof FieldError) return returnFail('total_fee参数格式错误', 'PARAM_ERROR');
      throw err;
    }
    if (totalFee <= 0) return returnFail('total_fee参数格式错误', 'PARAM_ERROR');
    if (present(p, 'fee_type') && p.fee_type !== 'CNY') return returnFail('fee_type参数格式错误', 'PARAM_ERROR');
    if (isIP(p.spbill_create_ip as string) === 0) return returnFail('invalid spbill_create_ip', 'PARAM_ERROR');
    const notifyUrl = p.notify_url as string;
    if (!notifyUrlOk(notifyUrl, MAX_BYTES.notify_url as number)) return returnFail('notify_url参数格式错误', 'PARAM_ERROR');
    if (present(p, 'limit_pay') && p.limit_pay !== 'no_credit') return returnFail('limit_pay参数格式错误', 'PARAM_ERROR');
    const now = state.now();
    for (const name of ['time_start', 'time_expire'] as const) {
      if (!present(p, name)) continue;
      try {
        fromBeijingTime(p[name] as string);
      } catch {
        return returnFail(`${name}参数格式错误`, 'PARAM_ERROR');
      }
    }
    const timeExpire = present(p, 'time_expire') ? fromBeijingTime(p.time_expire as string).getTime() : undefined;
    if (timeExpire !== undefined && timeExpire - now < MIN_EXPIRE_MS) {
      return returnFail('time_expire时间过短，刷卡至少1分钟，其他5分钟', 'PARAM_ERROR');
    }
    if (tradeType === 'JSAPI' && !present(p, 'openid')) return returnFail('JSAPI支付必须传openid', 'LACK_PARAMS');
    if (tradeType === 'NATIVE' && !present(p, 'product_id')) return returnFail('NATIVE支付必须传product_id', 'LACK_PARAMS');
    // APP pay takes the appid of a mobile app on the open platform, and nothing else: a mini-program's
    // or a 公众号's appid bound to the same merchant is refused. ASSUMPTION: WeChat's exact words for it
    // are not published; a signed business failure as for other appid/trade_type mismatches.
    if (tradeType === 'APP' && state.kindOf(ctx.appid) !== 'open') {
      return { kind: 'resultFail', errCode: 'PARAM_ERROR', des: 'trade_type与appid不匹配，APP支付请使用开放平台移动应用的appid', sandboxCode: 'APP_NEEDS_OPEN_APPID' };
    }
    if (present(p, 'openid') && !state.openidBelongsTo(p.openid as string, ctx.appid)) {
      return resultFail('PARAM_ERROR', 'appid和openid不匹配');
    }

    const placed = placePrepay(
      state,
      {
        mchId: ctx.merchant.mchId,
        appid: ctx.appid,
        outTradeNo,
        fingerprint: fingerprint(p),
        signType: ctx.signType,
        body: p.body as string,
        ...(present(p, 'attach') ? { attach: p.attach as string } : {}),
        ...(present(p, 'device_info') ? { deviceInfo: p.device_info as string } : {}),
        totalFee,
        feeType: 'CNY',
        tradeType,
        ...(present(p, 'openid') ? { openid: p.openid as string } : {}),
        ...(present(p, 'product_id') ? { productId: p.product_id as string } : {}),
        notifyUrl,
        ...(timeExpire !== undefined ? { timeExpire } : {}),
      },
      now,
    );
    if (placed === 'PAID') return resultFail('ORDERPAID', '该订单已支付');
    if (placed === 'CLOSED') return resultFail('ORDERCLOSED', '该订单已关闭');
    if (placed === 'CHANGED') return resultFail('INVALID_REQUEST', '201 商户订单号重复');
    return prepayAnswer(placed);
  }

  function prepayAnswer(t: Trade): Outcome {
    const pr = t.prepayId.slice(-16);
    return {
      kind: 'success',
      fields: {
        device_info: t.deviceInfo,
        trade_type: t.tradeType,
        prepay_id: t.prepayId,
        code_url: t.tradeType === 'NATIVE' ? codeUrlOf(t) : undefined,
        mweb_url: t.tradeType === 'MWEB' ? `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${t.prepayId}&package=${pr}` : undefined,
      },
    };
  }

  function findTrade(ctx: Ctx): Trade | undefined {
    const { p } = ctx;
    if (present(p, 'transaction_id')) return state.tradeByTransactionId(ctx.merchant.mchId, p.transaction_id as string);
    return state.trade(ctx.merchant.mchId, p.out_trade_no as string);
  }

  function orderquery(ctx: Ctx): Outcome {
    const { p } = ctx;
    if (!present(p, 'transaction_id') && !present(p, 'out_trade_no')) return lackParams();
    const t = findTrade(ctx);
    if (!t || t.appid !== ctx.appid) return resultFail('ORDERNOTEXIST', 'order not exist');
    const paid = t.state === 'SUCCESS';
    const refunded = paid && opts.refunds?.hasRefund(t) === true;
    return {
      kind: 'success',
      fields: {
        device_info: t.deviceInfo,
        openid: paid ? t.payerOpenid : undefined,
        is_subscribe: paid ? 'N' : undefined,
        trade_type: paid ? t.tradeType : undefined,
        trade_state: refunded ? 'REFUND' : t.state,
        bank_type: paid ? t.bankType : undefined,
        total_fee: String(t.totalFee),
        fee_type: paid ? t.feeType : undefined,
        cash_fee: paid ? String(t.totalFee) : undefined,
        cash_fee_type: paid ? 'CNY' : undefined,
        transaction_id: paid ? t.transactionId : undefined,
        out_trade_no: t.outTradeNo,
        attach: t.attach,
        time_end: paid ? t.timeEnd : undefined,
        trade_state_desc: refunded ? '订单发生过退款' : TRADE_STATE_DESC[t.state],
      },
    };
  }

  function closeorder(ctx: Ctx): Outcome {
    const { p } = ctx;
    if (!present(p, 'out_trade_no')) return lackParams();
    const t = state.trade(ctx.merchant.mchId, p.out_trade_no as string);
    if (!t || t.appid !== ctx.appid) return resultFail('ORDERNOTEXIST', '订单不存在');
    if (t.state === 'SUCCESS') return resultFail('ORDERPAID', 'order paid');
    if (t.state === 'CLOSED') return resultFail('ORDERCLOSED', '订单已关闭，无法重复关闭');
    // WeChat: 订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟 (counted from the unifiedorder that
    // created the trade; a repeated unifiedorder or a renewed prepay_id does not restart it).
    // ASSUMPTION: no WeChat document or public trace gives the answer to a too-early call. The v2 closeorder
    // error list has no code for it; its only retryable code is SYSTEMERROR (系统异常，请重新调用该API), and
    // WeChat's v3 docs say an early close can fail while the order state is not yet synced. So: a signed
    // result_code FAIL, err_code SYSTEMERROR, err_code_des 'system error' (the text a real closeorder
    // SYSTEMERROR carries), and the trade stays open. Real WeChat may well close at once (developers report
    // it does); this is the documented worst case, which a merchant must survive.
    if (state.now() - t.createdAt < faults.closeorderMinAgeMs()) {
      return { kind: 'resultFail', errCode: 'SYSTEMERROR', des: 'system error', sandboxCode: 'CLOSEORDER_TOO_EARLY' };
    }
    t.state = 'CLOSED';
    return { kind: 'success', fields: { result_msg: 'OK' } };
  }

  app.post('/pay/unifiedorder', handler('unifiedorder', unifiedorder));
  app.post('/pay/orderquery', handler('orderquery', orderquery));
  app.post('/pay/closeorder', handler('closeorder', closeorder));
  for (const name of ['unifiedorder', 'orderquery', 'closeorder']) {
    app.get(`/pay/${name}`, async (_req, reply) => sendXml(reply, { return_code: 'FAIL', return_msg: '请使用post方法' }, 'REQUIRE_POST_METHOD'));
  }
}

/** A NATIVE trade's code_url (模式二): what its QR code carries, and what a scan pays. */
export function codeUrlOf(t: Trade): string {
  return `weixin://wxpay/bizpayurl?pr=${t.prepayId.slice(-16)}`;
}

