// /secapi/pay/refund and /pay/refundquery of the sandbox, driven by our own pay client over mutual TLS
// (and by raw signed XML where a field rule is checked), with the refund notifications it posts.
import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, fetch as undiciFetch } from 'undici';
import { WxPayError } from '../../../server/src/wechat/errors.js';
import { createPayClient } from '../../../server/src/wechat/pay-client.js';
import { verifyRefundNotify } from '../../../server/src/wechat/refund-notify.js';
import { parseXml, toXml } from '../../../server/src/wechat/xml.js';
import { eventually, failReply, MERCHANT, notifyReceiver, ok, OTHER, outsideSign, payCall, sandbox } from './helpers.js';
import { outRefundNo, paidTrade, refundClient, refundSandbox, type Sandbox } from './refund-helpers.js';

/** A signed refund request sent over mTLS with `mch`'s certificate (default MERCHANT's). */
async function rawRefund(sb: Sandbox, params: Record<string, string>, opts: { certOf?: string } = {}) {
  const files = sb.certs.merchants[opts.certOf ?? MERCHANT.mchId]!;
  const agent = new Agent({ connect: { cert: readFileSync(files.certPath), key: readFileSync(files.keyPath), ca: sb.certs.ca } });
  try {
    const p: Record<string, string> = { appid: MERCHANT.appid, mch_id: MERCHANT.mchId, nonce_str: randomBytes(8).toString('hex'), ...params };
    p.sign = outsideSign(p, MERCHANT.key);
    const res = await undiciFetch(`${sb.secapiUrl}/secapi/pay/refund`, { method: 'POST', body: toXml(p), dispatcher: agent });
    const text = await res.text();
    return { status: res.status, fields: parseXml(text), sandboxError: res.headers.get('x-sandbox-error') };
  } finally {
    await agent.close();
  }
}

/** A client certificate for `cn` that no CA the sandbox trusts has issued. */
function selfSigned(cn: string): { cert: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  cert.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}

async function wxError(p: Promise<unknown>): Promise<WxPayError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WxPayError) return err;
    throw err;
  }
  throw new Error('expected a WxPayError');
}

t.test('a refund over mutual TLS: PROCESSING, then SUCCESS with a real req_info notification; orderquery says REFUND', async (t) => {
  // Settles 5 s after it is taken (10 s scaled by 0.5): time enough to see it PROCESSING first.
  const { sb, client } = await refundSandbox(t, { timeScale: 0.5 });
  const rx = await notifyReceiver(t);
  const trade = await paidTrade(sb, { totalFee: 1000 });
  const no = outRefundNo();
  const r = await client.refund({ out_trade_no: trade.outTradeNo, out_refund_no: no, total_fee: 1000, refund_fee: 300, refund_desc: '商品缺货', notify_url: rx.url });
  t.match(r, { out_refund_no: no, out_trade_no: trade.outTradeNo, transaction_id: trade.transactionId, refund_fee: 300, total_fee: 1000, cash_fee: 1000, refund_id: /^503\d{26}$/ });

  const first = await client.refundQuery({ out_refund_no: no });
  t.match(first.refunds, [{ out_refund_no: no, refund_id: r.refund_id, refund_fee: 300, refund_status: 'PROCESSING' }]);

  await rx.waitFor(1);
  const n = verifyRefundNotify(rx.received[0]!.body, { appid: MERCHANT.appid, mchId: MERCHANT.mchId, key: MERCHANT.key });
  t.match(n, { out_refund_no: no, refund_id: r.refund_id, out_trade_no: trade.outTradeNo, transaction_id: trade.transactionId, total_fee: 1000, refund_fee: 300, refund_status: 'SUCCESS', refund_recv_accout: '支付用户的零钱', refund_request_source: 'API' });
  t.ok(n.succeededAt instanceof Date);
  t.notOk('sign' in rx.received[0]!.fields, 'refund notifications carry no sign');

  const after = await client.refundQuery({ out_trade_no: trade.outTradeNo });
  t.match(after, { refund_count: 1, total_fee: 1000, refunds: [{ refund_status: 'SUCCESS', refund_success_time: n.success_time, refund_account: 'REFUND_SOURCE_UNSETTLED_FUNDS' }] });
  t.match(await client.refundQuery({ refund_id: r.refund_id }), { refunds: [{ out_refund_no: no }] });
  t.match(await client.refundQuery({ transaction_id: trade.transactionId }), { refund_count: 1 });

  const q = await client.orderQuery({ out_trade_no: trade.outTradeNo });
  t.equal(q.trade_state, 'REFUND');
  t.equal(q.trade_state_desc, '订单发生过退款');
  t.equal(q.transaction_id, trade.transactionId);

  const attempts = (await sb.json('GET', `/sandbox/refund-notifications?out_refund_no=${no}`)).body.attempts;
  t.match(attempts, [{ attempt: 1, success: true, refundStatus: 'SUCCESS' }]);
});

