/**
 * `npm run bench:reconcile`: the reconciliation of a big day (default 100,000 payments, 5,000 of them
 * refunded) on the embedded database, against baselines measured in the same run. Reports figures
 * only; it asserts nothing about timings.
 *
 * Setup (timed apart): N paid orders of one Beijing day, shaped as server/src/orders/model.ts writes
 * them (paidDay, paidAmount, transactionId), with the model's indexes, loaded by insertMany in
 * batches; R refunds (acceptedDay); and the day's ALL bill in WeChat's text format for exactly
 * those trades, written by the sandbox's own bill generator (server/src/sandbox/bill-text.ts) and
 * gzipped, as downloadbill with tar_type GZIP sends it. Then three phases, each in a child process
 * of its own so that its peak RSS (getrusage maxrss) and peak heap are its own:
 *
 *   parse      baseline 1: gunzip + csv-parse of the same bill text (parseBill's options), nothing else
 *   in-lookups baseline 2: every bill row looked up by `$in` in batches of 1,000 (its out_trade_no,
 *              and its out_refund_no for a refund): the naive way to read our side
 *   day-reads  baseline 3: the reads a run does make on a clean day: the day's payments (paidDay)
 *              and accepted refunds (acceptedDay), one indexed equality each
 *   reconcile  the whole reconcileDay (gunzip, parseBill, readBill, the day's reads, `$in` for rows
 *              they lack (none here), the comparison, the report written in one replace), with a
 *              clean bill: no difference
 *
 * Peak heap is the largest heapUsed sampled every 5 ms and at the end of the phase (synchronous
 * stretches such as the CSV parse are not sampled inside, so it is a lower bound); peak RSS is exact.
 * The data are not downloaded over HTTP: the gzip buffer is handed to the service as downloadbill's
 * answer, so the figures are the server's own work.
 *
 * Options: --payments=100000 --refunds=5000 --batch=1000 --rounds=1 (best of, per phase)
 *          --phases=parse,in-lookups,day-reads,reconcile (a subset; reconcile always runs)
 * Writes bench/results/reconcile.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import mongoose, { Types } from 'mongoose';
import { orderModels } from '../server/src/orders/model.js';
import { createOrderRepository } from '../server/src/orders/repository.js';
import { createReportRepository } from '../server/src/reconciliation/model.js';
import { createReconcileService } from '../server/src/reconciliation/service.js';
import { refundModels } from '../server/src/refunds/model.js';
import { createRefundRepository } from '../server/src/refunds/repository.js';
import { billText } from '../server/src/sandbox/bill-text.js';
import type { SandboxRefund } from '../server/src/sandbox/refund-state.js';
import type { Trade } from '../server/src/sandbox/state.js';
import { beijingDayStart } from '../server/src/wechat/beijing-datetime.js';
import { toBeijingTime } from '../server/src/wechat/time.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
};
const DAY = '2026-03-01';
const COMPACT = '20260301';
const APPID = 'wxd930ea5d5a258f4f';
const MCH = '10000100';

const quiet = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child() { return quiet; }, level: 'silent' } as unknown as FastifyBaseLogger;

interface PhaseResult {
  phase: string;
  ms: number;
  maxRssMb: number;
  peakHeapMb: number;
  detail: Record<string, unknown>;
}

// ---------------------------------------------------------------- child: one phase
async function runPhase(phase: string, dir: string, uri: string, redisUrl: string, batch: number): Promise<void> {
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 5);
  const gz = readFileSync(join(dir, 'bill.gz'));
  const conn = phase === 'parse' ? undefined : await mongoose.createConnection(uri, { dbName: 'bench_reconcile' }).asPromise();
  const redis = phase === 'reconcile' ? new Redis(redisUrl) : undefined;
  const detail: Record<string, unknown> = {};
  const started = performance.now();
  if (phase === 'parse') {
    const rows = parseCsv(gunzipSync(gz).toString('utf8'), { bom: true, quote: false, relax_column_count: true, skip_empty_lines: true, trim: false }) as string[][];
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    detail.lines = rows.length;
  } else if (phase === 'in-lookups') {
    const orders = createOrderRepository(await orderModels(conn!));
    const refunds = createRefundRepository(await refundModels(conn!));
    const { tradeNos, refundNos } = JSON.parse(readFileSync(join(dir, 'ids.json'), 'utf8')) as { tradeNos: string[]; refundNos: string[] };
    let found = 0;
    let queries = 0;
    for (let i = 0; i < tradeNos.length; i += batch, queries++) found += (await orders.findByOutTradeNos(tradeNos.slice(i, i + batch))).length;
    for (let i = 0; i < refundNos.length; i += batch, queries++) found += (await refunds.findByOutRefundNos(refundNos.slice(i, i + batch))).length;
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    Object.assign(detail, { found, inQueries: queries });
  } else if (phase === 'day-reads') {
    const orders = createOrderRepository(await orderModels(conn!));
    const refunds = createRefundRepository(await refundModels(conn!));
    const paid = await orders.paidOnDay(COMPACT);
    const accepted = await refunds.acceptedOnDay(COMPACT);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    Object.assign(detail, { found: paid.length + accepted.length });
  } else {
    const orders = createOrderRepository(await orderModels(conn!));
    const refunds = createRefundRepository(await refundModels(conn!));
    const service = createReconcileService({
      orders,
      confirmPayment: async () => {
        throw new Error('the bench bill has no unpaid order');
      },
      refunds: {
        findByOutRefundNos: (nos) => refunds.findByOutRefundNos(nos),
        acceptedOnDay: (d) => refunds.acceptedOnDay(d),
        query: async () => {
          throw new Error('the bench bill has no moving refund');
        },
      },
      // downloadbill's GZIP answer, decompressed as wechat/download-bill.ts does
      downloadBill: async () => ({ exists: true, bill_date: COMPACT, bill_type: 'ALL', text: gunzipSync(gz).toString('utf8'), compressed: true }),
      reports: await createReportRepository(conn!),
      redis: redis!,
      lockScope: conn!.name,
      merchant: { appids: [APPID], mchId: MCH },
      log: quiet,
      batchSize: batch,
    });
    const { report } = await service.reconcileDay(DAY);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    Object.assign(detail, { status: report.status, counts: report.counts, totals: report.totals });
  }
  const ms = performance.now() - started;
  clearInterval(sampler);
  await conn?.close();
  redis?.disconnect();
  const out: PhaseResult = { phase, ms, maxRssMb: process.resourceUsage().maxRSS / 1024, peakHeapMb: peakHeap / 1024 / 1024, detail };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------- parent: setup and report
async function main(): Promise<void> {
  const uri = process.env.MONGODB_URI;
  const redisUrl = process.env.REDIS_URL;
  if (!uri || !redisUrl) throw new Error('MONGODB_URI and REDIS_URL are needed: run it with npm run bench:reconcile');
  const payments = arg('payments', 100_000);
  const refundCount = Math.min(arg('refunds', 5_000), payments);
  const batch = arg('batch', 1_000);
  const rounds = arg('rounds', 1);
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-reconcile-'));

  const conn = await mongoose.createConnection(uri, { dbName: 'bench_reconcile' }).asPromise();
  await conn.dropDatabase();
  const { Order } = await orderModels(conn);
  const { Refund } = await refundModels(conn);
  await createReportRepository(conn);

  const dayStart = beijingDayStart(COMPACT).getTime();
  const trades: Trade[] = [];
  const refundsOf = new Map<string, SandboxRefund[]>();
  const orderDocs: Record<string, unknown>[] = [];
  const refundDocs: Record<string, unknown>[] = [];
  for (let i = 0; i < payments; i++) {
    const paidAt = new Date(dayStart + Math.floor((i / payments) * 86_000_000));
    const outTradeNo = `${toBeijingTime(paidAt)}${String(i).padStart(12, '0')}`;
    const transactionId = `42000${String(i).padStart(23, '0')}`;
    const amount = 100 + (i % 5000);
    const openid = `o-bench-${i % 5000}`;
    trades.push({ mchId: MCH, appid: APPID, outTradeNo, body: '拿铁咖啡', totalFee: amount, feeType: 'CNY', tradeType: 'JSAPI', transactionId, timeEnd: toBeijingTime(paidAt), payerOpenid: openid } as Trade);
    const _id = new Types.ObjectId();
    orderDocs.push({
      _id, openid, outTradeNo, status: i < refundCount ? 'PARTIALLY_REFUNDED' : 'PAID', amount, items: [{ sku: 'COFFEE-LATTE', name: '拿铁咖啡', price: amount, quantity: 1 }],
      tradeType: 'JSAPI', idemKey: `order:${outTradeNo}`, clientIp: '127.0.0.1', createdAt: paidAt, expiresAt: new Date(paidAt.getTime() + 1_800_000),
      paidAt, paidDay: COMPACT, transactionId, paidAmount: amount, flags: [], followUp: null, wechatClose: null, fulfilment: { state: 'EMITTED', createdAt: paidAt },
      history: [{ from: 'CREATED', to: 'PAYING', at: paidAt, source: 'pay' }, { from: 'PAYING', to: 'PAID', at: paidAt, source: 'notify' }], version: 2,
    });
    if (i < refundCount) {
      const outRefundNo = `R${toBeijingTime(paidAt)}${String(i).padStart(12, '0')}`;
      const refundId = `503${String(i).padStart(26, '0')}`;
      const at = paidAt.getTime() + 60_000;
      refundsOf.set(outTradeNo, [{ mchId: MCH, appid: APPID, outTradeNo, transactionId, outRefundNo, refundId, totalFee: amount, refundFee: 50, status: 'SUCCESS', createdAt: at, settledAt: at + 1000 } as SandboxRefund]);
      refundDocs.push({
        orderId: _id, outTradeNo, transactionId, outRefundNo, amount: 50, totalFee: amount, reason: 'bench', requestedBy: 'bench', idemKey: `refund:${outRefundNo}`,
        status: 'SUCCESS', refundId, attempts: 1, applied: true, successAt: new Date(at + 1000), acceptedDay: COMPACT, createdAt: new Date(at),
        history: [{ from: 'PENDING', to: 'PROCESSING', at: new Date(at), source: 'refund' }, { from: 'PROCESSING', to: 'SUCCESS', at: new Date(at + 1000), source: 'refund-notify' }], version: 2,
      });
    }
  }
  const text = billText({ mchId: MCH, from: dayStart, to: dayStart + 86_400_000, billType: 'ALL', trades, refundsOf: (t) => refundsOf.get(t.outTradeNo) ?? [] })!;
  const gz = gzipSync(Buffer.from(text, 'utf8'));
  writeFileSync(join(dir, 'bill.gz'), gz);
  writeFileSync(join(dir, 'ids.json'), JSON.stringify({ tradeNos: trades.map((t) => t.outTradeNo), refundNos: refundDocs.map((r) => r.outRefundNo) }));

  const loadStarted = performance.now();
  for (let i = 0; i < orderDocs.length; i += 5_000) await Order.collection.insertMany(orderDocs.slice(i, i + 5_000), { ordered: false });
  for (let i = 0; i < refundDocs.length; i += 5_000) await Refund.collection.insertMany(refundDocs.slice(i, i + 5_000), { ordered: false });
  const loadMs = performance.now() - loadStarted;
  await conn.close();
  console.log(`setup: ${payments} orders + ${refundDocs.length} refunds loaded in ${(loadMs / 1000).toFixed(1)} s (insertMany, batches of 5,000); bill ${(text.length / 1e6).toFixed(1)} MB text, ${(gz.length / 1e6).toFixed(1)} MB gzip, ${payments + refundDocs.length} rows`);

  const results: Record<string, PhaseResult> = {};
  const phaseList = (process.argv.find((a) => a.startsWith('--phases='))?.split('=')[1] ?? 'parse,in-lookups,day-reads,reconcile').split(',');
  if (!phaseList.includes('reconcile')) phaseList.push('reconcile');
  for (const phase of phaseList) {
    for (let r = 0; r < rounds; r++) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), `--phase=${phase}`, `--dir=${dir}`, `--batch=${batch}`], {
        env: process.env,
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
      const res = JSON.parse(out.trim().split('\n').pop()!) as PhaseResult;
      const best = results[phase];
      // best of the rounds for time; the largest peaks seen, for memory
      results[phase] = {
        ...res,
        ms: Math.min(res.ms, best?.ms ?? Infinity),
        maxRssMb: Math.max(res.maxRssMb, best?.maxRssMb ?? 0),
        peakHeapMb: Math.max(res.peakHeapMb, best?.peakHeapMb ?? 0),
      };
    }
  }
  rmSync(dir, { recursive: true, force: true });

  const rec = results.reconcile!;
  const rows = [
    ['phase', 'time (best of ' + rounds + ')', 'peak RSS', 'peak heap', 'reconcile ÷ it (time, RSS, heap)'],
    ...Object.values(results).map((r) => [
      r.phase,
      `${(r.ms / 1000).toFixed(2)} s`,
      `${r.maxRssMb.toFixed(0)} MB`,
      `${r.peakHeapMb.toFixed(0)} MB`,
      `${(rec.ms / r.ms).toFixed(2)}×, ${(rec.maxRssMb / r.maxRssMb).toFixed(2)}×, ${(rec.peakHeapMb / r.peakHeapMb).toFixed(2)}×`,
    ]),
  ];
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(12) : c.padStart(i === 4 ? 36 : 18))).join(''));
  const ratios = Object.fromEntries(
    Object.values(results).map((r) => [r.phase, { time: rec.ms / r.ms, rss: rec.maxRssMb / r.maxRssMb, heap: rec.peakHeapMb / r.peakHeapMb }]),
  );
  if (results.parse && results['day-reads']) {
    console.log(`reconcile / (parse + day-reads): ${(rec.ms / (results.parse.ms + results['day-reads'].ms)).toFixed(2)}× the time`);
  }
  console.log(`report: ${JSON.stringify(rec.detail)}`);
  const outDir = join(here, 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, 'reconcile.json'),
    JSON.stringify({ at: new Date().toISOString(), machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGb: os.totalmem() / 2 ** 30, load: os.loadavg(), node: process.version }, payments, refunds: refundDocs.length, batch, loadMs, results, ratios }, null, 2),
  );
}

const phaseArg = process.argv.find((a) => a.startsWith('--phase='));
if (phaseArg) {
  const get = (n: string) => process.argv.find((a) => a.startsWith(`--${n}=`))!.split('=')[1]!;
  await runPhase(phaseArg.split('=')[1]!, get('dir'), process.env.MONGODB_URI!, process.env.REDIS_URL!, Number(get('batch')));
  process.exit(0);
} else {
  await main();
  process.exit(0);
}
