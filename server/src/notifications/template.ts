// The data of the payment-success subscribe message, for whichever template the merchant picked in
// the mini-program console: a field map says which of the template's keywords gets which fact of
// the order (WECHAT_SUBSCRIBE_TEMPLATE_PAID_FIELDS), and each value is shaped to its keyword's type
// the way WeChat checks it (thing ≤ 20 characters, character_string ≤ 32, amount ¥x.yy, time in
// Beijing time…), so that a long cart never becomes a 47003.
import { toBeijingTime } from '../wechat/time.js';

export const PAID_SOURCES = ['outTradeNo', 'amount', 'items', 'paidAt', 'transactionId', 'status'] as const;
export type PaidSource = (typeof PAID_SOURCES)[number];
/** template keyword (thing3, amount2…) → the fact it shows */
export type PaidFieldMap = Readonly<Record<string, PaidSource>>;

/** The keywords of the sandbox's demo template (server/src/sandbox/subscribe.ts), and a common shape of real ones. */
export const DEFAULT_PAID_FIELDS: PaidFieldMap = {
  character_string1: 'outTradeNo',
  amount2: 'amount',
  thing3: 'items',
  time4: 'paidAt',
};

const KEYWORD = /^([a-z_]+?)(\d+)$/;
const TYPES = new Set(['thing', 'character_string', 'number', 'letter', 'symbol', 'amount', 'time', 'date', 'phone_number', 'car_number', 'name', 'phrase']);

/** "character_string1=outTradeNo,amount2=amount" → the map; throws a message naming the bad part. */
export function parseFieldMap(text: string): PaidFieldMap {
  const out: Record<string, PaidSource> = {};
  for (const part of text.split(',')) {
    const [keyword = '', source = '', ...rest] = part.trim().split('=').map((s) => s.trim());
    const type = KEYWORD.exec(keyword)?.[1];
    if (rest.length > 0 || type === undefined || !TYPES.has(type)) {
      throw new Error(`"${part.trim()}": expected keyword=fact, a keyword such as thing3 or amount2`);
    }
    if (!(PAID_SOURCES as readonly string[]).includes(source)) throw new Error(`"${part.trim()}": the fact must be one of ${PAID_SOURCES.join(', ')}`);
    if (keyword in out) throw new Error(`"${keyword}" is given twice`);
    out[keyword] = source as PaidSource;
  }
  return out;
}

export interface PaidFacts {
  outTradeNo: string;
  /** fen actually paid */
  amount: number;
  items: ReadonlyArray<{ name: string; quantity: number }>;
  paidAt: Date;
  transactionId: string;
}

const clip = (s: string, n: number) => ([...s].length <= n ? s : `${[...s].slice(0, n - 1).join('')}…`);

function yuan(fen: number): string {
  return `¥${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/** "2024年5月1日 12:30", Beijing time whatever the server's zone */
function beijing(d: Date, withClock: boolean): string {
  const b = toBeijingTime(d); // yyyyMMddHHmmss
  const date = `${Number(b.slice(0, 4))}年${Number(b.slice(4, 6))}月${Number(b.slice(6, 8))}日`;
  return withClock ? `${date} ${b.slice(8, 10)}:${b.slice(10, 12)}` : date;
}

function itemsText(items: PaidFacts['items']): string {
  const first = items[0];
  if (first === undefined) return '';
  const count = items.reduce((n, i) => n + i.quantity, 0);
  return items.length === 1 ? `${first.name} × ${first.quantity}` : `${first.name}等${count}件`;
}

function raw(source: PaidSource, f: PaidFacts, type: string): string {
  switch (source) {
    case 'outTradeNo':
      return f.outTradeNo;
    case 'amount':
      return yuan(f.amount);
    case 'items':
      return itemsText(f.items);
    case 'paidAt':
      return beijing(f.paidAt, type !== 'date');
    case 'transactionId':
      return f.transactionId;
    case 'status':
      return '支付成功';
  }
}

/** The message's `data`: each keyword's fact, shaped to the keyword's type. */
export function paidMessageData(fields: PaidFieldMap, facts: PaidFacts): Record<string, { value: string }> {
  const data: Record<string, { value: string }> = {};
  for (const [keyword, source] of Object.entries(fields)) {
    const type = KEYWORD.exec(keyword)?.[1] ?? 'thing';
    let value = raw(source, facts, type);
    if (type === 'thing') value = clip(value, 20);
    else if (type === 'character_string') value = value.replace(/[^\x21-\x7e]/g, '').slice(0, 32);
    else if (type === 'phrase') value = clip(value, 5);
    data[keyword] = { value };
  }
  return data;
}
