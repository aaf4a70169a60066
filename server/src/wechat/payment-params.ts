import { nonceStr } from './nonce.js';
import { isSignType, sign, type SignType } from './sign.js';

/** What wx.requestPayment takes, exactly as named there (note appId and timeStamp). */
export interface PaymentParams {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: SignType;
  paySign: string;
}

export interface PaymentParamsInput {
  appid: string;
  prepayId: string;
  key: string;
  /** Must be the sign type used for unifiedorder. */
  signType: SignType;
  /** For tests; defaults to now. */
  now?: Date;
  /** For tests; defaults to a fresh CSPRNG nonce. */
  nonce?: string;
}

/** The five wx.requestPayment params and their paySign, signed with the same routine as the API calls. */
export function paymentParams(input: PaymentParamsInput): PaymentParams {
  if (!input.appid) throw new TypeError('paymentParams: appid is required');
  if (!input.prepayId || !/^[\x21-\x7e]{1,64}$/.test(input.prepayId)) throw new TypeError('paymentParams: bad prepayId');
  if (!isSignType(input.signType)) throw new TypeError('paymentParams: signType must be MD5 or HMAC-SHA256');
  const params = {
    appId: input.appid,
    timeStamp: String(Math.floor((input.now ?? new Date()).getTime() / 1000)),
    nonceStr: input.nonce ?? nonceStr(),
    package: `prepay_id=${input.prepayId}`,
    signType: input.signType,
  };
  return { ...params, paySign: sign(params, input.key, input.signType) };
}
