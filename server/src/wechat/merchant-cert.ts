// The merchant certificate WeChat Pay's /secapi/ endpoints require (mutual TLS), loaded into the PEM
// pair Node's TLS takes. WeChat delivers `apiclient_cert.p12` (PKCS#12, passphrase = mch_id) whose bags
// are encrypted with pbeWithSHAAnd40BitRC2-CBC; OpenSSL 3 (Node >= 17) refuses RC2 without its legacy
// provider ("Unsupported PKCS12 PFX data", nodejs/node#40672), so the PFX is read with node-forge, in
// memory, and never handed to Node's TLS as is. The same files also come as apiclient_cert.pem +
// apiclient_key.pem, which Node takes directly.
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

export type MerchantCertErrorCode =
  /** the file is missing or cannot be read */
  | 'CERT_FILE_UNREADABLE'
  /** the PKCS#12 passphrase is wrong (its MAC does not verify) */
  | 'CERT_BAD_PASSPHRASE'
  /** not a PKCS#12 / PEM certificate or key, or it lacks one of the two */
  | 'CERT_INVALID'
  /** the private key does not belong to the certificate */
  | 'CERT_KEY_MISMATCH';

/** Which input was at fault: the PKCS#12, the certificate, or the private key. */
export type MerchantCertPart = 'p12' | 'cert' | 'key';

/** Never carries the passphrase or key material; `path` names the file when one was involved. */
export class MerchantCertError extends Error {
  readonly code: MerchantCertErrorCode;
  readonly path: string | undefined;
  readonly part: MerchantCertPart | undefined;
  constructor(code: MerchantCertErrorCode, message: string, opts: { path?: string; part?: MerchantCertPart; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'MerchantCertError';
    this.code = code;
    this.path = opts.path;
    this.part = opts.part;
  }
}

export type MerchantCertSource =
  /** apiclient_cert.p12 on disk; WeChat's passphrase is the mch_id */
  | { p12Path: string; passphrase: string }
  /** the same PKCS#12 already in memory */
  | { p12: Buffer; passphrase: string }
  /** apiclient_cert.pem + apiclient_key.pem on disk */
  | { certPath: string; keyPath: string }
  /** the PEM texts themselves */
  | { certPem: string; keyPem: string };

/** What Node's TLS needs for the client side of mutual TLS, plus facts worth logging (none secret). */
export interface MerchantCert {
  /** PEM certificate (the merchant's own, first), then any chain certificates the PKCS#12 carried */
  cert: string;
  /** PEM private key (PKCS#8) */
  key: string;
  /** subject CN (WeChat puts the mch_id there) */
  subjectCN: string | undefined;
  serialNumber: string;
  validFrom: Date;
  validTo: Date;
  /** SHA-256 fingerprint, colon-separated hex, as Node prints it */
  fingerprint256: string;
}

function readFile(path: string, what: string, part: MerchantCertPart): Buffer {
  if (typeof path !== 'string' || path === '') throw new MerchantCertError('CERT_FILE_UNREADABLE', `${what}: no path given`, { part });
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : code === 'EISDIR' ? 'is a directory' : 'cannot be read';
    throw new MerchantCertError('CERT_FILE_UNREADABLE', `${what} ${path} ${why}`, { path, part, cause: err });
  }
}

function looksLikeMacFailure(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /MAC could not be verified|Invalid password/i.test(m);
}

/** PKCS#12 → PEM pair, with forge (it decrypts RC2-40, 3DES and PBES2/AES bags alike). */
function fromPkcs12(der: Buffer, passphrase: string, path: string | undefined): { cert: string; key: string } {
  if (typeof passphrase !== 'string') throw new MerchantCertError('CERT_BAD_PASSPHRASE', 'PKCS#12 passphrase must be a string', { ...(path ? { path } : {}), part: 'p12' });
  const where = path ? ` ${path}` : '';
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
  } catch (err) {
    throw new MerchantCertError('CERT_INVALID', `PKCS#12${where} is not DER (is it a PEM file?)`, { ...(path ? { path } : {}), part: 'p12', cause: err });
  }
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase);
  } catch (err) {
    if (looksLikeMacFailure(err)) {
      throw new MerchantCertError('CERT_BAD_PASSPHRASE', `PKCS#12${where}: wrong passphrase (WeChat's is the mch_id)`, { ...(path ? { path } : {}), part: 'p12' });
    }
    throw new MerchantCertError('CERT_INVALID', `PKCS#12${where} could not be read`, { ...(path ? { path } : {}), part: 'p12', cause: err });
  }
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag as string })[forge.pki.oids.pkcs8ShroudedKeyBag as string] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag as string })[forge.pki.oids.keyBag as string] ?? []),
  ];
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag as string })[forge.pki.oids.certBag as string] ?? [];
  const keyBag = keyBags.find((b) => b.key);
  const certs = certBags.map((b) => b.cert).filter((c): c is forge.pki.Certificate => c !== undefined);
  if (!keyBag?.key) throw new MerchantCertError('CERT_INVALID', `PKCS#12${where} holds no private key`, { ...(path ? { path } : {}), part: 'p12' });
  if (certs.length === 0) throw new MerchantCertError('CERT_INVALID', `PKCS#12${where} holds no certificate`, { ...(path ? { path } : {}), part: 'p12' });
  const key = forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key)));
  // The merchant's own certificate is the one matching the key; any others are chain certificates.
  const modulus = keyBag.key.n.toString(16);
  const own = certs.find((c) => (c.publicKey as forge.pki.rsa.PublicKey).n?.toString(16) === modulus) ?? certs[0]!;
  const pem = [own, ...certs.filter((c) => c !== own)].map((c) => forge.pki.certificateToPem(c)).join('');
  return { cert: pem, key };
}

