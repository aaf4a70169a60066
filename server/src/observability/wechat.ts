import type { MpClient, PayClient } from '../wechat/index.js';
import type { Transport } from '../wechat/transport.js';
import { codeLabel, type Metrics } from './metrics.js';

/**
 * Counts every WeChat call by API and result at the one place the server gets its clients (the
 * wechat plugin), so the protocol code stays free of metrics. The wrapped clients behave exactly as
 * the originals: same arguments (all of them: options such as the order's appid pass through), same
 * answers, same errors.
 */
async function timed<T>(metrics: Metrics, api: string, run: () => Promise<T>, onResult?: (value: T) => void, onError?: (err: unknown) => void): Promise<T> {
  const stop = metrics.wechatDuration.startTimer({ api });
  try {
    const value = await run();
    metrics.wechatCalls.inc({ api, result: 'SUCCESS' });
    onResult?.(value);
    return value;
  } catch (err) {
    metrics.wechatCalls.inc({ api, result: codeLabel((err as { code?: unknown }).code) });
    onError?.(err);
    throw err;
  } finally {
    stop();
  }
}

export function instrumentPayClient(pay: PayClient, metrics: Metrics): PayClient {
  // The client's own methods call the inner transport, so only direct users of `transport` are counted here.
  // Spread first: a method another change adds to a client keeps working (uncounted until listed here).
  const inner = pay.transport;
  const transport: Transport | undefined = inner && {
    ...inner,
    call: (api, fields, opts) => timed(metrics, api.name, () => inner.call(api, fields, opts)),
    download: (api, fields, opts) => timed(metrics, api.name, () => inner.download(api, fields, opts)),
  };
  return {
    ...pay,
    unifiedOrder: (...args) => timed(metrics, 'unifiedorder', () => pay.unifiedOrder(...args)),
    orderQuery: (...args) =>
      timed(
        metrics,
        'orderquery',
        () => pay.orderQuery(...args),
        (answer) => metrics.orderQueries.inc({ outcome: codeLabel(answer.trade_state) }),
        (err) => metrics.orderQueries.inc({ outcome: codeLabel((err as { code?: unknown }).code) }),
      ),
    closeOrder: (...args) => timed(metrics, 'closeorder', () => pay.closeOrder(...args)),
    refund: (...args) => timed(metrics, 'refund', () => pay.refund(...args)),
    refundQuery: (...args) => timed(metrics, 'refundquery', () => pay.refundQuery(...args)),
    downloadBill: (...args) => timed(metrics, 'downloadbill', () => pay.downloadBill(...args)),
    ...(transport ? { transport } : {}),
  };
}

export function instrumentMpClient(mp: MpClient, metrics: Metrics): MpClient {
  return {
    ...mp,
    code2Session: (...args) => timed(metrics, 'jscode2session', () => mp.code2Session(...args)),
    sendSubscribeMessage: (...args) => timed(metrics, 'subscribe_send', () => mp.sendSubscribeMessage(...args)),
    // getAccessToken is mostly answered from the Redis cache: not counted as a WeChat call.
  };
}
