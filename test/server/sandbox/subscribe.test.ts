// The sandbox's subscribe/send as WeChat answers it, driven by our own mp-client (and by plain fetch
// where a client would never send such a thing): tokens, one-time subscriptions, the data rules,
// the fault knob, and the record of what it received.
import t from 'tap';
import { SANDBOX_PAID_TEMPLATE_ID } from '../../../miniprogram/config.js';
import { SANDBOX_PAID_TEMPLATE } from '../../../server/src/sandbox/subscribe.js';
import { createMpClient, WxSubscribeError, type SubscribeMessage } from '../../../server/src/wechat/mp-client.js';
import { MERCHANT, OTHER, sandbox } from './helpers.js';

type Sb = Awaited<ReturnType<typeof sandbox>>;

async function setup(t: Parameters<typeof sandbox>[0], now?: () => number) {
  const sb = await sandbox(t, now ? { now } : {});
  const mp = createMpClient({ appid: MERCHANT.appid, secret: MERCHANT.secret, baseUrl: sb.url, timeoutMs: 2_000 });
  const { body } = await sb.json('POST', '/sandbox/login-codes', { appid: MERCHANT.appid, openid: `o_sub_${process.pid}` });
  return { sb, mp, openid: body.openid as string };
}

const paidMessage = (touser: string, extra: Partial<SubscribeMessage> = {}): SubscribeMessage => ({
  touser,
  template_id: SANDBOX_PAID_TEMPLATE.id,
  page: 'pages/order-detail/index?id=665f1c2e9b1e8a3f4c2d1a00',
  miniprogram_state: 'developer',
  lang: 'zh_CN',
  data: {
    character_string1: { value: '20240501123000123456' },
    amount2: { value: '¥12.34' },
    thing3: { value: '绿茶 × 2' },
    time4: { value: '2024年5月1日 12:30' },
  },
  ...extra,
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'sent';
  } catch (e) {
    if (e instanceof WxSubscribeError) return `${e.code}:${e.errcode ?? ''}`;
    throw e;
  }
}

const messages = async (sb: Sb, q = '') => (await sb.json('GET', `/sandbox/subscribe-messages${q}`)).body.messages as Array<Record<string, unknown>>;
const grant = (sb: Sb, openid: string, extra: object = {}) =>
  sb.json('POST', '/sandbox/subscriptions', { appid: MERCHANT.appid, openid, template_id: SANDBOX_PAID_TEMPLATE.id, ...extra });

t.test('the demo template is the one the mini-program asks for', async (t) => {
  t.equal(SANDBOX_PAID_TEMPLATE.id, SANDBOX_PAID_TEMPLATE_ID);
});

t.test('no subscription: 43101; one accepted: one send, then 43101 again; everything recorded', async (t) => {
  const { sb, mp, openid } = await setup(t);
  t.equal(await code(mp.sendSubscribeMessage(paidMessage(openid))), 'NOT_SUBSCRIBED:43101', 'the user never accepted');
  t.match((await grant(sb, openid)).body, { remaining: 1 });
  t.equal(await code(mp.sendSubscribeMessage(paidMessage(openid))), 'sent');
  t.equal(await code(mp.sendSubscribeMessage(paidMessage(openid))), 'NOT_SUBSCRIBED:43101', 'a one-time subscription is one send');
  const got = await messages(sb, `?touser=${openid}`);
  t.same(got.map((m) => m.errcode), [43101, 0, 43101]);
  t.match(got[1], {
    appid: MERCHANT.appid,
    touser: openid,
    template_id: SANDBOX_PAID_TEMPLATE.id,
    page: 'pages/order-detail/index?id=665f1c2e9b1e8a3f4c2d1a00',
    miniprogram_state: 'developer',
    lang: 'zh_CN',
    data: { amount2: { value: '¥12.34' }, thing3: { value: '绿茶 × 2' } },
    errmsg: 'ok',
  });
  t.same(await messages(sb, '?touser=nobody'), []);
  t.match((await grant(sb, openid, { count: 3 })).body, { remaining: 3 }, 'a grant can be for several sends');
});

