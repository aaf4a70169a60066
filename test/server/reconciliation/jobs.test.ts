// The daily schedule: which days are due at what Beijing time, and several instances sharing one
// schedule reconcile each day once.
import t from 'tap';
import { dueDays, RECONCILE_JOBS } from '../../../server/src/reconciliation/jobs.js';
import { dayOf, daysBefore } from '../../../server/src/reconciliation/day.js';
import type { ReportSummary } from '../../../server/src/reconciliation/model.js';
import { fromBeijingTime } from '../../../server/src/wechat/time.js';
import { eventually } from '../../helpers/api.js';
import { clockedStack, todayAt } from './helpers.js';

const have = (days: string[]) => ({ summaries: async (asked: readonly string[]) => asked.filter((d) => days.includes(d)).map((d) => ({ _id: d }) as ReportSummary) });

t.test('due days: the previous day from RECONCILE_AT Beijing time, plus a few missed ones, never one already reported', async (t) => {
  const settings = { atMinute: 10 * 60 + 30, catchUpDays: 3 };
  t.same(await dueDays(fromBeijingTime('20260310102959'), settings, have([])), ['2026-03-08', '2026-03-07'], 'before 10:30 yesterday is not due');
  t.same(await dueDays(fromBeijingTime('20260310103000'), settings, have([])), ['2026-03-09', '2026-03-08', '2026-03-07']);
  t.same(await dueDays(fromBeijingTime('20260310235959'), settings, have(['2026-03-08'])), ['2026-03-09', '2026-03-07']);
  // 02:00 UTC on the 10th is 10:00 in Beijing, whatever the server's zone
  t.same(await dueDays(new Date('2026-03-10T02:00:00Z'), { atMinute: 600, catchUpDays: 1 }, have([])), ['2026-03-09']);
  t.same(await dueDays(new Date('2026-03-01T03:00:00Z'), { atMinute: 600, catchUpDays: 1 }, have([])), ['2026-02-28'], 'across a month end');
});

t.test('two instances share one schedule: each due day is reconciled once', async (t) => {
  const s = await clockedStack(t, { instances: 2, jobs: { workers: true, reconciliation: { scheduleEveryMs: 60_000, atMinute: 0 } } }, todayAt(11));
  const today = dayOf(new Date());
  const days = [1, 2, 3].map((n) => daysBefore(today, n));
  const reports = await eventually(() => s.app.reconciliation.summaries(days), (l) => l.length === 3, 30_000);
  t.same(reports.map((r) => r._id).sort(), [...days].sort());
  // The schedule running again (on either instance) finds nothing left to do.
  await s.apps[1]!.jobs.enqueue(RECONCILE_JOBS.schedule, {});
  await s.apps[0]!.jobs.enqueue(RECONCILE_JOBS.schedule, {});
  await eventually(
    async () => Object.values(await s.app.jobs.counts()).reduce((n, c) => n + c.waiting + c.active, 0),
    (n) => n === 0,
    30_000,
  );
  const after = await s.app.reconciliation.summaries(days);
  t.same(after.map((r) => [r._id, r.runs, r.status]).sort(), days.map((d) => [d, 1, 'OK']).sort(), 'one run per day');
});
