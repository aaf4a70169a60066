// Reconciliation's lookups are answered by an index on our FerretDB build (and on MongoDB): the day
// fields, the batched $in by out_trade_no / out_refund_no, and the reports' _id $in.
import t from 'tap';
import type mongoose from 'mongoose';
import { FERRETDB_PATCH_MARKER } from '../../../server/src/local-services.js';
import { startStack } from '../../helpers/stack.js';

t.test('every reconciliation lookup uses an index', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  const db = s.app.mongo.db as mongoose.mongo.Db;
  const info = await db.admin().command({ buildInfo: 1 });
  const ferret = typeof info.ferretdbVersion === 'string';
  const ours = Number(/^wxpay-mp\.(\d+)$/.exec(String(info.ferretdbPackage ?? ''))?.[1] ?? 0) >= Number(/(\d+)$/.exec(FERRETDB_PATCH_MARKER)?.[1]);
  if (ferret && !ours) {
    t.comment(`FerretDB build ${String(info.ferretdbPackage)} scans for every filter: no index to check`);
    return;
  }

  const queries: Array<{ coll: string; filter: Record<string, unknown>; index: string }> = [
    { coll: 'orders', filter: { paidDay: '20260301' }, index: 'paidDay_1' },
    { coll: 'orders', filter: { outTradeNo: { $in: ['A', 'B', 'C'] } }, index: 'outTradeNo_1' },
    { coll: 'refunds', filter: { acceptedDay: '20260301' }, index: 'acceptedDay_1' },
    { coll: 'refunds', filter: { outRefundNo: { $in: ['RA', 'RB'] } }, index: 'outRefundNo_1' },
    { coll: 'reconciliation_reports', filter: { _id: { $in: ['2026-03-01', '2026-02-28'] } }, index: '_id_' },
  ];
  for (const q of queries) {
    const explain = await db.command({ explain: { find: q.coll, filter: q.filter }, verbosity: 'queryPlanner' });
    if (!ferret) {
      t.notMatch(JSON.stringify(explain.queryPlanner?.winningPlan ?? {}), /COLLSCAN/, `${q.coll} ${JSON.stringify(q.filter)}`);
      continue;
    }
    const lines = ((explain.queryPlanner as { Plan?: string[] } | undefined)?.Plan ?? []).map((l) => l.replace(/^.*detail=/, ''));
    t.notOk(lines.some((l) => /^SCAN /.test(l)), `${q.coll} ${JSON.stringify(q.filter)}: no table scan (${lines.join('; ')})`);
    t.ok(lines.some((l) => /^SEARCH /.test(l) && l.includes(`_${q.index} (`)), `${q.coll}: answered from ${q.index} (${lines.join('; ')})`);
    t.equal(explain.filterPushdown, true, `${q.coll}: pushed down`);
  }
});
