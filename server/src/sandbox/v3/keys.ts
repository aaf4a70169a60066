// WeChat Pay's side of API v3 signatures in the sandbox: which key signs a merchant's answers and
// notifications (its signing mode: the WeChat Pay public key, or the platform certificate for
// merchants still on it), the signed answer headers, and the merchant API certificates requests are
// checked against.
import { randomBytes, randomUUID } from 'node:crypto';
import { certificateSerial, responseMessage, rsaSign } from '../../wechat/v3/crypto.js';
import type { SandboxPki, WechatpayKeys } from '../pki.js';

export type SigningMode = 'public-key' | 'certificate';

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function v3Nonce(length = 32): string {
  return Array.from(randomBytes(length), (b) => NONCE_ALPHABET[b % NONCE_ALPHABET.length]).join('');
}

export class V3Keys {
  readonly wechatpay: WechatpayKeys;
  private readonly merchantCerts: Record<string, { certPem: string; serial: string }> = {};
  private defaultMode: SigningMode = 'public-key';
  private readonly modes = new Map<string, SigningMode>();

  constructor(pki: SandboxPki) {
    this.wechatpay = pki.wechatpay;
    for (const [mchId, m] of Object.entries(pki.merchants)) this.merchantCerts[mchId] = { certPem: m.certPem, serial: certificateSerial(m.certPem) };
  }

  /** The API certificate the sandbox issued to the merchant (what its request signatures verify with). */
  merchantCert(mchId: string): { certPem: string; serial: string } | undefined {
    return this.merchantCerts[mchId];
  }

  mode(mchId: string | undefined): SigningMode {
    return (mchId !== undefined ? this.modes.get(mchId) : undefined) ?? this.defaultMode;
  }

  /** One merchant's mode, or (no mchId) every merchant's: the default, overrides cleared. */
  setMode(mode: SigningMode, mchId?: string): void {
    if (mchId !== undefined) {
      this.modes.set(mchId, mode);
      return;
    }
    this.defaultMode = mode;
    this.modes.clear();
  }

  snapshot(): { mode: SigningMode; merchants: Record<string, SigningMode> } {
    return { mode: this.defaultMode, merchants: Object.fromEntries(this.modes) };
  }

  /**
   * Wechatpay-* headers over `body` for an answer or notification to `mchId`, in its signing mode
   * (`mode` forces one). `corrupt`: signed over other text, as a forger's would be.
   */
  signedHeaders(mchId: string | undefined, body: string, opts: { mode?: SigningMode; corrupt?: boolean } = {}): Record<string, string> {
    const mode = opts.mode ?? this.mode(mchId);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = v3Nonce();
    const key = mode === 'public-key' ? this.wechatpay.publicKeyPrivatePem : this.wechatpay.platformKeyPem;
    const signed = opts.corrupt ? `${body} ` : body;
    return {
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': rsaSign(responseMessage(timestamp, nonce, signed), key),
      'Wechatpay-Serial': mode === 'public-key' ? this.wechatpay.publicKeyId : this.wechatpay.platformSerial,
    };
  }
}

/** WeChat's Request-ID: opaque, unique per answer. */
export function requestId(): string {
  return randomUUID().replace(/-/g, '').toUpperCase();
}
