// WeChat Pay API v3's cryptography, as pure functions shared by the client and the sandbox:
// RSA-SHA256 (PKCS#1 v1.5) signatures over WeChat's newline-joined messages, the Authorization
// header, AEAD_AES_256_GCM for notification resources and platform certificates, and the checks
// that tie a private key to its certificate serial.
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, createSign, createVerify, KeyObject, X509Certificate, randomBytes } from 'node:crypto';

export type PrivateKeyInput = string | Buffer | KeyObject;
export type PublicKeyInput = string | Buffer | KeyObject;

/** The one Authorization scheme API v3 knows. */
export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat Pay public key ids (the mode new merchants are given) start so; platform certificate serials are hex. */
export const PUBLIC_KEY_ID_PREFIX = 'PUB_KEY_ID_';
/** Answers and notifications older or newer than this are refused (WeChat's guidance). */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export function privateKey(input: PrivateKeyInput): KeyObject {
  return input instanceof KeyObject ? input : createPrivateKey(input);
}

export function publicKey(input: PublicKeyInput): KeyObject {
  if (input instanceof KeyObject) return input.type === 'private' ? createPublicKey(input) : input;
  const text = Buffer.isBuffer(input) ? input.toString('utf8') : input;
  if (text.includes('BEGIN CERTIFICATE')) return new X509Certificate(text).publicKey;
  return createPublicKey(text);
}

/** base64 RSA-SHA256 (PKCS#1 v1.5) signature of `message`. */
export function rsaSign(message: string, key: PrivateKeyInput): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(privateKey(key), 'base64');
}

/** Whether `signature` (base64) is `key`'s RSA-SHA256 signature of `message`; false on any malformed input. */
export function rsaVerify(message: string, signature: string, key: PublicKeyInput): boolean {
  if (typeof signature !== 'string' || signature.length === 0 || signature.length > 1024 || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(publicKey(key), signature, 'base64');
  } catch {
    return false;
  }
}

/** What a request's signature covers: method, path with query, timestamp, nonce, body, each line-ended. */
export function requestMessage(method: string, pathWithQuery: string, timestamp: string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** What an answer's or a notification's Wechatpay-Signature covers. */
export function responseMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

/** The Wechatpay-* headers every signed answer and notification carries. */
export interface SignedHeaders {
  timestamp: string;
  nonce: string;
  signature: string;
  /** a platform certificate serial or a PUB_KEY_ID_…, as sent */
  serial: string;
}

/**
 * Reads the Wechatpay-* headers (through `get`, a lower-case name's value) and judges them before any
 * signature is checked: 'unsigned' when one is missing, 'malformed' when the timestamp is not seconds,
 * 'stale' when it is more than MAX_CLOCK_SKEW_SECONDS from `now`. One rule for answers, the
 * certificates download and notifications alike.
 */
export function readSignedHeaders(get: (name: string) => string | undefined, now: Date): SignedHeaders | 'unsigned' | 'malformed' | 'stale' {
  const timestamp = get('wechatpay-timestamp');
  const nonce = get('wechatpay-nonce');
  const signature = get('wechatpay-signature');
  const serial = get('wechatpay-serial');
  if (!timestamp || !nonce || !signature || !serial) return 'unsigned';
  if (!/^\d{1,12}$/.test(timestamp)) return 'malformed';
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) return 'stale';
  return { timestamp, nonce, signature, serial };
}

/** wx.requestPayment / getBrandWCPayRequest's paySign message under signType RSA. */
export function jsapiPayMessage(appId: string, timeStamp: string, nonceStr: string, pkg: string): string {
  return `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`;
}

/** The APP SDK's (PayReq) sign message under API v3: appid, timestamp, noncestr, prepayid. */
export function appPayMessage(appid: string, timestamp: string, noncestr: string, prepayid: string): string {
  return `${appid}\n${timestamp}\n${noncestr}\n${prepayid}\n`;
}

export interface AuthorizationFields {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

export function authorizationHeader(f: AuthorizationFields): string {
  return `${AUTH_SCHEMA} mchid="${f.mchid}",nonce_str="${f.nonce_str}",signature="${f.signature}",timestamp="${f.timestamp}",serial_no="${f.serial_no}"`;
}

/** Signs a request and returns its Authorization header value. */
export function signRequest(input: {
  method: string;
  pathWithQuery: string;
  body: string;
  mchid: string;
  serialNo: string;
  key: PrivateKeyInput;
  nonce: string;
  timestamp: string;
}): string {
  const signature = rsaSign(requestMessage(input.method, input.pathWithQuery, input.timestamp, input.nonce, input.body), input.key);
  return authorizationHeader({ mchid: input.mchid, nonce_str: input.nonce, signature, timestamp: input.timestamp, serial_no: input.serialNo });
}

/**
 * The fields of an Authorization header, or null when it is not WeChat's scheme or lacks one of the
 * five (values may be quoted or not; order is free, as WeChat's servers accept).
 */
export function parseAuthorization(header: string | undefined): AuthorizationFields | null {
  if (typeof header !== 'string' || header.length > 4096) return null;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space) !== AUTH_SCHEMA) return null;
  const out: Record<string, string> = {};
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (Object.hasOwn(out, name)) return null;
    out[name] = value;
  }
  for (const name of ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no']) {
    if (!out[name]) return null;
  }
  return out as unknown as AuthorizationFields;
}