t.test('one out_refund_no refunds once: the same request again answers the same refund; other amounts do not', async (t) => {
  const { sb, client } = await refundSandbox(t);
  const trade = await paidTrade(sb, { totalFee: 500 });
  const other = await paidTrade(sb, { totalFee: 500 });
  const no = outRefundNo();
  const req = { out_trade_no: trade.outTradeNo, out_refund_no: no, total_fee: 500, refund_fee: 200 } as const;
  const a = await client.refund(req);
  const b = await client.refund(req);
  t.equal(b.refund_id, a.refund_id);
  t.equal((await client.refund({ transaction_id: trade.transactionId, out_refund_no: no, total_fee: 500, refund_fee: 200 })).refund_id, a.refund_id, 'by transaction_id too');
  t.match(await wxError(client.refund({ ...req, refund_fee: 201 })), { code: 'REFUND_FEE_MISMATCH', retriable: false, wechatMessage: '订单金额或退款金额与之前请求不一致，请核实后再试' });
  t.match(await wxError(client.refund({ ...req, out_trade_no: other.outTradeNo })), { code: 'INVALID_REQUEST', retriable: false });
  t.equal((await sb.json('GET', `/sandbox/refunds?out_trade_no=${trade.outTradeNo}`)).body.refunds.length, 1);
});

t.test('amount rules: what is left, the trade total, a fully refunded trade', async (t) => {
  const { sb, client } = await refundSandbox(t);
  const trade = await paidTrade(sb, { totalFee: 1000 });
  const base = { out_trade_no: trade.outTradeNo, total_fee: 1000 };
  await client.refund({ ...base, out_refund_no: outRefundNo(), refund_fee: 600 });
  t.match(await wxError(client.refund({ ...base, out_refund_no: outRefundNo(), refund_fee: 401 })), { code: 'REFUND_FEE_INVALID', wechatMessage: '累计退款金额大于支付金额', retriable: false });
  t.match(await wxError(client.refund({ ...base, total_fee: 999, out_refund_no: outRefundNo(), refund_fee: 1 })), { code: 'REFUND_FEE_MISMATCH' });
  await client.refund({ ...base, out_refund_no: outRefundNo(), refund_fee: 400 });
  t.match(await wxError(client.refund({ ...base, out_refund_no: outRefundNo(), refund_fee: 1 })), { code: 'ERROR', wechatMessage: '订单已全额退款', retriable: false });
  t.match(await client.refundQuery({ out_trade_no: trade.outTradeNo }), { refund_count: 2 });

  // WeChat answers refund_fee > total_fee before any business rule, unsigned (our client refuses it before sending).
  const raw = await rawRefund(sb, { out_trade_no: trade.outTradeNo, out_refund_no: outRefundNo(), total_fee: '1000', refund_fee: '1001' });
  t.same(raw.fields, { return_code: 'FAIL', return_msg: 'invalid refund_fee' });
  t.match(await wxError(client.refund({ ...base, out_refund_no: outRefundNo(), refund_fee: 1001 })), { code: 'INVALID_ARGUMENT', field: 'refund_fee' });
  const lack = await rawRefund(sb, { out_trade_no: trade.outTradeNo, total_fee: '1000', refund_fee: '1' });
  t.same(lack.fields, { return_code: 'FAIL', return_msg: '缺少参数' });
});

