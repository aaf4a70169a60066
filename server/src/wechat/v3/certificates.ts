// Whose signature a Wechatpay-Signature is. Two modes, possibly both at once (a merchant moving from
// platform certificates to the WeChat Pay public key): the public key, named by its PUB_KEY_ID_… id,
// and platform certificates, downloaded from GET /v3/certificates, decrypted with the APIv3 key,
// cached, refreshed every 12 hours and when an answer names a serial we do not know (at most once a
// minute), old ones kept until they expire so that a rotation never leaves a gap.
//
// The certificates answer is signed by one of the certificates it carries. Like WeChat's SDKs, the
// carried certificates may vouch for their own answer: they are authenticated by the AES-256-GCM tag
// under the APIv3 key, which only WeChat and we hold; a signer we already know is checked as well.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { WxPayError } from '../errors.js';
import { aesGcmDecrypt, certificateSerial, checkApiV3Key, PUBLIC_KEY_ID_PREFIX, publicKey, readSignedHeaders, responseMessage, rsaVerify, serialKey } from './crypto.js';
import type { V3Api, V3RawAnswer, V3Verifier } from './transport.js';

export const CERTIFICATES_API: V3Api = { name: 'certificates', method: 'GET', path: '/v3/certificates' };

/** Refresh period of the platform certificates (WeChat's SDKs use 12 h too). */
export const CERTIFICATES_REFRESH_MS = 12 * 60 * 60 * 1000;
/** Least time between two downloads caused by an unknown serial. */
export const UNKNOWN_SERIAL_REFRESH_MS = 60 * 1000;

export interface PlatformCertificate {
  serial: string;
  pem: string;
  key: KeyObject;
  validFrom: Date;
  validTo: Date;
}

export interface WechatpayVerifierOptions {
  /** WeChat Pay public key mode: its id (PUB_KEY_ID_…) and PEM */
  publicKey?: { id: string; pem: string };
  /** platform certificate mode: how to GET /v3/certificates (signed, answer unverified: V3Transport.raw) */
  platformCertificates?: { fetch: () => Promise<V3RawAnswer> };
  apiV3Key: string;
  now?: () => Date;
}

export interface WechatpayVerifier extends V3Verifier {
  /** downloads the platform certificates now (no-op without platform certificate mode) */
  refresh(): Promise<void>;
  /** the cached platform certificates still valid */
  certificates(): PlatformCertificate[];
}

interface CertificatesBody {
  data?: Array<{
    serial_no?: unknown;
    effective_time?: unknown;
    expire_time?: unknown;
    encrypt_certificate?: { algorithm?: unknown; nonce?: unknown; associated_data?: unknown; ciphertext?: unknown };
  }>;
}

function bad(message: string, cause?: unknown): WxPayError {
  return new WxPayError('BAD_RESPONSE_SIGN', `certificates: ${message}`, { api: 'certificates', retriable: false, ...(cause ? { cause } : {}) });
}

/**
 * Reads a GET /v3/certificates answer: every certificate decrypted (tag checked) and its serial and
 * dates checked, and the answer's own signature verified with a known or carried certificate.
 * Pure: exported for tests and the sandbox.
 */
export function readCertificatesAnswer(ans: V3RawAnswer, apiV3Key: string, known: ReadonlyMap<string, PlatformCertificate>, now: Date): PlatformCertificate[] {
  if (ans.status !== 200) {
    throw new WxPayError(ans.status >= 500 ? 'SYSTEMERROR' : 'BAD_RESPONSE', `certificates: HTTP ${ans.status}`, { api: 'certificates', status: ans.status, ...(ans.status >= 500 ? { retry: 'soon' as const } : { retriable: false }) });
  }
  const text = ans.body.toString('utf8');
  let parsed: CertificatesBody;
  try {
    parsed = JSON.parse(text) as CertificatesBody;
  } catch (err) {
    throw bad('answer is not JSON', err);
  }
  if (!parsed || !Array.isArray(parsed.data) || parsed.data.length === 0) throw bad('answer carries no certificate');
  const carried = new Map<string, PlatformCertificate>();
  for (const item of parsed.data) {
    const enc = item?.encrypt_certificate;
    if (!enc || typeof enc.ciphertext !== 'string' || typeof enc.nonce !== 'string') throw bad('a certificate is not encrypted as documented');
    let pem: string;
    try {
      pem = aesGcmDecrypt(enc, apiV3Key);
    } catch (err) {
      throw bad('a certificate does not decrypt with the APIv3 key', err);
    }
    let x509: X509Certificate;
    let serial: string;
    try {
      x509 = new X509Certificate(pem);
      serial = serialKey(certificateSerial(pem));
    } catch (err) {
      throw bad('a decrypted certificate is not X.509 PEM', err);
    }
    if (typeof item.serial_no !== 'string' || serialKey(item.serial_no) !== serial) throw bad(`serial_no ${String(item.serial_no)} is not its certificate's (${serial})`);
    const cert: PlatformCertificate = { serial, pem, key: x509.publicKey, validFrom: new Date(x509.validFrom), validTo: new Date(x509.validTo) };
    // Not yet valid, or expired: of no use, but not a reason to refuse the others.
    if (cert.validFrom.getTime() > now.getTime() || cert.validTo.getTime() <= now.getTime()) continue;
    carried.set(serial, cert);
  }
  if (carried.size === 0) throw bad('no certificate in the answer is valid now');

  const h = readSignedHeaders((name) => ans.headers[name], now);
  if (h === 'unsigned') throw bad('answer is not signed');
  if (typeof h === 'string') throw bad('answer has a stale Wechatpay-Timestamp');
  const serial = serialKey(h.serial);
  const signer = known.get(serial) ?? carried.get(serial);
  if (!signer) throw bad(`answer is signed by ${serial}, neither known nor carried`);
  if (!rsaVerify(responseMessage(h.timestamp, h.nonce, text), h.signature, signer.key)) throw bad('answer signature does not verify');
  return [...carried.values()];
}

