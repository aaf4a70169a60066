// /pay/downloadbill of the sandbox: bills in WeChat's text format for past Beijing days of its trades
// and refunds, read back with our client and parseBill. The sandbox clock is moved by hand.
import t, { type Test } from 'tap';
import { gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { billYuanToFen, parseBill } from '../../../server/src/wechat/download-bill.js';
import { fromBeijingTime } from '../../../server/src/wechat/time.js';
import { WxPayError } from '../../../server/src/wechat/errors.js';
import { parseXml, toXml } from '../../../server/src/wechat/xml.js';
import { MERCHANT, outsideSign, sandbox } from './helpers.js';
import { outRefundNo, paidTrade, refundClient } from './refund-helpers.js';

const DAY = '20240301';
const at = (hhmmss: string, day = DAY) => fromBeijingTime(`${day}${hhmmss}`).getTime();

async function wxError(p: Promise<unknown>): Promise<WxPayError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WxPayError) return err;
    throw err;
  }
  throw new Error('expected a WxPayError');
}

async function rawBill(url: string, fields: Record<string, string>) {
  const p: Record<string, string> = { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, nonce_str: randomBytes(8).toString('hex'), ...fields };
  p.sign = outsideSign(p, MERCHANT.key);
  const res = await fetch(`${url}/pay/downloadbill`, { method: 'POST', body: toXml(p) });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

async function dayWithTrades(t: Test) {
  let now = at('093000');
  const sb = await sandbox(t, { now: () => now, timeScale: 0.001 });
  const client = refundClient(t, sb);
  const a = await paidTrade(sb, { totalFee: 600 });
  now = at('101500');
  const b = await paidTrade(sb, { totalFee: 1 });
  now = at('120000');
  const no = outRefundNo();
  await client.refund({ out_trade_no: a.outTradeNo, out_refund_no: no, total_fee: 600, refund_fee: 150 });
  // Let the refund settle (SUCCESS) on this day.
  const refunds = async () => (await sb.json('GET', `/sandbox/refunds?out_trade_no=${a.outTradeNo}`)).body.refunds as { status: string }[];
  for (let i = 0; i < 200 && (await refunds())[0]?.status !== 'SUCCESS'; i++) await new Promise((r) => setTimeout(r, 10));
  return { sb, client, a, b, no, setNow: (ms: number) => (now = ms) };
}

t.test('ALL, SUCCESS and REFUND bills of a past day, in WeChat\'s format, gzip when asked', async (t) => {
  const { sb, client, a, b, no, setNow } = await dayWithTrades(t);
  setNow(at('110000', '20240302'));

  const all = await client.downloadBill({ bill_date: DAY });
  t.equal(all.exists, true);
  if (!all.exists) return;
  t.match(all.text, /^交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n`/);
  t.match(all.text, /\r\n总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`3,`6.01,`1.50,`0.00,`0.03000,`6.01,`1.50\r\n$/);
  const bill = parseBill(all.text);
  t.same(bill.records.map((r) => [r['交易时间'], r['商户订单号'], r['交易状态'], r['应结订单金额'], r['退款金额'], r['手续费']]), [
    ['2024-03-01 09:30:00', a.outTradeNo, 'SUCCESS', '6.00', '0.00', '0.04000'],
    ['2024-03-01 10:15:00', b.outTradeNo, 'SUCCESS', '0.01', '0.00', '0.00000'],
    ['2024-03-01 12:00:00', a.outTradeNo, 'REFUND', '0.00', '1.50', '-0.01000'],
  ]);
  t.match(bill.records[0], { 公众账号ID: MERCHANT.appid, 商户号: MERCHANT.mchId, 特约商户号: '0', 微信订单号: a.transactionId, 用户标识: a.openid, 交易类型: 'JSAPI', 货币种类: 'CNY', 微信退款单号: '0', 费率: '0.60%', 订单金额: '6.00' });
  t.match(bill.records[2], { 商户退款单号: no, 微信退款单号: /^503\d{26}$/, 退款类型: 'ORIGINAL', 退款状态: 'SUCCESS', 申请退款金额: '1.50', 订单金额: '0.00' });
  t.equal(bill.records.reduce((s, r) => s + billYuanToFen(r['应结订单金额']!), 0), billYuanToFen(bill.summary['应结订单总金额']!), 'the summary adds up');

  const success = await client.downloadBill({ bill_date: DAY, bill_type: 'SUCCESS', tar_type: 'GZIP' });
  t.match(success, { exists: true, compressed: true });
  if (success.exists) {
    const s = parseBill(success.text);
    t.equal(s.header.length, 20);
    t.same(s.records.map((r) => r['商户订单号']), [a.outTradeNo, b.outTradeNo]);
    t.equal(s.summary['总交易单数'], '2');
  }
  const raw = await rawBill(sb.url, { bill_date: DAY, bill_type: 'SUCCESS', tar_type: 'GZIP' });
  t.equal(raw.body[0], 0x1f, 'GZIP is gzip on the wire');
  t.match(gunzipSync(raw.body).toString('utf8'), /^交易时间/);

  const refund = await client.downloadBill({ bill_date: DAY, bill_type: 'REFUND' });
  if (refund.exists) {
    const r = parseBill(refund.text);
    t.equal(r.header.length, 29);
    t.match(r.records, [{ 商户退款单号: no, 退款申请时间: '2024-03-01 12:00:00', 退款成功时间: /^2024-03-01 12:00:0\d$/, 退款金额: '1.50' }]);
  } else t.fail('REFUND bill missing');
  const recharge = await client.downloadBill({ bill_date: DAY, bill_type: 'RECHARGE_REFUND' });
  if (recharge.exists) t.same(parseBill(recharge.text).rows, []);
});

t.test('days without trades, today, the future, too old, and not ready yet', async (t) => {
  const { sb, client, setNow } = await dayWithTrades(t);
  setNow(at('110000', '20240302'));
  t.same(await client.downloadBill({ bill_date: '20240229' }), { exists: false, bill_date: '20240229', bill_type: 'ALL' }, 'No Bill Exist is a result');
  const none = await rawBill(sb.url, { bill_date: '20240229' });
  t.same(parseXml(none.body), { return_code: 'FAIL', return_msg: 'No Bill Exist', error_code: '20002' });
  for (const day of ['20240302', '20240303']) {
    t.match(await wxError(client.downloadBill({ bill_date: day })), { code: 'INVALID_BILL_DATE', retriable: false, wechatMessage: 'invalid bill_date' }, day);
  }
  setNow(at('080000', '20240302'));
  t.match(await wxError(client.downloadBill({ bill_date: DAY })), { code: 'BILL_CREATING', retry: 'later' });
  setNow(at('110000', '20240615'));
  t.match(await wxError(client.downloadBill({ bill_date: DAY })), { code: 'INVALID_BILL_DATE' }, 'three months only');

  setNow(at('110000', '20240302'));
  t.same(parseXml((await rawBill(sb.url, { bill_date: DAY, bill_type: 'NOPE' })).body), { return_code: 'FAIL', return_msg: 'invalid bill_type', error_code: '20001' });
  t.same(parseXml((await rawBill(sb.url, { bill_date: DAY, tar_type: 'ZIP' })).body), { return_code: 'FAIL', return_msg: 'invalid tar_type, Only GZIP supported', error_code: '20001' });
  const unsigned = await fetch(`${sb.url}/pay/downloadbill`, { method: 'POST', body: toXml({ appid: MERCHANT.appid, mch_id: MERCHANT.mchId, nonce_str: 'x', bill_date: DAY, sign: 'BAD' }) });
  t.same(parseXml(await unsigned.text()), { return_code: 'FAIL', return_msg: 'sign error', error_code: '20001' });
  const missing = await fetch(`${sb.url}/pay/downloadbill`, { method: 'POST', body: toXml({ appid: MERCHANT.appid, mch_id: MERCHANT.mchId }) });
  t.same(parseXml(await missing.text()), { return_code: 'FAIL', return_msg: 'missing parameter', error_code: '20001' });
});

t.test('bill faults: a missing trade, a wrong amount (for reconciliation to find)', async (t) => {
  const { sb, client, a, b, setNow } = await dayWithTrades(t);
  setNow(at('110000', '20240302'));
  await sb.json('POST', '/sandbox/faults', { bill: [{ action: 'omit', outTradeNo: b.outTradeNo }] });
  const omitted = await client.downloadBill({ bill_date: DAY, bill_type: 'SUCCESS' });
  if (omitted.exists) t.same(parseBill(omitted.text).records.map((r) => r['商户订单号']), [a.outTradeNo]);
  const next = await client.downloadBill({ bill_date: DAY, bill_type: 'SUCCESS' });
  if (next.exists) t.equal(parseBill(next.text).rows.length, 2, 'count 1: the next download is whole again');

  await sb.json('POST', '/sandbox/faults', { bill: { action: 'amount', outTradeNo: a.outTradeNo, deltaFen: -1, sticky: true } });
  for (let i = 0; i < 2; i++) {
    const wrong = await client.downloadBill({ bill_date: DAY, bill_type: 'SUCCESS' });
    if (wrong.exists) t.equal(parseBill(wrong.text).records.find((r) => r['商户订单号'] === a.outTradeNo)?.['应结订单金额'], '5.99');
  }
  await sb.json('DELETE', '/sandbox/faults');
  const fixed = await client.downloadBill({ bill_date: DAY, bill_type: 'SUCCESS' });
  if (fixed.exists) t.equal(parseBill(fixed.text).records[0]?.['应结订单金额'], '6.00');
});
