// The sandbox's own certificate authority: it signs the TLS listener's server certificate (for
// 127.0.0.1, ::1 and localhost) and one client certificate per merchant (CN = mch_id), which it writes
// as WeChat delivers them: apiclient_cert.p12 (RC2-40, passphrase = mch_id), apiclient_cert.pem and
// apiclient_key.pem; and WeChat Pay's own API v3 keys (a public key with its PUB_KEY_ID_ id, and a
// platform certificate) in dir/wechatpay/. Made once per directory and reused after (`npm start` keeps them in .data/).
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { legacyPkcs12 } from './pkcs12-legacy.js';

export interface MerchantCertFiles {
  mchId: string;
  /** apiclient_cert.p12: PKCS#12 with RC2-40 bags, passphrase = mch_id */
  p12Path: string;
  passphrase: string;
  /** apiclient_cert.pem / apiclient_key.pem */
  certPath: string;
  keyPath: string;
  /** the same certificate and key as text: the API certificate API v3 requests are signed with (serial = certificateSerial(certPem)) */
  certPem: string;
  keyPem: string;
}

/**
 * WeChat Pay's own keys for API v3, one set for the whole sandbox: the WeChat Pay public key (the mode
 * new merchants are given, named by a PUB_KEY_ID_ id) and a platform certificate (issued by the sandbox
 * CA, named by its serial) for merchants still on platform certificates. Answers and notifications are
 * signed with the private half of one of them, per merchant's signing mode.
 */
export interface WechatpayKeys {
  publicKeyId: string;
  publicKeyPem: string;
  publicKeyPath: string;
  /** private half of the public key (the sandbox plays WeChat Pay, so it holds it) */
  publicKeyPrivatePem: string;
  platformSerial: string;
  platformCertPem: string;
  platformCertPath: string;
  platformKeyPem: string;
}

export interface SandboxPki {
  dir: string;
  /** the CA certificate clients must trust for the TLS listener (PEM) */
  caPath: string;
  caPem: string;
  /** the TLS listener's certificate and key */
  serverCert: string;
  serverKey: string;
  merchants: Record<string, MerchantCertFiles>;
  wechatpay: WechatpayKeys;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

function rsaPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

function issue(opts: {
  subject: forge.pki.CertificateField[];
  publicPem: string;
  issuer?: { cert: forge.pki.Certificate; keyPem: string };
  selfKeyPem?: string;
  extensions: object[];
  years: number;
}): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(opts.publicPem);
  // Positive, 16 bytes.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + opts.years * YEAR_MS);
  cert.setSubject(opts.subject);
  cert.setIssuer(opts.issuer ? opts.issuer.cert.subject.attributes : opts.subject);
  cert.setExtensions(opts.extensions);
  const signer = forge.pki.privateKeyFromPem(opts.issuer ? opts.issuer.keyPem : (opts.selfKeyPem as string));
  cert.sign(signer, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function validFor(certPem: string, caPem: string, minMs = 24 * 3600 * 1000): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.verify(ca.publicKey) && new Date(cert.validTo).getTime() - Date.now() > minMs;
  } catch {
    return false;
  }
}

function write(path: string, data: string | Buffer, secret: boolean): void {
  writeFileSync(path, data, { mode: secret ? 0o600 : 0o644 });
}

/**
 * Puts a freshly made directory in place at `target` unless another process already did (renames are
 * atomic; the loser's copy is discarded and the winner's kept). `replace`: move a stale one away first.
 */
