// What every api.mch.weixin.qq.com XML endpoint of the sandbox does before its own rules, shared by the
// refund and bill routes: take the raw body whatever its content-type, parse it with the protocol's own
// strict parser, find the merchant by mch_id, check sign_type and the signature, then answer either
// return_code FAIL + return_msg (unsigned; the sandbox adds its machine-readable code in the
// `x-sandbox-error` header) or a signed return_code SUCCESS answer with result_code SUCCESS / FAIL.
// (pay-routes.ts has the same steps inline for unifiedorder/orderquery/closeorder.)
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { nonceStr } from '../wechat/nonce.js';
import { isSignType, sign, verifySign, type SignType } from '../wechat/sign.js';
import { parseXml, toXml, XmlError } from '../wechat/xml.js';
import type { SandboxMerchant, SandboxState } from './state.js';

export const XML_BODY_LIMIT = 64 * 1024;

export type Fields = Record<string, string>;

export type Outcome =
  | { kind: 'returnFail'; msg: string; code: string }
  /** sandboxCode: what the x-sandbox-error header says when it differs from err_code (CLOSEORDER_TOO_EARLY) */
  | { kind: 'resultFail'; errCode: string; des: string; sandboxCode?: string }
  | { kind: 'success'; fields: Record<string, string | undefined> };

export const returnFail = (msg: string, code: string): Outcome => ({ kind: 'returnFail', msg, code });
export const resultFail = (errCode: string, des: string): Outcome => ({ kind: 'resultFail', errCode, des });
/** A required field absent: WeChat's answer names no field, whichever it is. */
export const lackParams = (): Outcome => returnFail('缺少参数', 'LACK_PARAMS');

export interface XmlCtx {
  merchant: SandboxMerchant;
  appid: string;
  signType: SignType;
  p: Fields;
}

export function present(p: Fields, name: string): boolean {
  return p[name] !== undefined && p[name] !== '';
}

/** The raw body, whatever the content-type (SDKs send text/xml, application/xml, form types or none). */
export function takeRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: XML_BODY_LIMIT }, (_req, body, done) => done(null, body));
}

export function sendXml(reply: FastifyReply, fields: Record<string, string | undefined>, code?: string): FastifyReply {
  reply.code(200).header('content-type', 'text/xml; charset=utf-8');
  if (code) reply.header('x-sandbox-error', code);
  return reply.send(toXml(fields));
}

/** Answers XML errors of the framework (body too large, ...) as WeChat would, never as Fastify JSON. */
export function xmlErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { code?: string; statusCode?: number };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || (e.statusCode !== undefined && e.statusCode < 500)) {
      return sendXml(reply, { return_code: 'FAIL', return_msg: 'XML格式错误' }, 'XML_FORMAT_ERROR');
    }
    req.log.error({ err: e }, 'sandbox XML API failed');
    return sendXml(reply, { return_code: 'FAIL', return_msg: '系统错误' }, 'SYSTEMERROR');
  });
}

/** Sends an outcome: unsigned return FAIL, or a signed answer in the request's sign type. */
export function render(reply: FastifyReply, ctx: XmlCtx | undefined, out: Outcome): FastifyReply {
  if (out.kind === 'returnFail' || !ctx) {
    const o = out.kind === 'returnFail' ? out : { msg: '系统错误', code: 'SYSTEMERROR' };
    return sendXml(reply, { return_code: 'FAIL', return_msg: o.msg }, o.code);
  }
  const base: Record<string, string | undefined> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: ctx.appid,
    mch_id: ctx.merchant.mchId,
    nonce_str: nonceStr(32),
  };
  const fields: Record<string, string | undefined> =
    out.kind === 'resultFail'
      ? { ...base, result_code: 'FAIL', err_code: out.errCode, err_code_des: out.des }
      : { ...base, result_code: 'SUCCESS', ...out.fields };
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') clean[k] = v;
  clean.sign = sign(clean, ctx.merchant.key, ctx.signType);
  return sendXml(reply, clean, out.kind === 'resultFail' ? (out.sandboxCode ?? out.errCode) : undefined);
}

/**
 * Parses and authenticates a request: the XML, mch_id, sign_type and sign. Returns the context, or
 * the return FAIL outcome WeChat answers (it never signs those).
 */
export function authenticate(req: FastifyRequest, state: SandboxState): { ctx: XmlCtx } | { fail: Outcome } {
  const raw = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return { fail: returnFail('post数据为空', 'POST_DATA_EMPTY') };
  let p: Fields;
  try {
    p = parseXml(raw, { maxBytes: XML_BODY_LIMIT });
  } catch (err) {
    if (err instanceof XmlError && /UTF-8/.test(err.message)) return { fail: returnFail('编码格式错误', 'NOT_UTF8') };
    return { fail: returnFail('XML格式错误', 'XML_FORMAT_ERROR') };
  }
  if (!present(p, 'mch_id')) return { fail: lackParams() };
  const merchant = state.merchantByMchId(p.mch_id as string);
  if (!merchant) return { fail: returnFail('mch_id参数格式错误', 'MCHID_NOT_EXIST') };
  const signTypeRaw = present(p, 'sign_type') ? (p.sign_type as string) : 'MD5';
  if (!isSignType(signTypeRaw)) return { fail: returnFail('sign_type参数格式错误', 'PARAM_ERROR') };
  if (!present(p, 'sign')) return { fail: lackParams() };
  if (!verifySign(p, merchant.key, signTypeRaw)) return { fail: returnFail('签名错误，请检查后再试', 'SIGNERROR') };
  return { ctx: { merchant, appid: p.appid ?? '', signType: signTypeRaw, p } };
}

/** appid present and bound to the merchant (after authentication, as WeChat orders its checks). */
export function checkAppid(ctx: XmlCtx, state: SandboxState): Outcome | undefined {
  if (!present(ctx.p, 'appid')) return lackParams();
  if (!state.binding(ctx.appid, ctx.merchant.mchId)) {
    return state.appidKnown(ctx.appid)
      ? resultFail('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配，请检查后再试')
      : resultFail('APPID_NOT_EXIST', 'AppID不存在，请检查后再试');
  }
  if (!present(ctx.p, 'nonce_str')) return lackParams();
  if (Buffer.byteLength(ctx.p.nonce_str as string, 'utf8') > 32) return returnFail('nonce_str参数长度有误', 'PARAM_ERROR');
  return undefined;
}
