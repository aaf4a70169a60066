// POST /pay/downloadbill (下载交易账单). The answer is not signed XML: a day's bill comes as text (or gzip
// with tar_type GZIP) — a header line, one line per trade or refund with every field prefixed by a
// backtick, then a summary header and a summary line — and a refusal as unsigned XML with return_code
// FAIL. "No Bill Exist" (a day without trades) is a result, not an error. Bills of a Beijing day are
// made from about 09:00 the next day ("Bill Creating" before), for three months.
//
// Turning rows into trades and refunds is reconciliation's work; parseBill only splits the text.
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { isBillDate } from './beijing-datetime.js';
import { WxPayError } from './errors.js';
import type { HttpResponse } from './http.js';
import type { ApiSpec, Transport } from './transport.js';
import { parseXml } from './xml.js';

export const DOWNLOAD_BILL_API: ApiSpec = { name: 'downloadbill', path: '/pay/downloadbill' };

export type BillType = 'ALL' | 'SUCCESS' | 'REFUND' | 'RECHARGE_REFUND';
export const BILL_TYPES: readonly BillType[] = Object.freeze(['ALL', 'SUCCESS', 'REFUND', 'RECHARGE_REFUND'] as const);

export interface DownloadBillRequest {
  /** the Beijing day, yyyyMMdd */
  bill_date: string;
  /** default ALL */
  bill_type?: BillType;
  /** GZIP: WeChat sends the bill compressed (it is gunzipped here) */
  tar_type?: 'GZIP';
  /** only this device's trades */
  device_info?: string;
}

export type DownloadBillResult =
  | { exists: true; bill_date: string; bill_type: BillType; text: string; compressed: boolean }
  /** WeChat's "No Bill Exist": the merchant had no trade or refund that day */
  | { exists: false; bill_date: string; bill_type: BillType };

/** Largest download accepted (compressed or not) and largest bill after gunzip. */
export const MAX_BILL_DOWNLOAD_BYTES = 64 * 1024 * 1024;
export const MAX_BILL_TEXT_BYTES = 256 * 1024 * 1024;

function invalid(field: string, message: string): WxPayError {
  return new WxPayError('INVALID_ARGUMENT', `${field}: ${message}`, { field, api: 'downloadbill', retriable: false });
}

export function validateDownloadBill(req: DownloadBillRequest): Record<string, string> {
  if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object');
  if (!isBillDate(req.bill_date)) throw invalid('bill_date', 'must be a day written yyyyMMdd');
  const billType = req.bill_type ?? 'ALL';
  if (!(BILL_TYPES as readonly string[]).includes(billType)) throw invalid('bill_type', `must be one of ${BILL_TYPES.join(', ')}`);
  const out: Record<string, string> = { bill_date: req.bill_date, bill_type: billType };
  if (req.tar_type !== undefined) {
    if (req.tar_type !== 'GZIP') throw invalid('tar_type', 'must be GZIP');
    out.tar_type = 'GZIP';
  }
  if (req.device_info !== undefined) {
    if (typeof req.device_info !== 'string' || !/^[0-9A-Za-z_-]{1,32}$/.test(req.device_info)) throw invalid('device_info', 'is malformed');
    out.device_info = req.device_info;
  }
  return out;
}

function isGzip(body: Buffer): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
}

function asText(body: Buffer): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new WxPayError('BAD_RESPONSE', 'downloadbill: the bill is not UTF-8', { api: 'downloadbill', retriable: false });
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

type Answer = { kind: 'bill'; text: string; compressed: boolean } | { kind: 'none' };

/** Reads one downloadbill answer; throws the WxPayError a refusal maps to. Exported for tests. */
export function readBillAnswer(res: HttpResponse): Answer {
  let body = res.body;
  let compressed = false;
  if (isGzip(body)) {
    try {
      body = gunzipSync(body, { maxOutputLength: MAX_BILL_TEXT_BYTES });
    } catch (err) {
      throw new WxPayError('BAD_RESPONSE', 'downloadbill: the gzip bill does not decompress', { api: 'downloadbill', retriable: false, cause: err });
    }
    compressed = true;
  }
  const text = asText(body);
  if (!text.trimStart().startsWith('<xml')) {
    if (text.trim() === '') throw new WxPayError('BAD_RESPONSE', 'downloadbill: empty answer', { api: 'downloadbill', retriable: true });
    return { kind: 'bill', text, compressed };
  }
  let fields: Record<string, string>;
  try {
    fields = parseXml(text);
  } catch (err) {
    throw new WxPayError('BAD_RESPONSE', 'downloadbill: answer is neither a bill nor WeChat XML', { api: 'downloadbill', retriable: false, cause: err });
  }
  const msg = fields.return_msg ?? '';
  const detail = `${msg}${fields.error_code ? ` (error_code ${fields.error_code})` : ''}`;
  if (fields.return_code === 'SUCCESS') throw new WxPayError('BAD_RESPONSE', 'downloadbill: XML answer without a bill', { api: 'downloadbill', retriable: false });
  if (/^no bill exist$/i.test(msg.trim())) return { kind: 'none' };
  if (/^bill creating$/i.test(msg.trim())) {
    throw new WxPayError('BILL_CREATING', `downloadbill: the bill is not ready yet: ${detail}`, { api: 'downloadbill', wechatMessage: msg, retry: 'later' });
  }
  if (/^invalid bill_date$/i.test(msg.trim())) {
    throw new WxPayError('INVALID_BILL_DATE', `downloadbill: ${detail}`, { api: 'downloadbill', wechatMessage: msg, retriable: false });
  }
  if (/^(system ?error|systemerror)$/i.test(msg.trim())) {
    throw new WxPayError('SYSTEMERROR', `downloadbill: ${detail}`, { api: 'downloadbill', wechatMessage: msg, retry: 'soon' });
  }
  throw new WxPayError('RETURN_FAIL', `downloadbill: return_code FAIL: ${detail}`, { api: 'downloadbill', wechatMessage: msg, retriable: false });
}

