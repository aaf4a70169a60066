import type { SchemaExemption } from '../plugins/docs.js';

// WeChat's notify endpoints take and answer XML, judged byte for byte by the protocol code
// (verifyPayNotify, verifyRefundNotify): a JSON schema would have nothing to validate. These
// describe them for the OpenAPI document only.

const xmlReply = (description: string) => ({ type: 'string', description });
const SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
const FAIL = (why: string) => `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[${why}]]></return_msg></xml>`;

export const PAY_NOTIFY_EXEMPTION: SchemaExemption = {
  reason: 'WeChat posts signed XML (any content type, at most 64 KiB), verified by verifyPayNotify: sign, appid, mch_id, amounts.',
  doc: {
    summary: "WeChat Pay's payment result (notify_url)",
    description: 'SUCCESS is answered only once the order\'s new state is stored (or already was); anything else makes WeChat retry for about 24 hours.',
    consumes: ['text/xml'],
    produces: ['text/xml'],
    body: { type: 'string', description: '<xml> with return_code, result_code, appid, mch_id, out_trade_no, transaction_id, total_fee, openid, trade_type, time_end, sign, …' },
    response: {
      200: xmlReply(`Stored, a duplicate, or a FAIL result recorded: ${SUCCESS}`),
      400: xmlReply(`Not verified (bad XML, bad sign, another merchant) or signed with a sign type the trade did not use: ${FAIL('BAD_SIGN')}`),
      404: xmlReply(`Signed, for an order we do not have: ${FAIL('unknown order')}`),
      413: xmlReply(`Body over 64 KiB: ${FAIL('body too large')}`),
      503: xmlReply(`Disagrees with the order and orderquery does not confirm it yet, or the order is busy: ${FAIL('busy, retry')}`),
    },
  },
};

export const REFUND_NOTIFY_EXEMPTION: SchemaExemption = {
  reason: 'WeChat posts XML whose req_info is AES-256-ECB encrypted with the API key\'s MD5; decrypting it (verifyRefundNotify) is the authentication.',
  doc: {
    summary: "WeChat Pay's refund result (refund notify_url)",
    description: 'SUCCESS only once the refund\'s new state is stored; one that does not decrypt or match changes nothing.',
    consumes: ['text/xml'],
    produces: ['text/xml'],
    body: { type: 'string', description: '<xml> with return_code, appid, mch_id, nonce_str, req_info (encrypted: out_refund_no, refund_id, refund_fee, refund_status, success_time, …)' },
    response: {
      200: xmlReply(`Stored or a duplicate: ${SUCCESS}`),
      400: xmlReply(`Does not decrypt, malformed, or the amount disagrees: ${FAIL('error')}`),
      404: xmlReply(`For a refund we do not have: ${FAIL('unknown refund')}`),
      413: xmlReply(`Body over 64 KiB: ${FAIL('error')}`),
      503: xmlReply(`The refund is busy: ${FAIL('busy, retry')}`),
    },
  },
};

// API v3's notify endpoints take JSON, but judged against its signature over the exact bytes: no
// schema may parse (or coerce) it first.
const v3Fail = (why: string) => ({ type: 'object', description: `{"code":"FAIL","message":"${why}"}`, properties: { code: { type: 'string' }, message: { type: 'string' } } });

export const V3_PAY_NOTIFY_EXEMPTION: SchemaExemption = {
  reason: 'WeChat Pay API v3 posts JSON signed over its exact bytes (Wechatpay-Signature) with an AES-256-GCM encrypted resource; the body is kept raw for verification.',
  doc: {
    summary: "WeChat Pay API v3's payment result (notify_url)",
    description: 'Wechatpay-Signature is verified (WeChat Pay public key or platform certificate, timestamp within 5 minutes), the resource decrypted with the APIv3 key, then the payment settles by the same path as v2. 204 only once stored.',
    consumes: ['application/json'],
    produces: ['application/json'],
    body: { type: 'object', description: '{ id, create_time, event_type: TRANSACTION.SUCCESS, resource_type: encrypt-resource, resource: { algorithm, ciphertext, associated_data, nonce, original_type }, summary }' },
    response: {
      204: { type: 'null', description: 'Stored, or a duplicate: WeChat stops retrying.' },
      400: v3Fail('BAD_RESOURCE / MCHID_MISMATCH / APPID_MISMATCH / BAD_FIELD / sign type'),
      401: v3Fail('BAD_SIGN / STALE'),
      404: v3Fail('unknown order'),
      413: v3Fail('body too large'),
      503: v3Fail('busy, retry'),
    },
  },
};

export const V3_REFUND_NOTIFY_EXEMPTION: SchemaExemption = {
  reason: 'WeChat Pay API v3 posts JSON signed over its exact bytes with an AES-256-GCM encrypted refund resource; the body is kept raw for verification.',
  doc: {
    summary: "WeChat Pay API v3's refund result (refund notify_url)",
    description: 'Verified and decrypted as the payment notification; REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED settle the refund by the same path as v2. 204 only once stored.',
    consumes: ['application/json'],
    produces: ['application/json'],
    body: { type: 'object', description: '{ id, create_time, event_type: REFUND.SUCCESS | REFUND.ABNORMAL | REFUND.CLOSED, resource: { … } }' },
    response: {
      204: { type: 'null', description: 'Stored, or a duplicate.' },
      400: v3Fail('BAD_RESOURCE / MCHID_MISMATCH / amount mismatch'),
      401: v3Fail('BAD_SIGN / STALE'),
      404: v3Fail('unknown refund'),
      413: v3Fail('body too large'),
      503: v3Fail('busy, retry'),
    },
  },
};
