import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DEMO_MERCHANT } from '../server/src/sandbox/demo.js';
import { notifyReply, parseXml, sign, toBeijingTime, toXml, verifyPayNotify, verifySign, type SignType } from '../server/src/wechat/index.js';
import { parseXmlStrictReference } from '../server/src/wechat/xml-reference.js';
import { fmt, median, nowMs, table } from './stats.js';

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

// ---- the notify codec side by side with other WeChat Pay v2 SDKs ---------------------------------
//
// One "codec op" is what a notify endpoint does with a payment notification's body: parse the XML,
// verify it, and produce the SUCCESS reply. Each codec is called exactly as its SDK does it:
//   ours                    verifyPayNotify(bytes, merchant) + notifyReply(true), as /wxpay/notify
//                           (strict UTF-8 decoding of the bytes included; signature, appid, mch_id,
//                           amounts and time_end checked)
//   tenpay 2.1.18           `await tenpay._parse(xml, 'middleware_pay')` + its reply, util.buildXML(
//                           { return_code: 'SUCCESS' }): what its Express/Koa middleware runs (xml2js
//                           parse, return_code/result_code, appid, mch_id, sign)
//   wechatpay-axios-plugin  Transformer.toObject(xml) (fast-xml-parser), then the plugin's own v2
//   0.9.6                   verifier (return_code/result_code, Hash.sign + Hash.equals), and its
//                           documented notify reply Transformer.toXml({ return_code, return_msg })
// The peers get the body already decoded to a string (their frameworks decode it, outside the
// timing); ours is given the raw bytes and decodes them inside the timing. Every op is awaited
// (tenpay's is async), and the codecs' rounds are interleaved so that load on a shared machine hits
// them alike. Each round is timed twice: wall clock, and the process's CPU time (user + system,
// GC threads included), which other work on a busy machine disturbs far less.

const require = createRequire(import.meta.url);

interface TenpayLike {
  _parse(xml: string, type: string, signType?: string): Promise<Record<string, string>>;
}
interface PluginTransformer {
  toObject(xml: string): Record<string, string> | undefined;
  toXml(data: Record<string, string>): string;
  new (mchid: string, secret: string): { verifier: (this: object, data: unknown) => unknown };
}

export interface CodecCase {
  name: string;
  sdk: 'ours' | 'tenpay' | 'wechatpay-axios-plugin';
  signType: SignType;
  op: () => Promise<unknown>;
}

/** The three codecs on the same signed notify (~830 bytes, 17 fields), each checked to accept it and refuse a forgery. */
export async function codecCases(): Promise<CodecCase[]> {
  const Tenpay = require('tenpay') as new (cfg: { appid: string; mchid: string; partnerKey: string }) => TenpayLike;
  const tenpayUtil = require('tenpay/lib/util.js') as { buildXML(obj: Record<string, string>): string };
  const { Transformer } = require('wechatpay-axios-plugin') as { Transformer: PluginTransformer };
  const { appid, mchId, key } = DEMO_MERCHANT;
  const tenpay = new Tenpay({ appid, mchid: mchId, partnerKey: key });
  const pluginVerifier = new Transformer(mchId, key).verifier;

  const cases: CodecCase[] = [];
  for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
    const fields = notifyFields(signType);
    const text = toXml(fields);
    const bytes = Buffer.from(text, 'utf8');
    const forged = toXml({ ...fields, total_fee: '1' });
    const merchant = { appid, mchId, key, signType };

    const ours = async (body: Buffer) => {
      verifyPayNotify(body, merchant);
      return notifyReply(true);
    };
    const viaTenpay = async (xml: string) => {
      await tenpay._parse(xml, 'middleware_pay');
      return tenpayUtil.buildXML({ return_code: 'SUCCESS' });
    };
    const viaPlugin = async (xml: string) => {
      const data = Transformer.toObject(xml);
      if (pluginVerifier.call({}, data) !== data) throw new Error('wechatpay-axios-plugin: notify does not verify');
      return Transformer.toXml({ return_code: 'SUCCESS', return_msg: 'OK' });
    };

    // A broken path would be meaninglessly fast: each must accept the notify and refuse the forgery.
    for (const [sdk, accept, refuse] of [
      ['ours', () => ours(bytes), () => ours(Buffer.from(forged))],
      ['tenpay', () => viaTenpay(text), () => viaTenpay(forged)],
      ['wechatpay-axios-plugin', () => viaPlugin(text), () => viaPlugin(forged)],
    ] as const) {
      const reply = await accept();
      if (typeof reply !== 'string' || !reply.includes('SUCCESS')) throw new Error(`codec setup: ${sdk} did not accept the notify`);
      if (await refuse().then(() => true, () => false)) throw new Error(`codec setup: ${sdk} accepted a forged notify`);
    }
    cases.push(
      { name: `ours ${signType}`, sdk: 'ours', signType, op: () => ours(bytes) },
      { name: `tenpay ${signType}`, sdk: 'tenpay', signType, op: () => viaTenpay(text) },
      { name: `wechatpay-axios-plugin ${signType}`, sdk: 'wechatpay-axios-plugin', signType, op: () => viaPlugin(text) },
    );
  }
  return cases;
}