function install(dir: string, target: string, make: (tmp: string) => void, replace: boolean): void {
  const tmp = join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    make(tmp);
    if (replace && existsSync(target)) {
      try {
        renameSync(target, join(dir, `.old-${randomBytes(6).toString('hex')}`));
      } catch {
        // someone else moved it already
      }
    }
    try {
      renameSync(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function readIf(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function makeCa(tmp: string): void {
  const pair = rsaPair();
  const subject = [
    { name: 'countryName', value: 'CN' },
    { name: 'organizationName', value: 'wxpay-mp sandbox' },
    { name: 'commonName', value: 'wxpay-mp sandbox CA' },
  ];
  const caPem = issue({
    subject,
    publicPem: pair.publicPem,
    selfKeyPem: pair.privatePem,
    years: 10,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ],
  });
  const server = rsaPair();
  const serverCert = issue({
    subject: [
      { name: 'countryName', value: 'CN' },
      { name: 'organizationName', value: 'wxpay-mp sandbox' },
      { name: 'commonName', value: 'api.mch.weixin.qq.com (sandbox)' },
    ],
    publicPem: server.publicPem,
    issuer: { cert: forge.pki.certificateFromPem(caPem), keyPem: pair.privatePem },
    years: 5,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  write(join(tmp, 'ca-key.pem'), pair.privatePem, true);
  write(join(tmp, 'server-key.pem'), server.privatePem, true);
  write(join(tmp, 'server.pem'), serverCert, false);
  write(join(tmp, 'ca.pem'), caPem, false);
}

function makeMerchant(tmp: string, mchId: string, ca: { cert: forge.pki.Certificate; keyPem: string }): void {
  const pair = rsaPair();
  const certPem = issue({
    subject: [
      { name: 'countryName', value: 'CN' },
      { name: 'organizationName', value: 'wxpay-mp sandbox merchant' },
      { name: 'organizationalUnitName', value: 'WeChat Pay sandbox' },
      { name: 'commonName', value: mchId },
    ],
    publicPem: pair.publicPem,
    issuer: ca,
    years: 5,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  write(join(tmp, 'apiclient_key.pem'), pair.privatePem, true);
  write(join(tmp, 'apiclient_cert.p12'), legacyPkcs12(pair.privatePem, certPem, mchId), true);
  write(join(tmp, 'apiclient_cert.pem'), certPem, false);
}

// WeChat's ids are PUB_KEY_ID_ + 22 digits (01 + the mch_id's digits + padding); the sandbox's is one
// for all its merchants: PUB_KEY_ID_01 + 10000100 (the demo mch_id) + 12 random digits, made once.
function makeWechatpay(tmp: string, ca: { cert: forge.pki.Certificate; keyPem: string }): void {
  const pub = rsaPair();
  let digits = '';
  for (const b of randomBytes(12)) digits += String(b % 10);
  write(join(tmp, 'pub_key.pem'), pub.publicPem, false);
  write(join(tmp, 'pub_key_private.pem'), pub.privatePem, true);
  write(join(tmp, 'pub_key_id'), `PUB_KEY_ID_0110000100${digits}\n`, false);
  const platform = rsaPair();
  const certPem = issue({
    subject: [
      { name: 'countryName', value: 'CN' },
      { name: 'organizationName', value: 'Tenpay.com (wxpay-mp sandbox)' },
      { name: 'organizationalUnitName', value: 'Tenpay.com CA Center' },
      { name: 'commonName', value: 'Tenpay.com Root CA (sandbox platform certificate)' },
    ],
    publicPem: platform.publicPem,
    issuer: ca,
    years: 5,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    ],
  });
  write(join(tmp, 'wechatpay_cert.pem'), certPem, false);
  write(join(tmp, 'wechatpay_key.pem'), platform.privatePem, true);
}

function loadWechatpay(wdir: string): WechatpayKeys {
  const platformCertPath = join(wdir, 'wechatpay_cert.pem');
  const platformCertPem = readFileSync(platformCertPath, 'utf8');
  return {
    publicKeyId: readFileSync(join(wdir, 'pub_key_id'), 'utf8').trim(),
    publicKeyPath: join(wdir, 'pub_key.pem'),
    publicKeyPem: readFileSync(join(wdir, 'pub_key.pem'), 'utf8'),
    publicKeyPrivatePem: readFileSync(join(wdir, 'pub_key_private.pem'), 'utf8'),
    platformSerial: new X509Certificate(platformCertPem).serialNumber.toUpperCase(),
    platformCertPem,
    platformCertPath,
    platformKeyPem: readFileSync(join(wdir, 'wechatpay_key.pem'), 'utf8'),
  };
}

const CA_MIN_LIFE_MS = 30 * 24 * 3600 * 1000;

/**
 * Loads the sandbox PKI from `dir`, making what is missing or no longer valid: the CA with the
 * server certificate (dir/ca/), and a client certificate for each mch_id (dir/merchants/<mch_id>/).
 * Safe when several processes share `dir` (tests do): each part is made aside and renamed in place.
 */
export function ensureSandboxPki(dir: string, mchIds: readonly string[]): SandboxPki {
  mkdirSync(join(dir, 'merchants'), { recursive: true, mode: 0o700 });
  const caDir = join(dir, 'ca');
  const caOk = () => {
    const ca = readIf(join(caDir, 'ca.pem'));
    const server = readIf(join(caDir, 'server.pem'));
    return ca !== undefined && server !== undefined && existsSync(join(caDir, 'ca-key.pem')) && existsSync(join(caDir, 'server-key.pem')) &&
      validFor(ca, ca, CA_MIN_LIFE_MS) && validFor(server, ca);
  };
  if (!caOk()) install(dir, caDir, makeCa, existsSync(caDir));
  const caPath = join(caDir, 'ca.pem');
  const caPem = readFileSync(caPath, 'utf8');
  const ca = { cert: forge.pki.certificateFromPem(caPem), keyPem: readFileSync(join(caDir, 'ca-key.pem'), 'utf8') };

  const merchants: Record<string, MerchantCertFiles> = {};
  for (const mchId of new Set(mchIds)) {
    if (!/^[0-9A-Za-z_-]{1,32}$/.test(mchId)) throw new TypeError(`sandbox pki: mch_id ${JSON.stringify(mchId)} cannot name a directory`);
    const mdir = join(dir, 'merchants', mchId);
    const files: Omit<MerchantCertFiles, 'certPem' | 'keyPem'> = {
      mchId,
      p12Path: join(mdir, 'apiclient_cert.p12'),
      passphrase: mchId,
      certPath: join(mdir, 'apiclient_cert.pem'),
      keyPath: join(mdir, 'apiclient_key.pem'),
    };
    const cert = readIf(files.certPath);
    const ok = cert !== undefined && existsSync(files.p12Path) && existsSync(files.keyPath) && validFor(cert, caPem);
    if (!ok) install(join(dir, 'merchants'), mdir, (tmp) => makeMerchant(tmp, mchId, ca), existsSync(mdir));
    merchants[mchId] = { ...files, certPem: readFileSync(files.certPath, 'utf8'), keyPem: readFileSync(files.keyPath, 'utf8') };
  }
  const wdir = join(dir, 'wechatpay');
  const wOk = () => {
    const cert = readIf(join(wdir, 'wechatpay_cert.pem'));
    return cert !== undefined && validFor(cert, caPem) && ['pub_key.pem', 'pub_key_private.pem', 'pub_key_id', 'wechatpay_key.pem'].every((f) => existsSync(join(wdir, f)));
  };
  if (!wOk()) install(dir, wdir, (tmp) => makeWechatpay(tmp, ca), existsSync(wdir));
  return {
    dir,
    caPath,
    caPem,
    serverCert: readFileSync(join(caDir, 'server.pem'), 'utf8'),
    serverKey: readFileSync(join(caDir, 'server-key.pem'), 'utf8'),
    merchants,
    wechatpay: loadWechatpay(wdir),
  };
}
