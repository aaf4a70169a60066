// For integration tests that play WeChat themselves (a notify the test writes, a count of the calls the
// server made): the same message or the same count whichever API version the server is on
// (testApiVersion). A v3 notification is what the sandbox would send: the resource AES-256-GCM
// encrypted with the merchant's APIv3 key, the body signed with the sandbox's WeChat Pay key.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { sign, toXml, type SignType } from '../../server/src/wechat/index.js';
import { aesGcmEncrypt, responseMessage, rsaSign } from '../../server/src/wechat/v3/crypto.js';
import { rfc3339FromBeijingCompact } from '../../server/src/wechat/v3/wire.js';
import { eventually } from './api.js';
import { testApiVersion } from './services.js';
import type { Stack } from './stack.js';

export { testApiVersion };
export const onV3 = (): boolean => testApiVersion() === 'v3';

type StackLike = Pick<Stack, 'config' | 'certs'>;

/** The key the sandbox signs v3 answers and notifications with (public key mode), and its id. */
export function sandboxWechatpayKey(s: Pick<Stack, 'certs'>): { id: string; privatePem: string } {
  const dir = join(s.certs.dir, 'wechatpay');
  return { id: s.certs.wechatpay.publicKeyId, privatePem: readFileSync(join(dir, 'pub_key_private.pem'), 'utf8') };
}

export interface V3NotifyMessage {
  headers: Record<string, string>;
  body: string;
}

/** A v3 notification of `resource`, signed by the sandbox's key (or `opts.key`), `opts.timestamp` seconds. */
export function v3Notification(
  s: StackLike,
  resource: object,
  opts: { eventType?: string; originalType?: 'transaction' | 'refund'; timestamp?: number; signWith?: string; apiV3Key?: string } = {},
): V3NotifyMessage {
  const originalType = opts.originalType ?? 'transaction';
  const apiV3Key = opts.apiV3Key ?? s.config.pay.v3?.apiV3Key;
  if (!apiV3Key) throw new Error('v3Notification: the config has no APIv3 key');
  const enc = aesGcmEncrypt(JSON.stringify(resource), apiV3Key, originalType);
  const body = JSON.stringify({
    id: randomBytes(16).toString('hex'),
    create_time: new Date().toISOString(),
    event_type: opts.eventType ?? (originalType === 'refund' ? 'REFUND.SUCCESS' : 'TRANSACTION.SUCCESS'),
    resource_type: 'encrypt-resource',
    summary: originalType === 'refund' ? '退款成功' : '支付成功',
    resource: { original_type: originalType, ...enc },
  });
  const key = sandboxWechatpayKey(s);
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  return {
    headers: {
      'content-type': 'application/json',
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-serial': key.id,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      'wechatpay-signature': rsaSign(responseMessage(timestamp, nonce, body), opts.signWith ?? key.privatePem),
    },
    body,
  };
}

/** v2 notify fields (appid, mch_id, out_trade_no, transaction_id, total_fee, cash_fee, time_end, openid, ...) as v3's transaction resource. */
export function transactionOf(f: Record<string, string>): Record<string, unknown> {
  const paid = f.result_code === 'SUCCESS';
  return {
    appid: f.appid,
    mchid: f.mch_id,
    out_trade_no: f.out_trade_no,
    ...(f.transaction_id ? { transaction_id: f.transaction_id } : {}),
    trade_type: f.trade_type ?? 'JSAPI',
    trade_state: paid ? 'SUCCESS' : (f.err_code ?? 'PAYERROR'),
    trade_state_desc: paid ? '支付成功' : (f.err_code_des ?? '支付失败'),
    ...(f.bank_type ? { bank_type: f.bank_type } : {}),
    ...(f.attach ? { attach: f.attach } : {}),
    ...(paid && f.time_end ? { success_time: rfc3339FromBeijingCompact(f.time_end) } : {}),
    payer: { openid: f.openid },
    amount: { total: Number(f.total_fee), payer_total: Number(f.cash_fee ?? f.total_fee), currency: f.fee_type ?? 'CNY', payer_currency: f.fee_type ?? 'CNY' },
  };
}

/**
 * A payment notification for v2 notify `fields`, as the server's API version has WeChat send it: v2
 * XML signed with the API key to /wxpay/notify, or v3 JSON to /wxpay/v3/notify.
 */
export function paymentNotify(s: StackLike, fields: Record<string, string>, opts: { signType?: SignType } = {}): { path: string; headers: Record<string, string>; body: string } {
  if (!onV3()) {
    const signType = opts.signType ?? 'MD5';
    return { path: '/wxpay/notify', headers: { 'content-type': 'text/xml' }, body: toXml({ ...fields, sign: sign(fields, s.config.pay.apiKey, signType) }) };
  }
  return { path: '/wxpay/v3/notify', ...v3Notification(s, transactionOf(fields)) };
}

/** Whether an answer of the notify endpoint (status, text) says "stored, stop retrying" in the version's terms. */
export function notifyAccepted(r: { status: number; text: string }): boolean {
  return onV3() ? r.status === 204 || r.status === 200 : r.text.includes('<return_code><![CDATA[SUCCESS]]></return_code>');
}

const V3_PATHS: Record<string, (method: string, url: string) => boolean> = {
  '/pay/unifiedorder': (m, u) => m === 'POST' && /^\/v3\/pay\/transactions\/(jsapi|app|native)$/.test(u),
  '/pay/orderquery': (m, u) => m === 'GET' && /^\/v3\/pay\/transactions\/(out-trade-no|id)\/[^/?]+\?/.test(u),
  '/pay/closeorder': (m, u) => m === 'POST' && /^\/v3\/pay\/transactions\/out-trade-no\/[^/]+\/close$/.test(u),
  '/secapi/pay/refund': (m, u) => m === 'POST' && u === '/v3/refund/domestic/refunds',
  '/pay/refundquery': (m, u) => m === 'GET' && u.startsWith('/v3/refund/domestic/refunds/'),
  '/pay/downloadbill': (m, u) => m === 'GET' && u.startsWith('/v3/bill/tradebill'),
};

/** Whether a request the sandbox received is a call of v2 API `v2Path` (its v3 counterpart under v3). */
export function isPayCall(req: Pick<IncomingMessage, 'method' | 'url'>, v2Path: string): boolean {
  if (!onV3()) return req.url === v2Path;
  const match = V3_PATHS[v2Path];
  if (!match) throw new Error(`isPayCall: no v3 counterpart known for ${v2Path}`);
  return match(req.method ?? 'GET', req.url ?? '');
}

/**
 * Whether the sandbox logged a delivery of `outTradeNo`'s payment notification that the server
 * accepted, at the notify endpoint of the server's API version. Polled: the sandbox logs an attempt
 * once it has read the answer, which comes after the server stored the payment.
 */
export async function notifyDelivered(sandboxBase: string, outTradeNo: string): Promise<{ ok: boolean; path: string }> {
  const path = onV3() ? '/wxpay/v3/notify' : '/wxpay/notify';
  const delivered = (a: { success: boolean; notifyUrl: string }) => a.success && new URL(a.notifyUrl).pathname === path;
  const notes = await eventually(
    async () => (await (await fetch(`${sandboxBase}/sandbox/notifications?out_trade_no=${outTradeNo}`)).json()) as { attempts: { success: boolean; notifyUrl: string }[] },
    (n) => n.attempts.some(delivered),
  );
  return { ok: notes.attempts.some(delivered), path };
}
