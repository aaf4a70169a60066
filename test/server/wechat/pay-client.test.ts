import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createPayClient,
  type PayClientOptions,
  type RetryInfo,
  type UnifiedOrderRequest,
} from '../../../server/src/wechat/pay-client.js';
import { WxPayError } from '../../../server/src/wechat/errors.js';
import { parseXml, toXml } from '../../../server/src/wechat/xml.js';
import { sign, verifySign, type SignType } from '../../../server/src/wechat/sign.js';
import { toBeijingTime } from '../../../server/src/wechat/time.js';

// Demo merchant (WeChat's documentation example); not a real key.
const MERCHANT = { appid: 'wxd930ea5d5a258f4f', mchId: '10000100', key: '192006250b4c09247ec02edce69f6a2d' };

type Reply = { status?: number; xml?: string; fields?: Record<string, string>; signWith?: string | null; hang?: boolean };
type Handler = (api: string, fields: Record<string, string>, n: number) => Reply;

interface Seen {
  api: string;
  body: string;
  fields: Record<string, string>;
}

async function fakeWechat(t: Test, signType: SignType, handler: Handler) {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const api = (req.url ?? '').replace(/^\/pay\//, '');
      const fields = parseXml(body);
      seen.push({ api, body, fields });
      const reply = handler(api, fields, seen.length);
      if (reply.hang) return; // never answers
      res.statusCode = reply.status ?? 200;
      res.setHeader('content-type', 'text/xml');
      if (reply.xml !== undefined) return res.end(reply.xml);
      const out: Record<string, string> = { ...(reply.fields ?? {}) };
      if (out.return_code === 'SUCCESS' && reply.signWith !== null) {
        out.sign = sign(out, reply.signWith ?? MERCHANT.key, signType);
      }
      res.end(toXml(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { baseUrl, seen };
}

function ok(extra: Record<string, string>): Record<string, string> {
  return {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: MERCHANT.appid,
    mch_id: MERCHANT.mchId,
    nonce_str: 'IITRi8Iabbblz1Jc',
    result_code: 'SUCCESS',
    ...extra,
  };
}

function fail(errCode: string, des = '错误'): Record<string, string> {
  return ok({ result_code: 'FAIL', err_code: errCode, err_code_des: des });
}

function client(baseUrl: string, signType: SignType, extra: Partial<PayClientOptions> = {}) {
  return createPayClient({ ...MERCHANT, signType, baseUrl, retryDelayMs: 5, ...extra });
}

const ORDER: UnifiedOrderRequest = {
  body: '腾讯充值中心-QQ会员充值',
  out_trade_no: '20150806125346',
  total_fee: 88,
  spbill_create_ip: '123.12.12.123',
  notify_url: 'https://merchant.example.com/wxpay/notify',
  trade_type: 'JSAPI',
  openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
};

async function rejection(p: Promise<unknown>): Promise<WxPayError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WxPayError) return e;
    throw e;
  }
  throw new Error('expected a WxPayError');
}

for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
  t.test(`unifiedOrder happy path (${signType}): signed request, verified response`, async (t) => {
    const w = await fakeWechat(t, signType, () => ({ fields: ok({ trade_type: 'JSAPI', prepay_id: 'wx201410272009395522657a690389285100' }) }));
    const res = await client(w.baseUrl, signType).unifiedOrder(ORDER);
    t.equal(res.prepay_id, 'wx201410272009395522657a690389285100');
    t.equal(res.trade_type, 'JSAPI');
    t.equal(res.raw.result_code, 'SUCCESS');
    t.equal(w.seen.length, 1);
    const sent = w.seen[0]!;
    t.equal(sent.api, 'unifiedorder');
    t.ok(verifySign(sent.fields, MERCHANT.key, signType), 'request signature verifies with the merchant key');
    t.match(sent.fields, {
      appid: MERCHANT.appid,
      mch_id: MERCHANT.mchId,
      sign_type: signType,
      body: ORDER.body,
      out_trade_no: ORDER.out_trade_no,
      total_fee: '88',
      trade_type: 'JSAPI',
      openid: ORDER.openid,
    });
    t.match(sent.fields.nonce_str, /^[A-Za-z0-9]{32}$/);
    t.notOk(sent.body.includes(MERCHANT.key), 'the API key never travels');
  });
}

