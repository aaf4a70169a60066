import type { FastifyPluginAsync } from 'fastify';
import { countNotify, unverifiedOutcome } from '../observability/metrics.js';
import { REFUND_NOTIFY_EXEMPTION } from '../observability/xml-docs.js';
import { notifyReply, verifyRefundNotify, WxNotifyError, XmlError } from '../wechat/index.js';
import { merchantAppids } from '../config.js';
import { settleRefundNotification } from './notify-settle.js';

const BODY_LIMIT = 64 * 1024;

/**
 * POST /wxpay/refund-notify: WeChat's refund result. It carries no sign: req_info decrypting with
 * our key is what authenticates it. SUCCESS only once the refund's new state is stored; anything
 * that does not decrypt or match changes nothing, is a security event and gets FAIL.
 */
const refundNotifyRoutes: FastifyPluginAsync = async (app) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, req, reply) => {
    countNotify(app.metrics, 'refund', 'error');
    req.log.warn({ security: true, event: 'refund_notify_rejected', reason: (err as { code?: string }).code ?? 'error' }, 'refund notify refused');
    const status = (err as { statusCode?: number }).statusCode;
    reply.code(status && status >= 400 && status < 500 ? status : 500).type('text/xml').send(notifyReply(false, 'error'));
  });

  app.post('/wxpay/refund-notify', { config: { schemaExemption: REFUND_NOTIFY_EXEMPTION } }, async (req, reply) => {
    reply.type('text/xml');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let n;
    if (!app.config.pay.apiKey) {
      // req_info's key is derived from the v2 key: with none, nothing can be decrypted honestly.
      countNotify(app.metrics, 'refund', 'invalid');
      req.log.warn({ security: true, event: 'refund_notify_unverified', code: 'NO_V2_KEY' }, 'v2 refund notify while no API v2 key is configured: ignored');
      return reply.code(400).send(notifyReply(false, 'API v2 not configured'));
    }
    try {
      n = verifyRefundNotify(body, { appid: merchantAppids(app.config), mchId: app.config.pay.mchId, key: app.config.pay.apiKey });
    } catch (err) {
      if (err instanceof WxNotifyError || err instanceof XmlError) {
        countNotify(app.metrics, 'refund', unverifiedOutcome(err.code));
        req.log.warn({ security: true, event: 'refund_notify_unverified', code: err.code }, 'refund notify failed verification: ignored');
        return reply.code(400).send(notifyReply(false, err.code));
      }
      throw err;
    }
    const answer = await settleRefundNotification(app, req, n);
    return answer.ok ? notifyReply(true) : reply.code(answer.status).send(notifyReply(false, answer.message));
  });
};
export default refundNotifyRoutes;
