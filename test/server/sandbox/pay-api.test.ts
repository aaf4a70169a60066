// The pay API as a black box over HTTP: field rules, sign checks and WeChat's error codes.
import t from 'tap';
import { toXml } from '../../../server/src/wechat/xml.js';
import { toBeijingTime } from '../../../server/src/wechat/time.js';
import { MERCHANT, OTHER, orderParams, outTradeNo, outsideSign, payCall, payParams, postRaw, sandbox, signatureOk } from './helpers.js';

const NOTIFY = 'http://127.0.0.1:9/wxpay/notify';

t.test('unifiedorder', async (t) => {
  const sb = await sandbox(t);
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const openid = login.openid as string;

  t.test('success: signed answer with a 36-char prepay_id', async (t) => {
    const r = await payCall(sb.url, 'unifiedorder', orderParams(openid, NOTIFY));
    t.equal(r.status, 200);
    t.match(r.fields, { return_code: 'SUCCESS', result_code: 'SUCCESS', appid: MERCHANT.appid, mch_id: MERCHANT.mchId, trade_type: 'JSAPI' });
    t.match(r.fields.prepay_id, /^wx\d{14}[0-9a-f]{20}$/);
    t.ok(signatureOk(r.fields, MERCHANT.key), 'answer signed with the merchant key (MD5)');
    t.notOk(r.fields.sign_type, 'no sign_type echoed');
  });

  t.test('HMAC-SHA256 request gets an HMAC-SHA256-signed answer', async (t) => {
    const r = await payCall(sb.url, 'unifiedorder', orderParams(openid, NOTIFY), { signType: 'HMAC-SHA256' });
    t.equal(r.fields.result_code, 'SUCCESS');
    t.ok(signatureOk(r.fields, MERCHANT.key, 'HMAC-SHA256'));
    t.notOk(signatureOk(r.fields, MERCHANT.key, 'MD5'));
  });

  t.test('same request repeated: same prepay_id; other params: INVALID_REQUEST 201', async (t) => {
    const p = orderParams(openid, NOTIFY);
    const a = await payCall(sb.url, 'unifiedorder', p);
    const b = await payCall(sb.url, 'unifiedorder', { ...p, spbill_create_ip: '10.1.2.3' });
    t.equal(b.fields.prepay_id, a.fields.prepay_id);
    const c = await payCall(sb.url, 'unifiedorder', { ...p, total_fee: '102' });
    t.match(c.fields, { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'INVALID_REQUEST', err_code_des: '201 商户订单号重复' });
    t.ok(signatureOk(c.fields, MERCHANT.key), 'business failures are signed too');
    t.notOk(c.fields.prepay_id);
  });

  t.test('bad sign: return_code FAIL as WeChat answers, code in x-sandbox-error', async (t) => {
    const r = await payCall(sb.url, 'unifiedorder', orderParams(openid, NOTIFY), { key: 'f'.repeat(32) });
    t.same(Object.keys(r.fields).sort(), ['return_code', 'return_msg']);
    t.match(r.fields, { return_code: 'FAIL', return_msg: /签名错误/ });
    t.equal(r.sandboxError, 'SIGNERROR');
    const hmacClaimedMd5Signed = await payCall(
      sb.url,
      'unifiedorder',
      { ...orderParams(openid, NOTIFY), sign_type: 'HMAC-SHA256' },
      { signType: 'MD5' },
    );
    t.equal(hmacClaimedMd5Signed.sandboxError, 'SIGNERROR', 'sign checked with the declared sign_type');
    const badType = await payCall(sb.url, 'unifiedorder', { ...orderParams(openid, NOTIFY), sign_type: 'SHA1' });
    t.match(badType.fields, { return_code: 'FAIL' });
    t.equal(badType.sandboxError, 'PARAM_ERROR');
  });

  t.test('bad XML, empty body, DOCTYPE, oversize: XML_FORMAT_ERROR with return_code FAIL', async (t) => {
    for (const body of ['not xml', '<xml><a>1</a>', '<root><a>1</a></root>', '<!DOCTYPE x [<!ENTITY e "x">]><xml><a>&e;</a></xml>']) {
      const r = await postRaw(sb.url, '/pay/unifiedorder', body);
      t.equal(r.status, 200);
      t.match(r.fields, { return_code: 'FAIL', return_msg: 'XML格式错误' }, body);
      t.equal(r.sandboxError, 'XML_FORMAT_ERROR');
    }
    const empty = await postRaw(sb.url, '/pay/unifiedorder', '');
    t.match(empty.fields, { return_code: 'FAIL', return_msg: 'post数据为空' });
    const big = await postRaw(sb.url, '/pay/unifiedorder', `<xml><body>${'x'.repeat(70 * 1024)}</body></xml>`);
    t.match(big.fields, { return_code: 'FAIL' });
    t.equal(big.sandboxError, 'XML_FORMAT_ERROR');
  });

  t.test('any content-type is accepted, as WeChat reads the raw body', async (t) => {
    const p = { ...orderParams(openid, NOTIFY), nonce_str: 'n1' };
    const { outsideSign } = await import('./helpers.js');
    const xml = toXml({ ...p, sign: outsideSign(p, MERCHANT.key) });
    for (const ct of ['application/json', 'application/x-www-form-urlencoded', 'application/xml']) {
      const r = await postRaw(sb.url, '/pay/unifiedorder', xml, ct);
      t.equal(r.fields.result_code, 'SUCCESS', ct);
    }
  });

  t.test('GET is refused with 请使用post方法', async (t) => {
    const res = await fetch(`${sb.url}/pay/unifiedorder`);
    t.match(await res.text(), /请使用post方法/);
    t.equal(res.headers.get('x-sandbox-error'), 'REQUIRE_POST_METHOD');
  });

  t.test('unknown mch_id: return_code FAIL; appid of another merchant: APPID_MCHID_NOT_MATCH', async (t) => {
    const unknown = await payCall(sb.url, 'unifiedorder', { ...orderParams(openid, NOTIFY), mch_id: '1234567890' });
    t.match(unknown.fields, { return_code: 'FAIL' });
    t.equal(unknown.sandboxError, 'MCHID_NOT_EXIST');
    const mismatch = await payCall(sb.url, 'unifiedorder', { ...orderParams(openid, NOTIFY), appid: OTHER.appid });
    t.match(mismatch.fields, { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'APPID_MCHID_NOT_MATCH' });
    t.ok(signatureOk(mismatch.fields, MERCHANT.key));
    const noSuchApp = await payCall(sb.url, 'unifiedorder', { ...orderParams(openid, NOTIFY), appid: 'wx1111111111111111' });
    t.match(noSuchApp.fields, { result_code: 'FAIL', err_code: 'APPID_NOT_EXIST' });
  });

  t.test('missing parameters: return_code FAIL, return_msg 缺少参数, unsigned (as WeChat answers; LACK_PARAMS in x-sandbox-error)', async (t) => {
    const exact = { return_code: 'FAIL', return_msg: '缺少参数' };
    for (const name of ['body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type', 'appid', 'mch_id', 'nonce_str']) {
      const p: Record<string, string | undefined> = orderParams(openid, NOTIFY);
      delete p[name];
      // payCall always adds a nonce_str: post the one without it by hand.
      const r = name === 'nonce_str' ? await postRaw(sb.url, '/pay/unifiedorder', toXml({ ...p, sign: outsideSign(p, MERCHANT.key) })) : await payCall(sb.url, 'unifiedorder', p);
      t.same(r.fields, exact, name);
      t.equal(r.sandboxError, 'LACK_PARAMS', name);
    }
    const noSign = await postRaw(sb.url, '/pay/unifiedorder', toXml({ ...orderParams(openid, NOTIFY), nonce_str: 'x' }));
    t.same(noSign.fields, exact, 'sign');
    t.equal(noSign.sandboxError, 'LACK_PARAMS');
  });

  t.test('JSAPI without openid, openid of another appid', async (t) => {
    const p: Record<string, string | undefined> = orderParams(openid, NOTIFY);
    delete p.openid;
    const r = await payCall(sb.url, 'unifiedorder', p);
    t.match(r.fields, { return_code: 'FAIL', return_msg: 'JSAPI支付必须传openid' });
    t.equal(r.sandboxError, 'LACK_PARAMS');
    const { body: other } = await sb.json('POST', '/sandbox/login-codes', { appid: OTHER.appid });
    const wrong = await payCall(sb.url, 'unifiedorder', orderParams(other.openid, NOTIFY));
    t.match(wrong.fields, { result_code: 'FAIL', err_code: 'PARAM_ERROR', err_code_des: 'appid和openid不匹配' });
    const made = await payCall(sb.url, 'unifiedorder', orderParams('oNotAnOpenidOfThisAppAtAll12', NOTIFY));
    t.match(made.fields, { err_code: 'PARAM_ERROR' });
    const native: Record<string, string | undefined> = { ...orderParams(openid, NOTIFY), trade_type: 'NATIVE', product_id: 'P1' };
    delete native.openid;
    const nat = await payCall(sb.url, 'unifiedorder', native);
    t.match(nat.fields, { result_code: 'SUCCESS', code_url: /^weixin:\/\/wxpay\/bizpayurl\?pr=/ });
  });

  t.test('field formats', async (t) => {
    const cases: [string, string, string][] = [
      ['total_fee', '1.5', 'total_fee参数格式错误'],
      ['total_fee', '0', 'total_fee参数格式错误'],
      ['total_fee', '-3', 'total_fee参数格式错误'],
      ['out_trade_no', 'has space', 'out_trade_no参数格式错误'],
      ['out_trade_no', 'x'.repeat(33), 'out_trade_no参数长度有误'],
      ['body', '商'.repeat(43), 'body参数长度有误'],
      ['notify_url', 'http://example.com/notify?x=1', 'notify_url参数格式错误'],
      ['notify_url', 'ftp://example.com/notify', 'notify_url参数格式错误'],
      ['spbill_create_ip', 'localhost', 'invalid spbill_create_ip'],
      ['trade_type', 'MICROPAY', 'trade_type参数格式错误'],
      ['fee_type', 'USD', 'fee_type参数格式错误'],
      ['time_expire', '20240230101010', 'time_expire参数格式错误'],
      ['time_expire', toBeijingTime(new Date(Date.now() + 60_000)), 'time_expire时间过短，刷卡至少1分钟，其他5分钟'],
    ];
    for (const [name, value, msg] of cases) {
      const r = await payCall(sb.url, 'unifiedorder', orderParams(openid, NOTIFY, { [name]: value }));
      t.match(r.fields, { return_code: 'FAIL', return_msg: msg }, `${name}=${value}`);
    }
    const ok = await payCall(sb.url, 'unifiedorder', orderParams(openid, NOTIFY, { body: '商'.repeat(42), time_expire: toBeijingTime(new Date(Date.now() + 30 * 60_000)) }));
    t.equal(ok.fields.result_code, 'SUCCESS', '42 CJK characters (126 bytes) fit in body');
  });
});

