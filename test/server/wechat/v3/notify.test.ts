// v3 payment and refund notifications: what must hold, in which order, before the v2 shapes come out.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { WxNotifyError, WxPayError } from '../../../../server/src/wechat/errors.js';
import { createWechatpayVerifier } from '../../../../server/src/wechat/v3/certificates.js';
import { aesGcmEncrypt, responseMessage, rsaSign } from '../../../../server/src/wechat/v3/crypto.js';
import { verifyPayNotifyV3, verifyRefundNotifyV3, type V3NotifyMerchant } from '../../../../server/src/wechat/v3/notify.js';
import { API_V3_KEY, APPID, APPID2, MCHID, paidTransaction, PUB_KEY_ID, rsaKeys } from './fake-wechat.js';

const wechat = rsaKeys();
// One clock for signing and checking, so that ±301 s is exactly that.
const AT = Date.now();
const NOW = new Date(AT);
const merchant: V3NotifyMerchant = {
  mchId: MCHID,
  appids: [APPID, APPID2],
  apiV3Key: API_V3_KEY,
  verifier: createWechatpayVerifier({ publicKey: { id: PUB_KEY_ID, pem: wechat.publicPem }, apiV3Key: API_V3_KEY }),
};

const tx = paidTransaction({ out_trade_no: 'T20261202001', attach: 'a=1' });

const refund = {
  mchid: MCHID,
  out_trade_no: 'T20261202001',
  transaction_id: '4200000000202612020000000001',
  out_refund_no: 'R1',
  refund_id: '50300000002026120200000000001',
  refund_status: 'SUCCESS',
  success_time: '2026-12-02T11:00:05+08:00',
  user_received_account: '支付用户零钱',
  amount: { total: 1999, refund: 500, payer_total: 1899, payer_refund: 450 },
};

interface Opts {
  kind?: 'transaction' | 'refund';
  key?: string;
  aad?: string;
  skew?: number;
  tamperCiphertext?: boolean;
  forged?: boolean;
  plaintext?: string;
  drop?: string;
  eventType?: string;
}

function notification(resource: object, o: Opts = {}) {
  const kind = o.kind ?? 'transaction';
  const enc = aesGcmEncrypt(o.plaintext ?? JSON.stringify(resource), o.key ?? API_V3_KEY, o.aad ?? kind);
  // The resource names its own associated data: encrypted under another, it must not decrypt.
  enc.associated_data = kind;
  if (o.tamperCiphertext) {
    const b = Buffer.from(enc.ciphertext, 'base64');
    b[0] = b[0]! ^ 0x01;
    enc.ciphertext = b.toString('base64');
  }
  const body = JSON.stringify({
    id: 'EV-2018022511223320873',
    create_time: '2026-12-02T10:35:00+08:00',
    resource_type: 'encrypt-resource',
    event_type: o.eventType ?? (kind === 'refund' ? 'REFUND.SUCCESS' : 'TRANSACTION.SUCCESS'),
    summary: '支付成功',
    resource: { original_type: kind, ...enc },
  });
  const ts = String(Math.floor(AT / 1000) + (o.skew ?? 0));
  const nonce = randomBytes(16).toString('hex');
  // Signed over the body as sent: a tampered resource still carries a good signature, so that the GCM tag is what refuses it.
  const headers: Record<string, string> = {
    'wechatpay-timestamp': ts,
    'wechatpay-nonce': nonce,
    'wechatpay-serial': PUB_KEY_ID,
    'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    'wechatpay-signature': rsaSign(responseMessage(ts, nonce, body), o.forged ? rsaKeys().privateKey : wechat.privateKey),
  };
  if (o.drop) delete headers[o.drop];
  return { headers, body };
}

t.test('a good payment notification is v2\'s PaidNotification, signType RSA', async (t) => {
  const n = await verifyPayNotifyV3(notification(tx), merchant, NOW);
  t.match(n, {
    result_code: 'SUCCESS',
    appid: APPID,
    mch_id: MCHID,
    out_trade_no: 'T20261202001',
    transaction_id: '4200000000202612020000000001',
    total_fee: 1999,
    cash_fee: 1899,
    time_end: '20261202103456',
    signType: 'RSA',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    trade_type: 'JSAPI',
    bank_type: 'CMC',
    fee_type: 'CNY',
    attach: 'a=1',
    raw: { 'amount.total': '1999', total_fee: '1999', time_end: '20261202103456' },
  });
  t.equal(n.result_code === 'SUCCESS' && n.paidAt.toISOString(), '2026-12-02T02:34:56.000Z');
  const other = await verifyPayNotifyV3(notification({ ...tx, appid: APPID2 }), merchant, NOW);
  t.equal(other.appid, APPID2, 'any of the merchant\'s appids');
});

t.test('a trade that did not succeed is a FailedNotification', async (t) => {
  const n = await verifyPayNotifyV3(notification({ ...tx, trade_state: 'PAYERROR', trade_state_desc: '支付失败', success_time: undefined }), merchant, NOW);
  t.match(n, { result_code: 'FAIL', out_trade_no: 'T20261202001', err_code: 'PAYERROR', err_code_des: '支付失败', signType: 'RSA' });
});