t.test('NATIVE returns code_url', async (t) => {
  const w = await fakeWechat(t, 'MD5', () => ({ fields: ok({ trade_type: 'NATIVE', prepay_id: 'wx1', code_url: 'weixin://wxpay/bizpayurl?pr=abc' }) }));
  const { openid: _o, ...rest } = ORDER;
  const res = await client(w.baseUrl, 'MD5').unifiedOrder({ ...rest, trade_type: 'NATIVE', product_id: 'sku1' });
  t.equal(res.code_url, 'weixin://wxpay/bizpayurl?pr=abc');
});

t.test('return_code FAIL → RETURN_FAIL with return_msg, not retried', async (t) => {
  const w = await fakeWechat(t, 'MD5', () => ({ fields: { return_code: 'FAIL', return_msg: '签名错误' } }));
  const e = await rejection(client(w.baseUrl, 'MD5').unifiedOrder(ORDER));
  t.equal(e.code, 'RETURN_FAIL');
  t.equal(e.wechatMessage, '签名错误');
  t.equal(e.retriable, false);
  t.equal(w.seen.length, 1);
});

t.test('result_code FAIL: each err_code surfaces as the error code, none retried', async (t) => {
  for (const code of ['SIGNERROR', 'ORDERPAID', 'ORDERCLOSED', 'OUT_TRADE_NO_USED', 'INVALID_REQUEST', 'LACK_PARAMS', 'APPID_MCHID_NOT_MATCH', 'XML_FORMAT_ERROR', 'NOAUTH']) {
    const w = await fakeWechat(t, 'MD5', () => ({ fields: fail(code, `des ${code}`) }));
    const e = await rejection(client(w.baseUrl, 'MD5', { retries: 3 }).unifiedOrder(ORDER));
    t.equal(e.code, code, code);
    t.equal(e.retriable, false, `${code} not retriable`);
    t.equal(e.wechatMessage, `des ${code}`);
    t.equal(e.api, 'unifiedorder');
    t.equal(w.seen.length, 1, `${code} sent once`);
  }
});

t.test('SYSTEMERROR then success: retried with the identical request', async (t) => {
  const retries: RetryInfo[] = [];
  const w = await fakeWechat(t, 'HMAC-SHA256', (_api, _f, n) =>
    n === 1 ? { fields: fail('SYSTEMERROR', '系统错误') } : { fields: ok({ trade_type: 'JSAPI', prepay_id: 'wx_retry' }) },
  );
  const res = await client(w.baseUrl, 'HMAC-SHA256', { onRetry: (i) => retries.push(i) }).unifiedOrder(ORDER);
  t.equal(res.prepay_id, 'wx_retry');
  t.equal(w.seen.length, 2);
  t.equal(w.seen[1]!.body, w.seen[0]!.body, 'byte-identical retry (same out_trade_no, same nonce)');
  t.equal(w.seen[1]!.fields.out_trade_no, ORDER.out_trade_no);
  t.equal(retries.length, 1);
  t.match(retries[0], { api: 'unifiedorder', attempt: 1, error: { code: 'SYSTEMERROR' } });
});

t.test('SYSTEMERROR every time: gives up after retries+1 attempts', async (t) => {
  const w = await fakeWechat(t, 'MD5', () => ({ fields: fail('SYSTEMERROR') }));
  const e = await rejection(client(w.baseUrl, 'MD5', { retries: 2 }).unifiedOrder(ORDER));
  t.equal(e.code, 'SYSTEMERROR');
  t.equal(e.retriable, true);
  t.equal(w.seen.length, 3);
});