async function timeLoopAsync(fn: () => Promise<unknown>, ops: number): Promise<number> {
  return (await timeRoundAsync(fn, ops)).wallMs;
}

async function timeRoundAsync(fn: () => Promise<unknown>, ops: number): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  for (let i = 0; i < ops; i++) consume(await fn());
  const wallMs = nowMs() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export interface CodecResult extends MicroResult {
  sdk: CodecCase['sdk'];
  signType: SignType;
  /** median over rounds of the process CPU time per op, µs */
  cpuUsPerOp: number;
}

export interface CodecRatio {
  signType: SignType;
  /** how many times faster ours is: peer µs/op ÷ ours µs/op (median rounds, wall clock) */
  vsTenpay: number;
  vsPlugin: number;
  /** against the faster of the two peers */
  vsFastestPeer: number;
  fastestPeer: CodecCase['sdk'];
  /** the same from CPU time per op */
  cpu: { vsTenpay: number; vsPlugin: number; vsFastestPeer: number };
}

/** Runs the codecs with interleaved rounds; returns each one's figures and ours-vs-peers ratios. */
export async function runCodec(opts: MicroOptions): Promise<{ results: CodecResult[]; ratios: CodecRatio[] }> {
  const cases = await codecCases();
  const sized = [];
  for (const c of cases) {
    let ops = 64;
    let lastMs = 0;
    const warmUntil = nowMs() + opts.warmupMs;
    while (nowMs() < warmUntil) {
      lastMs = await timeLoopAsync(c.op, ops);
      if (lastMs < opts.roundMs / 4) ops *= 2;
    }
    const perOpMs = lastMs > 0 ? lastMs / ops : 0.001;
    sized.push({ c, opsPerRound: Math.max(100, Math.round(opts.roundMs / perOpMs)), usPerOp: [] as number[], cpuUsPerOp: [] as number[] });
  }
  for (let r = 0; r < opts.rounds; r++) {
    for (const s of sized) {
      const { wallMs, cpuMs } = await timeRoundAsync(s.c.op, s.opsPerRound);
      s.usPerOp.push((wallMs * 1000) / s.opsPerRound);
      s.cpuUsPerOp.push((cpuMs * 1000) / s.opsPerRound);
    }
  }
  const results: CodecResult[] = sized.map(({ c, opsPerRound, usPerOp, cpuUsPerOp }) => {
    const med = median(usPerOp);
    const min = Math.min(...usPerOp);
    const max = Math.max(...usPerOp);
    return {
      name: c.name,
      sdk: c.sdk,
      signType: c.signType,
      rounds: opts.rounds,
      opsPerRound,
      opsPerSec: 1e6 / med,
      usPerOp: med,
      usPerOpMin: min,
      usPerOpMax: max,
      spreadPct: ((max - min) / med) * 100,
      cpuUsPerOp: median(cpuUsPerOp),
    };
  });
  const ratios: CodecRatio[] = (['MD5', 'HMAC-SHA256'] as const).map((signType) => {
    const of = (sdk: CodecCase['sdk']) => results.find((r) => r.sdk === sdk && r.signType === signType)!;
    const [ours, tp, plugin] = [of('ours'), of('tenpay'), of('wechatpay-axios-plugin')];
    const vsTenpay = tp.usPerOp / ours.usPerOp;
    const vsPlugin = plugin.usPerOp / ours.usPerOp;
    const cpuVsTenpay = tp.cpuUsPerOp / ours.cpuUsPerOp;
    const cpuVsPlugin = plugin.cpuUsPerOp / ours.cpuUsPerOp;
    return {
      signType,
      vsTenpay,
      vsPlugin,
      vsFastestPeer: Math.min(vsTenpay, vsPlugin),
      fastestPeer: vsTenpay < vsPlugin ? 'tenpay' : 'wechatpay-axios-plugin',
      cpu: { vsTenpay: cpuVsTenpay, vsPlugin: cpuVsPlugin, vsFastestPeer: Math.min(cpuVsTenpay, cpuVsPlugin) },
    };
  });
  if (sink === 0x7fffffff) console.log('');
  return { results, ratios };
}