/** Downloads a day's bill as text (gunzipped when asked for GZIP). */
export async function downloadBill(transport: Transport, req: DownloadBillRequest): Promise<DownloadBillResult> {
  const fields = validateDownloadBill(req);
  let answer: Answer | undefined;
  await transport.download(DOWNLOAD_BILL_API, fields, {
    maxBytes: MAX_BILL_DOWNLOAD_BYTES,
    // Inside the retry loop, so that a "system error" refusal is retried like a network failure.
    check: (res) => {
      answer = readBillAnswer(res);
    },
  });
  const billType = fields.bill_type as BillType;
  if (!answer || answer.kind === 'none') return { exists: false, bill_date: req.bill_date, bill_type: billType };
  return { exists: true, bill_date: req.bill_date, bill_type: billType, text: answer.text, compressed: answer.compressed };
}

export class BillParseError extends Error {
  readonly line: number | undefined;
  constructor(message: string, line?: number) {
    super(line === undefined ? message : `${message} (line ${line})`);
    this.name = 'BillParseError';
    this.line = line;
  }
}

export interface ParsedBill {
  /** the column names of the detail lines, e.g. 交易时间, 公众账号ID, ... */
  header: string[];
  /** one array per trade/refund line, leading backticks stripped, in the bill's order */
  rows: string[][];
  /** the same lines keyed by column name */
  records: Record<string, string>[];
  /** 总交易单数, 应结订单总金额, ... */
  summaryHeader: string[];
  summary: Record<string, string>;
}

const SUMMARY_FIRST_COLUMN = '总交易单数';

function unBacktick(field: string): string {
  return field.startsWith('`') ? field.slice(1) : field;
}

/**
 * Splits a bill into header, rows and summary, stripping the backtick WeChat puts before every field
 * (so that spreadsheets keep long numbers as text). Every row must have the header's column count.
 */
export function parseBill(text: string): ParsedBill {
  if (typeof text !== 'string') throw new BillParseError('bill must be a string');
  let lines: string[][];
  try {
    // WeChat does not quote fields (the backtick does that job), so quotes are literal.
    lines = parseCsv(text, { bom: true, quote: false, relax_column_count: true, skip_empty_lines: true, trim: false }) as string[][];
  } catch (err) {
    throw new BillParseError(`bill is not comma-separated text: ${(err as Error).message}`);
  }
  if (lines.length < 3) throw new BillParseError('bill needs a header, a summary header and a summary line');
  const summaryAt = lines.findIndex((l, i) => i > 0 && l[0] === SUMMARY_FIRST_COLUMN);
  if (summaryAt < 0) throw new BillParseError(`bill has no summary (a line starting with ${SUMMARY_FIRST_COLUMN})`);
  if (summaryAt !== lines.length - 2) throw new BillParseError('the summary header must be followed by exactly one summary line', summaryAt + 1);
  const header = lines[0]!.map(unBacktick);
  if (header.some((h) => h === '')) throw new BillParseError('bill header has an empty column name', 1);
  const rows = lines.slice(1, summaryAt).map((l, i) => {
    if (l.length !== header.length) throw new BillParseError(`row has ${l.length} fields, the header ${header.length}`, i + 2);
    return l.map(unBacktick);
  });
  const summaryHeader = lines[summaryAt]!.map(unBacktick);
  const summaryRow = lines[summaryAt + 1]!.map(unBacktick);
  if (summaryRow.length !== summaryHeader.length) throw new BillParseError('summary line and summary header differ in length', summaryAt + 2);
  const keyed = (names: string[], values: string[]) => Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
  return { header, rows, records: rows.map((r) => keyed(header, r)), summaryHeader, summary: keyed(summaryHeader, summaryRow) };
}

/** A bill amount in yuan with two decimals ("12.34", "-0.01") as integer fen; throws on anything else. */
export function billYuanToFen(s: string): number {
  const m = typeof s === 'string' ? /^(-?)(\d+)\.(\d{2})$/.exec(s) : null;
  if (!m) throw new BillParseError(`not an amount in yuan with two decimals: ${JSON.stringify(s)}`);
  const fen = Number(m[2]) * 100 + Number(m[3]);
  if (!Number.isSafeInteger(fen)) throw new BillParseError('amount out of range');
  return m[1] === '-' && fen !== 0 ? -fen : fen;
}
