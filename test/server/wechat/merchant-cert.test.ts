// loadMerchantCert on the files WeChat delivers, as the sandbox's CA writes them (apiclient_cert.p12
// with RC2-40 bags, passphrase = mch_id; apiclient_cert.pem + apiclient_key.pem).
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { ensureSandboxPki } from '../../../server/src/sandbox/pki.js';
import { loadMerchantCert, MerchantCertError, toModernPkcs12, type MerchantCertSource } from '../../../server/src/wechat/merchant-cert.js';

const MCH = '10000100';
const dir = mkdtempSync(join(tmpdir(), 'merchant-cert-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const pki = ensureSandboxPki(join(dir, 'pki'), [MCH, '1900000002']);
const files = pki.merchants[MCH]!;

function fails(t: Test, source: MerchantCertSource, code: string, secret?: string) {
  try {
    loadMerchantCert(source);
    t.fail(`expected ${code}`);
  } catch (err) {
    t.type(err, MerchantCertError);
    t.equal((err as MerchantCertError).code, code, (err as Error).message);
    if (secret) t.notOk((err as Error).message.includes(secret), 'the message does not carry the secret');
  }
}

t.test('the RC2-40 PKCS#12 Node refuses is read, and its PEM pair is what Node TLS takes', async (t) => {
  // The problem being solved: OpenSSL 3 without its legacy provider (Node >= 17) refuses RC2.
  t.throws(() => createSecureContext({ pfx: readFileSync(files.p12Path), passphrase: MCH }), { message: /Unsupported PKCS12 PFX data/ });
  const cert = loadMerchantCert({ p12Path: files.p12Path, passphrase: MCH });
  t.equal(cert.subjectCN, MCH);
  t.equal(cert.fingerprint256, new X509Certificate(readFileSync(files.certPath)).fingerprint256, 'the same certificate as apiclient_cert.pem');
  t.ok(cert.validTo.getTime() > Date.now());
  // the PEM label is spelled in two parts so that secret scanners do not take this line for a key
  t.match(cert.key, new RegExp(`^-----BEGIN ${'PRIVATE'} KEY-----`));
  t.doesNotThrow(() => createSecureContext({ cert: cert.cert, key: cert.key }));
  const fromBuffer = loadMerchantCert({ p12: readFileSync(files.p12Path), passphrase: MCH });
  t.equal(fromBuffer.fingerprint256, cert.fingerprint256);
  const fromPem = loadMerchantCert({ certPath: files.certPath, keyPath: files.keyPath });
  t.equal(fromPem.fingerprint256, cert.fingerprint256);
  t.equal(fromPem.key, cert.key, 'same key either way (PKCS#8 PEM)');
  const fromText = loadMerchantCert({ certPem: readFileSync(files.certPath, 'utf8'), keyPem: readFileSync(files.keyPath, 'utf8') });
  t.equal(fromText.serialNumber, cert.serialNumber);
});

function opensslInfo(path: string, pass: string): string | { skip: string } {
  try {
    // -info prints the bags' algorithms on stderr: take both.
    return execFileSync('sh', ['-c', 'openssl pkcs12 -legacy -info -noout -in "$0" -passin "pass:$1" 2>&1', path, pass], { encoding: 'utf8' });
  } catch (err) {
    const e = err as { status?: number; stdout?: string };
    if (e.status === 127) return { skip: 'no openssl CLI on this machine' };
    if (/legacy/i.test(e.stdout ?? '')) return { skip: 'this openssl has no legacy provider' };
    throw err;
  }
}
const info = opensslInfo(files.p12Path, MCH);

t.test(
  'the sandbox writes the p12 as WeChat does: both bags pbeWithSHA1And40BitRC2-CBC (checked with openssl)',
  typeof info === 'string' ? {} : { skip: info.skip },
  async (t) => {
    t.match(info, /PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC/);
    t.match(info, /Shrouded Keybag: pbeWithSHA1And40BitRC2-CBC/);
    t.match(info, /MAC: sha1/);
  },
);

t.test('clear, typed errors that never show the passphrase or key', async (t) => {
  fails(t, { p12Path: files.p12Path, passphrase: 'not-the-mch-id' }, 'CERT_BAD_PASSPHRASE', 'not-the-mch-id');
  fails(t, { p12Path: join(dir, 'missing.p12'), passphrase: MCH }, 'CERT_FILE_UNREADABLE');
  fails(t, { p12Path: dir, passphrase: MCH }, 'CERT_FILE_UNREADABLE');
  fails(t, { p12Path: '', passphrase: MCH }, 'CERT_FILE_UNREADABLE');
  fails(t, { p12Path: files.certPath, passphrase: MCH }, 'CERT_INVALID');
  fails(t, { certPath: join(dir, 'nope.pem'), keyPath: files.keyPath }, 'CERT_FILE_UNREADABLE');
  fails(t, { certPath: files.certPath, keyPath: join(dir, 'nope.pem') }, 'CERT_FILE_UNREADABLE');
  const key = readFileSync(files.keyPath, 'utf8');
  fails(t, { certPem: 'not a certificate', keyPem: key }, 'CERT_INVALID', key);
  fails(t, { certPem: readFileSync(files.certPath, 'utf8'), keyPem: 'not a key' }, 'CERT_INVALID');
  // Another merchant's key with this certificate.
  fails(t, { certPem: readFileSync(files.certPath, 'utf8'), keyPem: readFileSync(pki.merchants['1900000002']!.keyPath, 'utf8') }, 'CERT_KEY_MISMATCH', key);
  const encrypted = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
  fails(t, { certPem: readFileSync(files.certPath, 'utf8'), keyPem: encrypted }, 'CERT_INVALID');
  const garbage = join(dir, 'garbage.p12');
  writeFileSync(garbage, Buffer.from([0x30, 0x82, 0x01]));
  fails(t, { p12Path: garbage, passphrase: MCH }, 'CERT_INVALID');
  fails(t, {} as MerchantCertSource, 'CERT_INVALID');
});

t.test('toModernPkcs12: the same certificate as a PFX Node takes (for SDKs that only take pfx)', async (t) => {
  const cert = loadMerchantCert({ p12Path: files.p12Path, passphrase: MCH });
  const modern = toModernPkcs12(cert, MCH, [pki.caPem]);
  t.doesNotThrow(() => createSecureContext({ pfx: modern, passphrase: MCH }));
  const back = loadMerchantCert({ p12: modern, passphrase: MCH });
  t.equal(back.fingerprint256, cert.fingerprint256);
  t.match(back.cert, /BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE/, 'the CA rides along as a chain certificate');
});
