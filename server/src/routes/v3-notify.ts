import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { countNotify, unverifiedOutcome } from '../observability/metrics.js';
import { V3_PAY_NOTIFY_EXEMPTION, V3_REFUND_NOTIFY_EXEMPTION } from '../observability/xml-docs.js';
import { installNotifyLog, noteNotifyVerification } from '../admin/activity-log.js';
import { WxNotifyError } from '../wechat/index.js';
import type { V3Notifications, V3NotifyInput } from '../plugins/wechat.js';
import { settlePayNotification, settleRefundNotification, type NotifyAnswer } from './notify-settle.js';

const BODY_LIMIT = 64 * 1024;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * POST /wxpay/v3/notify and /wxpay/v3/refund-notify: WeChat Pay API v3's payment and refund results
 * (JSON, Wechatpay-Signature over timestamp, nonce and the exact body; the resource AES-256-GCM
 * encrypted with the APIv3 key). Success is HTTP 204 with no body, sent only once the new state is
 * stored; anything else is 4xx/5xx with {"code":"FAIL","message":…} and WeChat retries.
 */
const v3NotifyRoutes: FastifyPluginAsync = async (app) => {
  // The signature covers the body byte for byte: it is kept raw, whatever the content type, and
  // decoded strictly (a bad UTF-8 sequence is refused, not read as U+FFFD).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
  installNotifyLog(app);

  const fail = (reply: FastifyReply, status: number, message: string) => reply.code(status).type('application/json').send({ code: 'FAIL', message });
  const answer = (reply: FastifyReply, a: NotifyAnswer) => (a.ok ? reply.code(204).send() : fail(reply, a.status, a.message));

  app.setErrorHandler((err, req, reply) => {
    const status = (err as { statusCode?: number }).statusCode;
    countNotify(app.metrics, req.url.includes('refund') ? 'refund' : 'payment', 'error');
    req.log.warn({ security: true, event: 'notify_rejected', reason: (err as { code?: string }).code ?? (err as Error).message }, 'v3 notify refused');
    return fail(reply, status && status >= 400 && status < 500 ? status : 500, status === 413 ? 'body too large' : '失败');
  });

  /** The notification verified and decrypted by `open`, or the code it is refused with. */
  async function verify<N>(req: FastifyRequest, open: (v3: V3Notifications, input: V3NotifyInput) => Promise<N>): Promise<{ n: N } | { refused: string }> {
    const v3 = app.wechat.v3;
    if (!v3) return { refused: 'NO_V3_KEY' };
    let body: string;
    try {
      body = UTF8.decode(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    } catch {
      return { refused: 'NOT_UTF8' };
    }
    try {
      return { n: await open(v3, { headers: req.headers, body }) };
    } catch (err) {
      if (err instanceof WxNotifyError) return { refused: err.code };
      throw err;
    }
  }

  function unverified(req: FastifyRequest, reply: FastifyReply, kind: 'payment' | 'refund', code: string) {
    if (kind === 'payment') noteNotifyVerification(req, { verification: code });
    countNotify(app.metrics, kind, unverifiedOutcome(code));
    req.log.warn({ security: true, event: kind === 'payment' ? 'notify_unverified' : 'refund_notify_unverified', code, api: 'v3' }, 'v3 notify failed verification: ignored');
    // WeChat documents 4xx/5xx with a FAIL body for a refused notification; 401 for a bad signature.
    return fail(reply, code === 'BAD_SIGN' || code === 'STALE' ? 401 : 400, code);
  }

  app.post('/wxpay/v3/notify', { config: { schemaExemption: V3_PAY_NOTIFY_EXEMPTION } }, async (req, reply) => {
    const v = await verify(req, (v3, input) => v3.payment(input));
    if ('refused' in v) return unverified(req, reply, 'payment', v.refused);
    const { n } = v;
    noteNotifyVerification(req, {
      verification: 'OK',
      fields: {
        ...(n.out_trade_no ? { out_trade_no: n.out_trade_no } : {}),
        result_code: n.result_code,
        ...(n.result_code === 'SUCCESS' ? { transaction_id: n.transaction_id, total_fee: String(n.total_fee), time_end: n.time_end } : {}),
      },
    });
    return answer(reply, await settlePayNotification(app, req, n));
  });

  app.post('/wxpay/v3/refund-notify', { config: { schemaExemption: V3_REFUND_NOTIFY_EXEMPTION } }, async (req, reply) => {
    const v = await verify(req, (v3, input) => v3.refund(input));
    if ('refused' in v) return unverified(req, reply, 'refund', v.refused);
    return answer(reply, await settleRefundNotification(app, req, v.n));
  });
};
export default v3NotifyRoutes;