t.test('HTTP 5xx is retried; HTTP 4xx is not', async (t) => {
  const w = await fakeWechat(t, 'MD5', (_a, _f, n) => (n === 1 ? { status: 502, xml: 'bad gateway' } : { fields: ok({ trade_type: 'JSAPI', prepay_id: 'wx5' }) }));
  t.equal((await client(w.baseUrl, 'MD5').unifiedOrder(ORDER)).prepay_id, 'wx5');
  t.equal(w.seen.length, 2);

  const w4 = await fakeWechat(t, 'MD5', () => ({ status: 404, xml: 'not found' }));
  const e = await rejection(client(w4.baseUrl, 'MD5').unifiedOrder(ORDER));
  t.equal(e.code, 'BAD_RESPONSE');
  t.equal(e.status, 404);
  t.equal(w4.seen.length, 1);
});

t.test('timeout: TIMEOUT after every attempt hangs; a later answer is taken', async (t) => {
  const w = await fakeWechat(t, 'MD5', () => ({ hang: true }));
  const e = await rejection(client(w.baseUrl, 'MD5', { timeoutMs: 150, retries: 1 }).unifiedOrder(ORDER));
  t.equal(e.code, 'TIMEOUT');
  t.equal(e.retriable, true);
  t.equal(w.seen.length, 2);

  const w2 = await fakeWechat(t, 'MD5', (_a, _f, n) => (n === 1 ? { hang: true } : { fields: ok({ trade_type: 'JSAPI', prepay_id: 'wx_late' }) }));
  t.equal((await client(w2.baseUrl, 'MD5', { timeoutMs: 150, retries: 1 }).unifiedOrder(ORDER)).prepay_id, 'wx_late');
});

t.test('network error: NETWORK, retried, then surfaced', async (t) => {
  const w = await fakeWechat(t, 'MD5', () => ({ fields: ok({}) }));
  const dead = w.baseUrl.replace(/:\d+$/, ':1');
  const retries: RetryInfo[] = [];
  const e = await rejection(client(dead, 'MD5', { retries: 1, onRetry: (i) => retries.push(i) }).orderQuery({ out_trade_no: 'x1' }));
  t.equal(e.code, 'NETWORK');
  t.equal(retries.length, 1);
  t.notMatch(e.message, /192006250b4c09247ec02edce69f6a2d/);
});

t.test('an injected fetch is used', async (t) => {
  let calls = 0;
  const fakeFetch: typeof fetch = async (input) => {
    calls++;
    t.equal(String(input), 'https://wx.example/pay/closeorder');
    const fields = ok({});
    return new Response(toXml({ ...fields, sign: sign(fields, MERCHANT.key, 'MD5') }));
  };
  const c = createPayClient({ ...MERCHANT, signType: 'MD5', baseUrl: 'https://wx.example/', fetch: fakeFetch });
  await c.closeOrder({ out_trade_no: 'abc' });
  t.equal(calls, 1);
});

t.test('response signature: wrong key, missing sign or wrong sign type are BAD_RESPONSE_SIGN, never retried', async (t) => {
  for (const [label, reply] of [
    ['other key', { fields: ok({ trade_type: 'JSAPI', prepay_id: 'wx' }), signWith: 'ffffffffffffffffffffffffffffffff' }],
    ['no sign', { fields: ok({ trade_type: 'JSAPI', prepay_id: 'wx' }), signWith: null }],
  ] as const) {
    const w = await fakeWechat(t, 'MD5', () => reply);
    const e = await rejection(client(w.baseUrl, 'MD5').unifiedOrder(ORDER));
    t.equal(e.code, 'BAD_RESPONSE_SIGN', label);
    t.equal(w.seen.length, 1);
  }
  // Server signs MD5, client expects HMAC-SHA256.
  const w = await fakeWechat(t, 'MD5', () => ({ fields: ok({ trade_type: 'JSAPI', prepay_id: 'wx' }) }));
  t.equal((await rejection(client(w.baseUrl, 'HMAC-SHA256').unifiedOrder(ORDER))).code, 'BAD_RESPONSE_SIGN');
  // A signed FAIL with a tampered err_code is caught too (money decisions hang on ORDERPAID).
  const forged = fail('ORDERPAID');
  const wf = await fakeWechat(t, 'MD5', () => ({ xml: toXml({ ...forged, sign: sign(fail('ORDERCLOSED'), MERCHANT.key, 'MD5') }) }));
  t.equal((await rejection(client(wf.baseUrl, 'MD5').closeOrder({ out_trade_no: 'a' }))).code, 'BAD_RESPONSE_SIGN');
});