/** Our two XML readers on the same notify: the single-pass reader and the fast-xml-parser reference. */
export function runReaders(opts: MicroOptions): MicroResult[] {
  const bytes = Buffer.from(toXml(notifyFields('MD5')), 'utf8');
  if (parseXml(bytes).sign !== parseXmlStrictReference(bytes).sign) throw new Error('readers setup');
  return [
    measure('parseXml (single pass, bytes)', () => parseXml(bytes), opts),
    measure('parseXmlStrictReference (fast-xml-parser, bytes)', () => parseXmlStrictReference(bytes), opts),
  ];
}

function printCodec(results: CodecResult[], ratios: CodecRatio[], readers: MicroResult[]): void {
  console.log('\n== Notify codec: parse + verify + SUCCESS reply, ~830-byte notify (median of rounds) ==\n');
  console.log(
    table([
      ['codec', 'µs/op', 'ops/s', 'min µs', 'max µs', 'spread', 'CPU µs/op', 'rounds x ops'],
      ...results.map((m) => [
        m.name,
        fmt(m.usPerOp, 2),
        fmt(m.opsPerSec, 0),
        fmt(m.usPerOpMin, 2),
        fmt(m.usPerOpMax, 2),
        `±${fmt(m.spreadPct / 2, 1)}%`,
        fmt(m.cpuUsPerOp, 2),
        `${m.rounds} x ${m.opsPerRound}`,
      ]),
    ]),
  );
  console.log('\nours is N times as fast (peer per op ÷ ours; wall clock, and CPU time in brackets):\n');
  const x = (wall: number, cpu: number) => `${fmt(wall, 2)}x (${fmt(cpu, 2)}x)`;
  console.log(
    table([
      ['sign type', 'vs tenpay', 'vs wechatpay-axios-plugin', 'vs the fastest peer'],
      ...ratios.map((r) => [r.signType, x(r.vsTenpay, r.cpu.vsTenpay), x(r.vsPlugin, r.cpu.vsPlugin), `${x(r.vsFastestPeer, r.cpu.vsFastestPeer)} ${r.fastestPeer}`]),
    ]),
  );
  console.log('\nour XML readers alone:\n');
  console.log(table([['reader', 'µs/op', 'ops/s', 'spread'], ...readers.map((m) => [m.name, fmt(m.usPerOp, 2), fmt(m.opsPerSec, 0), `±${fmt(m.spreadPct / 2, 1)}%`])]));
}

// `node --import tsx bench/micro.ts [--quick]`: the codec comparison alone (no database needed).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const opts: MicroOptions = quick ? { warmupMs: 100, roundMs: 50, rounds: 3 } : { warmupMs: 500, roundMs: 200, rounds: 9 };
  const { results, ratios } = await runCodec(opts);
  printCodec(results, ratios, runReaders(opts));
}
