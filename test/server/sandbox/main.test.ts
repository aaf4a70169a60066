// `npm run sandbox` as a process: what it prints, what it accepts, and that it stops on a signal.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEMO_APPS, DEMO_MERCHANT } from '../../../server/src/sandbox/demo.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function run(env: Record<string, string>) {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const n of ['WECHAT_APPID', 'WECHAT_APPSECRET', 'WECHATPAY_MCH_ID', 'WECHATPAY_API_KEY', 'SANDBOX_PORT', 'HOST']) delete clean[n];
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/sandbox/main.ts'], {
    cwd: root,
    env: { ...clean, SANDBOX_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && /Accepts appid .*\n.*\n/.test(out)) resolve(m[1] as string);
    };
    child.stdout.on('data', check);
    child.on('exit', () => reject(new Error(`exited early: ${err}`)));
  });
  return { child, exited, listening, output: () => out, errors: () => err };
}

t.test('demo merchant: prints the URL and the merchant, never the key; SIGTERM closes it', async (t) => {
  const p = run({});
  t.teardown(() => void p.child.kill('SIGKILL'));
  const url = await p.listening;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.match(p.output(), `Accepts appid ${DEMO_MERCHANT.appid} with mch_id ${DEMO_MERCHANT.mchId}`);
  t.match(p.output(), "demo key (WeChat's public signing example)");
  t.match(p.output(), 'closeorder within 5 minutes of unifiedorder is refused', 'says how closeorder behaves, and how to change it');
  t.match(p.output(), `${url}/sandbox/faults`);
  t.notOk(p.output().includes(DEMO_MERCHANT.key), 'the key is not printed');
  t.notOk(p.output().includes(DEMO_MERCHANT.secret), 'the appsecret is not printed');
  const res = await fetch(`${url}/sandbox/merchants`);
  t.same(await res.json(), {
    merchants: [
      { appid: DEMO_MERCHANT.appid, mchId: DEMO_MERCHANT.mchId },
      { appid: DEMO_APPS.oa.appid, mchId: DEMO_MERCHANT.mchId },
      { appid: DEMO_APPS.open.appid, mchId: DEMO_MERCHANT.mchId },
    ],
  });
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
});

t.test('merchant from the environment', async (t) => {
  const env = { WECHAT_APPID: 'wx1234567890abcdef', WECHAT_APPSECRET: 'env-secret-value', WECHATPAY_MCH_ID: '1900009999', WECHATPAY_API_KEY: 'e'.repeat(32) };
  const p = run(env);
  t.teardown(() => void p.child.kill('SIGKILL'));
  const url = await p.listening;
  t.match(p.output(), 'Accepts appid wx1234567890abcdef with mch_id 1900009999');
  t.match(p.output(), 'from WECHATPAY_API_KEY');
  t.notOk(p.output().includes(env.WECHATPAY_API_KEY) || p.output().includes(env.WECHAT_APPSECRET));
  const tok = await fetch(`${url}/cgi-bin/token?grant_type=client_credential&appid=${env.WECHAT_APPID}&secret=${env.WECHAT_APPSECRET}`);
  t.match(await tok.json(), { expires_in: 7200 });
  p.child.kill('SIGINT');
  t.equal(await p.exited, 0);
});

t.test('half a merchant in the environment stops it with a message naming what is missing', async (t) => {
  const p = run({ WECHAT_APPID: 'wx1234567890abcdef' });
  t.teardown(() => void p.child.kill('SIGKILL'));
  p.listening.catch(() => undefined);
  t.equal(await p.exited, 1);
  t.match(p.errors(), /WECHAT_APPSECRET, WECHATPAY_MCH_ID, WECHATPAY_API_KEY must be set/);
});

t.test('a bad SANDBOX_PORT is named', async (t) => {
  const p = run({ SANDBOX_PORT: 'eighty' });
  t.teardown(() => void p.child.kill('SIGKILL'));
  p.listening.catch(() => undefined);
  t.equal(await p.exited, 1);
  t.match(p.errors(), /SANDBOX_PORT/);
});
