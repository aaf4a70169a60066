// The operators' reconciliation API: list, one day, re-run (audited), and every refusal with its code.
import t from 'tap';
import { dayOf, daysBefore } from '../../../server/src/reconciliation/day.js';
import { reconcileLockKey } from '../../../server/src/reconciliation/service.js';
import { apiClient } from '../../helpers/api.js';
import { admin, clockedStack, todayAt } from './helpers.js';

t.test('a day without trades (No Bill Exist) is an empty OK report; list, read, re-run, audit', async (t) => {
  const s = await clockedStack(t, {}, todayAt(11));
  const today = dayOf(new Date());
  const yesterday = daysBefore(today, 1);

  const run = await admin(s).call<Record<string, unknown>>('POST', `/admin/api/reconciliation/${yesterday}/run`, { reason: '日终对账' });
  t.equal(run.status, 200, run.text);
  t.match(run.body, {
    day: yesterday,
    status: 'OK',
    billExists: false,
    counts: { billPayments: 0, billRefunds: 0, ourPayments: 0, ourRefunds: 0, matched: 0, differences: 0, open: 0, byKind: {} },
    totals: { wechat: { payments: 0, refunds: 0 }, ours: { payments: 0, refunds: 0 } },
    differences: [],
    runs: 1,
  });
  t.notOk('error' in run.body, 'no error on a good run');

  const audit = await admin(s).call<{ items: Array<Record<string, unknown>> }>('GET', `/admin/api/audit?target=${yesterday}`);
  t.match(audit.body.items, [{ action: 'reconciliation.run', actor: 'api-token', target: { kind: 'reconciliation', id: yesterday }, reason: '日终对账', after: { status: 'OK', runs: 1 } }]);

  const one = await admin(s).call<Record<string, unknown>>('GET', `/admin/api/reconciliation/${yesterday}`);
  t.equal(one.status, 200);
  t.match(one.body, { day: yesterday, status: 'OK', differences: [] });

  // An older report, so that the list shows its order.
  const older = daysBefore(today, 3);
  t.equal((await admin(s).call('POST', `/admin/api/reconciliation/${older}/run`, { reason: 'catch up' })).status, 200);
  const list = await admin(s).call<{ items: Array<Record<string, unknown>>; nextBefore: string }>('GET', '/admin/api/reconciliation');
  t.equal(list.status, 200);
  t.same(list.body.items.map((r) => r.day), [yesterday, older], 'newest first');
  t.notOk('differences' in list.body.items[0]!, 'summaries only');
  t.equal(list.body.nextBefore, daysBefore(today, 31));
  const page = await admin(s).call<{ items: Array<{ day: string }>; nextBefore: string }>('GET', `/admin/api/reconciliation?before=${yesterday}&limit=2`);
  t.same(page.body.items.map((r) => r.day), [older], 'the page is the 2 days before `before`');
  t.equal(page.body.nextBefore, older);

  const again = await admin(s).call<{ runs: number; status: string }>('POST', `/admin/api/reconciliation/${yesterday}/run`, { reason: 'again' });
  t.match(again.body, { runs: 2, status: 'OK' });
});

t.test('refusals: bad day, a day not over, no report, not ready, running, no token, no reason', async (t) => {
  const s = await clockedStack(t, {}, todayAt(11));
  const today = dayOf(new Date());
  for (const bad of ['2026-02-30', '20260201', 'yesterday', '2026-1-01']) {
    const get = await admin(s).call<{ code: string }>('GET', `/admin/api/reconciliation/${bad}`);
    t.match(get, { status: 400, body: { code: 'INVALID_DAY' } }, `GET ${bad}`);
    const post = await admin(s).call<{ code: string }>('POST', `/admin/api/reconciliation/${bad}/run`, { reason: 'x' });
    t.match(post, { status: 400, body: { code: 'INVALID_DAY' } }, `POST ${bad}`);
  }
  t.match(await admin(s).call('GET', '/admin/api/reconciliation?before=tomorrow'), { status: 400, body: { code: 'INVALID_DAY' } });
  t.match(await admin(s).call('GET', '/admin/api/reconciliation?limit=0'), { status: 400, body: { code: 'VALIDATION_ERROR' } });
  for (const day of [today, daysBefore(today, -1)]) {
    t.match(await admin(s).call('POST', `/admin/api/reconciliation/${day}/run`, { reason: 'x' }), { status: 400, body: { code: 'DAY_NOT_OVER' } }, day);
  }
  t.match(await admin(s).call('GET', `/admin/api/reconciliation/${daysBefore(today, 5)}`), { status: 404, body: { code: 'NOT_FOUND' } });
  t.match(await admin(s).call('POST', `/admin/api/reconciliation/${daysBefore(today, 1)}/run`, {}), { status: 400, body: { code: 'VALIDATION_ERROR' } });
  t.match(await apiClient(s.apiBase).call('GET', '/admin/api/reconciliation'), { status: 401, body: { code: 'UNAUTHORIZED' } });
  t.match(await apiClient(s.apiBase, 'wrong').call('POST', `/admin/api/reconciliation/${daysBefore(today, 1)}/run`, { reason: 'x' }), { status: 401 });

  // Before 10:00 Beijing WeChat is still making yesterday's bill: nothing stored, try later.
  const yesterday = daysBefore(today, 1);
  s.morningAfter(yesterday, 8);
  t.match(await admin(s).call('POST', `/admin/api/reconciliation/${yesterday}/run`, { reason: 'early' }), { status: 409, body: { code: 'BILL_NOT_READY' } });
  t.equal(await s.app.reconciliation.get(yesterday), null, 'nothing stored');

  // Another run of the day holds its lock (another instance, the job).
  s.morningAfter(yesterday, 11);
  await s.app.redis.set(reconcileLockKey(s.app.mongo.name, yesterday), 'someone', 'PX', 10_000);
  t.match(await admin(s).call('POST', `/admin/api/reconciliation/${yesterday}/run`, { reason: 'twice' }), { status: 409, body: { code: 'RECONCILE_RUNNING' } });
  await s.app.redis.del(reconcileLockKey(s.app.mongo.name, yesterday));
  t.match(await admin(s).call('POST', `/admin/api/reconciliation/${yesterday}/run`, { reason: 'now' }), { status: 200, body: { status: 'OK' } });
  t.equal((await admin(s).call<{ items: unknown[] }>('GET', `/admin/api/audit?target=${yesterday}`)).body.items.length, 1, 'refused runs are not audited');
});

t.test('without ADMIN_API_TOKEN (and with the console off) the reconciliation API does not exist', async (t) => {
  const s = await clockedStack(t, { env: { ADMIN_CONSOLE: 'off' } });
  t.match(await admin(s).call('GET', '/admin/api/reconciliation'), { status: 404 });
  t.match(await admin(s).call('POST', `/admin/api/reconciliation/${daysBefore(dayOf(new Date()), 1)}/run`, { reason: 'x' }), { status: 404 });
});