t.test("WeChat's checks: openid, template, page, state, lang and each keyword's rule", async (t) => {
  const { sb, mp, openid } = await setup(t);
  await grant(sb, openid, { count: 20 });
  const cases: Array<[string, SubscribeMessage, string]> = [
    ['an openid WeChat never issued', paidMessage('o_nobody'), 'INVALID_OPENID:40003'],
    ['an unknown template', paidMessage(openid, { template_id: 'tpl-nope' }), 'INVALID_TEMPLATE:40037'],
    ['a page with a space', paidMessage(openid, { page: 'pages/x index' }), 'INVALID_PAGE:41030'],
    ['a bad miniprogram_state', paidMessage(openid, { miniprogram_state: 'beta' as never }), 'INVALID_DATA:47003'],
    ['a bad lang', paidMessage(openid, { lang: 'fr' as never }), 'INVALID_DATA:47003'],
  ];
  const bad = (field: string, value: string) => {
    const m = paidMessage(openid);
    m.data[field] = { value };
    return m;
  };
  cases.push(
    ['thing over 20 characters', bad('thing3', '超'.repeat(21)), 'INVALID_DATA:47003'],
    ['amount without a currency', bad('amount2', '12.34'), 'INVALID_DATA:47003'],
    ['amount with 3 decimals', bad('amount2', '¥1.234'), 'INVALID_DATA:47003'],
    ['character_string over 32', bad('character_string1', 'x'.repeat(33)), 'INVALID_DATA:47003'],
    ['time not a time', bad('time4', 'tomorrow'), 'INVALID_DATA:47003'],
    ['an empty value', bad('thing3', ''), 'INVALID_DATA:47003'],
    ['a keyword the template lacks', bad('thing9', 'x'), 'INVALID_DATA:47003'],
  );
  for (const [label, msg, expected] of cases) t.equal(await code(mp.sendSubscribeMessage(msg)), expected, label);
  const missing = paidMessage(openid);
  delete missing.data.time4;
  t.equal(await code(mp.sendSubscribeMessage(missing)), 'INVALID_DATA:47003', 'a keyword missing');
  const got = await messages(sb);
  t.match(got.find((m) => (m.data as Record<string, unknown>).thing3 && String((m.data as { thing3: { value: string } }).thing3.value).length === 21), {
    errcode: 47003,
    errmsg: 'argument invalid! data.thing3.value invalid',
  }, 'errmsg names the field (recorded without its rid)');
  t.match(got.at(-1), { errmsg: /data\.time4\.value is empty/ });
  for (const ok of ['¥8.8', '8.8元', '¥0.01', '2024-05-01 12:30']) {
    const field = ok.includes(':') ? 'time4' : 'amount2';
    t.equal(await code(mp.sendSubscribeMessage(bad(field, ok))), 'sent', `${field} ${ok} is accepted`);
  }
});

