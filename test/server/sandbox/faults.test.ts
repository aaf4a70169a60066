// Fault knobs: drop, duplicate, delay, corrupt notifications; SYSTEMERROR and hang on the pay API.
import t from 'tap';
import {
  MERCHANT,
  eventually,
  notifyReceiver,
  orderParams,
  payCall,
  payParams,
  sandbox,
  signatureOk,
  sleep,
} from './helpers.js';

async function paidOrder(sb: Awaited<ReturnType<typeof sandbox>>, notifyUrl: string) {
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const p = orderParams(login.openid, notifyUrl);
  const u = await payCall(sb.url, 'unifiedorder', p);
  const paid = await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
  if (paid.body.errMsg !== 'requestPayment:ok') throw new Error(`payment failed: ${JSON.stringify(paid.body)}`);
  return p.out_trade_no as string;
}

const attemptsOf = async (sb: Awaited<ReturnType<typeof sandbox>>, outTradeNo: string) =>
  (await sb.json('GET', `/sandbox/notifications?out_trade_no=${outTradeNo}`)).body.attempts as Array<Record<string, unknown>>;

t.test('drop: the next notification is never sent; the one after is', async (t) => {
  const sb = await sandbox(t);
  const rx = await notifyReceiver(t);
  const armed = await sb.json('POST', '/sandbox/faults', { notify: { action: 'drop' } });
  t.match(armed, { status: 200, body: { armed: { notify: [{ action: 'drop', count: 1 }] } } });
  const first = await paidOrder(sb, rx.url);
  const second = await paidOrder(sb, rx.url);
  await rx.waitFor(1);
  await sleep(150);
  t.same(
    rx.received.map((r) => r.fields.out_trade_no),
    [second],
  );
  t.match(await attemptsOf(sb, first), [{ attempt: 0, dropped: true, success: false }]);
  // The order is still paid at WeChat: orderquery is how a merchant finds out.
  const q = await payCall(sb.url, 'orderquery', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: first });
  t.equal(q.fields.trade_state, 'SUCCESS');
});

t.test('drop aimed at one out_trade_no leaves others alone', async (t) => {
  const sb = await sandbox(t);
  const rx = await notifyReceiver(t);
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const target = orderParams(login.openid, rx.url);
  await sb.json('POST', '/sandbox/faults', { notify: { action: 'drop', outTradeNo: target.out_trade_no } });
  const other = await paidOrder(sb, rx.url);
  const u = await payCall(sb.url, 'unifiedorder', target);
  await sb.json('POST', '/sandbox/cashier', payParams(u.fields.prepay_id as string));
  await rx.waitFor(1);
  await sleep(150);
  t.same(rx.received.map((r) => r.fields.out_trade_no), [other]);
});

t.test('duplicate: the same notification arrives several times at once', async (t) => {
  const sb = await sandbox(t);
  const rx = await notifyReceiver(t);
  await sb.json('POST', '/sandbox/faults', { notify: { action: 'duplicate', copies: 5 } });
  const no = await paidOrder(sb, rx.url);
  await rx.waitFor(5);
  await sleep(100);
  t.equal(rx.received.length, 5);
  t.equal(new Set(rx.received.map((r) => r.fields.transaction_id)).size, 1);
  t.ok(rx.received.every((r) => signatureOk(r.fields, MERCHANT.key)));
  const log = await attemptsOf(sb, no);
  t.same(log.map((a) => a.copy).sort(), [1, 2, 3, 4, 5]);
});

t.test('delay: the first attempt waits delayMs', async (t) => {
  const sb = await sandbox(t);
  const rx = await notifyReceiver(t);
  await sb.json('POST', '/sandbox/faults', { notify: { action: 'delay', delayMs: 300 } });
  const paidAt = Date.now();
  await paidOrder(sb, rx.url);
  await rx.waitFor(1);
  t.ok(rx.received[0]!.at - paidAt >= 290, 'arrived after the delay');
});

