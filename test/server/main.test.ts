import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { serviceUrls } from '../helpers/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, out: () => stdout, err: () => stderr };
}

t.test('a bad variable stops boot with one line naming it, no stack trace', async (t) => {
  for (const [env, variable] of [
    [{ PORT: 'abc' }, 'PORT'],
    [{ WECHATPAY_SIGN_TYPE: 'SHA1' }, 'WECHATPAY_SIGN_TYPE'],
    [{ WECHAT_SANDBOX: '0' }, 'WECHAT_APPID'],
  ] as const) {
    const p = run(env);
    const [code] = await p.exited;
    t.equal(code, 1, `${variable}: exit code 1`);
    const lines = p.err().trim().split('\n');
    t.equal(lines.length, 1, `${variable}: one line (${p.err().trim()})`);
    t.match(lines[0], new RegExp(`^config error: ${variable} `));
    t.notMatch(p.err(), /\n\s+at /, 'no stack trace');
  }
});

t.test('an unreachable database stops boot with a clear message', async (t) => {
  const p = run({ MONGODB_URI: 'mongodb://127.0.0.1:1/x', REDIS_URL: serviceUrls().redisUrl, PORT: '0', SANDBOX_PORT: '0' });
  const [code] = await p.exited;
  t.equal(code, 1);
  t.match(p.err(), /^failed to start: /);
  t.notMatch(p.err(), /\n\s+at /);
});

t.test('boots on the given services with the embedded sandbox, serves /healthz, stops on SIGTERM', async (t) => {
  const { mongodbUri, redisUrl } = serviceUrls();
  const p = run({ MONGODB_URI: mongodbUri, REDIS_URL: redisUrl, PORT: '0', SANDBOX_PORT: '0' });
  t.teardown(() => {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  });
  const deadline = Date.now() + 30_000;
  let m: RegExpExecArray | null = null;
  while (!(m = /listening on (http:\/\/\S+)/.exec(p.out())) && Date.now() < deadline && p.child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(m, `it says where it listens (${p.out()}${p.err()})`);
  t.match(p.out(), /WeChat sandbox on http:\/\/127\.0\.0\.1:\d+ \(appid wx/);
  const health = await fetch(`${m![1]}/healthz`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok', mongo: 'ok', redis: 'ok' });
  const products = await fetch(`${m![1]}/api/products`);
  t.equal(products.status, 200);

  p.child.kill('SIGTERM');
  const [code] = await p.exited;
  t.equal(code, 0, 'a clean exit');
  t.match(p.out(), /SIGTERM received, shutting down/);
});
