import t from 'tap';
import { ConfigError, loadConfig } from '../../server/src/config.js';

const REAL = {
  WECHAT_APPID: 'wx1234567890abcdef',
  WECHAT_APPSECRET: 'abcdefabcdefabcdefabcdefabcdef12',
  WECHATPAY_MCH_ID: '1900000109',
  WECHATPAY_API_KEY: 'a'.repeat(32),
  WECHATPAY_NOTIFY_URL: 'https://shop.example.com/wxpay/notify',
};

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted ' + JSON.stringify(env));
}

t.test('embedded defaults: sandbox on, demo merchant, default ports', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, 3000);
  t.equal(c.sandbox.enabled, true);
  t.equal(c.sandbox.port, 3001);
  t.equal(c.pay.signType, 'MD5');
  t.equal(c.pay.apiBase, 'http://127.0.0.1:3001');
  t.equal(c.wechat.apiBase, 'http://127.0.0.1:3001');
  t.equal(c.mongodbUri, undefined);
  t.match(c.wechat.appid, /^wx/);
});

t.test('real credentials turn the sandbox off and keep the real hosts', async (t) => {
  const c = loadConfig(REAL);
  t.equal(c.sandbox.enabled, false);
  t.equal(c.pay.apiBase, 'https://api.mch.weixin.qq.com');
  t.equal(c.wechat.apiBase, 'https://api.weixin.qq.com');
  t.equal(c.pay.mchId, '1900000109');
  t.equal(c.pay.notifyUrl, REAL.WECHATPAY_NOTIFY_URL);
});

t.test('WECHAT_SANDBOX=1 with credentials registers them with the sandbox', async (t) => {
  const c = loadConfig({ ...REAL, WECHAT_SANDBOX: '1', SANDBOX_PORT: '4001', WECHATPAY_SIGN_TYPE: 'HMAC-SHA256' });
  t.equal(c.sandbox.enabled, true);
  t.equal(c.pay.apiBase, 'http://127.0.0.1:4001');
  t.equal(c.wechat.appid, REAL.WECHAT_APPID);
  t.equal(c.pay.signType, 'HMAC-SHA256');
});

t.test('TRUST_PROXY: off by default, else true or addresses', async (t) => {
  t.equal(loadConfig({}).trustProxy, false);
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy, ['10.0.0.0/8', '127.0.0.1']);
  t.equal(failure({ TRUST_PROXY: 'everyone' }).variable, 'TRUST_PROXY');
});

t.test('empty strings count as unset', async (t) => {
  const c = loadConfig({ PORT: '', MONGODB_URI: ' ' });
  t.equal(c.port, 3000);
  t.equal(c.mongodbUri, undefined);
});

t.test('each bad variable stops boot with a one-line message naming it', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ SANDBOX_PORT: '-1' }, 'SANDBOX_PORT'],
    [{ SANDBOX_PORT: '65536' }, 'SANDBOX_PORT'],
    [{ MONGODB_URI: 'postgres://x' }, 'MONGODB_URI'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ WECHATPAY_SIGN_TYPE: 'SHA1' }, 'WECHATPAY_SIGN_TYPE'],
    [{ WECHAT_SANDBOX: 'yes' }, 'WECHAT_SANDBOX'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ...REAL, WECHAT_APPID: 'not-an-appid' }, 'WECHAT_APPID'],
    [{ ...REAL, WECHATPAY_API_KEY: 'short' }, 'WECHATPAY_API_KEY'],
    [{ ...REAL, WECHATPAY_NOTIFY_URL: 'https://shop.example.com/notify?x=1' }, 'WECHATPAY_NOTIFY_URL'],
    [{ ...REAL, WECHATPAY_NOTIFY_URL: 'http://shop.example.com/notify' }, 'WECHATPAY_NOTIFY_URL'],
    [{ ...REAL, WECHATPAY_NOTIFY_URL: '' }, 'WECHATPAY_NOTIFY_URL'],
    [{ ...REAL, WECHATPAY_MCH_ID: '' }, 'WECHATPAY_MCH_ID'],
    [{ WECHAT_APPID: REAL.WECHAT_APPID, WECHAT_SANDBOX: '1' }, 'WECHAT_APPSECRET'],
    [{ WECHAT_SANDBOX: '0' }, 'WECHAT_APPID'],
    [{ SESSION_TTL_SECONDS: '0' }, 'SESSION_TTL_SECONDS'],
  ];
  for (const [env, variable] of cases) {
    const err = failure(env);
    t.equal(err.variable, variable, `${JSON.stringify(env)} names ${variable}`);
    t.ok(err.message.startsWith(variable + ' '), `message starts with the name: ${err.message}`);
    t.notMatch(err.message, /\n/, 'one line');
  }
});

t.test('secrets are never echoed back in a config error', async (t) => {
  const err = failure({ ...REAL, WECHATPAY_API_KEY: 'leakyleakyleaky' });
  t.notMatch(err.message, /leaky/);
  const err2 = failure({ ...REAL, WECHAT_APPSECRET: 'bad secret!' });
  t.notMatch(err2.message, /bad secret/);
});
