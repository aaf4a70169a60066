import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Schema, type Connection, type Model, type Types } from 'mongoose';
import { parseXml, type PayClient } from '../wechat/index.js';

/** One payment notify as it reached /wxpay/notify: what it said, whether it verified, what we replied. */
export interface NotifyLogDoc {
  _id: Types.ObjectId;
  at: Date;
  /** from the body as sent (even when it did not verify); absent when it was not XML at all */
  outTradeNo?: string;
  transactionId?: string;
  totalFee?: string;
  resultCode?: string;
  /** time_end as WeChat sent it (yyyyMMddHHmmss, Beijing) */
  timeEnd?: string;
  /** OK, or why verification refused it (SIGN_MISMATCH, APPID_MISMATCH, XML_..., ...) */
  verification: string;
  httpStatus: number;
  reply: { code: string; msg?: string };
  /** ms from the payment (time_end) to our receipt: WeChat's delivery latency */
  latencyMs?: number;
  ip: string;
}

/** One orderquery we made to WeChat: for which order, what it answered (or how it failed). */
export interface QueryLogDoc {
  _id: Types.ObjectId;
  at: Date;
  outTradeNo: string;
  tradeState?: string;
  transactionId?: string;
  totalFee?: number;
  error?: string;
  ms: number;
}

const NotifyLogSchema = new Schema<NotifyLogDoc>(
  {
    at: { type: Date, required: true },
    outTradeNo: String,
    transactionId: String,
    totalFee: String,
    resultCode: String,
    timeEnd: String,
    verification: { type: String, required: true },
    httpStatus: { type: Number, required: true },
    reply: { type: new Schema({ code: String, msg: String }, { _id: false }), required: true },
    latencyMs: Number,
    ip: String,
  },
  { collection: 'notify_log', versionKey: false },
);
// The order page asks by out_trade_no (an index's first key: an indexed lookup on the embedded build too).
NotifyLogSchema.index({ outTradeNo: 1 });
NotifyLogSchema.index({ at: -1 });

const QueryLogSchema = new Schema<QueryLogDoc>(
  {
    at: { type: Date, required: true },
    outTradeNo: { type: String, required: true },
    tradeState: String,
    transactionId: String,
    totalFee: Number,
    error: String,
    ms: Number,
  },
  { collection: 'orderquery_log', versionKey: false },
);
QueryLogSchema.index({ outTradeNo: 1 });

export type ActivityLog = Awaited<ReturnType<typeof createActivityLog>>;

export async function createActivityLog(conn: Connection) {
  const Notify = (conn.models.NotifyLog as Model<NotifyLogDoc> | undefined) ?? conn.model<NotifyLogDoc>('NotifyLog', NotifyLogSchema);
  const Query = (conn.models.QueryLog as Model<QueryLogDoc> | undefined) ?? conn.model<QueryLogDoc>('QueryLog', QueryLogSchema);
  await Notify.createIndexes();
  await Query.createIndexes();
  return {
    async notify(entry: Omit<NotifyLogDoc, '_id'>): Promise<void> {
      await Notify.create(entry);
    },
    async query(entry: Omit<QueryLogDoc, '_id'>): Promise<void> {
      await Query.create(entry);
    },
    async notifiesFor(outTradeNo: string, limit = 200): Promise<NotifyLogDoc[]> {
      return Notify.find({ outTradeNo }).sort({ at: 1 }).limit(limit).lean<NotifyLogDoc[]>();
    },
    async queriesFor(outTradeNo: string, limit = 200): Promise<QueryLogDoc[]> {
      return Query.find({ outTradeNo }).sort({ at: 1 }).limit(limit).lean<QueryLogDoc[]>();
    },
    /** notifies received since `since`, newest first, at most `limit` (the dashboard's window) */
    async notifiesSince(since: Date, limit: number): Promise<NotifyLogDoc[]> {
      return Notify.find({ at: { $gte: since } }).sort({ at: -1 }).limit(limit).lean<NotifyLogDoc[]>();
    },
  };
}

// yyyyMMddHHmmss in Beijing time (UTC+8) to an instant
function beijingToDate(s: string | undefined): Date | undefined {
  const m = s ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s) : null;
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h - 8, mi, se));
}