t.test('malformed, hostile or foreign responses are BAD_RESPONSE', async (t) => {
  const hostile: [string, Reply][] = [
    ['not xml', { xml: '<html>oops</html>' }],
    ['json', { xml: '{"return_code":"SUCCESS"}' }],
    ['doctype', { xml: '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><return_code>&x;</return_code></xml>' }],
    ['no return_code', { xml: '<xml><a>1</a></xml>' }],
    ['other merchant', { fields: { ...ok({ trade_type: 'JSAPI', prepay_id: 'wx' }), mch_id: '999' } }],
    ['no result_code', { fields: { return_code: 'SUCCESS', appid: MERCHANT.appid, mch_id: MERCHANT.mchId } }],
    ['no prepay_id', { fields: ok({ trade_type: 'JSAPI' }) }],
  ];
  for (const [label, reply] of hostile) {
    const w = await fakeWechat(t, 'MD5', () => reply);
    const e = await rejection(client(w.baseUrl, 'MD5').unifiedOrder(ORDER));
    t.equal(e.code, 'BAD_RESPONSE', label);
    t.equal(e.retriable, false, label);
  }
});

t.test('field rules are enforced before anything is sent', async (t) => {
  const w = await fakeWechat(t, 'MD5', () => ({ fields: ok({ trade_type: 'JSAPI', prepay_id: 'wx' }) }));
  const c = client(w.baseUrl, 'MD5');
  const { openid: _openid, ...noOpenid } = ORDER;
  const bj = (ms: number) => toBeijingTime(new Date(Date.now() + ms));
  const cases: [string, string, unknown][] = [
    ['body', 'missing body', { ...ORDER, body: '' }],
    ['body', 'body over 128 bytes', { ...ORDER, body: '中'.repeat(43) }],
    ['attach', 'attach over 127 bytes', { ...ORDER, attach: 'a'.repeat(128) }],
    ['out_trade_no', 'out_trade_no too long', { ...ORDER, out_trade_no: '1'.repeat(33) }],
    ['out_trade_no', 'out_trade_no charset', { ...ORDER, out_trade_no: 'abc.def' }],
    ['out_trade_no', 'out_trade_no missing', { ...ORDER, out_trade_no: undefined }],
    ['total_fee', 'total_fee zero', { ...ORDER, total_fee: 0 }],
    ['total_fee', 'total_fee negative', { ...ORDER, total_fee: -1 }],
    ['total_fee', 'total_fee fractional', { ...ORDER, total_fee: 1.5 }],
    ['total_fee', 'total_fee string', { ...ORDER, total_fee: '88' }],
    ['spbill_create_ip', 'no ip', { ...ORDER, spbill_create_ip: '' }],
    ['spbill_create_ip', 'bad ip', { ...ORDER, spbill_create_ip: 'localhost' }],
    ['trade_type', 'bad trade_type', { ...ORDER, trade_type: 'MICROPAY' }],
    ['openid', 'JSAPI without openid', noOpenid],
    ['product_id', 'NATIVE without product_id', { ...noOpenid, trade_type: 'NATIVE' }],
    ['notify_url', 'relative notify_url', { ...ORDER, notify_url: '/wxpay/notify' }],
    ['notify_url', 'notify_url with query', { ...ORDER, notify_url: 'https://m.example.com/notify?order=1' }],
    ['notify_url', 'ftp notify_url', { ...ORDER, notify_url: 'ftp://m.example.com/notify' }],
    ['notify_url', 'notify_url too long', { ...ORDER, notify_url: `https://m.example.com/${'a'.repeat(300)}` }],
    ['time_expire', 'time_expire malformed', { ...ORDER, time_expire: '2024-01-01 10:00' }],
    ['time_expire', 'time_expire impossible', { ...ORDER, time_expire: '20240230100000' }],
    ['time_expire', 'time_expire past', { ...ORDER, time_expire: bj(-60_000) }],
    ['time_expire', 'time_expire before time_start', { ...ORDER, time_start: bj(3_600_000), time_expire: bj(1_800_000) }],
    ['time_start', 'time_start malformed', { ...ORDER, time_start: '1' }],
    ['limit_pay', 'limit_pay', { ...ORDER, limit_pay: 'credit' }],
    ['fee_type', 'fee_type', { ...ORDER, fee_type: 'rmb' }],
    ['sign', 'caller-supplied sign', { ...ORDER, sign: 'X' }],
    ['body', 'control characters', { ...ORDER, body: 'a\u0000b' }],
  ];
  for (const [field, label, req] of cases) {
    const e = await rejection(c.unifiedOrder(req as UnifiedOrderRequest));
    t.equal(e.code, 'INVALID_ARGUMENT', label);
    t.equal(e.field, field, label);
  }
  t.equal((await rejection(c.orderQuery({ out_trade_no: 'bad no' }))).code, 'INVALID_ARGUMENT');
  t.equal((await rejection(c.orderQuery({} as never))).code, 'INVALID_ARGUMENT');
  t.equal((await rejection(c.orderQuery({ out_trade_no: 'a', transaction_id: 'b' } as never))).code, 'INVALID_ARGUMENT');
  t.equal((await rejection(c.closeOrder({ out_trade_no: '' }))).code, 'INVALID_ARGUMENT');
  t.equal(w.seen.length, 0, 'nothing reached WeChat');

  // The limits are inclusive, and an order with every optional field goes through.
  await c.unifiedOrder({
    ...ORDER,
    body: '中'.repeat(42) + 'ab',
    attach: 'a'.repeat(127),
    out_trade_no: 'A_b-c|d*e@f'.padEnd(32, '0'),
    time_start: bj(0),
    time_expire: bj(15 * 60_000),
    limit_pay: 'no_credit',
    fee_type: 'CNY',
    notify_url: 'http://127.0.0.1:3000/wxpay/notify',
    spbill_create_ip: '::1',
  });
  t.equal(w.seen.length, 1);
  t.equal(w.seen[0]!.fields.attach, 'a'.repeat(127));
});