function checkPair(certPem: string, keyPem: string, path: string | undefined, keyPath = path): { x509: X509Certificate; key: KeyObject; keyPem: string } {
  const at = { ...(path ? { path } : {}), part: 'cert' as const };
  const keyAt = { ...(keyPath ? { path: keyPath } : {}), part: 'key' as const };
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    throw new MerchantCertError('CERT_INVALID', `certificate${path ? ` ${path}` : ''} is not a PEM X.509 certificate`, { ...at, cause: err });
  }
  if (/ENCRYPTED/.test(keyPem.split('\n', 1)[0] ?? '') || /Proc-Type: 4,ENCRYPTED/.test(keyPem)) {
    throw new MerchantCertError('CERT_INVALID', `the private key${keyPath ? ` ${keyPath}` : ''} is passphrase-protected; give it unencrypted (as WeChat delivers apiclient_key.pem)`, keyAt);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new MerchantCertError('CERT_INVALID', `the private key${keyPath ? ` ${keyPath}` : ''} is not a PEM private key`, { ...keyAt, cause: err });
  }
  if (!x509.checkPrivateKey(key)) throw new MerchantCertError('CERT_KEY_MISMATCH', `the private key${keyPath && keyPath !== path ? ` ${keyPath}` : ''} does not belong to the certificate`, keyAt);
  return { x509, key, keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/**
 * Loads the merchant certificate into the PEM pair Node's TLS takes ({ cert, key }), whatever form
 * WeChat delivered it in. Throws MerchantCertError (never with the passphrase or key in it).
 */
export function loadMerchantCert(source: MerchantCertSource): MerchantCert {
  if (typeof source !== 'object' || source === null) throw new MerchantCertError('CERT_INVALID', 'loadMerchantCert: a source is required');
  let certPem: string;
  let keyPem: string;
  let path: string | undefined;
  let keyPath: string | undefined;
  if ('p12Path' in source) {
    path = source.p12Path;
    ({ cert: certPem, key: keyPem } = fromPkcs12(readFile(source.p12Path, 'PKCS#12 file', 'p12'), source.passphrase, path));
  } else if ('p12' in source) {
    if (!Buffer.isBuffer(source.p12)) throw new MerchantCertError('CERT_INVALID', 'p12 must be a Buffer');
    ({ cert: certPem, key: keyPem } = fromPkcs12(source.p12, source.passphrase, undefined));
  } else if ('certPath' in source) {
    path = source.certPath;
    keyPath = source.keyPath;
    certPem = readFile(source.certPath, 'certificate file', 'cert').toString('utf8');
    keyPem = readFile(source.keyPath, 'private key file', 'key').toString('utf8');
  } else if ('certPem' in source) {
    certPem = source.certPem;
    keyPem = source.keyPem;
    if (typeof certPem !== 'string' || typeof keyPem !== 'string') throw new MerchantCertError('CERT_INVALID', 'certPem and keyPem must be PEM strings');
  } else {
    throw new MerchantCertError('CERT_INVALID', 'loadMerchantCert: give { p12Path, passphrase }, { p12, passphrase }, { certPath, keyPath } or { certPem, keyPem }');
  }
  const { x509, keyPem: pkcs8 } = checkPair(certPem, keyPem, path, keyPath ?? path);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1];
  return {
    cert: certPem,
    key: pkcs8,
    subjectCN: cn,
    serialNumber: x509.serialNumber,
    validFrom: new Date(x509.validFrom),
    validTo: new Date(x509.validTo),
    fingerprint256: x509.fingerprint256,
  };
}

/**
 * The same certificate and key as a PKCS#12 that OpenSSL 3 reads without its legacy provider
 * (key bag PBES2/AES-256, certificates unencrypted, SHA-1 MAC), for software that only takes a `pfx`
 * (e.g. the `tenpay` SDK on Node >= 17). `extraCerts` (PEM) ride along as chain certificates.
 */
export function toModernPkcs12(cert: Pick<MerchantCert, 'cert' | 'key'>, passphrase: string, extraCerts: string[] = []): Buffer {
  const key = forge.pki.privateKeyFromPem(cert.key);
  const certs = [cert.cert, ...extraCerts]
    .join('\n')
    .split(/(?=-----BEGIN CERTIFICATE-----)/)
    .filter((pem) => pem.includes('BEGIN CERTIFICATE'))
    .map((pem) => forge.pki.certificateFromPem(pem));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, certs, passphrase, { algorithm: 'aes256', count: 2048 });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
