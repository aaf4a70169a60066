import type { SignType } from '../wechat/sign.js';
import { appTag, newLoginCode, newOpenid, newSessionKey } from './ids.js';

export interface SandboxMerchant {
  appid: string;
  mchId: string;
  key: string;
  secret: string;
  /**
   * what the appid is at WeChat: a mini-program, a 公众号 (official account) or an open-platform
   * mobile app (default mp). APP pay takes only an open-platform appid.
   */
  kind?: 'mp' | 'oa' | 'open';
  /** API v3's 32-byte key (notification resources, /v3/certificates); without one the merchant cannot use /v3/ */
  apiV3Key?: string;
}

export type TradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'PAYERROR' | 'USERPAYING';

export interface Trade {
  mchId: string;
  appid: string;
  outTradeNo: string;
  /** which API created it: its notification goes out in that API's format (default v2) */
  api?: 'v2' | 'v3';
  /** v3: the prepay's goods_tag */
  goodsTag?: string;
  /** the business fields of the unifiedorder (or v3 prepay) that created it, compared on a repeat */
  fingerprint: string;
  signType: SignType;
  body: string;
  attach?: string;
  deviceInfo?: string;
  totalFee: number;
  feeType: string;
  tradeType: string;
  openid?: string;
  /** NATIVE: the product_id of the unifiedorder */
  productId?: string;
  notifyUrl: string;
  /** ms epoch; after it the order can no longer be paid */
  timeExpire?: number;
  prepayId: string;
  prepayCreatedAt: number;
  state: TradeState;
  createdAt: number;
  transactionId?: string;
  timeEnd?: string;
  bankType?: string;
  payerOpenid?: string;
}

interface LoginCode {
  appid: string;
  openid: string;
  unionid?: string;
  expiresAt: number;
  used: boolean;
}

export const PREPAY_TTL_MS = 2 * 60 * 60 * 1000;
export const LOGIN_CODE_TTL_MS = 5 * 60 * 1000;
// Used codes are remembered a while so a replay answers 40163, not 40029.
const USED_CODE_MEMORY_MS = 30 * 60 * 1000;

/** Everything the sandbox remembers, in memory: it is a stand-in, not a ledger. */
export class SandboxState {
  readonly merchants: SandboxMerchant[];
  private readonly trades = new Map<string, Trade>();
  private readonly prepays = new Map<string, Trade>();
  private readonly transactions = new Map<string, Trade>();
  private readonly codes = new Map<string, LoginCode>();
  /** openid → appid, for openids named explicitly in POST /sandbox/login-codes */
  private readonly openids = new Map<string, string>();

  constructor(
    merchants: SandboxMerchant[],
    readonly now: () => number,
  ) {
    this.merchants = merchants.map((m) => ({ ...m }));
  }

  merchantByMchId(mchId: string): SandboxMerchant | undefined {
    return this.merchants.find((m) => m.mchId === mchId);
  }

  /** The merchant entry binding this appid to this mch_id, if any. */
  binding(appid: string, mchId: string): SandboxMerchant | undefined {
    return this.merchants.find((m) => m.appid === appid && m.mchId === mchId);
  }

  appidKnown(appid: string): boolean {
    return this.merchants.some((m) => m.appid === appid);
  }

  kindOf(appid: string): 'mp' | 'oa' | 'open' | undefined {
    const m = this.merchants.find((x) => x.appid === appid);
    return m ? (m.kind ?? 'mp') : undefined;
  }

  secretOf(appid: string): string | undefined {
    return this.merchants.find((m) => m.appid === appid)?.secret;
  }

  /** Whether openid was issued for appid (explicitly registered, or minted by the sandbox for it). */
  openidBelongsTo(openid: string, appid: string): boolean {
    const registered = this.openids.get(openid);
    if (registered !== undefined) return registered === appid;
    return /^o[A-Za-z0-9_-]{27}$/.test(openid) && openid.slice(1, 7) === appTag(appid);
  }

  mintLoginCode(appid: string, openid?: string, unionid?: string): { code: string; openid: string } {
    const id = openid ?? newOpenid(appid);
    if (openid !== undefined && !this.openids.has(openid)) this.openids.set(openid, appid);
    const code = newLoginCode();
    this.codes.set(code, {
      appid,
      openid: id,
      ...(unionid !== undefined ? { unionid } : {}),
      expiresAt: this.now() + LOGIN_CODE_TTL_MS,
      used: false,
    });
    this.sweepCodes();
    return { code, openid: id };
  }

  /** An openid registered to another appid is refused: an openid belongs to one appid. */
  openidTakenByOther(openid: string, appid: string): boolean {
    const registered = this.openids.get(openid);
    return registered !== undefined && registered !== appid;
  }

  redeemLoginCode(
    appid: string,
    code: string,
  ): { ok: true; openid: string; unionid?: string; sessionKey: string } | { ok: false; reason: 'invalid' | 'used' } {
    const entry = this.codes.get(code);
    if (!entry || entry.appid !== appid || entry.expiresAt <= this.now()) return { ok: false, reason: 'invalid' };
    if (entry.used) return { ok: false, reason: 'used' };
    entry.used = true;
    entry.expiresAt = this.now() + USED_CODE_MEMORY_MS;
    return {
      ok: true,
      openid: entry.openid,
      ...(entry.unionid !== undefined ? { unionid: entry.unionid } : {}),
      sessionKey: newSessionKey(),
    };
  }

  private sweepCodes(): void {
    if (this.codes.size < 1000) return;
    const now = this.now();
    for (const [code, entry] of this.codes) if (entry.expiresAt <= now) this.codes.delete(code);
  }

  trade(mchId: string, outTradeNo: string): Trade | undefined {
    return this.trades.get(`${mchId}\u0000${outTradeNo}`);
  }

  tradeByTransactionId(mchId: string, transactionId: string): Trade | undefined {
    const t = this.transactions.get(transactionId);
    return t && t.mchId === mchId ? t : undefined;
  }

  tradeByPrepayId(prepayId: string): Trade | undefined {
    const t = this.prepays.get(prepayId);
    return t && t.prepayId === prepayId ? t : undefined;
  }

  saveTrade(t: Trade): void {
    this.trades.set(`${t.mchId}\u0000${t.outTradeNo}`, t);
    this.prepays.set(t.prepayId, t);
  }

  /** A new prepay_id for an existing trade (the old one had expired). */
  renewPrepay(t: Trade, prepayId: string): void {
    this.prepays.delete(t.prepayId);
    t.prepayId = prepayId;
    t.prepayCreatedAt = this.now();
    this.prepays.set(prepayId, t);
  }

  recordTransaction(t: Trade): void {
    if (t.transactionId) this.transactions.set(t.transactionId, t);
  }

  /** The NATIVE trade whose live prepay a code_url (weixin://wxpay/bizpayurl?pr=…) names. */
  tradeByCodeUrl(codeUrl: string): Trade | undefined {
    const m = /^weixin:\/\/wxpay\/bizpayurl\?pr=([0-9a-f]{16})$/.exec(codeUrl);
    if (!m) return undefined;
    for (const t of this.prepays.values()) if (t.tradeType === 'NATIVE' && t.prepayId.endsWith(m[1] as string)) return t;
    return undefined;
  }

  allTrades(): Trade[] {
    return [...this.trades.values()];
  }
}