t.test('orderquery and closeorder', async (t) => {
  // closeorder waits 5 minutes from unifiedorder (closeorder.test.ts): this clock gets there without waiting
  let now = Date.now();
  const sb = await sandbox(t, { now: () => now });
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const base = { appid: MERCHANT.appid, mch_id: MERCHANT.mchId };

  t.test('unknown order: ORDERNOTEXIST', async (t) => {
    const q = await payCall(sb.url, 'orderquery', { ...base, out_trade_no: outTradeNo() });
    t.match(q.fields, { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
    t.ok(signatureOk(q.fields, MERCHANT.key));
    const c = await payCall(sb.url, 'closeorder', { ...base, out_trade_no: outTradeNo() });
    t.match(c.fields, { result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
    const none = await payCall(sb.url, 'orderquery', base);
    t.same(none.fields, { return_code: 'FAIL', return_msg: '缺少参数' });
    t.equal(none.sandboxError, 'LACK_PARAMS');
    const closeNone = await payCall(sb.url, 'closeorder', base);
    t.same(closeNone.fields, { return_code: 'FAIL', return_msg: '缺少参数' });
    const bad = await payCall(sb.url, 'orderquery', { ...base, out_trade_no: 'x' }, { key: 'wrong' });
    t.equal(bad.sandboxError, 'SIGNERROR');
  });

  t.test('NOTPAY → close → CLOSED; closing again: ORDERCLOSED; unifiedorder on it: ORDERCLOSED; cashier refuses', async (t) => {
    const p = orderParams(login.openid, NOTIFY, { attach: 'a=1&b=2' });
    const u = await payCall(sb.url, 'unifiedorder', p);
    const q = await payCall(sb.url, 'orderquery', { ...base, out_trade_no: p.out_trade_no });
    t.match(q.fields, { result_code: 'SUCCESS', trade_state: 'NOTPAY', trade_state_desc: '订单未支付', out_trade_no: p.out_trade_no, total_fee: '101', attach: 'a=1&b=2' });
    t.notOk(q.fields.transaction_id);
    now += 5 * 60_000;
    const c = await payCall(sb.url, 'closeorder', { ...base, out_trade_no: p.out_trade_no }, { signType: 'HMAC-SHA256' });
    t.match(c.fields, { return_code: 'SUCCESS', result_code: 'SUCCESS' });
    t.ok(signatureOk(c.fields, MERCHANT.key, 'HMAC-SHA256'));
    const q2 = await payCall(sb.url, 'orderquery', { ...base, out_trade_no: p.out_trade_no });
    t.match(q2.fields, { trade_state: 'CLOSED' });
    const c2 = await payCall(sb.url, 'closeorder', { ...base, out_trade_no: p.out_trade_no });
    t.match(c2.fields, { result_code: 'FAIL', err_code: 'ORDERCLOSED' });
    const again = await payCall(sb.url, 'unifiedorder', p);
    t.match(again.fields, { result_code: 'FAIL', err_code: 'ORDERCLOSED' });
    const cash = await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
    t.equal(cash.status, 400);
    t.match(cash.body, { code: 'ORDER_CLOSED', errMsg: /^requestPayment:fail / });
  });

  t.test('paid: ORDERPAID from unifiedorder and closeorder; orderquery by transaction_id', async (t) => {
    const p = orderParams(login.openid, NOTIFY);
    const u = await payCall(sb.url, 'unifiedorder', p);
    const paid = await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
    t.same(paid.body, { errMsg: 'requestPayment:ok' });
    const q = await payCall(sb.url, 'orderquery', { ...base, out_trade_no: p.out_trade_no });
    t.match(q.fields, {
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      transaction_id: /^\d{28}$/,
      time_end: /^\d{14}$/,
      total_fee: '101',
      cash_fee: '101',
      fee_type: 'CNY',
      bank_type: 'OTHERS',
      openid: login.openid,
      trade_type: 'JSAPI',
    });
    t.ok(signatureOk(q.fields, MERCHANT.key));
    const byTx = await payCall(sb.url, 'orderquery', { ...base, transaction_id: q.fields.transaction_id });
    t.equal(byTx.fields.out_trade_no, p.out_trade_no);
    // err_code_des as real answers carry them: unifiedorder 该订单已支付, closeorder "order paid".
    t.match((await payCall(sb.url, 'unifiedorder', p)).fields, { err_code: 'ORDERPAID', err_code_des: '该订单已支付' });
    t.match((await payCall(sb.url, 'closeorder', { ...base, out_trade_no: p.out_trade_no })).fields, { err_code: 'ORDERPAID', err_code_des: 'order paid' });
    const payAgain = await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
    t.match(payAgain, { status: 400, body: { code: 'ORDER_PAID' } });
    // Another merchant cannot see it.
    const other = await payCall(sb.url, 'orderquery', { appid: OTHER.appid, mch_id: OTHER.mchId, out_trade_no: p.out_trade_no }, { key: OTHER.key });
    t.match(other.fields, { err_code: 'ORDERNOTEXIST' });
  });

  t.test('cashier outcome fail: PAYERROR; cancel leaves NOTPAY', async (t) => {
    const p = orderParams(login.openid, NOTIFY);
    const u = await payCall(sb.url, 'unifiedorder', p);
    const cancel = await sb.json('POST', '/sandbox/cashier', { ...payParams(u.fields.prepay_id as string), outcome: 'cancel' });
    t.same(cancel, { status: 200, body: { errMsg: 'requestPayment:fail cancel' } });
    t.match((await payCall(sb.url, 'orderquery', { ...base, out_trade_no: p.out_trade_no })).fields, { trade_state: 'NOTPAY' });
    const fail = await sb.json('POST', '/sandbox/cashier', { ...payParams(u.fields.prepay_id as string), outcome: 'fail' });
    t.equal(fail.status, 200);
    t.match(fail.body.errMsg, /^requestPayment:fail (?!cancel)/);
    t.match((await payCall(sb.url, 'orderquery', { ...base, out_trade_no: p.out_trade_no })).fields, { trade_state: 'PAYERROR' });
  });
});

t.test('prepay_id lives 2 hours: the same request after that gets a new one, and the old one cannot pay', async (t) => {
  let now = Date.now();
  const sb = await sandbox(t, { now: () => now });
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const p = orderParams(login.openid, NOTIFY);
  const a = await payCall(sb.url, 'unifiedorder', p);
  now += 2 * 60 * 60 * 1000 - 1000;
  t.equal((await payCall(sb.url, 'unifiedorder', p)).fields.prepay_id, a.fields.prepay_id, 'still the same just before 2 h');
  now += 2000;
  const stale = await sb.json('POST', '/sandbox/cashier', payParams(a.fields.prepay_id as string));
  t.match(stale, { status: 400, body: { code: /PREPAY_(EXPIRED|NOT_FOUND)/ } });
  const b = await payCall(sb.url, 'unifiedorder', p);
  t.not(b.fields.prepay_id, a.fields.prepay_id);
  t.match(b.fields.prepay_id, /^wx/);
  t.same((await sb.json('POST', '/sandbox/cashier', payParams(b.fields.prepay_id as string))).body, { errMsg: 'requestPayment:ok' });
});
