// The operators' reconciliation API: the days' reports (summaries), one day's report with its
// differences, and a re-run of a day (finance; audit-logged). The console builds its screen on these.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { installAdminGuard, type AdminRole } from '../admin/guard.js';
import { Errors } from '../errors.js';
import { dayOf, daysBefore, isDay } from '../reconciliation/day.js';
import { DIFFERENCE_KINDS, type DifferenceDoc, type ReconciliationReportDoc, type ReportSummary } from '../reconciliation/model.js';
import { BillNotReadyError, ReconcileBusyError } from '../reconciliation/service.js';
import { errorResponses } from './schemas.js';

const Day = Type.String({ minLength: 1, maxLength: 32, description: 'a Beijing calendar day, YYYY-MM-DD' });
const Fen = Type.Integer();
const Side = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Null()]));

const ErrorInfo = Type.Object({ code: Type.String(), message: Type.String(), at: Type.String() });

export const ReportSummarySchema = Type.Object({
  day: Type.String(),
  status: Type.Union([Type.Literal('OK'), Type.Literal('DIFFERENCES'), Type.Literal('FAILED')]),
  billExists: Type.Boolean(),
  error: Type.Optional(ErrorInfo),
  counts: Type.Object({
    billPayments: Type.Integer(),
    billRefunds: Type.Integer(),
    ourPayments: Type.Integer(),
    ourRefunds: Type.Integer(),
    matched: Type.Integer(),
    differences: Type.Integer(),
    open: Type.Integer(),
    byKind: Type.Record(Type.String(), Type.Integer()),
  }),
  totals: Type.Object({
    wechat: Type.Object({ payments: Fen, refunds: Fen }),
    ours: Type.Object({ payments: Fen, refunds: Fen }),
  }),
  truncated: Type.Boolean(),
  startedAt: Type.String(),
  finishedAt: Type.String(),
  runs: Type.Integer(),
});

export const DifferenceSchema = Type.Object({
  kind: Type.Union(DIFFERENCE_KINDS.map((k) => Type.Literal(k))),
  outTradeNo: Type.Optional(Type.String()),
  transactionId: Type.Optional(Type.String()),
  outRefundNo: Type.Optional(Type.String()),
  refundId: Type.Optional(Type.String()),
  ours: Type.Optional(Side),
  wechat: Type.Optional(Side),
  resolution: Type.Union([Type.Literal('HEALED'), Type.Literal('OPEN')]),
  note: Type.Optional(Type.String()),
  foundAt: Type.String(),
  healedAt: Type.Optional(Type.String()),
});

export const ReportSchema = Type.Intersect([ReportSummarySchema, Type.Object({ differences: Type.Array(DifferenceSchema) })]);

function toSummary(r: ReportSummary) {
  return {
    day: r.day,
    status: r.status,
    billExists: r.billExists,
    ...(r.error ? { error: { code: r.error.code, message: r.error.message, at: new Date(r.error.at).toISOString() } } : {}),
    counts: { ...r.counts, byKind: r.counts.byKind ?? {} },
    totals: r.totals,
    truncated: r.truncated,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    runs: r.runs,
  };
}

function toDifference(d: DifferenceDoc) {
  return {
    kind: d.kind,
    ...(d.outTradeNo ? { outTradeNo: d.outTradeNo } : {}),
    ...(d.transactionId ? { transactionId: d.transactionId } : {}),
    ...(d.outRefundNo ? { outRefundNo: d.outRefundNo } : {}),
    ...(d.refundId ? { refundId: d.refundId } : {}),
    ...(d.ours ? { ours: d.ours } : {}),
    ...(d.wechat ? { wechat: d.wechat } : {}),
    resolution: d.resolution,
    ...(d.note ? { note: d.note } : {}),
    foundAt: new Date(d.foundAt).toISOString(),
    ...(d.healedAt ? { healedAt: new Date(d.healedAt).toISOString() } : {}),
  };
}

export function toApiReport(r: ReconciliationReportDoc) {
  return { ...toSummary(r), differences: r.differences.map(toDifference) };
}

function checkDay(day: string): string {
  if (!isDay(day)) throw new Errors.InvalidDay(JSON.stringify(day).slice(0, 40));
  return day;
}

const adminReconciliationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  installAdminGuard(app);

  // Newest first, one page of calendar days at a time: the days are the reports' _id, so a page is
  // one `_id` `$in` (answered from the primary key on every backend), never a sort over the reports.
  app.get(
    '/admin/api/reconciliation',
    {
      config: { adminRole: 'viewer' satisfies AdminRole },
      schema: {
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 31, description: 'calendar days in the page' })),
          before: Type.Optional(Type.String({ maxLength: 32, description: 'the page ends the day before this one (YYYY-MM-DD; default today, Beijing)' })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(ReportSummarySchema),
            /** pass as `before` for the next (older) page */
            nextBefore: Type.String(),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const before = req.query.before === undefined ? dayOf(new Date()) : checkDay(req.query.before);
      const limit = req.query.limit ?? 31;
      const days = Array.from({ length: limit }, (_, i) => daysBefore(before, i + 1));
      const found = await app.reconciliation.summaries(days);
      found.sort((a, b) => (a._id < b._id ? 1 : a._id > b._id ? -1 : 0));
      return { items: found.map(toSummary), nextBefore: days[days.length - 1]! };
    },
  );

  app.get(
    '/admin/api/reconciliation/:day',
    {
      config: { adminRole: 'viewer' satisfies AdminRole },
      schema: { params: Type.Object({ day: Day }), response: { 200: ReportSchema, ...errorResponses } },
    },
    async (req) => {
      const report = await app.reconciliation.get(checkDay(req.params.day));
      if (!report) throw new Errors.NotFound('Reconciliation report');
      return toApiReport(report);
    },
  );

  app.post(
    '/admin/api/reconciliation/:day/run',
    {
      config: { adminRole: 'finance' satisfies AdminRole },
      schema: {
        params: Type.Object({ day: Day }),
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: ReportSchema, ...errorResponses },
      },
    },
    async (req) => {
      const day = checkDay(req.params.day);
      if (day >= dayOf(new Date())) throw new Errors.DayNotOver(day);
      let report: ReconciliationReportDoc;
      try {
        report = (await app.reconciliation.reconcileDay(day)).report;
      } catch (err) {
        if (err instanceof BillNotReadyError) throw new Errors.BillNotReady(day);
        if (err instanceof ReconcileBusyError) throw new Errors.ReconcileRunning(day);
        throw err;
      }
      await app.audit.record({
        actor: req.adminActor?.id ?? 'api-token',
        ip: req.ip,
        action: 'reconciliation.run',
        target: { kind: 'reconciliation', id: day },
        after: { status: report.status, differences: report.counts.differences, open: report.counts.open, runs: report.runs },
        reason: req.body.reason,
      });
      return toApiReport(report);
    },
  );
};
export default adminReconciliationRoutes;
