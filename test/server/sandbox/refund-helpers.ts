// Shared by the refund and bill tests: a sandbox, a paid trade, and our pay client wired to the
// sandbox's TLS listener with the merchant certificate it issued.
import { createPayClient, type PayClient, type PayClientOptions } from '../../../server/src/wechat/pay-client.js';
import { loadMerchantCert } from '../../../server/src/wechat/merchant-cert.js';
import type { SandboxOptions } from '../../../server/src/sandbox/app.js';
import { MERCHANT, orderParams, payCall, payParams, sandbox, type SignType } from './helpers.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export type Sandbox = Awaited<ReturnType<typeof sandbox>>;

/** A trade paid at the cashier: what a refund needs. */
export async function paidTrade(sb: Sandbox, opts: { totalFee?: number; signType?: SignType; notifyUrl?: string; appid?: string } = {}) {
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const params = orderParams(login.openid, opts.notifyUrl ?? 'http://127.0.0.1:9/notify', { total_fee: String(opts.totalFee ?? 1000) });
  const order = await payCall(sb.url, 'unifiedorder', params, { signType: opts.signType ?? 'MD5' });
  if (order.fields.result_code !== 'SUCCESS') throw new Error(`unifiedorder failed: ${order.text}`);
  const paid = await sb.json('POST', '/sandbox/cashier', payParams(order.fields.prepay_id as string, { signType: opts.signType ?? 'MD5' }));
  if (paid.body.errMsg !== 'requestPayment:ok') throw new Error(`cashier failed: ${JSON.stringify(paid.body)}`);
  const q = await payCall(sb.url, 'orderquery', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: params.out_trade_no });
  return { outTradeNo: params.out_trade_no as string, transactionId: q.fields.transaction_id as string, totalFee: Number(params.total_fee), openid: login.openid as string };
}

/** Our pay client for MERCHANT, /secapi/ over mutual TLS with the certificate the sandbox issued. */
export function refundClient(t: Teardown, sb: Sandbox, extra: Partial<PayClientOptions> = {}): PayClient {
  const files = sb.certs.merchants[MERCHANT.mchId]!;
  const client = createPayClient({
    appid: MERCHANT.appid,
    mchId: MERCHANT.mchId,
    key: MERCHANT.key,
    signType: 'MD5',
    baseUrl: sb.url,
    secapiBaseUrl: sb.secapiUrl,
    cert: loadMerchantCert({ p12Path: files.p12Path, passphrase: files.passphrase }),
    ca: sb.certs.ca,
    retryDelayMs: 5,
    ...extra,
  });
  t.teardown(() => client.close());
  return client;
}

export async function refundSandbox(t: Teardown, opts: Partial<SandboxOptions> = {}) {
  const sb = await sandbox(t, opts);
  return { sb, client: refundClient(t, sb) };
}

let seq = 0;
export function outRefundNo(prefix = 'R'): string {
  seq += 1;
  return `${prefix}${Date.now()}-${seq}`;
}
