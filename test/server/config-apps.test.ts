import t from 'tap';
import { appByAppid, ConfigError, loadConfig, merchantAppids } from '../../server/src/config.js';
import { DEMO_APPS } from '../../server/src/sandbox/demo.js';

const MERCHANT = {
  WECHATPAY_MCH_ID: '1230000109',
  WECHATPAY_API_KEY: 'abcdefghijklmnopqrstuvwxyz012345',
  WECHATPAY_NOTIFY_URL: 'https://shop.example.com/wxpay/notify',
};
const MP = { WECHAT_APPID: 'wx1234567890abcdef', WECHAT_APPSECRET: 'abcdefabcdefabcdefabcdefabcdef12' };
const OA = { WECHAT_OA_APPID: 'wx22222222222222aa', WECHAT_OA_APPSECRET: 'oasecretoasecretoasecret12345678' };
const OPEN = { WECHAT_OPEN_APPID: 'wx33333333333333bb', WECHAT_OPEN_APPSECRET: 'opensecretopensecretopensecret12' };

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a config error for ${Object.keys(env).join(', ')}`);
}

t.test('the mini-program alone stays the default with real WeChat', async (t) => {
  const c = loadConfig({ ...MERCHANT, ...MP });
  t.same(Object.keys(c.apps), ['mp']);
  t.same(c.apps.mp, { kind: 'mp', appid: MP.WECHAT_APPID, appsecret: MP.WECHAT_APPSECRET });
  t.equal(c.wechat.appid, MP.WECHAT_APPID);
  t.equal(c.wechat.openBase, 'https://open.weixin.qq.com');
});

t.test('any subset of apps under one merchant', async (t) => {
  const all = loadConfig({ ...MERCHANT, ...MP, ...OA, ...OPEN, WECHAT_OPEN_BASE: 'https://open.example.com' });
  t.same(merchantAppids(all), [MP.WECHAT_APPID, OA.WECHAT_OA_APPID, OPEN.WECHAT_OPEN_APPID]);
  t.equal(appByAppid(all, OA.WECHAT_OA_APPID)?.kind, 'oa');
  t.equal(appByAppid(all, OPEN.WECHAT_OPEN_APPID)?.kind, 'open');
  t.equal(appByAppid(all, 'wx0000000000000000'), undefined);
  t.equal(all.wechat.openBase, 'https://open.example.com');

  // a 公众号 alone: no mini-program; the primary appid is the 公众号's
  const oaOnly = loadConfig({ ...MERCHANT, ...OA });
  t.same(Object.keys(oaOnly.apps), ['oa']);
  t.equal(oaOnly.wechat.appid, OA.WECHAT_OA_APPID);
});

t.test('sandbox mode has every app, demo values for those not given, and points OAuth at the sandbox', async (t) => {
  const c = loadConfig({ SANDBOX_PORT: '3999' });
  t.equal(c.sandbox.enabled, true);
  t.equal(c.apps.oa?.appid, DEMO_APPS.oa.appid);
  t.equal(c.apps.open?.appid, DEMO_APPS.open.appid);
  t.equal(c.wechat.openBase, 'http://127.0.0.1:3999');
  const own = loadConfig({ WECHAT_SANDBOX: '1', ...OA });
  t.equal(own.apps.oa?.appid, OA.WECHAT_OA_APPID, 'a given app is used in the sandbox too');
  t.equal(own.apps.mp?.appid, DEMO_APPS.mp.appid);
});

t.test('boot refuses an incomplete app, naming what is missing', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ ...MERCHANT, ...MP, WECHAT_OA_APPID: OA.WECHAT_OA_APPID }, 'WECHAT_OA_APPSECRET'],
    [{ ...MERCHANT, ...MP, WECHAT_OA_APPSECRET: OA.WECHAT_OA_APPSECRET }, 'WECHAT_OA_APPID'],
    [{ ...MERCHANT, ...MP, WECHAT_OPEN_APPID: OPEN.WECHAT_OPEN_APPID }, 'WECHAT_OPEN_APPSECRET'],
    [{ ...MERCHANT, ...MP, WECHAT_OPEN_APPSECRET: OPEN.WECHAT_OPEN_APPSECRET }, 'WECHAT_OPEN_APPID'],
    [{ ...MERCHANT, WECHAT_APPID: MP.WECHAT_APPID, ...OA }, 'WECHAT_APPSECRET'],
    [{ WECHAT_SANDBOX: '1', WECHAT_OPEN_APPID: OPEN.WECHAT_OPEN_APPID }, 'WECHAT_OPEN_APPSECRET'],
    [{ ...OA }, 'WECHATPAY_MCH_ID'],
    [{ ...MERCHANT, ...MP, WECHAT_OA_APPID: MP.WECHAT_APPID, WECHAT_OA_APPSECRET: OA.WECHAT_OA_APPSECRET }, 'WECHAT_OA_APPID'],
    [{ ...MERCHANT, ...MP, ...OA, WECHAT_OPEN_BASE: 'open.weixin.qq.com' }, 'WECHAT_OPEN_BASE'],
  ];
  for (const [env, variable] of cases) {
    const err = failure(env);
    t.equal(err.variable, variable, `${Object.keys(env).join(',')} names ${variable}: ${err.message}`);
    t.notMatch(err.message, /secret[a-z0-9]{6,}/, 'no secret in the message');
  }
});