/** An APIv3 key is 32 bytes (32 ASCII characters as the merchant platform takes it). */
export function checkApiV3Key(key: string | Buffer): Buffer {
  const buf = Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
  if (buf.length !== 32) throw new RangeError(`the APIv3 key must be 32 bytes, got ${buf.length}`);
  return buf;
}

export interface EncryptedResource {
  algorithm?: string;
  /** base64 of the ciphertext followed by the 16-byte tag */
  ciphertext: string;
  nonce: string;
  associated_data?: string;
}

export class AeadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AeadError';
  }
}

/**
 * AEAD_AES_256_GCM decryption as WeChat uses it (notification resources, platform certificates):
 * the key is the APIv3 key, the nonce its 12 characters, the last 16 bytes the tag, which is checked
 * (a wrong key, nonce, associated data or a flipped bit all throw AeadError). It takes the resource
 * as it came off the wire: every field's type is checked here, so callers pass it as it is.
 */
export function aesGcmDecrypt(resource: EncryptedResource | { [K in keyof EncryptedResource]?: unknown }, apiV3Key: string | Buffer): string {
  const key = checkApiV3Key(apiV3Key);
  if (resource.algorithm !== undefined && resource.algorithm !== 'AEAD_AES_256_GCM') throw new AeadError(`unknown algorithm ${String(resource.algorithm)}`);
  if (resource.associated_data !== undefined && typeof resource.associated_data !== 'string') throw new AeadError('associated_data is not a string');
  if (typeof resource.ciphertext !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(resource.ciphertext)) throw new AeadError('ciphertext is not base64');
  if (typeof resource.nonce !== 'string' || Buffer.byteLength(resource.nonce) !== 12) throw new AeadError('nonce must be 12 bytes');
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length < 17) throw new AeadError('ciphertext too short');
  const tag = data.subarray(data.length - 16);
  const body = data.subarray(0, data.length - 16);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(resource.nonce, 'utf8'), { authTagLength: 16 });
    decipher.setAuthTag(tag);
    if (resource.associated_data) decipher.setAAD(Buffer.from(resource.associated_data, 'utf8'));
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    throw new AeadError('authentication tag mismatch');
  }
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The inverse of aesGcmDecrypt (the sandbox encrypts with it; tests make vectors with it). */
export function aesGcmEncrypt(plaintext: string, apiV3Key: string | Buffer, associatedData = '', nonce?: string): Required<EncryptedResource> {
  const key = checkApiV3Key(apiV3Key);
  const n = nonce ?? Array.from(randomBytes(12), (b) => NONCE_ALPHABET[b % NONCE_ALPHABET.length]).join('');
  if (Buffer.byteLength(n) !== 12) throw new RangeError('nonce must be 12 bytes');
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(n, 'utf8'), { authTagLength: 16 });
  if (associatedData) cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext: body.toString('base64'), nonce: n, associated_data: associatedData };
}

/** A certificate's serial as WeChat writes it (upper-case hex, no leading zero bytes beyond one). */
export function certificateSerial(certPem: string | Buffer): string {
  return new X509Certificate(certPem).serialNumber.toUpperCase();
}

/**
 * A serial as a comparable key: upper-case hex without leading zeros. WeChat, its SDKs and X.509 may
 * write the same serial in another case, with or without a leading zero byte.
 */
export function serialKey(serial: string): string {
  return serial.toUpperCase().replace(/^0+(?=.)/, '');
}

/** Whether `key` is the private half of `certPem`'s public key. */
export function keyMatchesCertificate(key: PrivateKeyInput, certPem: string | Buffer): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(privateKey(key));
  } catch {
    return false;
  }
}

/** Whether `key` (private) and `pub` are one RSA pair. */
export function keyMatchesPublicKey(key: PrivateKeyInput, pub: PublicKeyInput): boolean {
  try {
    const a = createPublicKey(privateKey(key)).export({ type: 'spki', format: 'der' });
    const b = publicKey(pub).export({ type: 'spki', format: 'der' });
    return a.equals(b);
  } catch {
    return false;
  }
}