t.test('unknown, unpaid and old trades', async (t) => {
  const { sb, client } = await refundSandbox(t);
  const req = { out_refund_no: outRefundNo(), total_fee: 100, refund_fee: 1 };
  t.match(await wxError(client.refund({ ...req, out_trade_no: 'NO_SUCH_TRADE' })), { code: 'ORDERNOTEXIST', retriable: false });
  t.match(await wxError(client.refund({ ...req, transaction_id: '4200000000202401010000000000' })), { code: 'INVALID_TRANSACTIONID', retriable: false });
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  const unpaid = `U${Date.now()}`;
  const order = await payCall(sb.url, 'unifiedorder', {
    appid: MERCHANT.appid, mch_id: MERCHANT.mchId, body: 'b', out_trade_no: unpaid, total_fee: '100', spbill_create_ip: '127.0.0.1', notify_url: 'http://127.0.0.1:9/n', trade_type: 'JSAPI', openid: login.openid,
  });
  t.equal(order.fields.result_code, 'SUCCESS');
  t.match(await wxError(client.refund({ ...req, out_trade_no: unpaid })), { code: 'ORDERNOTEXIST' });
  t.match(await wxError(client.refundQuery({ out_trade_no: unpaid })), { code: 'REFUNDNOTEXIST', retriable: false });
  t.match(await wxError(client.refundQuery({ out_refund_no: 'NOPE' })), { code: 'REFUNDNOTEXIST' });

  // A trade paid more than a year ago (the sandbox clock moved on).
  let now = Date.now();
  const old = await sandbox(t, { now: () => now });
  const oldClient = refundClient(t, old);
  const trade = await paidTrade(old, { totalFee: 100 });
  now += 366 * 24 * 3600 * 1000;
  t.match(await wxError(oldClient.refund({ ...req, out_trade_no: trade.outTradeNo })), { code: 'TRADE_OVERDUE', retriable: false });
});

t.test('at most 50 refunds per trade: the 51st is INVALID_REQ_TOO_MUCH', async (t) => {
  const { sb, client } = await refundSandbox(t);
  const trade = await paidTrade(sb, { totalFee: 100 });
  for (let i = 0; i < 50; i++) await client.refund({ out_trade_no: trade.outTradeNo, out_refund_no: outRefundNo(`N${i}-`), total_fee: 100, refund_fee: 1 });
  t.match(await wxError(client.refund({ out_trade_no: trade.outTradeNo, out_refund_no: outRefundNo(), total_fee: 100, refund_fee: 1 })), { code: 'INVALID_REQ_TOO_MUCH', retriable: false });
  const page1 = await client.refundQuery({ out_trade_no: trade.outTradeNo });
  t.match(page1, { refund_count: 10, total_refund_count: 50 });
  const page5 = await client.refundQuery({ out_trade_no: trade.outTradeNo, offset: 40 });
  t.equal(page5.refunds.length, 10);
  t.equal(page5.refunds[0]?.out_refund_no.startsWith('N40-'), true);
  t.match(await wxError(client.refundQuery({ out_trade_no: trade.outTradeNo, offset: 50 })), { code: 'PARAM_ERROR' });
});

