import type { FastifyPluginAsync } from 'fastify';
import { countNotify, unverifiedOutcome } from '../observability/metrics.js';
import { PAY_NOTIFY_EXEMPTION } from '../observability/xml-docs.js';
import { installNotifyLog, noteNotifyVerification } from '../admin/activity-log.js';
import { notifyReply, verifyPayNotify, WxNotifyError, XmlError } from '../wechat/index.js';
import { settlePayNotification } from './notify-settle.js';

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

    const answer = await settlePayNotification(app, req, notification);
    return answer.ok ? xml(true) : reply.code(answer.status).send(xml(false, answer.message));
  });
};
export default notifyRoutes;