t.test('the access token: missing 41001, unknown 40001, expired 42001, replaced: 5 more minutes', async (t) => {
  let now = Date.now();
  const { sb, openid } = await setup(t, () => now);
  await grant(sb, openid, { count: 10 });
  const token = async () =>
    ((await (await fetch(`${sb.url}/cgi-bin/token?grant_type=client_credential&appid=${MERCHANT.appid}&secret=${MERCHANT.secret}`)).json()) as { access_token: string }).access_token;
  const send = async (tok?: string, body: string = JSON.stringify(paidMessage(openid))) => {
    const res = await fetch(`${sb.url}/cgi-bin/message/subscribe/send${tok === undefined ? '' : `?access_token=${tok}`}`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    t.equal(res.status, 200, 'HTTP 200, as WeChat');
    return (await res.json()) as { errcode: number; errmsg: string };
  };
  t.match(await send(), { errcode: 41001, errmsg: /^access_token missing/ });
  t.match(await send('made-up'), { errcode: 40001 });
  const first = await token();
  t.match(await send(first), { errcode: 0, errmsg: 'ok' }, 'any content-type: the body is read as JSON');
  t.match(await send(first, '{not json'), { errcode: 47001 });
  const second = await token();
  now += 4 * 60_000;
  t.match(await send(first), { errcode: 0 }, 'the replaced token still works for 5 minutes');
  now += 2 * 60_000;
  t.match(await send(first), { errcode: 40001 }, 'then it is not the latest');
  t.match(await send(second), { errcode: 0 });
  now += 7200_000;
  t.match(await send(second), { errcode: 42001, errmsg: /^access_token expired/ });
  t.same((await messages(sb)).map((m) => m.errcode), [0, 0, 0], 'calls refused at the token, or unreadable, are not recorded');
  const other = await fetch(`${sb.url}/cgi-bin/token?grant_type=client_credential&appid=${OTHER.appid}&secret=${OTHER.secret}`).then((r) => r.json() as Promise<{ access_token: string }>);
  t.match(await send(other.access_token), { errcode: 40003 }, "another appid's token: this openid is not its user");
});

t.test('the fault knob forces each errcode; 40001 makes our client refresh its token and send again', async (t) => {
  const { sb, mp, openid } = await setup(t);
  await grant(sb, openid, { count: 10 });
  const expected: Record<number, string> = {
    43101: 'NOT_SUBSCRIBED:43101',
    40037: 'INVALID_TEMPLATE:40037',
    47003: 'INVALID_DATA:47003',
    [-1]: 'WECHAT_BUSY:-1',
    45009: 'QUOTA:45009',
  };
  for (const [errcode, want] of Object.entries(expected)) {
    t.equal((await sb.json('POST', '/sandbox/faults', { subscribe: { errcode: Number(errcode) } })).status, 200);
    t.equal(await code(mp.sendSubscribeMessage(paidMessage(openid))), want, `forced ${errcode}`);
  }
  const before = (await messages(sb)).length;
  await sb.json('POST', '/sandbox/faults', { subscribe: { errcode: 40001 } });
  t.equal(await code(mp.sendSubscribeMessage(paidMessage(openid))), 'sent', 'refreshed once, then sent');
  const got = (await messages(sb)).slice(before);
  t.same(got.map((m) => m.errcode), [40001, 0]);
  await sb.json('POST', '/sandbox/faults', { subscribe: { errcode: 42001, count: 5 } });
  t.equal(await code(mp.sendSubscribeMessage(paidMessage(openid))), 'TOKEN_INVALID:42001', 'still refused after one refresh: retriable later');
  const cleared = await sb.json('DELETE', '/sandbox/faults');
  t.same(cleared.body.armed.subscribe, [], 'DELETE clears them');
  t.equal(await code(mp.sendSubscribeMessage(paidMessage(openid))), 'sent');
  t.equal((await sb.json('POST', '/sandbox/faults', { subscribe: { errcode: 40002 } })).status, 400, 'only the errcodes the sandbox knows');
});

t.test('POST /sandbox/subscriptions refuses what WeChat would not record', async (t) => {
  const { sb, openid } = await setup(t);
  t.match(await sb.json('POST', '/sandbox/subscriptions', { appid: 'wx9999999999999999', openid, template_id: 'T' }), { status: 400, body: { code: 'UNKNOWN_APPID' } });
  t.match(await sb.json('POST', '/sandbox/subscriptions', { appid: OTHER.appid, openid, template_id: 'T' }), { status: 409, body: { code: 'OPENID_OF_OTHER_APPID' } });
  t.match(await sb.json('POST', '/sandbox/subscriptions', { appid: MERCHANT.appid, openid, template_id: 'a b' }), { status: 400, body: { code: 'VALIDATION_ERROR' } });
  t.match(await sb.json('POST', '/sandbox/subscriptions', { appid: MERCHANT.appid, openid, template_id: 'T', count: 0 }), { status: 400 });
  t.match((await grant(sb, openid, { template_id: 'tpl-custom' })).body, { remaining: 1 }, 'any template the user accepted becomes known');
});
