/**
 * WeChat Pay API v3 behind the v2 interfaces (PayClient, PayNotification, RefundNotification):
 *
 *   createPayClientV3({ appid, mchId, serialNo, privateKey, apiV3Key, baseUrl, publicKey?, platformCertificates? })
 *   createWechatpayVerifier({ publicKey?, platformCertificates?, apiV3Key })   whose Wechatpay-Signature it is
 *   verifyPayNotifyV3 / verifyRefundNotifyV3({ headers, body }, { mchId, appids, apiV3Key, verifier })
 *   createV3Transport(...)                                                     signed requests, verified answers
 *
 * The cryptography (./crypto.ts) is imported from its own module by who needs it.
 */
export { createV3Transport, V3_CODES, type V3Api, type V3RawAnswer, type V3RequestInput, type V3Transport, type V3TransportOptions, type V3Verifier } from './transport.js';
export {
  createWechatpayVerifier,
  readCertificatesAnswer,
  CERTIFICATES_API,
  CERTIFICATES_REFRESH_MS,
  UNKNOWN_SERIAL_REFRESH_MS,
  type PlatformCertificate,
  type WechatpayVerifier,
  type WechatpayVerifierOptions,
} from './certificates.js';
export { createPayClientV3, unifiedOrderBody, type PayClientV3, type PayClientV3Options } from './pay-client.js';
export { REFUND_STATUS_V2 } from './refund.js';
export { downloadBillV3 } from './download-bill.js';
export { verifyPayNotifyV3, verifyRefundNotifyV3, type V3NotifyMerchant, type V3NotifyRequest } from './notify.js';
export { parseRfc3339, rfc3339FromBeijingCompact, beijingCompactFromRfc3339, beijingDateTimeFromRfc3339 } from './wire.js';
