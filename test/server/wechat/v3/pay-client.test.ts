// The v2 PayClient interface over API v3: each v2 request as the v3 JSON WeChat documents, and each
// v3 answer back in the v2 result shapes the services read.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { createPayClientV3 } from '../../../../server/src/wechat/v3/pay-client.js';
import type { UnifiedOrderRequest } from '../../../../server/src/wechat/pay-client.js';
import { API_V3_KEY, APPID, APPID2, fakeWechat, MCH_SERIAL, MCHID, paidTransaction, PUB_KEY_ID, rsaKeys } from './fake-wechat.js';

const merchant = rsaKeys();
const wechat = rsaKeys();

async function setup(t: Test) {
  const fake = await fakeWechat(t, { merchantPublicKey: merchant.publicKey, signer: { serial: PUB_KEY_ID, key: wechat.privateKey } });
  const pay = createPayClientV3({
    appid: APPID,
    mchId: MCHID,
    serialNo: MCH_SERIAL,
    privateKey: merchant.privatePem,
    apiV3Key: API_V3_KEY,
    baseUrl: fake.base,
    publicKey: { id: PUB_KEY_ID, pem: wechat.publicPem },
    retryDelayMs: 1,
  });
  t.teardown(() => pay.close());
  const json = (i = 0) => JSON.parse(fake.seen[i]!.body) as Record<string, unknown>;
  return { fake, pay, json };
}

const future = () => {
  const d = new Date(Date.now() + 2 * 3600_000 + 8 * 3600_000);
  return d.toISOString().replace(/[-T:]/g, '').slice(0, 14);
};

const order = (over: Partial<UnifiedOrderRequest> = {}): UnifiedOrderRequest => ({
  body: '小店-咖啡',
  out_trade_no: 'T20261202001',
  total_fee: 1999,
  spbill_create_ip: '203.0.113.7',
  notify_url: 'https://shop.example/wxpay/v3/notify',
  trade_type: 'JSAPI',
  openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
  ...over,
});

t.test('JSAPI prepay: v2 fields as v3 JSON, prepay_id back', async (t) => {
  const { fake, pay, json } = await setup(t);
  fake.on('POST', '/v3/pay/transactions/jsapi', () => ({ body: { prepay_id: 'wx2026120210' } }));
  const expire = future();
  const r = await pay.unifiedOrder(order({ time_expire: expire, attach: 'a=1', goods_tag: 'WXG', time_start: '20261202000000' }));
  t.match(r, { prepay_id: 'wx2026120210', trade_type: 'JSAPI', raw: { prepay_id: 'wx2026120210' } });
  t.same(json(), {
    appid: APPID,
    mchid: MCHID,
    description: '小店-咖啡',
    out_trade_no: 'T20261202001',
    time_expire: `${expire.slice(0, 4)}-${expire.slice(4, 6)}-${expire.slice(6, 8)}T${expire.slice(8, 10)}:${expire.slice(10, 12)}:${expire.slice(12, 14)}+08:00`,
    attach: 'a=1',
    notify_url: 'https://shop.example/wxpay/v3/notify',
    goods_tag: 'WXG',
    amount: { total: 1999, currency: 'CNY' },
    scene_info: { payer_client_ip: '203.0.113.7' },
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  }, 'time_start dropped, time_expire in RFC 3339 +08:00');
});

t.test('APP and NATIVE prepays; another of the merchant\'s appids', async (t) => {
  const { fake, pay, json } = await setup(t);
  fake.on('POST', '/v3/pay/transactions/app', () => ({ body: { prepay_id: 'wxapp1' } }));
  fake.on('POST', '/v3/pay/transactions/native', () => ({ body: { code_url: 'weixin://wxpay/bizpayurl?pr=abc' } }));
  const app = await pay.unifiedOrder(order({ trade_type: 'APP', openid: undefined }), { appid: APPID2 });
  t.match(app, { prepay_id: 'wxapp1', trade_type: 'APP' });
  t.equal(json(0).appid, APPID2);
  t.notOk('payer' in json(0), 'no payer for APP');
  const native = await pay.unifiedOrder(order({ trade_type: 'NATIVE', openid: undefined, product_id: 'SKU1' }));
  t.same({ prepay_id: native.prepay_id, code_url: native.code_url, trade_type: native.trade_type }, { prepay_id: '', code_url: 'weixin://wxpay/bizpayurl?pr=abc', trade_type: 'NATIVE' });
  t.notOk('product_id' in json(1) || 'payer' in json(1));
  t.equal(fake.seen[1]!.url, '/v3/pay/transactions/native');
});

