// What every /v3/ endpoint of the sandbox does around its own rules, as WeChat Pay API v3 does: take
// the raw body (the signature covers it byte for byte), check the Authorization header (scheme and
// fields, mchid, the API certificate's serial_no, a timestamp within 5 minutes, the RSA signature),
// parse the JSON body, and sign every answer, errors and 204s included (Wechatpay-Timestamp / Nonce /
// Signature / Serial, Request-ID). Errors are HTTP status + {code, message[, detail]}.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_CLOCK_SKEW_SECONDS, parseAuthorization, requestMessage, rsaVerify, serialKey, type AuthorizationFields } from '../../wechat/v3/crypto.js';
import type { SandboxMerchant, SandboxState } from '../state.js';
import { hangingReplies } from '../faults.js';
import { requestId, type SigningMode, type V3Keys } from './keys.js';

export const V3_BODY_LIMIT = 64 * 1024;

/** A refusal as API v3 answers it; `sandboxCode` goes in x-sandbox-error when WeChat's code says less. */
export class V3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
    readonly sandboxCode?: string,
  ) {
    super(message);
    this.name = 'V3Error';
  }
}

export const paramError = (field: string, message: string, location: 'body' | 'query' | 'path' = 'body'): V3Error =>
  new V3Error(400, 'PARAM_ERROR', message, { field, location });
export const systemError = (): V3Error => new V3Error(500, 'SYSTEM_ERROR', '系统错误');

export interface V3Ctx {
  merchant: SandboxMerchant;
  auth: AuthorizationFields;
  /** the parsed JSON body of a POST (an object), else undefined */
  json?: Record<string, unknown>;
}

/** What a handler answers: JSON (status 200 unless said), 204 with no body, or raw bytes (the bill file, unsigned). */
export type V3Answer =
  | { status?: number; json: unknown; mode?: SigningMode }
  | { status: 204 }
  | { raw: Buffer; contentType: string }
  | 'hang';

export function sendSigned(reply: FastifyReply, keys: V3Keys, mchId: string | undefined, status: number, json?: unknown, mode?: SigningMode): FastifyReply {
  const body = json === undefined ? '' : JSON.stringify(json);
  reply.code(status).header('Request-ID', requestId());
  for (const [k, v] of Object.entries(keys.signedHeaders(mchId, body, mode ? { mode } : {}))) reply.header(k, v);
  if (json === undefined) return reply.send();
  return reply.header('content-type', 'application/json; charset=utf-8').send(body);
}

function sendError(reply: FastifyReply, keys: V3Keys, mchId: string | undefined, e: V3Error): FastifyReply {
  if (e.sandboxCode) reply.header('x-sandbox-error', e.sandboxCode);
  return sendSigned(reply, keys, mchId, e.status, { code: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}) });
}

