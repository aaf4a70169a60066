// Signs what the buyer's WeChat takes to pay a prepay (wx.requestPayment / getBrandWCPayRequest's
// five params, the APP SDK's PayReq) the way the prepay was made: API v2 with the API key and the
// unifiedorder's sign type, API v3 with the merchant private key (RSA). During a move between the
// versions a live prepay of the other one is still signed its own way, so no buyer has to start over.
import { nonceStr } from './nonce.js';
import { paymentParams } from './payment-params.js';
import { isSignType, sign, type SignType } from './sign.js';
import { appPayMessage, jsapiPayMessage, privateKey, rsaSign, type PrivateKeyInput } from './v3/crypto.js';
import type { KeyObject } from 'node:crypto';

/** How a prepay's client params are signed: a v2 sign type, or RSA for a v3 prepay. */
export type PrepaySignType = SignType | 'RSA';

export interface JsapiPayParams {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: PrepaySignType;
  paySign: string;
}

export interface AppPayReq {
  appid: string;
  partnerid: string;
  prepayid: string;
  package: 'Sign=WXPay';
  noncestr: string;
  timestamp: string;
  sign: string;
}

export interface ClientSigner {
  /** what a new prepay is made with: the configured v2 sign type, or RSA under API v3 */
  readonly signType: PrepaySignType;
  /** whether a prepay made with this sign type can still be signed (its API's key is configured) */
  canSign(signType: string): signType is PrepaySignType;
  jsapi(input: { appid: string; prepayId: string; signType: PrepaySignType; now?: Date; nonce?: string }): JsapiPayParams;
  app(input: { appid: string; prepayId: string; signType: PrepaySignType; now?: Date; nonce?: string }): AppPayReq;
}

export interface ClientSignerOptions {
  apiVersion: 'v2' | 'v3';
  mchId: string;
  /** API v2 key and sign type ('' when the merchant has none) */
  apiKey: string;
  v2SignType: SignType;
  /** API v3: the merchant API certificate's private key */
  privateKey?: PrivateKeyInput;
}

const seconds = (d: Date) => String(Math.floor(d.getTime() / 1000));

export function createClientSigner(opts: ClientSignerOptions): ClientSigner {
  const rsaKey: KeyObject | undefined = opts.privateKey ? privateKey(opts.privateKey) : undefined;
  if (opts.apiVersion === 'v3' && !rsaKey) throw new TypeError('createClientSigner: API v3 needs the merchant private key');
  const canSign = (t: string): t is PrepaySignType => (t === 'RSA' ? rsaKey !== undefined : isSignType(t) && opts.apiKey !== '');
  const need = (t: PrepaySignType) => {
    if (!canSign(t)) throw new TypeError(`createClientSigner: no key configured for sign type ${t}`);
  };
  return {
    signType: opts.apiVersion === 'v3' ? 'RSA' : opts.v2SignType,
    canSign,
    jsapi({ appid, prepayId, signType, now = new Date(), nonce = nonceStr() }) {
      need(signType);
      if (signType !== 'RSA') return paymentParams({ appid, prepayId, key: opts.apiKey, signType, now, nonce });
      const p = { appId: appid, timeStamp: seconds(now), nonceStr: nonce, package: `prepay_id=${prepayId}` };
      return { ...p, signType: 'RSA', paySign: rsaSign(jsapiPayMessage(p.appId, p.timeStamp, p.nonceStr, p.package), rsaKey as KeyObject) };
    },
    app({ appid, prepayId, signType, now = new Date(), nonce = nonceStr() }) {
      need(signType);
      const p = { appid, partnerid: opts.mchId, prepayid: prepayId, package: 'Sign=WXPay' as const, noncestr: nonce, timestamp: seconds(now) };
      const signature =
        signType === 'RSA' ? rsaSign(appPayMessage(p.appid, p.timestamp, p.noncestr, p.prepayid), rsaKey as KeyObject) : sign(p, opts.apiKey, signType);
      return { ...p, sign: signature };
    },
  };
}
