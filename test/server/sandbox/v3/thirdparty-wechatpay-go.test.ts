// The official Go SDK (github.com/wechatpay-apiv3/wechatpay-go, from the Go module proxy) against the
// sandbox, unchanged: test/thirdparty/wechatpay-go/main.go prepays (JSAPI, with the SDK's own RSA
// paySign, paid at the cashier), queries, refunds and closes, verifying every answer with the WeChat
// Pay public key (option.WithWechatPayPublicKeyAuthCipher). Skipped when `go` or the module is unavailable.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { MERCHANT, decryptResource, openidOf, v3Receiver, v3Sandbox, verifyWechatpay } from './helpers.js';

const run = promisify(execFile);
const DIR = resolve(import.meta.dirname, '../../../thirdparty/wechatpay-go');

async function build(): Promise<{ bin: string } | { skip: string }> {
  try {
    await run('go', ['version']);
  } catch {
    return { skip: '`go` is not installed' };
  }
  const out = mkdtempSync(join(tmpdir(), 'wechatpay-go-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const bin = join(out, 'wechatpay-go-run');
  try {
    await run('go', ['build', '-o', bin, '.'], { cwd: DIR, env: { ...process.env, GOFLAGS: '-mod=mod' }, timeout: 240_000 });
  } catch (err) {
    return { skip: `github.com/wechatpay-apiv3/wechatpay-go could not be built (module unavailable?): ${String((err as { stderr?: string }).stderr ?? err).slice(0, 300)}` };
  }
  return { bin };
}

const built = await build();

t.test('wechatpay-go: prepay, query, pay, query by id, refund, refund query, close — answers verified by the SDK', { skip: 'skip' in built ? built.skip : false }, async (t) => {
  if (!('bin' in built)) return;
  const sb = await v3Sandbox(t);
  const rx = await v3Receiver(t);
  const m = sb.certs.merchants[MERCHANT.mchId]!;
  const { stdout } = await run(built.bin, [], {
    env: {
      ...process.env,
      SANDBOX_URL: sb.url,
      MCH_ID: MERCHANT.mchId,
      APPID: MERCHANT.appid,
      OPENID: await openidOf(sb),
      MERCHANT_KEY_PATH: m.keyPath,
      MERCHANT_CERT_PATH: m.certPath,
      PUB_KEY_ID: sb.certs.wechatpay.publicKeyId,
      PUB_KEY_PATH: sb.certs.wechatpay.publicKeyPath,
      NOTIFY_URL: rx.url,
    },
    timeout: 60_000,
  }).catch((err: { stdout?: string; message: string }) => {
    throw new Error(`wechatpay-go run failed: ${err.stdout ?? ''} ${err.message}`);
  });
  const steps = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: string; result: any })
      .map((s) => [s.step, s.result]),
  );
  t.match(steps.prepay, { prepay_id: /^wx/, signType: 'RSA', package: /^prepay_id=wx/ });
  t.match(steps.query, { trade_state: 'NOTPAY', out_trade_no: /^GO/, attach: 'sdk', amount: { total: 100 } });
  t.same(steps.cashier, { errMsg: 'requestPayment:ok' }, 'the SDK’s paySign is accepted');
  t.match(steps.queryPaid, { trade_state: 'SUCCESS', transaction_id: /^4200/, payer: { openid: /^o/ } });
  t.equal(steps.queryById.transaction_id, steps.queryPaid.transaction_id);
  t.match(steps.refund, { status: 'PROCESSING', amount: { refund: 30, total: 100 } });
  t.match(steps.refundQuery, { out_refund_no: steps.refund.out_refund_no });
  t.same(steps.close, { status: 204 });
  t.match(steps.queryClosed, { trade_state: 'CLOSED' });
  t.same(steps.queryUnknown, { status: 404, code: 'ORDER_NOT_EXIST' });

  await rx.waitFor(1);
  const n = rx.received[0]!;
  t.ok(verifyWechatpay(sb, (h) => n.headers[h] as string | undefined, n.body));
  t.match(decryptResource(n), { out_trade_no: steps.query.out_trade_no, trade_state: 'SUCCESS' });
});
