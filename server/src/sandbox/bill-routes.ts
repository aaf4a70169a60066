// POST /pay/downloadbill as WeChat answers it: the bill as text (gzip with tar_type GZIP), or an
// unsigned XML refusal with return_msg and error_code, one element per line:
//   invalid bill_date (20001: today, the future, older than three months), No Bill Exist (20002: no
//   trade or refund that day), Bill Creating (the day before, until 10:00 Beijing time), invalid
//   bill_type, invalid tar_type, missing parameter, sign error ...
// The return_msg strings are the ones SDKs match on; error_code 20001 / 20002 are the published ones
// (Bill Creating's is not published, so the sandbox sends none).
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { beijingDay, beijingDayStart, isBillDate } from '../wechat/beijing-datetime.js';
import { BILL_TYPES, type BillType } from '../wechat/download-bill.js';
import { isSignType, verifySign } from '../wechat/sign.js';
import { parseXml } from '../wechat/xml.js';
import { billText } from './bill-text.js';
import type { SandboxCore } from './core.js';
import { present, takeRawBodies, XML_BODY_LIMIT } from './xml-api.js';

const DAY_MS = 24 * 3600 * 1000;
/** Bills of a day are ready at 10:00 Beijing time the next day. */
const READY_AFTER_MS = DAY_MS + 10 * 3600 * 1000;
/** WeChat keeps three months of bills. */
const KEPT_MS = 93 * DAY_MS;

function cdata(v: string): string {
  return `<![CDATA[${v}]]>`;
}

function refuse(reply: FastifyReply, msg: string, errorCode: string | undefined, sandboxCode: string): FastifyReply {
  const lines = [`<xml><return_code>${cdata('FAIL')}</return_code>`, `<return_msg>${cdata(msg)}</return_msg>`];
  if (errorCode) lines.push(`<error_code>${cdata(errorCode)}</error_code>`);
  lines.push('</xml>');
  return reply.code(200).header('content-type', 'text/xml; charset=utf-8').header('x-sandbox-error', sandboxCode).send(lines.join('\n'));
}

export async function billRoutes(app: FastifyInstance, opts: { core: SandboxCore }): Promise<void> {
  const { state, faults, refunds } = opts.core;
  takeRawBodies(app);
  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { statusCode?: number };
    if (e.statusCode !== undefined && e.statusCode < 500) return refuse(reply, 'data format error', '20001', 'XML_FORMAT_ERROR');
    req.log.error({ err: e }, 'sandbox downloadbill failed');
    return refuse(reply, 'system error', undefined, 'SYSTEMERROR');
  });

  app.post('/pay/downloadbill', async (req: FastifyRequest, reply: FastifyReply) => {
    const raw = req.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return refuse(reply, 'empty post data', '20001', 'POST_DATA_EMPTY');
    let p: Record<string, string>;
    try {
      p = parseXml(raw, { maxBytes: XML_BODY_LIMIT });
    } catch {
      return refuse(reply, 'data format error', '20001', 'XML_FORMAT_ERROR');
    }
    for (const name of ['appid', 'mch_id', 'nonce_str', 'sign', 'bill_date']) {
      if (!present(p, name)) return refuse(reply, 'missing parameter', '20001', 'LACK_PARAMS');
    }
    const merchant = state.merchantByMchId(p.mch_id as string);
    if (!merchant) return refuse(reply, 'invalid mch_id', '20001', 'MCHID_NOT_EXIST');
    const signType = present(p, 'sign_type') ? (p.sign_type as string) : 'MD5';
    if (!isSignType(signType)) return refuse(reply, 'invalid parameter', '20001', 'PARAM_ERROR');
    if (!verifySign(p, merchant.key, signType)) return refuse(reply, 'sign error', '20001', 'SIGNERROR');
    if (!state.binding(p.appid as string, merchant.mchId)) return refuse(reply, 'invalid appid', '20001', 'APPID_NOT_EXIST');
    if (Buffer.byteLength(p.nonce_str as string, 'utf8') > 32) return refuse(reply, 'nonce_str too long', '20001', 'PARAM_ERROR');
    const billType = (present(p, 'bill_type') ? p.bill_type : 'ALL') as BillType;
    if (!(BILL_TYPES as readonly string[]).includes(billType)) return refuse(reply, 'invalid bill_type', '20001', 'PARAM_ERROR');
    if (present(p, 'tar_type') && p.tar_type !== 'GZIP') return refuse(reply, 'invalid tar_type, Only GZIP supported', '20001', 'PARAM_ERROR');

    const day = p.bill_date as string;
    const now = state.now();
    if (!isBillDate(day)) return refuse(reply, 'invalid bill_date', '20001', 'INVALID_BILL_DATE');
    const from = beijingDayStart(day).getTime();
    const today = beijingDay(new Date(now));
    if (day >= today || now - from > KEPT_MS) return refuse(reply, 'invalid bill_date', '20001', 'INVALID_BILL_DATE');
    if (now - from < READY_AFTER_MS) return refuse(reply, 'Bill Creating', undefined, 'BILL_CREATING');

    const text = billText({
      mchId: merchant.mchId,
      from,
      to: from + DAY_MS,
      billType,
      trades: state.allTrades(),
      refundsOf: (t) => refunds.refundsOf(t),
      faults: faults.refunds.takeBillFaults(),
      ...(present(p, 'device_info') ? { deviceInfo: p.device_info as string } : {}),
    });
    if (text === undefined) return refuse(reply, 'No Bill Exist', '20002', 'NO_BILL_EXIST');
    if (p.tar_type === 'GZIP') {
      return reply.code(200).header('content-type', 'application/x-gzip').send(gzipSync(Buffer.from(text, 'utf8')));
    }
    return reply.code(200).header('content-type', 'text/plain;charset=utf-8').send(Buffer.from(text, 'utf8'));
  });
  app.get('/pay/downloadbill', async (_req, reply) => refuse(reply, 'require POST method', '20001', 'REQUIRE_POST_METHOD'));
}
