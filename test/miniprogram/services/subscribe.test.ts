// The payment-success subscribe message: asked once per order, inside the tap, and never in the
// way of paying; in sandbox mode, a simulated prompt that grants the send at the sandbox.
import t from 'tap';
import { createSandboxSubscribe } from '../../../miniprogram/services/sandbox-subscribe.js';
import { createSubscribe } from '../../../miniprogram/services/subscribe.js';
import type { HttpRequestOptions } from '../../../miniprogram/services/http.js';
import { fakeRequestSubscribe } from '../helpers/fakes.js';

t.test('asks for the configured template once per order, and reports the answer', async (t) => {
  const wxs = fakeRequestSubscribe((id) => (id === 'tpl-paid' ? 'accept' : 'reject'));
  const s = createSubscribe({ templateId: 'tpl-paid', request: wxs.fn });
  const pending = s.askPaid('o1');
  t.same(wxs.calls, [['tpl-paid']], 'requested synchronously, before anything asynchronous (WeChat only allows it in the tap)');
  t.same(await pending, { outcome: 'accept' });
  t.same(await s.askPaid('o1'), { outcome: 'skipped' }, 'not again for the same order (a retry of the payment)');
  t.equal(wxs.calls.length, 1);
  t.same(await s.askPaid('o2'), { outcome: 'accept' }, 'another order is asked');
});

t.test('no template configured: nothing asked', async (t) => {
  const wxs = fakeRequestSubscribe();
  t.same(await createSubscribe({ templateId: '', request: wxs.fn }).askPaid('o1'), { outcome: 'skipped' });
  t.equal(wxs.calls.length, 0);
});

t.test('refusals and failures resolve (they never stop a payment)', async (t) => {
  for (const [answer, outcome] of [['reject', 'reject'], ['ban', 'ban'], ['filter', 'filter'], ['weird', 'error']] as const) {
    const s = createSubscribe({ templateId: 'T', request: fakeRequestSubscribe(() => answer).fn });
    t.same(await s.askPaid('o'), { outcome }, answer);
  }
  const off = createSubscribe({ templateId: 'T', request: fakeRequestSubscribe(() => ({ errCode: 20004 })).fn });
  t.same(await off.askPaid('o'), { outcome: 'error', errCode: 20004 }, 'subscribe messages turned off by the user');
  const throws = createSubscribe({
    templateId: 'T',
    request: () => {
      throw new Error('not a function in this base library');
    },
  });
  t.same(await throws.askPaid('o'), { outcome: 'error' }, 'a throwing wx API');
  const odd = createSubscribe({ templateId: 'T', request: () => Promise.reject('nope') });
  t.same(await odd.askPaid('o'), { outcome: 'error' });
});

t.test('sandbox: the prompt, then the grant posted to the sandbox; denied: nothing posted', async (t) => {
  const posted: HttpRequestOptions[] = [];
  let status = 200;
  const request = async (o: HttpRequestOptions) => {
    posted.push(o);
    return { statusCode: status, data: { remaining: 1 } };
  };
  let answer = true;
  let prompts = 0;
  const fn = createSandboxSubscribe({
    request,
    base: 'http://sandbox.test/',
    appId: 'wxapp',
    openid: 'o-demo',
    confirm: async () => {
      prompts++;
      return answer;
    },
  });
  const pending = fn(['T1']);
  t.equal(prompts, 1, 'the prompt opens at once');
  t.same(await pending, { errMsg: 'requestSubscribeMessage:ok', T1: 'accept' });
  t.match(posted, [{ url: 'http://sandbox.test/sandbox/subscriptions', method: 'POST', data: { appid: 'wxapp', openid: 'o-demo', template_id: 'T1' } }]);
  answer = false;
  t.same(await fn(['T1']), { errMsg: 'requestSubscribeMessage:ok', T1: 'reject' });
  t.equal(posted.length, 1, 'nothing posted for a refusal');
  answer = true;
  status = 400;
  t.match(await fn(['T1']).catch((e: unknown) => e), { errCode: 10002 }, 'the sandbox refusing the grant is a failed request, as a network error would be');
  const s = createSubscribe({ templateId: 'T1', request: fn });
  t.same(await s.askPaid('o'), { outcome: 'error', errCode: 10002 }, 'and the payment goes on');
});
