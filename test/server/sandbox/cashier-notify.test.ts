// unifiedorder → cashier → notify → orderquery, the cashier's paySign checks, and the notify retry schedule.
import t from 'tap';
import { RETRY_SCHEDULE_S, attemptTimeoutMs, retryDelayMs } from '../../../server/src/sandbox/notifier.js';
import {
  MERCHANT,
  eventually,
  failReply,
  notifyReceiver,
  ok,
  orderParams,
  payCall,
  payParams,
  sandbox,
  signatureOk,
  sleep,
} from './helpers.js';

const NOTIFY_FIELDS = [
  'appid',
  'mch_id',
  'nonce_str',
  'sign',
  'result_code',
  'openid',
  'is_subscribe',
  'trade_type',
  'bank_type',
  'total_fee',
  'fee_type',
  'cash_fee',
  'cash_fee_type',
  'transaction_id',
  'out_trade_no',
  'time_end',
  'return_code',
];

t.test('happy path: unifiedorder → cashier pay → signed notify → orderquery SUCCESS', async (t) => {
  const sb = await sandbox(t);
  const rx = await notifyReceiver(t);
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const p = orderParams(login.openid, rx.url, { attach: 'order:42', device_info: 'WEB' });
  const u = await payCall(sb.url, 'unifiedorder', p);
  t.equal(u.fields.result_code, 'SUCCESS');
  const paid = await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
  t.same(paid, { status: 200, body: { errMsg: 'requestPayment:ok' } });

  await rx.waitFor(1);
  const n = rx.received[0]!;
  t.match(n.headers['content-type'], /^text\/xml/);
  for (const f of NOTIFY_FIELDS) t.ok(n.fields[f], `notify carries ${f}`);
  t.ok(signatureOk(n.fields, MERCHANT.key, 'MD5'), 'notify signature verifies with the merchant key');
  t.notOk(n.fields.sign_type, 'no sign_type field for MD5');
  t.match(n.fields, {
    return_code: 'SUCCESS',
    result_code: 'SUCCESS',
    appid: MERCHANT.appid,
    mch_id: MERCHANT.mchId,
    out_trade_no: p.out_trade_no,
    total_fee: '101',
    cash_fee: '101',
    openid: login.openid,
    trade_type: 'JSAPI',
    attach: 'order:42',
    device_info: 'WEB',
    transaction_id: /^\d{28}$/,
    time_end: /^20\d{12}$/,
  });

  const q = await payCall(sb.url, 'orderquery', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: p.out_trade_no });
  t.match(q.fields, { trade_state: 'SUCCESS', transaction_id: n.fields.transaction_id, time_end: n.fields.time_end });

  const log = await eventually(async () => {
    const r = await sb.json('GET', `/sandbox/notifications?out_trade_no=${p.out_trade_no}`);
    return r.body.attempts.length > 0 ? r.body.attempts : undefined;
  });
  t.match(log, [{ attempt: 1, status: 200, success: true, reply: ok, outTradeNo: p.out_trade_no, corrupted: false, dropped: false }]);
  await sleep(100);
  t.equal(rx.received.length, 1, 'no retry after SUCCESS');
});

t.test('HMAC-SHA256 flow: pay params and notify use the sign type of unifiedorder', async (t) => {
  const sb = await sandbox(t);
  const rx = await notifyReceiver(t);
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const u = await payCall(sb.url, 'unifiedorder', orderParams(login.openid, rx.url), { signType: 'HMAC-SHA256' });
  const prepay = u.fields.prepay_id as string;
  const md5 = await sb.json('POST', '/sandbox/cashier', payParams(prepay, { signType: 'MD5' }));
  t.match(md5, { status: 400, body: { code: 'SIGN_TYPE_MISMATCH' } }, 'MD5 pay params for an HMAC order are refused');
  const hmac = await sb.json('POST', '/sandbox/cashier', payParams(prepay, { signType: 'HMAC-SHA256' }));
  t.same(hmac.body, { errMsg: 'requestPayment:ok' });
  await rx.waitFor(1);
  const f = rx.received[0]!.fields;
  t.equal(f.sign_type, 'HMAC-SHA256');
  t.ok(signatureOk(f, MERCHANT.key, 'HMAC-SHA256'));
  t.notOk(signatureOk(f, MERCHANT.key, 'MD5'));
});

t.test('cashier checks paySign and the params as the WeChat client does', async (t) => {
  const sb = await sandbox(t);
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const u = await payCall(sb.url, 'unifiedorder', orderParams(login.openid, 'http://127.0.0.1:9/n'));
  const prepay = u.fields.prepay_id as string;
  const good = payParams(prepay);

  const wrongKey = await sb.json('POST', '/sandbox/cashier', payParams(prepay, { key: 'a'.repeat(32) }));
  t.match(wrongKey, { status: 400, body: { code: 'PAYSIGN_INVALID', errMsg: /^requestPayment:fail / } });
  const tampered = await sb.json('POST', '/sandbox/cashier', { ...good, nonceStr: `${good.nonceStr}x` });
  t.match(tampered.body, { code: 'PAYSIGN_INVALID' });
  const asNumber = await sb.json('POST', '/sandbox/cashier', { ...good, timeStamp: Number(good.timeStamp) });
  t.same(asNumber, {
    status: 400,
    body: { errMsg: 'requestPayment:fail parameter error: parameter.timeStamp should be String instead of Number;', code: 'PARAM_TYPE' },
  });
  const missing = await sb.json('POST', '/sandbox/cashier', { ...good, paySign: undefined });
  t.match(missing, { status: 400, body: { code: 'PARAM_MISSING', errMsg: /parameter\.paySign/ } });
  const unknown = await sb.json('POST', '/sandbox/cashier', payParams('wx20240101000000deadbeefdeadbeefdead'));
  t.match(unknown.body, { code: 'PREPAY_NOT_FOUND' });
  const badPackage = await sb.json('POST', '/sandbox/cashier', { ...good, package: prepay });
  t.match(badPackage.body, { code: 'PACKAGE_INVALID' });
  const otherApp = await sb.json('POST', '/sandbox/cashier', payParams(prepay, { appId: 'wx0000000000000002' }));
  t.match(otherApp.body, { code: 'APPID_MISMATCH' });
  const rsa = await sb.json('POST', '/sandbox/cashier', { ...good, signType: 'RSA' });
  t.match(rsa.body, { code: 'SIGN_TYPE_INVALID' });
  const badOutcome = await sb.json('POST', '/sandbox/cashier', { ...good, outcome: 'maybe' });
  t.match(badOutcome, { status: 400, body: { code: 'VALIDATION_ERROR', errMsg: /^requestPayment:fail / } });

  const q = await payCall(sb.url, 'orderquery', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: '' });
  t.match(q, { fields: { return_code: 'FAIL', return_msg: '缺少参数' }, sandboxError: 'LACK_PARAMS' });
  t.same((await sb.json('POST', '/sandbox/cashier', good)).body, { errMsg: 'requestPayment:ok' }, 'the correct params still pay');
});

