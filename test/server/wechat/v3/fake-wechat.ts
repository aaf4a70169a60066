// A scripted WeChat Pay API v3 on loopback: checks every request's Authorization with the merchant's
// public key (as WeChat does) and signs every answer with its own key (public key mode or a platform
// certificate), so that tests can break either side on purpose.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { Test } from 'tap';
import forge from 'node-forge';
import { aesGcmEncrypt, parseAuthorization, requestMessage, responseMessage, rsaSign, rsaVerify, type AuthorizationFields } from '../../../../server/src/wechat/v3/crypto.js';

export const MCHID = '1900000109';
export const APPID = 'wxd930ea5d5a258f4f';
export const APPID2 = 'wx1234567890abcdef';
export const MCH_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
export const API_V3_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
export const PUB_KEY_ID = 'PUB_KEY_ID_0119000001092026120200000000000001';

/** A paid transaction as WeChat's v3 query answers and payment notifications carry it. */
export function paidTransaction(over: Record<string, unknown> = {}) {
  return {
    appid: APPID,
    mchid: MCHID,
    out_trade_no: 'T1',
    transaction_id: '4200000000202612020000000001',
    trade_type: 'JSAPI',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'CMC',
    attach: '',
    success_time: '2026-12-02T10:34:56+08:00',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    amount: { total: 1999, payer_total: 1899, currency: 'CNY', payer_currency: 'CNY' },
    ...over,
  };
}

export function rsaKeys(): { privateKey: KeyObject; publicKey: KeyObject; privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

export interface PlatformCert {
  serial: string;
  pem: string;
  key: KeyObject;
}

/** A self-signed platform certificate valid from `from` to `to` (what WeChat's /v3/certificates carries). */
export function platformCert(from: Date, to: Date): PlatformCert {
  const k = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(k.publicPem);
  const serial = `5${randomBytes(20).toString('hex').toUpperCase().slice(1)}`;
  cert.serialNumber = serial;
  cert.validity.notBefore = from;
  cert.validity.notAfter = to;
  const subject = [{ name: 'commonName', value: 'Tenpay.com Root CA' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(k.privatePem), forge.md.sha256.create());
  return { serial, pem: forge.pki.certificateToPem(cert), key: k.privateKey };
}

/** WeChat's RFC 3339 with its +08:00 (the format of effective_time / expire_time). */
function beijingRfc3339(d: Date): string {
  return `${new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

/** A /v3/certificates body carrying these certificates, encrypted with `apiV3Key`. */
export function certificatesBody(certs: PlatformCert[], apiV3Key = API_V3_KEY, validity?: { from: Date; to: Date }): object {
  return {
    data: certs.map((c) => ({
      serial_no: c.serial,
      effective_time: beijingRfc3339(validity?.from ?? new Date()),
      expire_time: beijingRfc3339(validity?.to ?? new Date(Date.now() + 365 * 86400_000)),
      encrypt_certificate: aesGcmEncrypt(c.pem, apiV3Key, 'certificate'),
    })),
  };
}

export interface Seen {
  method: string;
  /** path with query, as sent */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  auth: AuthorizationFields | null;
  /** whether the Authorization verifies with the merchant's public key over this very request */
  authOk: boolean;
}

export interface Reply {
  status?: number;
  body?: object | string | Buffer;
  headers?: Record<string, string>;
  /** no Wechatpay-* headers at all */
  unsigned?: boolean;
  /** a signature by another key */
  forged?: boolean;
  /** seconds added to the answer's Wechatpay-Timestamp */
  skew?: number;
  /** who signs (default: the server's current signer) */
  signer?: { serial: string; key: KeyObject };
}

export type Handler = (req: Seen) => Reply | Promise<Reply>;

export interface FakeWechat {
  base: string;
  seen: Seen[];
  /** the signer answers use: set it to rotate */
  signer: { serial: string; key: KeyObject };
  /** the answer to a METHOD path (no query); a function or a list taken in turn (last repeats) */
  on(method: string, path: string, handler: Handler | Handler[]): void;
}

const stranger = rsaKeys().privateKey;

export async function fakeWechat(t: Test, opts: { merchantPublicKey: KeyObject; signer: { serial: string; key: KeyObject } }): Promise<FakeWechat> {
  const routes = new Map<string, { handlers: Handler[]; n: number }>();
  const seen: Seen[] = [];
  const fake: FakeWechat = {
    base: '',
    seen,
    signer: opts.signer,
    on(method, path, handler) {
      routes.set(`${method} ${path}`, { handlers: Array.isArray(handler) ? handler : [handler], n: 0 });
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = req.url ?? '';
      const auth = parseAuthorization(req.headers.authorization);
      const authOk =
        auth !== null && auth.mchid === MCHID && rsaVerify(requestMessage(req.method ?? '', url, auth.timestamp, auth.nonce_str, body), auth.signature, opts.merchantPublicKey);
      const s: Seen = { method: req.method ?? '', url, headers: req.headers, body, auth, authOk };
      seen.push(s);
      const route = routes.get(`${s.method} ${url.split('?')[0]}`);
      let reply: Reply;
      if (!authOk) reply = { status: 401, body: { code: 'SIGN_ERROR', message: '签名错误' } };
      else if (!route) reply = { status: 404, body: { code: 'NOT_FOUND', message: 'no such route in this test' } };
      else {
        const h = route.handlers[Math.min(route.n++, route.handlers.length - 1)]!;
        reply = await h(s);
      }
      const payload = reply.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
      const headers: Record<string, string> = { 'request-id': randomBytes(8).toString('hex'), ...(payload.length && !Buffer.isBuffer(reply.body) ? { 'content-type': 'application/json' } : {}), ...reply.headers };
      if (!reply.unsigned) {
        const signer = reply.signer ?? fake.signer;
        const ts = String(Math.floor(Date.now() / 1000) + (reply.skew ?? 0));
        const nonce = randomBytes(16).toString('hex');
        headers['wechatpay-timestamp'] = ts;
        headers['wechatpay-nonce'] = nonce;
        headers['wechatpay-serial'] = signer.serial;
        headers['wechatpay-signature'] = rsaSign(responseMessage(ts, nonce, payload.toString('utf8')), reply.forged ? stranger : signer.key);
      }
      res.writeHead(reply.status ?? 200, headers);
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  fake.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
