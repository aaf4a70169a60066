// GET /v3/bill/tradebill (申请交易账单) then a signed GET of its download_url. The file is the only
// unsigned answer of API v3: it is believed because its SHA1 is the hash_value of the signed answer
// (compared in constant time). Always asked for gzip; gunzipped and read with the v2 bill's rules and
// size limits (download-bill.ts), so reconciliation parses both alike.
import { createHash, timingSafeEqual } from 'node:crypto';
import { MAX_BILL_DOWNLOAD_BYTES, readBillAnswer, validateDownloadBill, type BillType, type DownloadBillRequest, type DownloadBillResult } from '../download-bill.js';
import { WxPayError } from '../errors.js';
import type { V3Transport } from './transport.js';
import { invalid } from './wire.js';

const API = 'downloadbill';
const V3_BILL_TYPES: readonly string[] = ['ALL', 'SUCCESS', 'REFUND'];

function bad(message: string, field?: string): WxPayError {
  return new WxPayError('BAD_RESPONSE', `${API}: ${message}`, { api: API, retriable: false, ...(field ? { field } : {}) });
}

export async function downloadBillV3(t: V3Transport, req: DownloadBillRequest): Promise<DownloadBillResult> {
  const f = validateDownloadBill(req);
  const billType = f.bill_type as BillType;
  if (!V3_BILL_TYPES.includes(billType)) throw invalid('bill_type', 'API v3 bills are ALL, SUCCESS or REFUND', API);
  if (f.device_info !== undefined) throw invalid('device_info', 'API v3 bills are not split by device', API);
  const day = `${f.bill_date!.slice(0, 4)}-${f.bill_date!.slice(4, 6)}-${f.bill_date!.slice(6, 8)}`;
  let ans: { hash_type?: unknown; hash_value?: unknown; download_url?: unknown } | undefined;
  try {
    ans = await t.request({ name: API, method: 'GET', path: '/v3/bill/tradebill' }, { query: { bill_date: day, bill_type: billType, tar_type: 'GZIP' } });
  } catch (err) {
    if (err instanceof WxPayError && err.code === 'NO_STATEMENT_EXIST') return { exists: false, bill_date: req.bill_date, bill_type: billType };
    throw err;
  }
  if (!ans || typeof ans.download_url !== 'string') throw bad('answer without download_url', 'download_url');
  if (ans.hash_type !== 'SHA1' || typeof ans.hash_value !== 'string' || !/^[0-9a-fA-F]{40}$/.test(ans.hash_value)) throw bad('answer without a SHA1 hash_value', 'hash_value');
  const file = await t.download(ans.download_url, { maxBytes: MAX_BILL_DOWNLOAD_BYTES, api: API });
  const got = createHash('sha1').update(file).digest();
  if (!timingSafeEqual(got, Buffer.from(ans.hash_value, 'hex'))) throw bad('the downloaded bill does not match hash_value', 'hash_value');
  const bill = readBillAnswer({ status: 200, body: file });
  // An XML refusal cannot come from v3's download: a "no bill" there is a broken answer, not a result.
  if (bill.kind !== 'bill') throw bad('the downloaded file is not a bill');
  return { exists: true, bill_date: req.bill_date, bill_type: billType, text: bill.text, compressed: bill.compressed };
}
