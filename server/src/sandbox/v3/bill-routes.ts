// API v3's 申请交易账单: GET /v3/bill/tradebill answers {hash_type SHA1, hash_value, download_url};
// a signed GET of download_url (within 30 s, WeChat's limit) gives the file itself, the only unsigned
// answer of API v3: v2's bill text (bill-text.ts), gzip with tar_type GZIP. The bytes are made (and the
// /sandbox/faults "bill" rules consumed) when the bill is requested, so the hash is of what is served.
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { beijingDay, beijingDayStart, isBillDate } from '../../wechat/beijing-datetime.js';
import type { BillType } from '../../wechat/download-bill.js';
import { billText } from '../bill-text.js';
import type { SandboxCore } from '../core.js';
import { paramError, V3Error, v3Api } from './http.js';
import type { V3Keys } from './keys.js';

const DAY_MS = 24 * 3600 * 1000;
const READY_AFTER_MS = DAY_MS + 10 * 3600 * 1000;
const KEPT_MS = 93 * DAY_MS;
const LINK_TTL_MS = 30_000;
const BILL_TYPES = new Set(['ALL', 'SUCCESS', 'REFUND']);

interface Prepared {
  mchId: string;
  bytes: Buffer;
  gzip: boolean;
  expiresAt: number;
}

export async function v3BillRoutes(app: FastifyInstance, opts: { core: SandboxCore; keys: V3Keys }): Promise<void> {
  const { state, faults, refunds } = opts.core;
  const { route } = v3Api(app, state, opts.keys);
  const files = new Map<string, Prepared>();

  const sweep = () => {
    const now = Date.now();
    for (const [k, f] of files) if (f.expiresAt <= now) files.delete(k);
  };

  route<Record<string, string>, { bill_date?: string; bill_type?: string; tar_type?: string }>('GET', '/v3/bill/tradebill', (ctx, req) => {
    const q = req.query;
    if (!q.bill_date) throw paramError('bill_date', '缺少必填参数 bill_date', 'query');
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(q.bill_date);
    const day = m ? `${m[1]}${m[2]}${m[3]}` : '';
    if (!isBillDate(day)) throw paramError('bill_date', 'bill_date格式错误，应为YYYY-MM-DD', 'query');
    const billType = q.bill_type ?? 'ALL';
    if (!BILL_TYPES.has(billType)) throw paramError('bill_type', 'bill_type只能是ALL、SUCCESS或REFUND', 'query');
    if (q.tar_type !== undefined && q.tar_type !== 'GZIP') throw paramError('tar_type', 'tar_type只支持GZIP', 'query');
    const now = state.now();
    const from = beijingDayStart(day).getTime();
    // ASSUMPTION: v3 publishes no code for a day outside the downloadable range (v2: invalid bill_date); PARAM_ERROR.
    if (day >= beijingDay(new Date(now)) || now - from > KEPT_MS) throw paramError('bill_date', 'bill_date超出可下载范围（昨天起三个月内）', 'query');
    if (now - from < READY_AFTER_MS) throw new V3Error(400, 'STATEMENT_CREATING', '账单生成中，请在次日10点后再下载');
    const text = billText({
      mchId: ctx.merchant.mchId,
      from,
      to: from + DAY_MS,
      billType: billType as BillType,
      trades: state.allTrades(),
      refundsOf: (t) => refunds.refundsOf(t),
      faults: faults.refunds.takeBillFaults(),
    });
    if (text === undefined) throw new V3Error(400, 'NO_STATEMENT_EXIST', '账单文件不存在，请检查当前商户号在指定日期内是否有交易');
    const gzip = q.tar_type === 'GZIP';
    const bytes = gzip ? gzipSync(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
    sweep();
    const token = randomBytes(36).toString('base64url');
    files.set(token, { mchId: ctx.merchant.mchId, bytes, gzip, expiresAt: Date.now() + LINK_TTL_MS });
    const host = req.headers.host ?? '127.0.0.1';
    return {
      json: {
        hash_type: 'SHA1',
        hash_value: createHash('sha1').update(bytes).digest('hex'),
        download_url: `${req.protocol}://${host}/v3/billdownload/file?token=${token}`,
      },
    };
  });

  route<Record<string, string>, { token?: string }>('GET', '/v3/billdownload/file', (ctx, req) => {
    sweep();
    const f = req.query.token ? files.get(req.query.token) : undefined;
    if (!f || f.mchId !== ctx.merchant.mchId) throw new V3Error(400, 'INVALID_REQUEST', '下载链接已失效，请重新申请账单', undefined, 'BILL_LINK_EXPIRED');
    return { raw: f.bytes, contentType: f.gzip ? 'application/x-gzip' : 'text/plain; charset=utf-8' };
  });
}
