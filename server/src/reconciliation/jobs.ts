// Reconciliation's background jobs: `reconcile.day` runs one day (jobId reconcile-YYYYMMDD: one per
// day while it waits, runs or retries, whatever the number of instances), and `reconcile.schedule`,
// a job scheduler shared by every instance, enqueues the days that are due and have no report yet.
import { RetryLater, type Backoff, type JobLog, type Jobs } from '../jobs/queue.js';
import { beijingMinuteOfDay, compactDay, dayOf, daysBefore, isDay } from './day.js';
import type { ReportRepository } from './model.js';
import { BillNotReadyError, ReconcileBusyError, type ReconcileService } from './service.js';

export const RECONCILE_JOBS = { day: 'reconcile.day', schedule: 'reconcile.schedule' } as const;

export interface ReconcileJobSettings {
  /** Beijing minute of the day from which the previous day is due (10:30 → 630) */
  atMinute: number;
  /** ms between two runs of the schedule across all instances (0: no schedule) */
  scheduleEveryMs: number;
  /** days before today the schedule looks at (a server that was down catches up) */
  catchUpDays: number;
  attempts: number;
  backoff: Backoff;
  /** wait before asking again for a bill WeChat is still making */
  notReadyRetryMs: number;
  /** wait while another run of the same day holds its lock */
  busyRetryMs: number;
}

export const DEFAULT_RECONCILE_JOB_SETTINGS: ReconcileJobSettings = {
  atMinute: 10 * 60 + 30,
  scheduleEveryMs: 10 * 60_000,
  catchUpDays: 3,
  // 1, 2, 4, 8, 16, 32 min: about an hour of WeChat trouble before the job is a dead letter
  attempts: 7,
  backoff: { type: 'exponential', delayMs: 60_000 },
  notReadyRetryMs: 15 * 60_000,
  busyRetryMs: 60_000,
};

export const reconcileJobId = (day: string) => `reconcile-${compactDay(day)}`;

/** The days the schedule should enqueue at `now`: the last few, once WeChat's bills are due, without a report. */
export async function dueDays(now: Date, settings: Pick<ReconcileJobSettings, 'atMinute' | 'catchUpDays'>, reports: Pick<ReportRepository, 'summaries'>): Promise<string[]> {
  const today = dayOf(now);
  const newest = beijingMinuteOfDay(now) >= settings.atMinute ? 1 : 2;
  const days: string[] = [];
  for (let n = newest; n <= Math.max(newest, settings.catchUpDays); n++) days.push(daysBefore(today, n));
  const have = new Set((await reports.summaries(days)).map((r) => r._id));
  return days.filter((d) => !have.has(d));
}

export async function defineReconcileJobs(deps: {
  jobs: Jobs;
  service: ReconcileService;
  reports: ReportRepository;
  log: JobLog;
  settings: ReconcileJobSettings;
  now?: () => Date;
}): Promise<void> {
  const { jobs, service, settings } = deps;
  const now = deps.now ?? (() => new Date());
  jobs.define(
    RECONCILE_JOBS.day,
    async (payload) => {
      const day = payload.day;
      if (!isDay(day)) return { skipped: 'bad day' };
      try {
        const { report, retriable } = await service.reconcileDay(day);
        // Thrown, so that the queue retries it with backoff (and keeps it as a dead letter at the end).
        if (retriable) throw new Error(`${report.error?.code ?? 'FAILED'}: ${report.error?.message ?? 'reconciliation failed'}`);
        return { status: report.status, differences: report.counts.differences, open: report.counts.open };
      } catch (err) {
        if (err instanceof BillNotReadyError) throw new RetryLater(settings.notReadyRetryMs, err.message);
        if (err instanceof ReconcileBusyError) throw new RetryLater(settings.busyRetryMs, err.message);
        throw err;
      }
    },
    { attempts: settings.attempts, backoff: settings.backoff, concurrency: 1, keepDead: 100 },
  );
  jobs.define(
    RECONCILE_JOBS.schedule,
    async () => {
      const days = await dueDays(now(), settings, deps.reports);
      await jobs.enqueueMany(RECONCILE_JOBS.day, days.map((day) => ({ payload: { day }, jobId: reconcileJobId(day) })));
      return { enqueued: days };
    },
    { attempts: 1, keepDead: 20 },
  );
  await jobs.every(RECONCILE_JOBS.schedule, settings.scheduleEveryMs);
}