export function createWechatpayVerifier(opts: WechatpayVerifierOptions): WechatpayVerifier {
  checkApiV3Key(opts.apiV3Key);
  const now = opts.now ?? (() => new Date());
  const pub = opts.publicKey ? { id: opts.publicKey.id, key: publicKey(opts.publicKey.pem) } : undefined;
  if (pub && !pub.id.startsWith(PUBLIC_KEY_ID_PREFIX)) throw new TypeError(`createWechatpayVerifier: the public key id must start with ${PUBLIC_KEY_ID_PREFIX}`);
  const source = opts.platformCertificates;
  if (!pub && !source) throw new TypeError('createWechatpayVerifier: give publicKey, platformCertificates or both');

  const cache = new Map<string, PlatformCertificate>();
  let fetchedAt: number | undefined;
  let triedAt: number | undefined;
  let inFlight: Promise<void> | undefined;

  function prune(): void {
    const t = now().getTime();
    for (const [serial, c] of cache) if (c.validTo.getTime() <= t) cache.delete(serial);
  }

  function refresh(): Promise<void> {
    if (!source) return Promise.resolve();
    inFlight ??= (async () => {
      triedAt = now().getTime();
      try {
        const certs = readCertificatesAnswer(await source.fetch(), opts.apiV3Key, cache, now());
        // Merged, not replaced: a certificate WeChat stopped listing still verifies what it signed until it expires.
        for (const c of certs) cache.set(c.serial, c);
        fetchedAt = now().getTime();
        prune();
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  }

  function valid(serial: string): PlatformCertificate | undefined {
    const c = cache.get(serial);
    const t = now().getTime();
    return c && c.validFrom.getTime() <= t && c.validTo.getTime() > t ? c : undefined;
  }

  async function platformKey(serial: string): Promise<KeyObject | undefined> {
    const t = now().getTime();
    const due = fetchedAt === undefined || t - fetchedAt >= CERTIFICATES_REFRESH_MS;
    // After a failed periodic refresh, the cache serves for a minute before the next try (no storm while WeChat is down).
    if (due && (cache.size === 0 || triedAt === undefined || t - triedAt >= UNKNOWN_SERIAL_REFRESH_MS)) {
      try {
        await refresh();
      } catch (err) {
        // A periodic refresh that fails leaves the cache in use; with nothing cached, nothing can be known.
        if (cache.size === 0) throw err;
      }
    }
    let cert = valid(serial);
    if (!cert && (triedAt === undefined || now().getTime() - triedAt >= UNKNOWN_SERIAL_REFRESH_MS)) {
      await refresh();
      cert = valid(serial);
    }
    return cert?.key;
  }

  return {
    async verify(serial, message, signature) {
      if (typeof serial !== 'string' || serial === '') return false;
      if (serial.startsWith(PUBLIC_KEY_ID_PREFIX)) return pub !== undefined && serial === pub.id && rsaVerify(message, signature, pub.key);
      if (!source) return false;
      const key = await platformKey(serialKey(serial));
      return key !== undefined && rsaVerify(message, signature, key);
    },
    refresh,
    certificates() {
      prune();
      return [...cache.values()];
    },
  };
}
