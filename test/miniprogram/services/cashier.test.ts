import t from 'tap';
import { createSimulatedPay, postToCashier } from '../../../miniprogram/services/cashier.js';
import type { HttpRequestOptions, HttpResponse } from '../../../miniprogram/services/http.js';
import type { SimulatedPayParams } from '../../../miniprogram/services/payment.js';
import { createSandboxLogin } from '../../../miniprogram/services/sandbox-login.js';

const params: SimulatedPayParams = {
  appId: 'wxd930ea5d5a258f4f',
  timeStamp: '1700000000',
  nonceStr: 'n',
  package: 'prepay_id=p1',
  signType: 'MD5',
  paySign: 'SIGN',
  sandboxBase: 'http://sandbox.test/',
};

function recorder(answer: (o: HttpRequestOptions) => Promise<HttpResponse>) {
  const calls: HttpRequestOptions[] = [];
  return {
    calls,
    request: async (o: HttpRequestOptions) => {
      calls.push(o);
      return answer(o);
    },
  };
}

t.test('posts the five params, appId, paySign and the outcome; answers the cashier errMsg', async (t) => {
  const r = recorder(async () => ({ statusCode: 200, data: { errMsg: 'requestPayment:ok' } }));
  const choices: SimulatedPayParams[] = [];
  const pay = createSimulatedPay({ request: r.request, choose: async (p) => (choices.push(p), 'fail') });
  t.same(await pay(params), { errMsg: 'requestPayment:ok' });
  t.equal(r.calls[0]!.url, 'http://sandbox.test/sandbox/cashier');
  t.equal(r.calls[0]!.method, 'POST');
  t.same(r.calls[0]!.data, {
    appId: 'wxd930ea5d5a258f4f',
    timeStamp: '1700000000',
    nonceStr: 'n',
    package: 'prepay_id=p1',
    signType: 'MD5',
    paySign: 'SIGN',
    outcome: 'fail',
  });
  t.same(choices, [params]);
});

t.test('a dismissed sheet is a cancel', async (t) => {
  const r = recorder(async () => ({ statusCode: 200, data: { errMsg: 'requestPayment:fail cancel' } }));
  const pay = createSimulatedPay({ request: r.request, choose: () => Promise.reject(new Error('dismissed')) });
  t.same(await pay(params), { errMsg: 'requestPayment:fail cancel' });
  t.match(r.calls[0]!.data, { outcome: 'cancel' });
});

t.test("the cashier's refusals (400 + errMsg) pass through; anything else is a fail", async (t) => {
  const refuse = recorder(async () => ({ statusCode: 400, data: { errMsg: 'requestPayment:fail 支付验证签名失败', code: 'PAYSIGN_INVALID' } }));
  t.same(await postToCashier(refuse.request, params, 'pay'), { errMsg: 'requestPayment:fail 支付验证签名失败' });
  const html = recorder(async () => ({ statusCode: 502, data: '<html>' }));
  t.same(await postToCashier(html.request, params, 'pay'), { errMsg: 'requestPayment:fail cashier answered HTTP 502' });
  const text = recorder(async () => ({ statusCode: 200, data: '{"errMsg":"requestPayment:ok"}' }));
  t.same(await postToCashier(text.request, params, 'pay'), { errMsg: 'requestPayment:ok' });
  const down = recorder(() => Promise.reject({ errMsg: 'request:fail' }));
  t.same(await postToCashier(down.request, params, 'pay'), { errMsg: 'requestPayment:fail network' });
});

t.test('sandbox login asks the sandbox for a code', async (t) => {
  const r = recorder(async () => ({ statusCode: 200, data: { code: 'abc', openid: 'o1' } }));
  const login = createSandboxLogin({ request: r.request, base: 'http://sandbox.test', appId: 'wxapp', openid: 'o1' });
  t.equal(await login(), 'abc');
  t.match(r.calls[0], { url: 'http://sandbox.test/sandbox/login-codes', method: 'POST', data: { appid: 'wxapp', openid: 'o1' } });
  const bad = recorder(async () => ({ statusCode: 400, data: { code: 'UNKNOWN_APPID' } }));
  t.match(await createSandboxLogin({ request: bad.request, base: 'http://s', appId: 'x' })().catch((e: unknown) => e), {
    message: /HTTP 400/,
  });
});