t.test('refused, each with its code, in the documented order', async (t) => {
  const cases: Array<[string, { headers: Record<string, string>; body: string }, string]> = [
    ['no signature header', notification(tx, { drop: 'wechatpay-signature' }), 'BAD_SIGN'],
    ['no serial header', notification(tx, { drop: 'wechatpay-serial' }), 'BAD_SIGN'],
    ['301 s old', notification(tx, { skew: -301 }), 'STALE'],
    ['301 s ahead', notification(tx, { skew: 301 }), 'STALE'],
    ['stale and forged: STALE first', notification(tx, { skew: -400, forged: true }), 'STALE'],
    ['forged signature', notification(tx, { forged: true }), 'BAD_SIGN'],
    ['tampered ciphertext under a good signature', notification(tx, { tamperCiphertext: true }), 'BAD_RESOURCE'],
    ['other associated data', notification(tx, { aad: 'refund' }), 'BAD_RESOURCE'],
    ['encrypted with another APIv3 key', notification(tx, { key: 'z'.repeat(32) }), 'BAD_RESOURCE'],
    ['a resource that is not JSON', notification(tx, { plaintext: 'not json' }), 'BAD_RESOURCE'],
    ['a refund resource at the payment endpoint', notification(refund, { kind: 'refund' }), 'BAD_RESOURCE'],
    ['another merchant', notification({ ...tx, mchid: '1900000999' }), 'MCHID_MISMATCH'],
    ['another app', notification({ ...tx, appid: 'wx0000000000000000' }), 'APPID_MISMATCH'],
    ['paid without an amount', notification({ ...tx, amount: undefined }), 'MISSING_FIELD'],
  ];
  for (const [name, input, code] of cases) {
    const err = await verifyPayNotifyV3(input, merchant, NOW).catch((e: unknown) => e);
    t.ok(err instanceof WxNotifyError, `${name}: WxNotifyError`);
    t.equal((err as WxNotifyError).code, code, `${name}: ${code}`);
  }
  const good = notification(tx);
  const changed = { headers: good.headers, body: good.body.replace('"summary":"支付成功"', '"summary":"支付成功 "') };
  await t.rejects(verifyPayNotifyV3(changed, merchant, NOW), { code: 'BAD_SIGN' }, 'a body changed after signing');
});

t.test('a verifier that cannot know throws WxPayError, so that WeChat retries', async (t) => {
  const down: V3NotifyMerchant = {
    ...merchant,
    verifier: {
      verify: async () => {
        throw new WxPayError('NETWORK', 'certificates: network error', { api: 'certificates' });
      },
    },
  };
  const err = await verifyPayNotifyV3(notification(tx), down, NOW).catch((e: unknown) => e);
  t.ok(err instanceof WxPayError && !(err instanceof WxNotifyError));
  t.match(err, { code: 'NETWORK' });
});

t.test('refund notifications as v2\'s RefundNotification', async (t) => {
  for (const [v3, v2, event] of [['SUCCESS', 'SUCCESS', 'REFUND.SUCCESS'], ['ABNORMAL', 'CHANGE', 'REFUND.ABNORMAL'], ['CLOSED', 'REFUNDCLOSE', 'REFUND.CLOSED']] as const) {
    const resource = v3 === 'SUCCESS' ? refund : { ...refund, refund_status: v3, success_time: undefined };
    const n = await verifyRefundNotifyV3(notification(resource, { kind: 'refund', eventType: event }), merchant, NOW);
    t.match(n, {
      appid: '',
      mch_id: MCHID,
      out_refund_no: 'R1',
      refund_id: '50300000002026120200000000001',
      out_trade_no: 'T20261202001',
      transaction_id: '4200000000202612020000000001',
      total_fee: 1999,
      refund_fee: 500,
      settlement_refund_fee: 500,
      refund_status: v2,
      refund_recv_accout: '支付用户零钱',
      info: { refund_status: v3, 'amount.refund': '500' },
    }, `${v3} → ${v2}`);
    if (v3 === 'SUCCESS') {
      t.equal(n.success_time, '2026-12-02 11:00:05');
      t.equal(n.succeededAt?.toISOString(), '2026-12-02T03:00:05.000Z');
    } else t.equal(n.succeededAt, undefined);
  }
});

t.test('refund notifications refused', async (t) => {
  for (const [name, input, code] of [
    ['another merchant', notification({ ...refund, mchid: '1900000999' }, { kind: 'refund' }), 'MCHID_MISMATCH'],
    ['tampered', notification(refund, { kind: 'refund', tamperCiphertext: true }), 'BAD_RESOURCE'],
    ['a payment at the refund endpoint', notification(tx), 'BAD_RESOURCE'],
    ['forged', notification(refund, { kind: 'refund', forged: true }), 'BAD_SIGN'],
    ['stale', notification(refund, { kind: 'refund', skew: -301 }), 'STALE'],
    ['refund above total', notification({ ...refund, amount: { ...refund.amount, refund: 2000 } }, { kind: 'refund' }), 'BAD_FIELD'],
    ['unknown status', notification({ ...refund, refund_status: 'PROCESSING' }, { kind: 'refund' }), 'BAD_FIELD'],
    ['success without success_time', notification({ ...refund, success_time: undefined }, { kind: 'refund' }), 'MISSING_FIELD'],
  ] as const) {
    await t.rejects(verifyRefundNotifyV3(input, merchant, NOW), { name: 'WxNotifyError', code }, name);
  }
});