t.test('createPayClient refuses bad configuration', async (t) => {
  t.throws(() => createPayClient({ ...MERCHANT, key: '', signType: 'MD5', baseUrl: 'http://x' }), TypeError);
  t.throws(() => createPayClient({ ...MERCHANT, signType: 'SHA1' as never, baseUrl: 'http://x' }), TypeError);
  t.throws(() => createPayClient({ ...MERCHANT, signType: 'MD5', baseUrl: '' }), TypeError);
});

t.test('orderQuery: typed result, strings kept as strings, integers strict', async (t) => {
  const paid = ok({
    trade_state: 'SUCCESS',
    out_trade_no: '0001409811653',
    transaction_id: '4200000123202401011234567890',
    total_fee: '88',
    cash_fee: '80',
    time_end: '20240101123000',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    trade_type: 'JSAPI',
    bank_type: 'CMC',
    trade_state_desc: '支付成功',
  });
  const w = await fakeWechat(t, 'HMAC-SHA256', () => ({ fields: paid }));
  const res = await client(w.baseUrl, 'HMAC-SHA256').orderQuery({ out_trade_no: '0001409811653' });
  t.match(res, {
    trade_state: 'SUCCESS',
    out_trade_no: '0001409811653',
    transaction_id: '4200000123202401011234567890',
    total_fee: 88,
    cash_fee: 80,
    time_end: '20240101123000',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    trade_state_desc: '支付成功',
  });
  t.equal(w.seen[0]!.api, 'orderquery');
  t.equal(w.seen[0]!.fields.out_trade_no, '0001409811653');

  const wt = await fakeWechat(t, 'MD5', () => ({ fields: ok({ ...paid, sign_type: 'MD5' }) }));
  const byTx = await client(wt.baseUrl, 'MD5').orderQuery({ transaction_id: '4200000123202401011234567890' });
  t.equal(byTx.out_trade_no, '0001409811653');
  t.equal(wt.seen[0]!.fields.transaction_id, '4200000123202401011234567890');
  t.notOk('out_trade_no' in wt.seen[0]!.fields);

  const wn = await fakeWechat(t, 'MD5', () => ({ fields: ok({ trade_state: 'NOTPAY', out_trade_no: 'o1', trade_state_desc: '订单未支付' }) }));
  const notpay = await client(wn.baseUrl, 'MD5').orderQuery({ out_trade_no: 'o1' });
  t.equal(notpay.trade_state, 'NOTPAY');
  t.equal(notpay.total_fee, undefined);

  // ACCEPT (已接收，等待扣款) is one of the trade states WeChat's orderquery documents: a pending answer, not a bad one.
  const wa = await fakeWechat(t, 'MD5', () => ({ fields: ok({ trade_state: 'ACCEPT', out_trade_no: 'o1', total_fee: '88' }) }));
  const accepted = await client(wa.baseUrl, 'MD5').orderQuery({ out_trade_no: 'o1' });
  t.equal(accepted.trade_state, 'ACCEPT');
  t.equal(accepted.transaction_id, undefined);
});

