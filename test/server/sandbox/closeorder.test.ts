// closeorder's 5-minute rule: WeChat documents 订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟.
// The sandbox refuses a close on a trade younger than that (since the unifiedorder that created it) with
// a signed SYSTEMERROR, and leaves the trade open. The clock is the sandbox's `now`, moved by the test.
import t, { type Test } from 'tap';
import { buildSandbox } from '../../../server/src/sandbox/app.js';
import { MERCHANT, orderParams, payCall, payParams, sandbox, signatureOk } from './helpers.js';

const NOTIFY = 'http://127.0.0.1:9/wxpay/notify';
const MIN = 60_000;
const base = { appid: MERCHANT.appid, mch_id: MERCHANT.mchId };

async function clocked(t: Test, opts: Parameters<typeof sandbox>[1] = {}) {
  const clock = { now: Date.now() };
  const sb = await sandbox(t, { now: () => clock.now, ...opts });
  const { body: login } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid });
  /** a new NOTPAY trade created now; returns its unifiedorder params */
  const order = async (extra: Record<string, string> = {}) => {
    const p = orderParams(login.openid as string, NOTIFY, extra);
    const u = await payCall(sb.url, 'unifiedorder', p);
    t.equal(u.fields.result_code, 'SUCCESS', 'unifiedorder created the trade');
    return { p, no: p.out_trade_no as string, prepayId: u.fields.prepay_id as string };
  };
  const close = (no: string) => payCall(sb.url, 'closeorder', { ...base, out_trade_no: no });
  const state = async (no: string) => (await payCall(sb.url, 'orderquery', { ...base, out_trade_no: no })).fields.trade_state;
  return { sb, clock, order, close, state };
}

t.test('by default: refused within 5 minutes of unifiedorder, with a signed SYSTEMERROR; the trade stays open', async (t) => {
  const { clock, order, close, state } = await clocked(t);
  const { no } = await order();
  const early = await close(no);
  t.equal(early.status, 200);
  t.same(
    Object.keys(early.fields).sort(),
    ['appid', 'err_code', 'err_code_des', 'mch_id', 'nonce_str', 'result_code', 'return_code', 'return_msg', 'sign'],
    'the shape of a business failure',
  );
  t.match(early.fields, { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'SYSTEMERROR', err_code_des: 'system error' });
  t.ok(signatureOk(early.fields, MERCHANT.key), 'signed with the merchant key');
  t.equal(early.sandboxError, 'CLOSEORDER_TOO_EARLY', 'the sandbox says which rule answered (WeChat does not)');
  t.equal(await state(no), 'NOTPAY', 'not closed');

  clock.now += 5 * MIN - 1;
  t.match((await close(no)).fields, { result_code: 'FAIL', err_code: 'SYSTEMERROR' }, 'a millisecond short of 5 minutes');
  t.equal(await state(no), 'NOTPAY');

  clock.now += 1;
  const ok = await close(no);
  t.match(ok.fields, { return_code: 'SUCCESS', result_code: 'SUCCESS' }, 'at 5 minutes it closes');
  t.equal(ok.sandboxError, null);
  t.equal(await state(no), 'CLOSED');
});

t.test('a refused close changes nothing: the buyer can still pay, and then it is ORDERPAID', async (t) => {
  const { sb, clock, order, close, state } = await clocked(t);
  const { no, prepayId } = await order();
  t.match((await close(no)).fields, { err_code: 'SYSTEMERROR' });
  clock.now += MIN;
  t.same((await sb.json('POST', '/sandbox/cashier', payParams(prepayId))).body, { errMsg: 'requestPayment:ok' });
  t.equal(await state(no), 'SUCCESS');
  t.match((await close(no)).fields, { err_code: 'ORDERPAID', err_code_des: 'order paid' }, 'paid wins over the age rule');
});