/** Authenticates a request as WeChat does; throws the V3Error WeChat would answer. */
export function authenticate(req: FastifyRequest, state: SandboxState, keys: V3Keys): V3Ctx {
  const header = req.headers.authorization;
  if (header === undefined || header === '') throw new V3Error(401, 'SIGN_ERROR', '缺少Authorization请求头，请参考《微信支付商户REST API签名规则》');
  const auth = parseAuthorization(header);
  if (!auth) throw new V3Error(401, 'SIGN_ERROR', 'Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》');
  const merchant = state.merchantByMchId(auth.mchid);
  if (!merchant) throw new V3Error(400, 'MCH_NOT_EXISTS', '商户号不存在');
  const cert = keys.merchantCert(merchant.mchId);
  // Serials compared as numbers: upper or lower case, with or without X.509's leading zero.
  if (!cert || serialKey(auth.serial_no) !== serialKey(cert.serial)) {
    throw new V3Error(401, 'SIGN_ERROR', '商户证书序列号有误。请使用签名私钥匹配的证书序列号', undefined, 'SERIAL_NO_MISMATCH');
  }
  const ts = /^\d{1,12}$/.test(auth.timestamp) ? Number(auth.timestamp) : NaN;
  if (!Number.isFinite(ts) || Math.abs(Date.now() / 1000 - ts) > MAX_CLOCK_SKEW_SECONDS) {
    throw new V3Error(401, 'SIGN_ERROR', '签名过期，请检查请求时间戳timestamp是否在5分钟内', undefined, 'TIMESTAMP_EXPIRED');
  }
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  const message = requestMessage(req.method, req.url, auth.timestamp, auth.nonce_str, raw);
  if (!rsaVerify(message, auth.signature, cert.certPem)) {
    // As WeChat's detail does: what was verified, so a merchant can compare it with what it signed.
    const signInformation = { method: req.method, url: req.url.split('?')[0], sign_message_length: Buffer.byteLength(message), truncated_sign_message: message.slice(0, 100) };
    throw new V3Error(401, 'SIGN_ERROR', '错误的签名，验签失败', { detail: { issue: 'sign not match' }, field: 'signature', location: 'authorization', sign_information: signInformation }, 'BAD_SIGNATURE');
  }
  if (!merchant.apiV3Key) throw new V3Error(403, 'NO_AUTH', '商户未设置APIv3密钥，请在商户平台设置后再调用');
  const ctx: V3Ctx = { merchant, auth };
  if (req.method === 'POST') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new V3Error(400, 'PARAM_ERROR', '请求体不是合法的JSON格式', { location: 'body' });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new V3Error(400, 'PARAM_ERROR', '请求体应为JSON对象', { location: 'body' });
    ctx.json = parsed as Record<string, unknown>;
  }
  return ctx;
}

export type V3Handler<P = Record<string, string>, Q = Record<string, string | undefined>> = (ctx: V3Ctx, req: FastifyRequest<{ Params: P; Querystring: Q }>) => V3Answer;

/**
 * Sets up an encapsulated plugin for /v3/ routes: raw bodies, signed errors; returns `route` to add
 * handlers with authentication around them. Requests held by a "hang" fault are destroyed on close.
 */
export function v3Api(app: FastifyInstance, state: SandboxState, keys: V3Keys) {
  const hang = hangingReplies(app);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: V3_BODY_LIMIT }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { statusCode?: number; code?: string };
    if (e instanceof V3Error) return sendError(reply, keys, undefined, e);
    if (e.statusCode !== undefined && e.statusCode < 500) return sendError(reply, keys, undefined, new V3Error(400, 'PARAM_ERROR', e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? '请求体过大' : '请求格式错误'));
    req.log.error({ err: e }, 'sandbox v3 API failed');
    return sendError(reply, keys, undefined, systemError());
  });

  function route<P = Record<string, string>, Q = Record<string, string | undefined>>(method: 'GET' | 'POST', url: string, handler: V3Handler<P, Q>): void {
    app.route<{ Params: P; Querystring: Q }>({
      method,
      url,
      handler: async (req, reply) => {
        let mchId: string | undefined;
        try {
          const ctx = authenticate(req as FastifyRequest, state, keys);
          mchId = ctx.merchant.mchId;
          const answer = handler(ctx, req);
          if (answer === 'hang') return hang(req, reply);
          if ('raw' in answer) return reply.code(200).header('content-type', answer.contentType).header('Request-ID', requestId()).send(answer.raw);
          if (!('json' in answer)) return sendSigned(reply, keys, mchId, 204);
          return sendSigned(reply, keys, mchId, answer.status ?? 200, answer.json, answer.mode);
        } catch (err) {
          if (err instanceof V3Error) return sendError(reply, keys, mchId ?? mchIdOf(req), err);
          throw err;
        }
      },
    });
  }
  return { route };
}

// Errors before the merchant is known are signed in the mode of the mchid the header names, if any.
function mchIdOf(req: FastifyRequest): string | undefined {
  return parseAuthorization(req.headers.authorization)?.mchid;
}