t.test('orderQuery: ORDERNOTEXIST and suspicious answers', async (t) => {
  const w = await fakeWechat(t, 'MD5', () => ({ fields: fail('ORDERNOTEXIST', '此交易订单号不存在') }));
  const e = await rejection(client(w.baseUrl, 'MD5').orderQuery({ out_trade_no: 'nope' }));
  t.equal(e.code, 'ORDERNOTEXIST');
  t.equal(e.retriable, false);

  for (const [label, fields] of [
    ['fractional total_fee', ok({ trade_state: 'SUCCESS', out_trade_no: 'o1', transaction_id: '42', total_fee: '88.5', cash_fee: '88' })],
    ['float-looking total_fee', ok({ trade_state: 'SUCCESS', out_trade_no: 'o1', transaction_id: '42', total_fee: '1e2', cash_fee: '88' })],
    ['paid without amount', ok({ trade_state: 'SUCCESS', out_trade_no: 'o1', transaction_id: '42' })],
    ['unknown trade_state', ok({ trade_state: 'WEIRD', out_trade_no: 'o1' })],
    ['answer for another order', ok({ trade_state: 'NOTPAY', out_trade_no: 'o2' })],
  ] as const) {
    const wb = await fakeWechat(t, 'MD5', () => ({ fields }));
    t.equal((await rejection(client(wb.baseUrl, 'MD5').orderQuery({ out_trade_no: 'o1' }))).code, 'BAD_RESPONSE', label);
  }
});

t.test('closeOrder: success, ORDERPAID and ORDERCLOSED', async (t) => {
  const w = await fakeWechat(t, 'MD5', (_a, f) =>
    f.out_trade_no === 'paid1' ? { fields: fail('ORDERPAID', '订单已支付') } : f.out_trade_no === 'closed1' ? { fields: fail('ORDERCLOSED') } : { fields: ok({ result_msg: 'OK' }) },
  );
  const c = client(w.baseUrl, 'MD5');
  const res = await c.closeOrder({ out_trade_no: 'open1' });
  t.equal(res.raw.result_code, 'SUCCESS');
  t.equal(w.seen[0]!.api, 'closeorder');
  t.equal((await rejection(c.closeOrder({ out_trade_no: 'paid1' }))).code, 'ORDERPAID');
  t.equal((await rejection(c.closeOrder({ out_trade_no: 'closed1' }))).code, 'ORDERCLOSED');
});
