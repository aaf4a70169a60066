// Shared by the sandbox tests: a sandbox on port 0, signed XML calls, and a notify receiver.
// Signatures in tests are made and checked with tenpay's own util (an outside implementation),
// so a mistake in our signing code cannot hide behind the same mistake in the sandbox.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { startSandbox, type SandboxOptions } from '../../../server/src/sandbox/app.js';
import { DEMO_MERCHANT } from '../../../server/src/sandbox/demo.js';
import { parseXml, toXml } from '../../../server/src/wechat/xml.js';

const require = createRequire(import.meta.url);
const tenpayUtil = require('tenpay/lib/util') as {
  toQueryString(o: Record<string, unknown>): string;
  md5(s: string): string;
  sha256(s: string, key: string): string;
};

export type SignType = 'MD5' | 'HMAC-SHA256';

/** WeChat's v2 signature computed by tenpay's util (independent of server/src/wechat). */
export function outsideSign(params: Record<string, string | undefined>, key: string, signType: SignType = 'MD5'): string {
  const s = `${tenpayUtil.toQueryString(params)}&key=${key}`;
  return (signType === 'MD5' ? tenpayUtil.md5(s) : tenpayUtil.sha256(s, key)).toUpperCase();
}

export const MERCHANT = { ...DEMO_MERCHANT };
/** A second merchant with its own appid. */
export const OTHER = { appid: 'wx0000000000000002', mchId: '1900000002', key: 'k'.repeat(32), secret: 'other-demo-appsecret' };

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function sandbox(t: Teardown, opts: Partial<SandboxOptions> = {}) {
  const sb = await startSandbox({ merchants: [MERCHANT, OTHER], timeScale: 0.001, ...opts });
  t.teardown(() => sb.close());
  const json = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(sb.url + path, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { ...sb, json };
}

export interface PayReply {
  status: number;
  text: string;
  fields: Record<string, string>;
  sandboxError: string | null;
}

/** POSTs raw text to a pay API path and parses the XML answer. */
export async function postRaw(url: string, path: string, body: string, contentType = 'text/xml'): Promise<PayReply> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  return { status: res.status, text, fields: parseXml(text), sandboxError: res.headers.get('x-sandbox-error') };
}

/** Signs `params` (adding nonce_str unless given) with tenpay's util and POSTs them as XML. */
export async function payCall(
  url: string,
  api: 'unifiedorder' | 'orderquery' | 'closeorder',
  params: Record<string, string | undefined>,
  opts: { key?: string; signType?: SignType; sign?: string } = {},
): Promise<PayReply> {
  const p: Record<string, string | undefined> = { nonce_str: randomBytes(8).toString('hex'), ...params };
  if (opts.signType === 'HMAC-SHA256') p.sign_type = 'HMAC-SHA256';
  p.sign = opts.sign ?? outsideSign(p, opts.key ?? MERCHANT.key, opts.signType ?? 'MD5');
  return postRaw(url, `/pay/${api}`, toXml(p));
}

let seq = 0;
export function outTradeNo(prefix = 'T'): string {
  seq += 1;
  return `${prefix}${Date.now()}${seq}${randomBytes(2).toString('hex')}`.slice(0, 32);
}

export function orderParams(openid: string, notifyUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    appid: MERCHANT.appid,
    mch_id: MERCHANT.mchId,
    body: 'Sandbox test goods',
    out_trade_no: outTradeNo(),
    total_fee: '101',
    spbill_create_ip: '127.0.0.1',
    notify_url: notifyUrl,
    trade_type: 'JSAPI',
    openid,
    ...extra,
  };
}

/** Checks a signed WeChat message with tenpay's util. */
export function signatureOk(fields: Record<string, string>, key: string, signType: SignType = 'MD5'): boolean {
  return fields.sign === outsideSign(fields, key, signType);
}

export interface Received {
  at: number;
  headers: IncomingMessage['headers'];
  body: string;
  fields: Record<string, string>;
}

/** What a test notify endpoint answers: a status, a content type and a body, or nothing ever ('hang'). */
export type ReceiverReply = { status: number; contentType?: string; body: string } | 'hang';

/**
 * An HTTP server standing for a merchant's notify endpoint at `path`: each request is recorded as
 * `read(headers, body)` makes it, then answered `answer(n, r)` (n from 1). Closed with the test.
 */
export async function receiver<R>(
  t: Teardown,
  path: string,
  read: (headers: IncomingMessage['headers'], body: string) => R,
  answer: (n: number, r: R) => ReceiverReply | Promise<ReceiverReply>,
) {
  const received: R[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r = read(req.headers, Buffer.concat(chunks).toString('utf8'));
      received.push(r);
      for (const w of waiters.filter((w) => received.length >= w.n)) w.resolve();
      const reply = await answer(received.length, r);
      if (reply === 'hang') return;
      res.writeHead(reply.status, reply.contentType ? { 'content-type': reply.contentType } : {}).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    /** resolves once at least n requests arrived */
    waitFor(n: number): Promise<void> {
      if (received.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/**
 * An HTTP server standing for the merchant's v2 notify_url. `answer` decides the reply body
 * for the n-th request (1-based); by default every request gets SUCCESS.
 */
export async function notifyReceiver(
  t: Teardown,
  answer: (n: number, r: Received) => string | Promise<string> | 'hang' = () => ok,
) {
  return receiver<Received>(
    t,
    '/wxpay/notify',
    (headers, body) => {
      let fields: Record<string, string> = {};
      try {
        fields = parseXml(body);
      } catch {
        fields = {};
      }
      return { at: Date.now(), headers, body, fields };
    },
    async (n, r) => {
      const reply = await answer(n, r);
      return reply === 'hang' ? 'hang' : { status: 200, contentType: 'text/xml', body: reply };
    },
  );
}

export const ok = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
export const failReply = '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[not now]]></return_msg></xml>';

/** The five wx.requestPayment params for a prepay_id, paySign by tenpay's util. */
export function payParams(prepayId: string, opts: { appId?: string; key?: string; signType?: SignType } = {}) {
  const signType = opts.signType ?? 'MD5';
  const p = {
    appId: opts.appId ?? MERCHANT.appid,
    timeStamp: String(Math.floor(Date.now() / 1000)),
    nonceStr: randomBytes(8).toString('hex'),
    package: `prepay_id=${prepayId}`,
    signType,
  };
  return { ...p, paySign: outsideSign(p, opts.key ?? MERCHANT.key, signType) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined) or `ms` passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('eventually: condition not met in time');
    await sleep(20);
  }
}