t.test('corrupt: a bad sign; the receiver refuses it and WeChat keeps retrying', async (t) => {
  const sb = await sandbox(t);
  const rx = await notifyReceiver(t, (_n, r) =>
    signatureOk(r.fields, MERCHANT.key)
      ? '<xml><return_code>SUCCESS</return_code></xml>'
      : '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[bad sign]]></return_msg></xml>',
  );
  await sb.json('POST', '/sandbox/faults', { notify: { action: 'corrupt' } });
  const no = await paidOrder(sb, rx.url);
  await rx.waitFor(2);
  t.notOk(signatureOk(rx.received[0]!.fields, MERCHANT.key), 'signature does not verify');
  t.equal(rx.received[0]!.fields.out_trade_no, no, 'otherwise a well-formed notify');
  const log = await eventually(async () => {
    const a = await attemptsOf(sb, no);
    return a.length >= 2 ? a : undefined;
  });
  t.match(log[0], { corrupted: true, success: false });
});

t.test('payApi SYSTEMERROR n times, then normal service', async (t) => {
  const sb = await sandbox(t);
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  await sb.json('POST', '/sandbox/faults', { payApi: { action: 'SYSTEMERROR', count: 2, api: 'unifiedorder' } });
  const p = orderParams(login.openid, 'http://127.0.0.1:9/n');
  const q0 = await payCall(sb.url, 'orderquery', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: p.out_trade_no });
  t.equal(q0.fields.err_code, 'ORDERNOTEXIST', 'a fault aimed at unifiedorder leaves orderquery alone');
  const badSign = await payCall(sb.url, 'unifiedorder', p, { key: 'z'.repeat(32) });
  t.equal(badSign.sandboxError, 'SIGNERROR', 'a request failing its sign check does not use up the fault');
  for (let i = 0; i < 2; i++) {
    const r = await payCall(sb.url, 'unifiedorder', p);
    t.match(r.fields, { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'SYSTEMERROR' });
    t.ok(signatureOk(r.fields, MERCHANT.key));
  }
  const r = await payCall(sb.url, 'unifiedorder', p);
  t.equal(r.fields.result_code, 'SUCCESS', 'a retry with the same out_trade_no succeeds');
});

t.test('payApi hang: no answer until the caller gives up; then normal service', async (t) => {
  const sb = await sandbox(t);
  await sb.json('POST', '/sandbox/faults', { payApi: { action: 'hang' } });
  const { toXml } = await import('../../../server/src/wechat/xml.js');
  const body = toXml({ appid: MERCHANT.appid, mch_id: MERCHANT.mchId, nonce_str: 'x', out_trade_no: 'nope', sign: 'X' });
  const hung = await fetch(`${sb.url}/pay/orderquery`, { method: 'POST', body, signal: AbortSignal.timeout(300) }).then(
    () => 'answered',
    (e: Error) => e.name,
  );
  t.equal(hung, 'TimeoutError');
  const { payCall: call } = await import('./helpers.js');
  const r = await call(sb.url, 'orderquery', { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, out_trade_no: 'nope' });
  t.equal(r.fields.err_code, 'ORDERNOTEXIST');
});

t.test('a hanging request does not keep close() waiting', async (t) => {
  const sb = await sandbox(t);
  await sb.json('POST', '/sandbox/faults', { payApi: { action: 'hang', api: 'closeorder' } });
  const pending = fetch(`${sb.url}/pay/closeorder`, { method: 'POST', body: '<xml></xml>' }).then(
    () => 'answered',
    () => 'connection closed',
  );
  await sleep(50);
  await sb.close();
  t.equal(await pending, 'connection closed');
});

t.test('faults: validation, listing and DELETE reset', async (t) => {
  const sb = await sandbox(t);
  const bad = await sb.json('POST', '/sandbox/faults', { notify: { action: 'explode' } });
  t.match(bad, { status: 400, body: { code: 'VALIDATION_ERROR' } });
  const extra = await sb.json('POST', '/sandbox/faults', { payApi: { action: 'hang', count: 0 } });
  t.equal(extra.status, 400);
  await sb.json('POST', '/sandbox/faults', {
    notify: [{ action: 'drop', count: 3 }, { action: 'corrupt' }],
    payApi: { action: 'SYSTEMERROR' },
    login: { errcode: 45011 },
  });
  const reset = await sb.json('DELETE', '/sandbox/faults');
  t.same(reset.body, { armed: { notify: [], payApi: [], login: [], subscribe: [], closeorder: { minAgeSeconds: 300 } } });
  const rx = await notifyReceiver(t);
  await paidOrder(sb, rx.url);
  await rx.waitFor(1);
  t.ok(signatureOk(rx.received[0]!.fields, MERCHANT.key), 'after reset notifications are normal');
});
