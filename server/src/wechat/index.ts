/**
 * WeChat Pay API v2 and mini-program login protocol: pure signing/XML/time/nonce functions, and thin
 * HTTP clients above them. No Fastify here; the server and the sandbox both build on it.
 *
 *   createPayClient({ appid, mchId, key, signType, baseUrl })  unifiedOrder / orderQuery / closeOrder
 *   verifyPayNotify(body, merchant) + notifyReply(ok)           the /wxpay/notify endpoint
 *   paymentParams({ appid, prepayId, key, signType })           wx.requestPayment's five params + paySign
 *   createMpClient({ appid, secret, baseUrl, redis })           code2Session, getAccessToken
 *   loadMerchantCert(source)                                    apiclient_cert.p12 (RC2-40) / PEM → { cert, key }
 *   createPayClient({ ..., cert, secapiBaseUrl }).refund / refundQuery / downloadBill (over createTransport)
 *   verifyRefundNotify(body, { appid, mchId, key })              the refund notify endpoint (req_info decrypted)
 *   parseBill(text)                                             a bill's header / rows / summary
 *   oauthAccessToken({ appid, secret, baseUrl }, code)           /sns/oauth2/access_token: 公众号 / APP code → openid, unionid
 *   createPayClientV3(...), verifyPayNotifyV3 / verifyRefundNotifyV3   API v3 behind the same interfaces (v3/index.ts)
 */
export * from './sign.js';
export * from './xml.js';
export * from './time.js';
export * from './nonce.js';
export * from './fields.js';
export * from './errors.js';
export * from './pay-client.js';
export * from './notify.js';
export * from './payment-params.js';
export * from './mp-client.js';
export * from './transport.js';
export * from './merchant-cert.js';
export * from './refund.js';
export * from './refund-query.js';
export * from './download-bill.js';
export * from './refund-notify.js';
export * from './beijing-datetime.js';
export * from './oauth.js';
export * from './v3/index.js';
export { redactUrl, type FetchLike } from './http.js';
