// Shared by the sandbox's API v3 tests: raw signed /v3/ calls made with crypto.ts and the merchant key
// the sandbox issued, answers verified with the WeChat Pay keys startSandbox exports, and a receiver
// for v3 notifications.
import type { IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { SandboxOptions } from '../../../../server/src/sandbox/app.js';
import { aesGcmDecrypt, certificateSerial, jsapiPayMessage, appPayMessage, responseMessage, rsaSign, rsaVerify, signRequest } from '../../../../server/src/wechat/v3/crypto.js';
import { MERCHANT, OTHER, receiver, sandbox } from '../helpers.js';

export { MERCHANT, OTHER };
export { eventually, outTradeNo, sleep } from '../helpers.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export type Sandbox = Awaited<ReturnType<typeof sandbox>>;

export async function v3Sandbox(t: Teardown, opts: Partial<SandboxOptions> = {}): Promise<Sandbox> {
  return sandbox(t, { closeorderMinAgeSeconds: 0, ...opts });
}

export interface V3Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  /** the Wechatpay-Signature verifies with the key Wechatpay-Serial names (public key or platform certificate) */
  verified: boolean;
  serial: string | null;
}

/** Checks an answer's (or notification's) Wechatpay-* headers against the sandbox's WeChat Pay keys. */
export function verifyWechatpay(sb: Sandbox, get: (name: string) => string | null | undefined, body: string): boolean {
  const ts = get('wechatpay-timestamp');
  const nonce = get('wechatpay-nonce');
  const sig = get('wechatpay-signature');
  const serial = get('wechatpay-serial');
  if (!ts || !nonce || !sig || !serial) return false;
  const w = sb.certs.wechatpay;
  const key = serial === w.publicKeyId ? w.publicKeyPem : serial === w.platformSerial ? w.platformCertPem : undefined;
  return key !== undefined && rsaVerify(responseMessage(ts, nonce, body), sig, key);
}

export interface CallOpts {
  mchId?: string;
  /** sign with this key instead of the merchant's */
  key?: string;
  serialNo?: string;
  timestamp?: string;
  /** sent as the body instead of JSON.stringify(body) */
  rawBody?: string;
  /** the signature covers this body instead of the one sent */
  signedBody?: string;
  authorization?: string | null;
}

export function merchantKeys(sb: Sandbox, mchId: string = MERCHANT.mchId) {
  const m = sb.certs.merchants[mchId]!;
  return { keyPem: m.keyPem, certPem: m.certPem, serial: certificateSerial(m.certPem) };
}

/** A signed API v3 call, as WeChat's SDKs make them. */
export async function v3(sb: Sandbox, method: 'GET' | 'POST', path: string, body?: unknown, opts: CallOpts = {}): Promise<V3Reply> {
  const mchId: string = opts.mchId ?? MERCHANT.mchId;
  const mk = merchantKeys(sb, mchId);
  const text = opts.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
  const authorization =
    opts.authorization !== undefined
      ? opts.authorization
      : signRequest({
          method,
          pathWithQuery: path,
          body: opts.signedBody ?? text,
          mchid: mchId,
          serialNo: opts.serialNo ?? mk.serial,
          key: opts.key ?? mk.keyPem,
          nonce: randomBytes(16).toString('hex').toUpperCase(),
          timestamp: opts.timestamp ?? String(Math.floor(Date.now() / 1000)),
        });
  const headers: Record<string, string> = { accept: 'application/json' };
  if (authorization !== null) headers.authorization = authorization;
  if (method === 'POST') headers['content-type'] = 'application/json';
  const res = await fetch(sb.url + path, { method, headers, ...(method === 'POST' ? { body: text } : {}) });
  const buf = Buffer.from(await res.arrayBuffer());
  const out = buf.toString('utf8');
  let json: any;
  try {
    json = out === '' ? undefined : JSON.parse(out);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text: out, json, verified: verifyWechatpay(sb, (n) => res.headers.get(n), out), serial: res.headers.get('wechatpay-serial') };
}

/** The body of a JSAPI prepay, for the demo mini-program's user. */
export function jsapiBody(openid: string, notifyUrl: string, extra: Record<string, unknown> = {}) {
  return {
    appid: MERCHANT.appid,
    mchid: MERCHANT.mchId,
    description: '沙箱商品',
    out_trade_no: nextTradeNo(),
    notify_url: notifyUrl,
    amount: { total: 101, currency: 'CNY' },
    payer: { openid },
    ...extra,
  };
}

let seq = 0;
export function nextTradeNo(prefix = 'V3'): string {
  seq += 1;
  return `${prefix}${Date.now()}${seq}${randomBytes(2).toString('hex')}`.slice(0, 32);
}

/** wx.requestPayment's params for a v3 prepay, paySign RSA with the merchant key. */
export function rsaPayParams(sb: Sandbox, prepayId: string, opts: { key?: string; appId?: string } = {}) {
  const appId = opts.appId ?? MERCHANT.appid;
  const timeStamp = String(Math.floor(Date.now() / 1000));
  const nonceStr = randomBytes(8).toString('hex');
  const pkg = `prepay_id=${prepayId}`;
  return { appId, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign: rsaSign(jsapiPayMessage(appId, timeStamp, nonceStr, pkg), opts.key ?? merchantKeys(sb).keyPem) };
}

/** The APP SDK's PayReq for a v3 prepay, sign RSA with the merchant key. */
export function rsaAppParams(sb: Sandbox, appid: string, prepayid: string, opts: { key?: string } = {}) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const noncestr = randomBytes(8).toString('hex');
  return { appid, partnerid: MERCHANT.mchId, prepayid, package: 'Sign=WXPay', noncestr, timestamp, sign: rsaSign(appPayMessage(appid, timestamp, noncestr, prepayid), opts.key ?? merchantKeys(sb).keyPem) };
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
}

/** A v3 notify_url: records what it receives and answers `status(n)` (200 by default; not 200/204: a FAIL body). */
export async function v3Receiver(t: Teardown, status: (n: number) => number = () => 200) {
  return receiver<Received>(
    t,
    '/wxpay/v3/notify',
    (headers, body) => {
      let json: any;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      return { headers, body, json };
    },
    (n) => {
      const s = status(n);
      if (s === 204) return { status: 204, body: '' };
      return { status: s, contentType: 'application/json', body: s === 200 ? '' : JSON.stringify({ code: 'FAIL', message: 'not now' }) };
    },
  );
}

/** The plaintext of a v3 notification's resource, decrypted with the merchant's APIv3 key. */
export function decryptResource(n: Received, apiV3Key: string = MERCHANT.apiV3Key): any {
  return JSON.parse(aesGcmDecrypt(n.json.resource, apiV3Key));
}

/** An openid of the demo mini-program, minted by the sandbox. */
export async function openidOf(sb: Sandbox, appid: string = MERCHANT.appid): Promise<string> {
  const { body } = await sb.json('POST', '/sandbox/login-codes', { appid });
  return body.openid as string;
}
