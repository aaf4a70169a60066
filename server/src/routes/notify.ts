import type { FastifyPluginAsync } from 'fastify';
import { countNotify, unverifiedOutcome } from '../observability/metrics.js';
import { PAY_NOTIFY_EXEMPTION } from '../observability/xml-docs.js';
import { installNotifyLog, noteNotifyVerification } from '../admin/activity-log.js';
import { notifyReply, verifyPayNotify, WxNotifyError, XmlError } from '../wechat/index.js';

const NOTIFY_BODY_LIMIT = 64 * 1024;
const EMPTY_BODY = Buffer.alloc(0);

/**
 * POST /wxpay/notify: WeChat's payment result. SUCCESS is replied only once the order's new
 * state is stored (or it already was); anything unverified changes nothing and gets FAIL.
 */
const notifyRoutes: FastifyPluginAsync = async (app) => {
  // Whatever the content type, the body is taken as raw bytes and judged as WeChat XML: parseXml
  // decodes them strictly, so a bad UTF-8 sequence is refused instead of being read as U+FFFD.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: NOTIFY_BODY_LIMIT }, (_req, body, done) => done(null, body));
  // every attempt, verified or not, goes into the notify log the console shows
  installNotifyLog(app);

  const xml = (ok: boolean, msg?: string) => (ok ? notifyReply(true) : notifyReply(false, msg));

  app.setErrorHandler((err, req, reply) => {
    const status = (err as { statusCode?: number }).statusCode;
    countNotify(app.metrics, 'payment', 'error');
    req.log.warn({ security: true, event: 'notify_rejected', reason: (err as { code?: string }).code ?? (err as Error).message }, 'notify refused');
    reply
      .code(status && status >= 400 && status < 500 ? status : 500)
      .type('text/xml')
      .send(xml(false, status === 413 ? 'body too large' : 'error'));
  });

  app.post('/wxpay/notify', { config: { schemaExemption: PAY_NOTIFY_EXEMPTION } }, async (req, reply) => {
    reply.type('text/xml');
    const body = Buffer.isBuffer(req.body) ? req.body : EMPTY_BODY;
    let notification;
    if (!app.config.pay.apiKey) {
      // An API v3 merchant without a v2 key: nothing can verify a v2 notify (an empty key would let anyone sign one).
      countNotify(app.metrics, 'payment', 'invalid');
      req.log.warn({ security: true, event: 'notify_unverified', code: 'NO_V2_KEY' }, 'v2 notify while no API v2 key is configured: ignored');
      return reply.code(400).send(xml(false, 'API v2 not configured'));
    }
    try {
      notification = verifyPayNotify(body, app.wechat.merchant);
      noteNotifyVerification(req, { verification: 'OK', fields: notification.raw });
    } catch (err) {
      if (err instanceof WxNotifyError || err instanceof XmlError) {
        noteNotifyVerification(req, { verification: err.code });
        countNotify(app.metrics, 'payment', unverifiedOutcome(err.code));
        // APPID_MISMATCH: signed with our key, for an appid that is none of ours: nothing changes.
        req.log.warn({ security: true, event: 'notify_unverified', code: err.code }, 'notify failed verification: ignored');
        return reply.code(400).send(xml(false, err.code));
      }
      throw err;
    }

    if (notification.result_code === 'FAIL') {
      countNotify(app.metrics, 'payment', 'payment_failed');
      if (notification.out_trade_no) {
        await app.orders.applyNotify(notification.out_trade_no, {
          state: 'PAYERROR',
          ...(notification.err_code ? { reason: notification.err_code } : {}),
        });
      }
      return xml(true);
    }

    const result = await app.orders.applyNotify(notification.out_trade_no, {
      state: 'SUCCESS',
      transactionId: notification.transaction_id,
      totalFee: notification.total_fee,
      paidAt: notification.paidAt,
      openid: notification.openid,
      tradeType: notification.trade_type,
      appid: notification.appid,
      feeType: notification.fee_type ?? 'CNY',
      signType: notification.signType,
    });
    countNotify(app.metrics, 'payment', result);
    switch (result.outcome) {
      case 'paid':
      case 'held':
      case 'changed':
      case 'unchanged':
        // Stored (or already true): WeChat may stop retrying.
        return xml(true);
      case 'unknown_order':
        req.log.warn(
          { security: true, event: 'notify_unknown_order', outTradeNo: notification.out_trade_no },
          'signed notify for an order we do not have',
        );
        return reply.code(404).send(xml(false, 'unknown order'));
      case 'wrong_sign_type':
        return reply.code(400).send(xml(false, 'sign type'));
      case 'unconfirmed':
        // Not recorded until WeChat's own orderquery agrees: FAIL, so that WeChat asks again later.
        return reply.code(503).send(xml(false, 'not confirmed, retry'));
      case 'contended':
        return reply.code(503).send(xml(false, 'busy, retry'));
    }
  });
};
export default notifyRoutes;
