import { DEMO_MERCHANT } from '../server/src/sandbox/demo.js';
import { parseXml, sign, toBeijingTime, toXml, verifyPayNotify, verifySign, type SignType } from '../server/src/wechat/index.js';
import { median, nowMs } from './stats.js';

/** One protocol operation's figures over several timed rounds (after a warm-up). */
export interface MicroResult {
  name: string;
  rounds: number;
  opsPerRound: number;
  /** median over rounds */
  opsPerSec: number;
  usPerOp: number;
  /** the slowest and fastest rounds, µs/op */
  usPerOpMin: number;
  usPerOpMax: number;
  /** (max - min) / median of the rounds' µs/op, percent */
  spreadPct: number;
}

export interface MicroOptions {
  warmupMs: number;
  roundMs: number;
  rounds: number;
}

/** A unifiedorder request as the server builds it (JSAPI, 19 fields before the signature). */
export function unifiedOrderParams(signType: SignType): Record<string, string> {
  const now = new Date('2024-05-01T04:00:00Z');
  return {
    appid: DEMO_MERCHANT.appid,
    mch_id: DEMO_MERCHANT.mchId,
    nonce_str: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
    sign_type: signType,
    body: '拿铁咖啡 Latte x2, 芝士蛋糕 Cheesecake x1',
    detail: '{"goods_detail":[{"goods_id":"COFFEE-LATTE","quantity":2,"price":1800},{"goods_id":"CAKE-CHEESE","quantity":1,"price":2650}]}',
    attach: 'wxpay-mp',
    out_trade_no: '20240501120000a1b2c3d4e5f6a7b8c9',
    fee_type: 'CNY',
    total_fee: '6250',
    spbill_create_ip: '203.0.113.7',
    time_start: toBeijingTime(now),
    time_expire: toBeijingTime(new Date(now.getTime() + 30 * 60_000)),
    goods_tag: '',
    notify_url: 'https://pay.example.com/wxpay/notify',
    trade_type: 'JSAPI',
    product_id: '',
    limit_pay: '',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
  };
}

/** A payment notification as WeChat posts it (the fields of the documented example, 17 with sign). */
export function notifyFields(signType: SignType): Record<string, string> {
  const fields: Record<string, string> = {
    appid: DEMO_MERCHANT.appid,
    attach: 'wxpay-mp',
    bank_type: 'CFT',
    cash_fee: '6250',
    fee_type: 'CNY',
    is_subscribe: 'N',
    mch_id: DEMO_MERCHANT.mchId,
    nonce_str: '5d2b6c2a8db53831f7eda20af46e531c',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    out_trade_no: '20240501120000a1b2c3d4e5f6a7b8c9',
    result_code: 'SUCCESS',
    return_code: 'SUCCESS',
    time_end: '20240501120312',
    total_fee: '6250',
    trade_type: 'JSAPI',
    transaction_id: '4200000123202405011234567890',
  };
  if (signType !== 'MD5') fields.sign_type = signType;
  fields.sign = sign(fields, DEMO_MERCHANT.key, signType);
  return fields;
}

// Results are folded into this so that no call can be optimised away.
let sink = 0;
const consume = (v: unknown): void => {
  sink = (sink + (typeof v === 'string' ? v.length : v ? 1 : 0)) | 0;
};

function timeLoop(fn: () => unknown, ops: number): number {
  const t0 = nowMs();
  for (let i = 0; i < ops; i++) consume(fn());
  return nowMs() - t0;
}

export function measure(name: string, fn: () => unknown, opts: MicroOptions): MicroResult {
  // Warm-up (lets V8 optimise), then size a round so that it lasts about roundMs.
  let ops = 64;
  const warmUntil = nowMs() + opts.warmupMs;
  let lastMs = 0;
  while (nowMs() < warmUntil) {
    lastMs = timeLoop(fn, ops);
    if (lastMs < opts.roundMs / 4) ops *= 2;
  }
  const perOpMs = lastMs > 0 ? lastMs / ops : 0.001;
  const opsPerRound = Math.max(100, Math.round(opts.roundMs / perOpMs));
  const usPerOp: number[] = [];
  for (let r = 0; r < opts.rounds; r++) usPerOp.push((timeLoop(fn, opsPerRound) * 1000) / opsPerRound);
  const med = median(usPerOp);
  const min = Math.min(...usPerOp);
  const max = Math.max(...usPerOp);
  return {
    name,
    rounds: opts.rounds,
    opsPerRound,
    opsPerSec: 1e6 / med,
    usPerOp: med,
    usPerOpMin: min,
    usPerOpMax: max,
    spreadPct: ((max - min) / med) * 100,
  };
}

/** The protocol core's hot operations, each on realistic input. */
export function runMicro(opts: MicroOptions): MicroResult[] {
  const key = DEMO_MERCHANT.key;
  const uoMd5 = unifiedOrderParams('MD5');
  const uoHmac = unifiedOrderParams('HMAC-SHA256');
  const signedMd5 = { ...uoMd5, sign: sign(uoMd5, key, 'MD5') };
  const signedHmac = { ...uoHmac, sign: sign(uoHmac, key, 'HMAC-SHA256') };
  const notifyMd5 = notifyFields('MD5');
  const notifyXmlMd5 = toXml(notifyMd5);
  const notifyXmlHmac = toXml(notifyFields('HMAC-SHA256'));
  const merchant = { appid: DEMO_MERCHANT.appid, mchId: DEMO_MERCHANT.mchId, key };

  // Sanity: every measured call does what it should on this input (a broken op would be meaninglessly fast).
  if (!verifySign(signedMd5, key, 'MD5') || !verifySign(signedHmac, key, 'HMAC-SHA256')) throw new Error('micro: verifySign setup');
  if (parseXml(notifyXmlMd5).transaction_id !== notifyMd5.transaction_id) throw new Error('micro: parseXml setup');
  if (verifyPayNotify(notifyXmlMd5, { ...merchant, signType: 'MD5' }).result_code !== 'SUCCESS') throw new Error('micro: notify setup');
  if (verifyPayNotify(notifyXmlHmac, { ...merchant, signType: 'HMAC-SHA256' }).result_code !== 'SUCCESS') throw new Error('micro: notify setup');

  const cases: Array<[string, () => unknown]> = [
    ['sign MD5 (unifiedorder, 19 fields)', () => sign(uoMd5, key, 'MD5')],
    ['sign HMAC-SHA256 (unifiedorder)', () => sign(uoHmac, key, 'HMAC-SHA256')],
    ['verifySign MD5 (unifiedorder)', () => verifySign(signedMd5, key, 'MD5')],
    ['verifySign HMAC-SHA256 (unifiedorder)', () => verifySign(signedHmac, key, 'HMAC-SHA256')],
    ['toXml (signed unifiedorder)', () => toXml(signedMd5)],
    ['parseXml (notify, 17 fields)', () => parseXml(notifyXmlMd5)],
    ['verifyPayNotify MD5 (parse+verify)', () => verifyPayNotify(notifyXmlMd5, { ...merchant, signType: 'MD5' })],
    ['verifyPayNotify HMAC-SHA256', () => verifyPayNotify(notifyXmlHmac, { ...merchant, signType: 'HMAC-SHA256' })],
  ];
  const results = cases.map(([name, fn]) => measure(name, fn, opts));
  if (sink === 0x7fffffff) console.log(''); // keeps `sink` observable
  return results;
}