t.test('the merchant certificate: the TLS handshake refuses a client without one; another merchant\'s is CERT_ERROR', async (t) => {
  const { sb } = await refundSandbox(t);
  const trade = await paidTrade(sb, { totalFee: 100 });
  const params = { out_trade_no: trade.outTradeNo, out_refund_no: outRefundNo(), total_fee: '100', refund_fee: '1' };

  // No client certificate: no HTTP answer at all.
  const bare = new Agent({ connect: { ca: sb.certs.ca } });
  t.teardown(() => bare.close());
  await t.rejects(undiciFetch(`${sb.secapiUrl}/secapi/pay/refund`, { method: 'POST', body: toXml({ a: '1' }), dispatcher: bare }), TypeError);
  // A certificate the sandbox CA did not issue: refused the same way.
  const foreign = createPayClient({ appid: MERCHANT.appid, mchId: MERCHANT.mchId, key: MERCHANT.key, signType: 'MD5', baseUrl: sb.url, secapiBaseUrl: sb.secapiUrl, ca: sb.certs.ca, retries: 0,
    cert: selfSigned(MERCHANT.mchId) });
  t.teardown(() => foreign.close());
  t.match(await wxError(foreign.refund({ out_trade_no: trade.outTradeNo, out_refund_no: outRefundNo(), total_fee: 100, refund_fee: 1 })), { code: 'NETWORK', retry: 'soon' });

  const wrong = await rawRefund(sb, params, { certOf: OTHER.mchId });
  t.match(wrong.fields, { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'CERT_ERROR' });
  const right = await rawRefund(sb, params);
  t.match(right.fields, { return_code: 'SUCCESS', result_code: 'SUCCESS', refund_fee: '1' });

  // The plain listener has no TLS: it closes /secapi/ connections unanswered.
  const closed = await new Promise<string>((resolve) => {
    const req = httpRequest(`${sb.url}/secapi/pay/refund`, { method: 'POST' }, (res) => resolve(`answered ${res.statusCode}`));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(toXml({ a: '1' }));
  });
  t.equal(closed, 'ECONNRESET');

  // Our client without a certificate fails before anything is sent.
  const noCert = createPayClient({ appid: MERCHANT.appid, mchId: MERCHANT.mchId, key: MERCHANT.key, signType: 'MD5', baseUrl: sb.url });
  t.match(await wxError(noCert.refund({ out_trade_no: trade.outTradeNo, out_refund_no: outRefundNo(), total_fee: 100, refund_fee: 1 })), { code: 'NO_MERCHANT_CERT', retriable: false });
});

t.test('faults: NOTENOUGH for a while (wait), SYSTEMERROR retried with the same out_refund_no, CHANGE', async (t) => {
  const { sb } = await refundSandbox(t, { timeScale: 0.001 });
  const retries: string[] = [];
  const client = refundClient(t, sb, { onRetry: (i) => retries.push(i.error.code) });
  const trade = await paidTrade(sb, { totalFee: 1000 });
  const base = { out_trade_no: trade.outTradeNo, total_fee: 1000 };

  await sb.json('POST', '/sandbox/faults', { refund: { action: 'NOTENOUGH', count: 2 } });
  const no = outRefundNo();
  for (let i = 0; i < 2; i++) {
    t.match(await wxError(client.refund({ ...base, out_refund_no: no, refund_fee: 100 })), { code: 'NOTENOUGH', retry: 'wait', retriable: true });
  }
  t.same(retries, [], 'NOTENOUGH is not retried in the call: it takes hours');
  t.equal((await client.refund({ ...base, out_refund_no: no, refund_fee: 100 })).refund_fee, 100, 'the same out_refund_no works once funds are back');

  await sb.json('POST', '/sandbox/faults', { refund: { action: 'NOTENOUGH', sticky: true } });
  for (let i = 0; i < 3; i++) t.match(await wxError(client.refund({ ...base, out_refund_no: outRefundNo(), refund_fee: 1 })), { code: 'NOTENOUGH' });
  t.match((await sb.json('DELETE', '/sandbox/faults')).body, { armed: { notify: [] } });

  // The answer is lost but the refund was taken: the client's retry gets the same refund.
  await sb.json('POST', '/sandbox/faults', { refund: { action: 'SYSTEMERROR', applied: true } });
  const lost = outRefundNo();
  const r = await client.refund({ ...base, out_refund_no: lost, refund_fee: 100 });
  t.same(retries, ['SYSTEMERROR']);
  t.equal((await sb.json('GET', `/sandbox/refunds?out_trade_no=${trade.outTradeNo}`)).body.refunds.filter((x: { outRefundNo: string }) => x.outRefundNo === lost).length, 1, 'refunded once');
  t.match(r, { out_refund_no: lost, refund_fee: 100 });

  await sb.json('POST', '/sandbox/faults', { refund: { action: 'SYSTEMERROR', count: 5 } });
  t.match(await wxError(client.refund({ ...base, out_refund_no: outRefundNo(), refund_fee: 1 })), { code: 'SYSTEMERROR', retry: 'soon', retriable: true });
  await sb.json('DELETE', '/sandbox/faults');

  await sb.json('POST', '/sandbox/faults', { refund: { action: 'CHANGE' } });
  const changed = outRefundNo();
  await client.refund({ ...base, out_refund_no: changed, refund_fee: 100 });
  const end = await eventually(async () => {
    const q = await client.refundQuery({ out_refund_no: changed });
    return q.refunds[0]?.refund_status !== 'PROCESSING' ? q.refunds[0] : undefined;
  });
  t.equal(end.refund_status, 'CHANGE');
  t.equal(end.refund_success_time, undefined);
});