t.test('receipt, profit_sharing and device_info have v3 homes', async (t) => {
  const { fake, pay, json } = await setup(t);
  fake.on('POST', '/v3/pay/transactions/jsapi', () => ({ body: { prepay_id: 'p' } }));
  await pay.unifiedOrder(order({ receipt: 'Y', profit_sharing: 'Y', device_info: 'POS-1' }));
  t.match(json(), { support_fapiao: true, settle_info: { profit_sharing: true }, scene_info: { payer_client_ip: '203.0.113.7', device_id: 'POS-1' } });
});

t.test('what v3 cannot carry is refused before anything is sent', async (t) => {
  const { fake, pay } = await setup(t);
  for (const [name, req, field] of [
    ['MWEB', order({ trade_type: 'MWEB', openid: undefined }), 'trade_type'],
    ['detail', order({ detail: '{"goods_detail":[]}' }), 'detail'],
    ['scene_info', order({ scene_info: '{"h5_info":{}}' }), 'scene_info'],
    ['limit_pay', order({ limit_pay: 'no_credit' }), 'limit_pay'],
    ['fee_type USD', order({ fee_type: 'USD' }), 'fee_type'],
    ['JSAPI without openid', order({ openid: undefined }), 'openid'],
    ['a 128-byte body (v2 takes it, v3 not)', order({ body: 'x'.repeat(128) }), 'body'],
    ['a 5-character out_trade_no', order({ out_trade_no: 'T1234' }), 'out_trade_no'],
  ] as const) {
    await t.rejects(pay.unifiedOrder(req), { code: 'INVALID_ARGUMENT', field }, name);
  }
  t.equal(fake.seen.length, 0);
});

const paidTx = paidTransaction();

t.test('orderQuery by out_trade_no and by transaction_id, in the v2 shape', async (t) => {
  const { fake, pay } = await setup(t);
  fake.on('GET', '/v3/pay/transactions/out-trade-no/T1', () => ({ body: paidTx }));
  fake.on('GET', `/v3/pay/transactions/id/${paidTx.transaction_id}`, () => ({ body: { ...paidTx, success_time: '2026-12-02T02:34:56Z' } }));
  const a = await pay.orderQuery({ out_trade_no: 'T1' });
  t.equal(fake.seen[0]!.url, `/v3/pay/transactions/out-trade-no/T1?mchid=${MCHID}`);
  t.match(a, {
    trade_state: 'SUCCESS',
    out_trade_no: 'T1',
    transaction_id: paidTx.transaction_id,
    total_fee: 1999,
    cash_fee: 1899,
    time_end: '20261202103456',
    openid: paidTx.payer.openid,
    trade_type: 'JSAPI',
    bank_type: 'CMC',
    trade_state_desc: '支付成功',
    raw: { 'amount.total': '1999', fee_type: 'CNY', total_fee: '1999', time_end: '20261202103456', 'payer.openid': paidTx.payer.openid },
  });
  const b = await pay.orderQuery({ transaction_id: paidTx.transaction_id });
  t.equal(fake.seen[1]!.url, `/v3/pay/transactions/id/${paidTx.transaction_id}?mchid=${MCHID}`);
  t.equal(b.time_end, '20261202103456', 'a Z time is converted to Beijing too');
});

t.test('orderQuery: unpaid, unknown, and answers for someone else', async (t) => {
  const { fake, pay } = await setup(t);
  fake.on('GET', '/v3/pay/transactions/out-trade-no/T2', () => ({ body: { appid: APPID, mchid: MCHID, out_trade_no: 'T2', trade_state: 'NOTPAY', trade_state_desc: '订单未支付', amount: { total: 5, currency: 'CNY' } } }));
  t.match(await pay.orderQuery({ out_trade_no: 'T2' }), { trade_state: 'NOTPAY', total_fee: 5 });
  fake.on('GET', '/v3/pay/transactions/out-trade-no/T3', () => ({ status: 404, body: { code: 'ORDER_NOT_EXIST', message: '订单不存在' } }));
  await t.rejects(pay.orderQuery({ out_trade_no: 'T3' }), { code: 'ORDERNOTEXIST', api: 'orderquery', status: 404 });
  fake.on('GET', '/v3/pay/transactions/out-trade-no/T4', () => ({ body: { ...paidTx, out_trade_no: 'T4', mchid: '1900000999' } }));
  await t.rejects(pay.orderQuery({ out_trade_no: 'T4' }), { code: 'BAD_RESPONSE' });
  fake.on('GET', '/v3/pay/transactions/out-trade-no/T5', () => ({ body: { ...paidTx } }));
  await t.rejects(pay.orderQuery({ out_trade_no: 'T5' }), { code: 'BAD_RESPONSE' }, 'another out_trade_no');
  fake.on('GET', '/v3/pay/transactions/out-trade-no/T6', () => ({ body: { ...paidTx, out_trade_no: 'T6', trade_state: 'WHATEVER' } }));
  await t.rejects(pay.orderQuery({ out_trade_no: 'T6' }), { code: 'BAD_RESPONSE', field: 'trade_state' });
});

