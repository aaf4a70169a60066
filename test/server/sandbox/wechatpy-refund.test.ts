// A second outside SDK, in another language: Python's wechatpy (PyPI) applies and queries a refund
// over the sandbox's TLS listener with the PEM pair the sandbox issued, and decrypts the sandbox's
// refund notification with its own code. Runs when a Python with wechatpy is at hand (WECHATPY_PYTHON,
// which .ci/run sets up, or python3); skipped with the reason otherwise.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MERCHANT, notifyReceiver, sandbox } from './helpers.js';
import { outRefundNo, paidTrade } from './refund-helpers.js';

const execFileP = promisify(execFile);
const script = fileURLToPath(new URL('./sdk/wechatpy_refund.py', import.meta.url));
const python = process.env.WECHATPY_PYTHON || 'python3';
const probe = spawnSync(python, ['-c', 'import wechatpy.pay, cryptography; print(wechatpy.__version__)'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : `no Python with wechatpy (${python}: ${(probe.error?.message ?? probe.stderr ?? '').trim().split('\n').pop()})`;

// Asynchronously: the sandbox answering it lives in this process.
async function runPy(mode: string, env: Record<string, string>): Promise<Record<string, any>> {
  try {
    const { stdout } = await execFileP(python, [script, mode], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').pop() as string);
  } catch (err) {
    throw new Error(`wechatpy ${mode} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
}

t.test(`wechatpy ${probe.stdout?.trim() || ''}: refund, the same again, an over-refund, refundquery, its refund-notify decryption`, { skip }, async (t) => {
  const sb = await sandbox(t, { timeScale: 0.01 });
  const rx = await notifyReceiver(t);
  const trade = await paidTrade(sb, { totalFee: 520 });
  const files = sb.certs.merchants[MERCHANT.mchId]!;
  const no = outRefundNo('PY');
  const env = {
    APPID: MERCHANT.appid,
    API_KEY: MERCHANT.key,
    MCH_ID: MERCHANT.mchId,
    CERT_PEM: files.certPath,
    KEY_PEM: files.keyPath,
    // wechatpy has one base URL for everything: the TLS listener serves /pay/ too, as WeChat's host does.
    BASE_URL: sb.secapiUrl,
    REQUESTS_CA_BUNDLE: sb.certs.caPath,
    TOTAL_FEE: '520',
    REFUND_FEE: '20',
    OUT_REFUND_NO: no,
    OUT_TRADE_NO: trade.outTradeNo,
    NOTIFY_URL: rx.url,
  };
  const out = await runPy('refund', env);
  t.match(out.first, { return_code: 'SUCCESS', result_code: 'SUCCESS', out_refund_no: no, refund_fee: '20', total_fee: '520' });
  t.equal(out.again.refund_id, out.first.refund_id, 'the same out_refund_no: the same refund');
  t.match(out.over, { errcode: 'REFUND_FEE_INVALID', errmsg: '累计退款金额大于支付金额' });
  t.match(out.query, { refund_count: '1', out_refund_no_0: no, refund_id_0: out.first.refund_id });

  await rx.waitFor(1);
  const dir = mkdtempSync(join(tmpdir(), 'wechatpy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'notify.xml'), rx.received[0]!.body);
  const parsed = await runPy('notify', { ...env, NOTIFY_FILE: join(dir, 'notify.xml') });
  t.match(parsed.notify, { out_refund_no: no, refund_id: out.first.refund_id, refund_fee: 20, total_fee: 520, refund_status: 'SUCCESS' });
});