t.test('refund notifications: retry schedule, merchant default URL, drop / duplicate / corrupt', async (t) => {
  const good = { appid: MERCHANT.appid, mchId: MERCHANT.mchId, key: MERCHANT.key };
  const rx = await notifyReceiver(t, (n) => (n <= 2 ? failReply : ok));
  const sb = await sandbox(t, { timeScale: 0.001, merchants: [{ ...MERCHANT, refundNotifyUrl: rx.url }, OTHER] });
  const client = refundClient(t, sb);
  const trade = await paidTrade(sb, { totalFee: 1000 });
  const base = { out_trade_no: trade.outTradeNo, total_fee: 1000 };

  const first = outRefundNo();
  await client.refund({ ...base, out_refund_no: first, refund_fee: 10 });
  await rx.waitFor(3);
  const log = await eventually(async () => {
    const a = (await sb.json('GET', `/sandbox/refund-notifications?out_refund_no=${first}`)).body.attempts;
    return a.length === 3 ? a : undefined;
  });
  t.same(log.map((a: { attempt: number; success: boolean }) => [a.attempt, a.success]), [[1, false], [2, false], [3, true]]);
  t.equal(rx.received[0]!.fields.req_info, rx.received[2]!.fields.req_info, 'the merchant platform URL gets them when the request names none');

  await sb.json('POST', '/sandbox/faults', { refundNotify: [{ action: 'drop' }] });
  const dropped = outRefundNo();
  await client.refund({ ...base, out_refund_no: dropped, refund_fee: 10 });
  const dlog = await eventually(async () => {
    const a = (await sb.json('GET', `/sandbox/refund-notifications?out_refund_no=${dropped}`)).body.attempts;
    return a.length ? a : undefined;
  });
  t.match(dlog, [{ dropped: true, attempt: 0 }]);

  const before = rx.received.length;
  await sb.json('POST', '/sandbox/faults', { refundNotify: { action: 'duplicate', copies: 3 } });
  const dup = outRefundNo();
  await client.refund({ ...base, out_refund_no: dup, refund_fee: 10 });
  await rx.waitFor(before + 3);
  const dups = rx.received.slice(before).map((r) => verifyRefundNotify(r.body, good).out_refund_no);
  t.same(dups, [dup, dup, dup]);

  await sb.json('POST', '/sandbox/faults', { refundNotify: { action: 'corrupt' } });
  const bad = outRefundNo();
  const seen = rx.received.length;
  await client.refund({ ...base, out_refund_no: bad, refund_fee: 10 });
  await rx.waitFor(seen + 1);
  t.throws(() => verifyRefundNotify(rx.received[seen]!.body, good), { code: 'BAD_REQ_INFO' }, 'a forged req_info does not decrypt with our key');
});

t.test('unknown paths answer as WeChat\'s pay host does: a bare HTML 404', async (t) => {
  const { sb } = await refundSandbox(t);
  for (const base of [sb.url]) {
    const res = await fetch(`${base}/pay/nosuchapi`, { method: 'POST', body: '<xml/>' });
    t.equal(res.status, 404);
    t.match(res.headers.get('content-type'), /text\/html/);
    t.match(await res.text(), /404 Not Found/);
  }
  const mine = await fetch(`${sb.url}/sandbox/nope`);
  t.equal(mine.status, 404);
  t.match(await mine.json(), { code: 'NOT_FOUND' });
});
