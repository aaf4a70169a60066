// The shared transport under refund / downloadbill, against a scripted WeChat on loopback: what is
// retried (and with which bytes), what is not, and what an answer must be to be believed.
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WxPayError } from '../../../server/src/wechat/errors.js';
import { createPayClient } from '../../../server/src/wechat/pay-client.js';
import { sign, type SignType } from '../../../server/src/wechat/sign.js';
import { createTransport } from '../../../server/src/wechat/transport.js';
import { parseXml, toXml } from '../../../server/src/wechat/xml.js';

const MERCHANT = { appid: 'wxd930ea5d5a258f4f', mchId: '10000100', key: '192006250b4c09247ec02edce69f6a2d' };

type Step = (req: { body: string; fields: Record<string, string>; path: string }, res: ServerResponse) => void;

async function scripted(t: Test, steps: Step[]) {
  const seen: { body: string; fields: Record<string, string>; path: string }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r = { body, fields: parseXml(body), path: req.url ?? '' };
      seen.push(r);
      (steps[seen.length - 1] ?? steps[steps.length - 1]!)(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function signed(fields: Record<string, string>, signType: SignType = 'MD5', key = MERCHANT.key): string {
  const out = { return_code: 'SUCCESS', return_msg: 'OK', appid: MERCHANT.appid, mch_id: MERCHANT.mchId, nonce_str: 'n0nce', ...fields };
  return toXml({ ...out, sign: sign(out, key, signType) });
}

const refundOk = (req: { fields: Record<string, string> }, signType: SignType = 'MD5') =>
  signed(
    {
      result_code: 'SUCCESS',
      out_trade_no: req.fields.out_trade_no ?? 'T1',
      transaction_id: '4200000000000000000000000001',
      out_refund_no: req.fields.out_refund_no ?? '',
      refund_id: '50300000000000000000000000001',
      refund_fee: req.fields.refund_fee ?? '',
      total_fee: req.fields.total_fee ?? '',
      cash_fee: req.fields.total_fee ?? '',
    },
    signType,
  );
const fail = (code: string, des = '') => signed({ result_code: 'FAIL', err_code: code, err_code_des: des });
const REQ = { out_trade_no: 'T1', out_refund_no: 'R1', total_fee: 100, refund_fee: 10 } as const;

// A plain-http base stands for the TLS listener here: the dispatcher's certificate is only used for TLS.
function client(base: string, extra: Record<string, unknown> = {}) {
  const retries: string[] = [];
  const c = createPayClient({ ...MERCHANT, signType: 'MD5', baseUrl: base, cert: { cert: 'unused', key: 'unused' }, retryDelayMs: 1, onRetry: (i) => retries.push(i.error.code), ...extra });
  return { c, retries };
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

t.test('a refund whose connection fails is sent again byte for byte (same out_refund_no, same nonce)', async (t) => {
  const w = await scripted(t, [(_r, res) => res.socket?.destroy(), (r, res) => res.end(refundOk(r))]);
  const { c, retries } = client(w.base);
  t.teardown(() => c.close());
  const r = await c.refund(REQ);
  t.equal(r.refund_id, '50300000000000000000000000001');
  t.same(retries, ['NETWORK']);
  t.equal(w.seen.length, 2);
  t.equal(w.seen[1]!.body, w.seen[0]!.body);
  t.equal(w.seen[0]!.path, '/secapi/pay/refund');
});

t.test('refund err_codes: BIZERR_NEED_RETRY retried now; FREQUENCY_LIMITED later; NOTENOUGH wait; the rest final', async (t) => {
  const w = await scripted(t, [(_r, res) => res.end(fail('BIZERR_NEED_RETRY', '退款业务流程错误')), (r, res) => res.end(refundOk(r))]);
  const { c, retries } = client(w.base);
  t.teardown(() => c.close());
  await c.refund(REQ);
  t.same(retries, ['BIZERR_NEED_RETRY']);

  const table: [string, string | undefined][] = [
    ['FREQUENCY_LIMITED', 'later'],
    ['ORDER_NOT_READY', 'later'],
    ['NOTENOUGH', 'wait'],
    ['USER_ACCOUNT_ABNORMAL', undefined],
    ['TRADE_OVERDUE', undefined],
    ['INVALID_REQ_TOO_MUCH', undefined],
    ['ERROR', undefined],
    ['PARAM_ERROR', undefined],
    ['INVALID_TRANSACTIONID', undefined],
    ['REFUND_FEE_INVALID', undefined],
    ['REFUND_FEE_MISMATCH', undefined],
    ['CERT_ERROR', undefined],
  ];
  for (const [code, retry] of table) {
    const s = await scripted(t, [(_r, res) => res.end(fail(code, `说明 ${code}`))]);
    const x = client(s.base);
    const e = await wxError(x.c.refund(REQ));
    await x.c.close();
    t.match(e, { code, retry, retriable: retry !== undefined, wechatMessage: `说明 ${code}`, api: 'refund' }, code);
    t.equal(s.seen.length, 1, `${code}: not retried in the call`);
  }
});

t.test('an answer is believed only when signed with our key, for our merchant, and about our refund', async (t) => {
  const cases: [string, Step][] = [
    ['BAD_RESPONSE_SIGN', (r, res) => res.end(refundOk(r).replace(/<sign><!\[CDATA\[[0-9A-F]+/, '<sign><![CDATA[00000000000000000000000000000000'))],
    ['BAD_RESPONSE', (r, res) => res.end(refundOk({ fields: { ...r.fields, out_refund_no: 'R2' } }))],
    ['BAD_RESPONSE', (r, res) => res.end(refundOk({ fields: { ...r.fields, refund_fee: '11' } }))],
    ['BAD_RESPONSE', (_r, res) => res.end(signed({ result_code: 'SUCCESS', out_refund_no: 'R1' }))],
  ];
  for (const [code, step] of cases) {
    const s = await scripted(t, [step]);
    const x = client(s.base);
    t.match(await wxError(x.c.refund(REQ)), { code, retriable: false });
    await x.c.close();
  }
});

t.test('the refund is signed with the sign type asked for, and its answer checked with it', async (t) => {
  const w = await scripted(t, [(r, res) => res.end(refundOk(r, 'HMAC-SHA256'))]);
  const { c } = client(w.base);
  t.teardown(() => c.close());
  await c.refund({ ...REQ, sign_type: 'HMAC-SHA256' });
  t.equal(w.seen[0]!.fields.sign_type, 'HMAC-SHA256');
  t.equal(w.seen[0]!.fields.sign, sign(w.seen[0]!.fields, MERCHANT.key, 'HMAC-SHA256'));
});

t.test('downloadbill: a "system error" refusal is retried; a bill larger than the limit is final', async (t) => {
  const bill = '交易时间,商户订单号\r\n`2024-03-01 10:00:00,`T1\r\n总交易单数\r\n`1\r\n';
  const w = await scripted(t, [
    (_r, res) => res.end('<xml><return_code><![CDATA[FAIL]]></return_code>\n<return_msg><![CDATA[system error]]></return_msg>\n</xml>'),
    (_r, res) => res.end(bill),
  ]);
  const { c, retries } = client(w.base);
  t.teardown(() => c.close());
  t.same(await c.downloadBill({ bill_date: '20240301' }), { exists: true, bill_date: '20240301', bill_type: 'ALL', text: bill, compressed: false });
  t.same(retries, ['SYSTEMERROR']);
  t.equal(w.seen[1]!.body, w.seen[0]!.body);

  const big = await scripted(t, [(_r, res) => res.end('x'.repeat(2048))]);
  const tr = createTransport({ ...MERCHANT, signType: 'MD5', baseUrl: big.base, retryDelayMs: 1 });
  t.match(await wxError(tr.download({ name: 'downloadbill', path: '/pay/downloadbill' }, { bill_date: '20240301' }, { maxBytes: 1024 })), { code: 'BAD_RESPONSE', retriable: false });
  t.equal(big.seen.length, 1);
});

t.test('createTransport refuses a half-configured merchant', async (t) => {
  t.throws(() => createTransport({ ...MERCHANT, key: '', signType: 'MD5', baseUrl: 'http://x' }), TypeError);
  t.throws(() => createTransport({ ...MERCHANT, signType: 'SHA1' as SignType, baseUrl: 'http://x' }), TypeError);
  t.throws(() => createTransport({ ...MERCHANT, signType: 'MD5', baseUrl: 'http://x', cert: { cert: 1 as unknown as string, key: '' } }), TypeError);
});