const V3_REPLY_RE = /^\{"code":"(\w+)"(?:,"message":"([^"]*)")?/;
const REPLY_RE = /<return_code><!\[CDATA\[(\w+)\]\]><\/return_code>(?:<return_msg><!\[CDATA\[([^\]]*)\]\]><\/return_msg>)?/;
const kReply = Symbol('notifyReply');
const kVerified = Symbol('notifyVerified');
interface NotifyVerification {
  /** 'OK', or the code verifyPayNotify refused the body with */
  verification: string;
  /** the verified notification's fields (absent when it did not verify) */
  fields?: Record<string, string>;
}
type WithReply = FastifyRequest & { [kReply]?: string; [kVerified]?: NotifyVerification };

/** The notify route says what its one verification found, so the log need not verify again. */
export function noteNotifyVerification(req: FastifyRequest, v: NotifyVerification): void {
  (req as WithReply)[kVerified] = v;
}

/**
 * Installed in the notify route's plugin: every request to it is logged once answered, whatever it
 * was, with the verification the route made (noteNotifyVerification); only a body that did not
 * verify is parsed again here, for the ids it claims. A failure to write the log is logged and
 * never changes the reply WeChat got.
 */
export function installNotifyLog(app: FastifyInstance): void {
  app.addHook('onSend', async (req, _reply, payload) => {
    if (typeof payload === 'string') (req as WithReply)[kReply] = payload;
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    try {
      const noted = (req as WithReply)[kVerified];
      const verification = noted?.verification ?? 'REFUSED';
      let fields: Record<string, string> = noted?.fields ?? {};
      if (!noted?.fields) {
        try {
          fields = parseXml(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
        } catch {
          // not XML: logged with what we replied
        }
      }
      const sent = (req as WithReply)[kReply] ?? '';
      // v2 answers XML; v3 answers 200/204 with no body on success, {"code":"FAIL","message":…} otherwise
      const m = REPLY_RE.exec(sent) ?? V3_REPLY_RE.exec(sent) ?? (reply.statusCode < 300 && sent === '' ? [sent, 'SUCCESS'] : null);
      const at = new Date();
      const paidAt = beijingToDate(fields.time_end);
      await app.activity.notify({
        at,
        ...(fields.out_trade_no ? { outTradeNo: fields.out_trade_no.slice(0, 64) } : {}),
        ...(fields.transaction_id ? { transactionId: fields.transaction_id.slice(0, 64) } : {}),
        ...(fields.total_fee ? { totalFee: fields.total_fee.slice(0, 16) } : {}),
        ...(fields.result_code ? { resultCode: fields.result_code.slice(0, 16) } : {}),
        ...(fields.time_end ? { timeEnd: fields.time_end.slice(0, 14) } : {}),
        verification,
        httpStatus: reply.statusCode,
        reply: { code: m?.[1] ?? 'NONE', ...(m?.[2] ? { msg: m[2] } : {}) },
        ...(paidAt && verification === 'OK' ? { latencyMs: Math.max(0, at.getTime() - paidAt.getTime()) } : {}),
        ip: req.ip,
      });
    } catch (err) {
      req.log.warn({ err: { message: (err as Error).message } }, 'could not write the notify log');
    }
  });
}

/** Every orderquery the server makes is logged, whoever makes it (status polls, notify checks, jobs). */
export function logOrderQueries(pay: PayClient, activity: ActivityLog, log: FastifyInstance['log']): void {
  const inner = pay.orderQuery.bind(pay);
  pay.orderQuery = async (req, opts) => {
    const started = Date.now();
    const outTradeNo = 'out_trade_no' in req ? req.out_trade_no : '';
    try {
      const r = await inner(req, opts);
      void activity
        .query({
          at: new Date(started),
          outTradeNo: r.out_trade_no,
          tradeState: r.trade_state,
          ...(r.transaction_id ? { transactionId: r.transaction_id } : {}),
          ...(r.total_fee !== undefined ? { totalFee: r.total_fee } : {}),
          ms: Date.now() - started,
        })
        .catch((err: Error) => log.warn({ err: { message: err.message } }, 'could not write the orderquery log'));
      return r;
    } catch (err) {
      if (outTradeNo) {
        void activity
          .query({ at: new Date(started), outTradeNo, error: (err as { code?: string }).code ?? 'ERROR', ms: Date.now() - started })
          .catch((e: Error) => log.warn({ err: { message: e.message } }, 'could not write the orderquery log'));
      }
      throw err;
    }
  };
}