t.test('the 5 minutes run from the first unifiedorder: repeating it does not restart them', async (t) => {
  const { sb, clock, order, close, state } = await clocked(t);
  const { p, no, prepayId } = await order();
  clock.now += 4 * MIN;
  const again = await payCall(sb.url, 'unifiedorder', p);
  t.match(again.fields, { result_code: 'SUCCESS', prepay_id: prepayId }, 'the same trade');
  clock.now += MIN - 1;
  t.match((await close(no)).fields, { err_code: 'SYSTEMERROR' });
  clock.now += 1;
  t.match((await close(no)).fields, { result_code: 'SUCCESS' }, '5 minutes after the first');
  t.equal(await state(no), 'CLOSED');
});

t.test('unknown order: ORDERNOTEXIST, whatever the rule', async (t) => {
  const { close } = await clocked(t);
  t.match((await close('NO_SUCH_ORDER_123')).fields, { result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
});

t.test('the knob: POST /sandbox/faults {"closeorder":{"minAgeSeconds":0}} turns it off until DELETE', async (t) => {
  const { sb, clock, order, close, state } = await clocked(t);
  const armed = await sb.json('POST', '/sandbox/faults', { closeorder: { minAgeSeconds: 0 } });
  t.match(armed, { status: 200, body: { armed: { closeorder: { minAgeSeconds: 0 } } } });
  const a = await order();
  t.match((await close(a.no)).fields, { result_code: 'SUCCESS' }, 'closes at once');
  t.equal(await state(a.no), 'CLOSED');

  // other faults come and go without touching it
  await sb.json('POST', '/sandbox/faults', { notify: { action: 'drop' } });
  const b = await order();
  t.match((await close(b.no)).fields, { result_code: 'SUCCESS' });

  // any age: 60 s
  await sb.json('POST', '/sandbox/faults', { closeorder: { minAgeSeconds: 60 } });
  const c = await order();
  clock.now += 59_999;
  t.match((await close(c.no)).fields, { err_code: 'SYSTEMERROR' });
  clock.now += 1;
  t.match((await close(c.no)).fields, { result_code: 'SUCCESS' });

  const reset = await sb.json('DELETE', '/sandbox/faults');
  t.match(reset.body, { armed: { notify: [], closeorder: { minAgeSeconds: 300 } } }, 'DELETE puts WeChat\'s 5 minutes back');
  const d = await order();
  t.match((await close(d.no)).fields, { err_code: 'SYSTEMERROR' });
});

t.test('the start option closeorderMinAgeSeconds: 0 is off from the start, and DELETE keeps it off', async (t) => {
  const { sb, order, close } = await clocked(t, { closeorderMinAgeSeconds: 0 });
  t.match((await sb.json('DELETE', '/sandbox/faults')).body, { armed: { closeorder: { minAgeSeconds: 0 } } });
  const a = await order();
  t.match((await close(a.no)).fields, { result_code: 'SUCCESS' });
  await sb.json('POST', '/sandbox/faults', { closeorder: { minAgeSeconds: 300 } });
  const b = await order();
  t.match((await close(b.no)).fields, { err_code: 'SYSTEMERROR' }, 'and a test can turn it on');
});

t.test('bad settings are refused', async (t) => {
  const { sb } = await clocked(t);
  // (the control API validates as Fastify does by default: "60" is coerced to 60, unknown keys are dropped)
  for (const bad of [{ minAgeSeconds: -1 }, { minAgeSeconds: 1.5 }, { minAgeSeconds: 'soon' }, {}, { minAgeSecond: 0 }]) {
    t.match(await sb.json('POST', '/sandbox/faults', { closeorder: bad }), { status: 400, body: { code: 'VALIDATION_ERROR' } }, JSON.stringify(bad));
  }
  t.match((await sb.json('DELETE', '/sandbox/faults')).body, { armed: { closeorder: { minAgeSeconds: 300 } } }, 'unchanged');
  for (const bad of [-1, 0.5, Number.NaN]) {
    await t.rejects(buildSandbox({ merchants: [MERCHANT], closeorderMinAgeSeconds: bad }), { message: /closeorderMinAgeSeconds/ }, String(bad));
  }
});