t.test('closeOrder: POST {mchid}, 204 → {raw:{}}; a paid trade is ORDERPAID', async (t) => {
  const { fake, pay, json } = await setup(t);
  fake.on('POST', '/v3/pay/transactions/out-trade-no/T1/close', [() => ({ status: 204 }), () => ({ status: 400, body: { code: 'ORDERPAID', message: '订单已支付' } })]);
  t.same(await pay.closeOrder({ out_trade_no: 'T1' }), { raw: {} });
  t.same(json(), { mchid: MCHID });
  await t.rejects(pay.closeOrder({ out_trade_no: 'T1' }), { code: 'ORDERPAID', api: 'closeorder' });
});

const refundAnswer = (status = 'PROCESSING', over: Record<string, unknown> = {}) => ({
  refund_id: '50300000002026120200000000001',
  out_refund_no: 'R1',
  transaction_id: paidTx.transaction_id,
  out_trade_no: 'T1',
  channel: 'ORIGINAL',
  user_received_account: '支付用户零钱',
  create_time: '2026-12-02T11:00:00+08:00',
  ...(status === 'SUCCESS' ? { success_time: '2026-12-02T11:00:05+08:00' } : {}),
  status,
  funds_account: 'AVAILABLE',
  amount: { total: 1999, refund: 500, payer_total: 1899, payer_refund: 450, settlement_refund: 500, settlement_total: 1999, discount_refund: 50, currency: 'CNY' },
  ...over,
});

