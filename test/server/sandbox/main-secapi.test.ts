// `npm run sandbox` prints its /secapi/ base URL and where the merchant certificate files are, and
// those files open its TLS listener.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, fetch as undiciFetch } from 'undici';
import { DEMO_MERCHANT } from '../../../server/src/sandbox/demo.js';
import { loadMerchantCert } from '../../../server/src/wechat/merchant-cert.js';
import { parseXml } from '../../../server/src/wechat/xml.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

t.test('prints the /secapi/ URL, the CA and the certificate files; they work', async (t) => {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const n of ['WECHAT_APPID', 'WECHAT_APPSECRET', 'WECHATPAY_MCH_ID', 'WECHATPAY_API_KEY', 'HOST', 'SANDBOX_SECAPI_PORT']) delete clean[n];
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/sandbox/main.ts'], { cwd: root, env: { ...clean, SANDBOX_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 30_000;
  while (!/apiclient_key\.pem/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));

  const secapi = /\/secapi\/ \(mutual TLS\): (https:\/\/127\.0\.0\.1:\d+)\/secapi\/pay\/refund \(trust the CA (\S+)\)/.exec(out);
  t.ok(secapi, out);
  const p12 = /^\s+(\S+apiclient_cert\.p12)$/m.exec(out)?.[1];
  const pem = /^\s+(\S+apiclient_cert\.pem)$/m.exec(out)?.[1];
  const key = /^\s+(\S+apiclient_key\.pem)$/m.exec(out)?.[1];
  t.ok(p12 && pem && key && existsSync(p12) && existsSync(pem) && existsSync(key), 'the three files exist');
  t.match(out, 'passphrase = mch_id');
  t.notMatch(out, DEMO_MERCHANT.key);
  if (!secapi || !p12) return;

  const cert = loadMerchantCert({ p12Path: p12, passphrase: DEMO_MERCHANT.mchId });
  const agent = new Agent({ connect: { cert: cert.cert, key: cert.key, ca: readFileSync(secapi[2]!) } });
  t.teardown(() => agent.close());
  const res = await undiciFetch(`${secapi[1]}/pay/refundquery`, { method: 'POST', body: '<xml></xml>', dispatcher: agent });
  t.match(parseXml(await res.text()), { return_code: 'FAIL' }, 'the TLS listener answers a client with the certificate');
  const bare = new Agent({ connect: { ca: readFileSync(secapi[2]!) } });
  t.teardown(() => bare.close());
  await t.rejects(undiciFetch(`${secapi[1]}/pay/refundquery`, { method: 'POST', body: '<xml></xml>', dispatcher: bare }), 'and refuses one without');
});