t.test('cashier refuses after time_expire', async (t) => {
  let now = Date.now();
  const sb = await sandbox(t, { now: () => now });
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const { toBeijingTime } = await import('../../../server/src/wechat/time.js');
  const u = await payCall(
    sb.url,
    'unifiedorder',
    orderParams(login.openid, 'http://127.0.0.1:9/n', { time_expire: toBeijingTime(new Date(now + 10 * 60_000)) }),
  );
  now += 11 * 60_000;
  t.match(await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string)), { status: 400, body: { code: 'ORDER_EXPIRED' } });
});

t.test('the retry schedule is WeChat’s, scaled', async (t) => {
  t.same([...RETRY_SCHEDULE_S], [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600]);
  t.equal(retryDelayMs(1, 1), 15_000);
  t.equal(retryDelayMs(4, 1), 180_000);
  t.equal(retryDelayMs(15, 1), 21_600_000);
  t.equal(retryDelayMs(16, 1), undefined, 'no retry after the 16th attempt');
  t.equal(retryDelayMs(3, 0.001), 30);
  t.equal(attemptTimeoutMs(1), 5000);
  t.equal(attemptTimeoutMs(0.001), 200, 'at least 200 ms');
});

t.test('retries on a FAIL reply, a non-200 status and a timeout, at the scaled schedule', async (t) => {
  const sb = await sandbox(t, { timeScale: 0.01 });
  // 1: FAIL body, 2: HTTP 200 but not XML, 3: no answer (timeout), 4: SUCCESS
  const rx = await notifyReceiver(t, (n) => (n === 1 ? failReply : n === 2 ? 'OK' : n === 3 ? 'hang' : ok));
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const p = orderParams(login.openid, rx.url);
  const u = await payCall(sb.url, 'unifiedorder', p);
  await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
  await rx.waitFor(4);
  const at = rx.received.map((r) => r.at);
  // Lower bounds only: each retry waits at least its scheduled (scaled) delay after the previous attempt.
  t.ok(at[1]! - at[0]! >= 150 - 5, `2nd attempt ≥ 150 ms after the 1st (${at[1]! - at[0]!})`);
  t.ok(at[2]! - at[1]! >= 150 - 5, `3rd attempt ≥ 150 ms after the 2nd (${at[2]! - at[1]!})`);
  t.ok(at[3]! - at[2]! >= 200 + 300 - 5, `4th attempt ≥ timeout + 300 ms after the 3rd (${at[3]! - at[2]!})`);
  const log = await eventually(async () => {
    const r = await sb.json('GET', `/sandbox/notifications?out_trade_no=${p.out_trade_no}`);
    return r.body.attempts.length >= 4 ? r.body.attempts : undefined;
  });
  t.match(log, [
    { attempt: 1, status: 200, success: false, reply: failReply },
    { attempt: 2, status: 200, success: false, reply: 'OK' },
    { attempt: 3, status: null, success: false, error: 'timeout' },
    { attempt: 4, status: 200, success: true },
  ]);
  t.equal(new Set(rx.received.map((r) => r.fields.transaction_id)).size, 1, 'every attempt is about the same payment');
});

t.test('gives up after 16 attempts (the full schedule, scaled down)', async (t) => {
  const sb = await sandbox(t, { timeScale: 0.00005 });
  const rx = await notifyReceiver(t, () => failReply);
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const p = orderParams(login.openid, rx.url);
  const u = await payCall(sb.url, 'unifiedorder', p);
  await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
  await rx.waitFor(16);
  await sleep(21_600 * 1000 * 0.00005 + 300);
  t.equal(rx.received.length, 16);
  const { body } = await sb.json('GET', `/sandbox/notifications?out_trade_no=${p.out_trade_no}`);
  t.same(
    body.attempts.map((a: { attempt: number }) => a.attempt),
    Array.from({ length: 16 }, (_, i) => i + 1),
  );
});

t.test('closing the sandbox stops pending retries', async (t) => {
  const sb = await sandbox(t, { timeScale: 0.01 });
  const rx = await notifyReceiver(t, () => failReply);
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const u = await payCall(sb.url, 'unifiedorder', orderParams(login.openid, rx.url));
  await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
  await rx.waitFor(1);
  await sb.close();
  const seen = rx.received.length;
  await sleep(600);
  t.equal(rx.received.length, seen, 'no delivery after close');
});