t.test('refund: v2 request as v3 JSON, the answer as RefundResult', async (t) => {
  const { fake, pay, json } = await setup(t);
  fake.on('POST', '/v3/refund/domestic/refunds', [() => ({ body: refundAnswer() }), () => ({ body: refundAnswer('PROCESSING', { amount: { ...refundAnswer().amount, refund: 499 } }) })]);
  const r = await pay.refund({ out_trade_no: 'T1', out_refund_no: 'R1', total_fee: 1999, refund_fee: 500, refund_desc: '不想要了', notify_url: 'https://shop.example/wxpay/v3/refund-notify', refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS' });
  t.same(json(), {
    out_trade_no: 'T1',
    out_refund_no: 'R1',
    reason: '不想要了',
    notify_url: 'https://shop.example/wxpay/v3/refund-notify',
    funds_account: 'AVAILABLE',
    amount: { refund: 500, total: 1999, currency: 'CNY' },
  });
  t.match(r, {
    refund_id: '50300000002026120200000000001',
    out_refund_no: 'R1',
    out_trade_no: 'T1',
    transaction_id: paidTx.transaction_id,
    refund_fee: 500,
    total_fee: 1999,
    cash_fee: 1899,
    settlement_refund_fee: 500,
    settlement_total_fee: 1999,
    cash_refund_fee: 450,
    coupon_refund_fee: 50,
    fee_type: 'CNY',
    raw: { status: 'PROCESSING', refund_fee: '500' },
  });
  await t.rejects(pay.refund({ out_trade_no: 'T1', out_refund_no: 'R1', total_fee: 1999, refund_fee: 500 }), { code: 'BAD_RESPONSE', field: 'amount.refund' }, 'another amount is not believed');
  t.notOk('funds_account' in json(1), 'unsettled funds: v3 default, not sent');
});

t.test('refund: NOT_ENOUGH is NOTENOUGH, retry wait, not retried here', async (t) => {
  const { fake, pay } = await setup(t);
  fake.on('POST', '/v3/refund/domestic/refunds', () => ({ status: 403, body: { code: 'NOT_ENOUGH', message: '基本账户余额不足' } }));
  await t.rejects(pay.refund({ transaction_id: paidTx.transaction_id, out_refund_no: 'R1', total_fee: 1999, refund_fee: 500 }), { code: 'NOTENOUGH', retry: 'wait', api: 'refund' });
  t.equal(fake.seen.length, 1);
  t.equal(JSON.parse(fake.seen[0]!.body).transaction_id, paidTx.transaction_id);
});

t.test('refundQuery by out_refund_no: one item, v2 statuses and times', async (t) => {
  const { fake, pay } = await setup(t);
  for (const [v3, v2] of [['SUCCESS', 'SUCCESS'], ['CLOSED', 'REFUNDCLOSE'], ['PROCESSING', 'PROCESSING'], ['ABNORMAL', 'CHANGE']] as const) {
    fake.on('GET', '/v3/refund/domestic/refunds/R1', () => ({ body: refundAnswer(v3) }));
    const q = await pay.refundQuery({ out_refund_no: 'R1' });
    t.match(q, { out_trade_no: 'T1', transaction_id: paidTx.transaction_id, total_fee: 1999, cash_fee: 1899, refund_count: 1, settlement_total_fee: 1999 }, v3);
    t.equal(q.refunds.length, 1);
    t.match(q.refunds[0], { out_refund_no: 'R1', refund_id: '50300000002026120200000000001', refund_fee: 500, refund_status: v2, refund_channel: 'ORIGINAL', refund_recv_accout: '支付用户零钱', refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS', settlement_refund_fee: 500, coupon_refund_fee: 50 }, `${v3} → ${v2}`);
    if (v3 === 'SUCCESS') {
      t.equal(q.refunds[0]!.refund_success_time, '2026-12-02 11:00:05');
      t.equal(q.refunds[0]!.succeededAt?.toISOString(), '2026-12-02T03:00:05.000Z');
    } else t.equal(q.refunds[0]!.succeededAt, undefined);
  }
  t.equal(fake.seen.at(-1)!.url, '/v3/refund/domestic/refunds/R1');
  fake.on('GET', '/v3/refund/domestic/refunds/R9', () => ({ status: 404, body: { code: 'RESOURCE_NOT_EXISTS', message: '退款单不存在' } }));
  await t.rejects(pay.refundQuery({ out_refund_no: 'R9' }), { code: 'REFUNDNOTEXIST', api: 'refundquery' });
  const n = fake.seen.length;
  await t.rejects(pay.refundQuery({ out_trade_no: 'T1' }), { code: 'INVALID_ARGUMENT', field: 'out_trade_no', message: /out_refund_no only/ });
  await t.rejects(pay.refundQuery({ refund_id: '503' }), { code: 'INVALID_ARGUMENT', field: 'refund_id' });
  t.equal(fake.seen.length, n, 'nothing sent for a key v3 does not query by');
});

const BILL = '交易时间,公众账号ID,商户号\n`2026-12-01 10:00:00,`wxd930ea5d5a258f4f,`1900000109\n总交易单数,应结订单总金额\n`1,`19.99\n';

t.test('downloadBill: tradebill asked for gzip, the file checked against hash_value and gunzipped', async (t) => {
  const { fake, pay } = await setup(t);
  const gz = gzipSync(Buffer.from(BILL));
  const good = createHash('sha1').update(gz).digest('hex');
  let hash = good;
  fake.on('GET', '/v3/bill/tradebill', (s) => ({ body: { hash_type: 'SHA1', hash_value: hash, download_url: `${fake.base}/v3/billdownload/file?token=tk&d=${new URL(s.url, 'http://x').searchParams.get('bill_date')}` } }));
  fake.on('GET', '/v3/billdownload/file', () => ({ unsigned: true, body: gz }));
  const r = await pay.downloadBill({ bill_date: '20261201', bill_type: 'SUCCESS' });
  t.same(r, { exists: true, bill_date: '20261201', bill_type: 'SUCCESS', text: BILL, compressed: true });
  t.equal(fake.seen[0]!.url, '/v3/bill/tradebill?bill_date=2026-12-01&bill_type=SUCCESS&tar_type=GZIP');
  t.equal(fake.seen[1]!.url, '/v3/billdownload/file?token=tk&d=2026-12-01');
  t.ok(fake.seen[1]!.authOk, 'the download is a signed GET');

  hash = createHash('sha1').update(Buffer.from('another file')).digest('hex');
  await t.rejects(pay.downloadBill({ bill_date: '20261201' }), { code: 'BAD_RESPONSE', field: 'hash_value' }, 'hash mismatch');
});

t.test('downloadBill: no bill that day, a bill not ready, and what v3 has no bill for', async (t) => {
  const { fake, pay } = await setup(t);
  fake.on('GET', '/v3/bill/tradebill', [
    () => ({ status: 400, body: { code: 'NO_STATEMENT_EXIST', message: '账单文件不存在' } }),
    () => ({ status: 400, body: { code: 'STATEMENT_CREATING', message: '账单生成中' } }),
  ]);
  t.same(await pay.downloadBill({ bill_date: '20261130' }), { exists: false, bill_date: '20261130', bill_type: 'ALL' });
  await t.rejects(pay.downloadBill({ bill_date: '20261201' }), { code: 'BILL_CREATING', retry: 'later', api: 'downloadbill' });
  const n = fake.seen.length;
  await t.rejects(pay.downloadBill({ bill_date: '20261201', bill_type: 'RECHARGE_REFUND' }), { code: 'INVALID_ARGUMENT', field: 'bill_type' });
  await t.rejects(pay.downloadBill({ bill_date: '20261301' }), { code: 'INVALID_ARGUMENT', field: 'bill_date' });
  t.equal(fake.seen.length, n);
});
