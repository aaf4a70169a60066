// When WeChat refuses the download or cannot be reached: a FAILED report with WeChat's words, retried
// by the job with backoff; a bill still being made is a retry later, not a failure.
import t from 'tap';
import { Queue } from 'bullmq';
import { buildApp } from '../../../server/src/app.js';
import { RECONCILE_JOBS, reconcileJobId } from '../../../server/src/reconciliation/jobs.js';
import { dayOf, daysBefore } from '../../../server/src/reconciliation/day.js';
import { eventually } from '../../helpers/api.js';
import { onV3 } from '../../helpers/wechat-v3.js';
import { clockedStack, todayAt } from './helpers.js';

t.test('a refusal is a FAILED report with WeChat\'s words; a good run replaces it; a failing re-run keeps the good report', async (t) => {
  const s = await clockedStack(t, {}, todayAt(11));
  const day = daysBefore(dayOf(new Date()), 1);
  // The same server with wrong credentials, so WeChat refuses the download in its own words. v2 signs
  // with the API key: a wrong one is "sign error". v3 signs with the merchant certificate's key and
  // names the certificate by its serial: a wrong serial is v3's SIGN_ERROR (401) with its message.
  const pay = onV3()
    ? { ...s.config.pay, v3: { ...s.config.pay.v3!, serialNo: '5'.repeat(40) } }
    : { ...s.config.pay, apiKey: 'W'.repeat(32) };
  const refusal = onV3() ? { code: 'SIGNERROR', message: '商户证书序列号有误。请使用签名私钥匹配的证书序列号' } : { code: 'RETURN_FAIL', message: 'sign error' };
  const wrong = await buildApp({ ...s.appOptions, jobsPrefix: `${s.appOptions.jobsPrefix}-w`, config: { ...s.config, pay } });
  t.teardown(() => wrong.close());

  const failed = await wrong.reconciliation.reconcileDay(day);
  t.match(failed, { retriable: false, report: { _id: day, status: 'FAILED', error: refusal, runs: 1, differences: [] } });
  t.match(await s.app.reconciliation.get(day), { status: 'FAILED', error: { message: refusal.message } }, 'stored');

  const good = await s.app.reconciliation.reconcileDay(day);
  t.match(good.report, { status: 'OK', error: null, runs: 2, billExists: false });

  const again = await wrong.reconciliation.reconcileDay(day);
  t.match(again.report, { status: 'OK', billExists: false, runs: 3, error: refusal }, 'the good report stays, the failure noted on it');
});

t.test('WeChat unreachable: FAILED (retriable), retried by the job with backoff until it is a dead letter', async (t) => {
  const s = await clockedStack(t, {}, todayAt(11));
  const day = daysBefore(dayOf(new Date()), 2);
  const down = await buildApp({
    ...s.appOptions,
    jobsPrefix: `${s.appOptions.jobsPrefix}-down`,
    config: { ...s.config, pay: { ...s.config.pay, apiBase: 'http://127.0.0.1:1' } },
    jobs: { workers: true, reconciliation: { scheduleEveryMs: 0, attempts: 2, backoff: { type: 'fixed', delayMs: 50 } } },
  });
  t.teardown(() => down.close());
  await down.jobs.enqueue(RECONCILE_JOBS.day, { day }, { jobId: reconcileJobId(day) });
  const dead = await eventually(() => down.jobs.deadLetters({ name: RECONCILE_JOBS.day }), (l) => l.length === 1, 60_000);
  t.match(dead, [{ jobId: `reconcile-${day.replace(/-/g, '')}`, attempts: 2, error: /NETWORK/ }]);
  t.match(await s.app.reconciliation.get(day), { status: 'FAILED', error: { code: 'NETWORK' }, runs: 2 }, 'each attempt ran and recorded its failure');
});

t.test('a bill WeChat is still making (before 10:00 Beijing) is retried later without using an attempt, and nothing is stored', async (t) => {
  const s = await clockedStack(t, {}, todayAt(11));
  const day = daysBefore(dayOf(new Date()), 3);
  s.morningAfter(day, 8);
  const worker = await buildApp({
    ...s.appOptions,
    jobsPrefix: `${s.appOptions.jobsPrefix}-early`,
    jobs: { workers: true, reconciliation: { scheduleEveryMs: 0, notReadyRetryMs: 60_000 } },
  });
  t.teardown(() => worker.close());
  const q = new Queue(RECONCILE_JOBS.day, { prefix: `${s.appOptions.jobsPrefix}-early`, connection: { url: s.config.redisUrl! } });
  t.teardown(() => q.close());
  await worker.jobs.enqueue(RECONCILE_JOBS.day, { day }, { jobId: reconcileJobId(day) });
  const state = await eventually(
    async () => {
      const job = await q.getJob(reconcileJobId(day));
      return { state: await job?.getState(), attemptsMade: job?.attemptsMade, startedOnce: (job?.attemptsStarted ?? 0) > 0 };
    },
    (v) => v.state === 'delayed' && v.startedOnce,
    30_000,
  );
  t.match(state, { state: 'delayed', attemptsMade: 0 }, 'deferred, no attempt spent');
  t.equal(await s.app.reconciliation.get(day), null, 'no report for a bill not made yet');
});
