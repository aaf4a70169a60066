// A PKCS#12 in the legacy form WeChat delivers apiclient_cert.p12 in: both the certificate safe and the
// shrouded key bag encrypted with pbeWithSHAAnd40BitRC2-CBC, SHA-1 MAC, 2048 iterations (what
// `openssl pkcs12 -export -legacy -certpbe PBE-SHA1-RC2-40 -keypbe PBE-SHA1-RC2-40` writes).
//
// node-forge reads this form but only writes AES/3DES key bags with unencrypted certificates, and the
// openssl CLI would make the sandbox depend on a binary with its legacy provider installed; so the
// structure is assembled here from forge's own ASN.1, RC2 and PKCS#12 key-derivation primitives.
// test/server/sandbox/pki.test.ts checks the result with the openssl CLI when one is installed.
import forge from 'node-forge';

const { asn1, pki } = forge;
const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

const ITERATIONS = 2048;
const RC2_40_OID = pki.oids['pbewithSHAAnd40BitRC2-CBC'] as string;

const seq = (items: forge.asn1.Asn1[]) => asn1.create(U, T.SEQUENCE, true, items);
const oid = (o: string) => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
const octets = (bytes: string) => asn1.create(U, T.OCTETSTRING, false, bytes);
const int = (n: number) => asn1.create(U, T.INTEGER, false, asn1.integerToDer(n).getBytes());
const explicit0 = (inner: forge.asn1.Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);
const der = (node: forge.asn1.Asn1) => asn1.toDer(node).getBytes();

function rc2Params(salt: string) {
  return seq([oid(RC2_40_OID), seq([octets(salt), int(ITERATIONS)])]);
}

/** PKCS#12 PBE (appendix B key derivation, SHA-1) with 40-bit RC2-CBC, PKCS#7 padding. */
function rc2Encrypt(plain: string, password: string, salt: string): string {
  const saltBuf = () => forge.util.createBuffer(salt);
  const key = forge.pkcs12.generateKey(password, saltBuf(), 1, ITERATIONS, 5);
  const iv = forge.pkcs12.generateKey(password, saltBuf(), 2, ITERATIONS, 8);
  const cipher = forge.rc2.createEncryptionCipher(key, 40);
  cipher.start(iv);
  cipher.update(forge.util.createBuffer(plain));
  if (!cipher.finish()) throw new Error('pkcs12-legacy: RC2 encryption failed');
  return cipher.output.getBytes();
}

function attributes(localKeyId: string, friendlyName: string) {
  return asn1.create(U, T.SET, true, [
    seq([oid(pki.oids.localKeyId as string), asn1.create(U, T.SET, true, [octets(localKeyId)])]),
    seq([oid(pki.oids.friendlyName as string), asn1.create(U, T.SET, true, [asn1.create(U, T.BMPSTRING, false, friendlyName)])]),
  ]);
}

/**
 * DER of a legacy (RC2-40) PKCS#12 holding `keyPem` and `certPem` (the merchant's certificate first,
 * then any chain certificates), protected by `password`.
 */
export function legacyPkcs12(keyPem: string, certPem: string, password: string, friendlyName = 'Tenpay Certificate'): Buffer {
  const key = pki.privateKeyFromPem(keyPem);
  const certs = certPem
    .split(/(?=-----BEGIN CERTIFICATE-----)/)
    .filter((p) => p.includes('BEGIN CERTIFICATE'))
    .map((p) => pki.certificateFromPem(p));
  if (certs.length === 0) throw new TypeError('legacyPkcs12: no certificate');
  const sha1 = forge.md.sha1.create();
  sha1.update(der(pki.certificateToAsn1(certs[0]!)));
  const localKeyId = sha1.digest().getBytes();
  const attrs = attributes(localKeyId, friendlyName);

  // Certificates: a SafeContents of CertBags, encrypted as a whole (PKCS#7 EncryptedData).
  const certBags = certs.map((c, i) =>
    seq([
      oid(pki.oids.certBag as string),
      explicit0(seq([oid(pki.oids.x509Certificate as string), explicit0(octets(der(pki.certificateToAsn1(c))))])),
      ...(i === 0 ? [attrs] : []),
    ]),
  );
  const certSalt = forge.random.getBytesSync(8);
  const certCipher = rc2Encrypt(der(seq(certBags)), password, certSalt);
  const certInfo = seq([
    oid(pki.oids.encryptedData as string),
    explicit0(
      seq([
        int(0),
        seq([oid(pki.oids.data as string), rc2Params(certSalt), asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, certCipher)]),
      ]),
    ),
  ]);

  // The key: a pkcs8ShroudedKeyBag whose EncryptedPrivateKeyInfo uses the same RC2-40 PBE.
  const keySalt = forge.random.getBytesSync(8);
  const keyInfo = der(pki.wrapRsaPrivateKey(pki.privateKeyToAsn1(key)));
  const shrouded = seq([rc2Params(keySalt), octets(rc2Encrypt(keyInfo, password, keySalt))]);
  const keyBag = seq([oid(pki.oids.pkcs8ShroudedKeyBag as string), explicit0(shrouded), attrs]);
  const keyData = seq([oid(pki.oids.data as string), explicit0(octets(der(seq([keyBag]))))]);

  const authSafe = der(seq([certInfo, keyData]));
  const macSalt = forge.random.getBytesSync(8);
  const macKey = forge.pkcs12.generateKey(password, forge.util.createBuffer(macSalt), 3, ITERATIONS, 20);
  const hmac = forge.hmac.create();
  hmac.start('sha1', macKey);
  hmac.update(authSafe);
  const macData = seq([
    seq([seq([oid(pki.oids.sha1 as string), asn1.create(U, T.NULL, false, '')]), octets(hmac.digest().getBytes())]),
    octets(macSalt),
    int(ITERATIONS),
  ]);
  const pfx = seq([int(3), seq([oid(pki.oids.data as string), explicit0(octets(authSafe))]), macData]);
  return Buffer.from(der(pfx), 'binary');
}
