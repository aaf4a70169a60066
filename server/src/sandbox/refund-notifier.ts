// Posts refund notifications (退款结果通知) to a refund's notify_url on WeChat's retry schedule (the
// payment notifier's: 15s, 15s, 30s, 3m, 10m, ... about 24 hours, time-scaled) until one is answered
// return_code SUCCESS. The body carries no sign; req_info is the encrypted <root> of the refund.
import { nonceStr } from '../wechat/nonce.js';
import { toBeijingDateTime } from '../wechat/beijing-datetime.js';
import { encryptRefundReqInfo } from '../wechat/refund-notify.js';
import { toXml } from '../wechat/xml.js';
import { XmlNotifier, type Delivery, type DeliveryOptions } from './delivery.js';
import type { SandboxRefund } from './refund-state.js';
import type { SandboxMerchant } from './state.js';
import type { V3Keys } from './v3/keys.js';
import { refundNotification } from './v3/resources.js';

/** One attempt to deliver a refund notification, as GET /sandbox/refund-notifications lists it. */
export type RefundDeliveryAttempt = RefundIds & Delivery;
type RefundIds = { outRefundNo: string; refundId: string; outTradeNo: string; refundStatus: string; notifyUrl: string };

/** The <root> fields of a refund's req_info, as WeChat sends them (alphabetical, as in its notifications). */
export function refundReqInfoFields(r: SandboxRefund): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    out_refund_no: r.outRefundNo,
    out_trade_no: r.outTradeNo,
    refund_account: r.refundAccount,
    refund_fee: String(r.refundFee),
    refund_id: r.refundId,
    refund_recv_accout: r.recvAccount,
    refund_request_source: r.requestSource,
    refund_status: r.status,
    settlement_refund_fee: String(r.refundFee),
    settlement_total_fee: String(r.totalFee),
    success_time: r.status === 'SUCCESS' && r.settledAt !== undefined ? toBeijingDateTime(new Date(r.settledAt)) : undefined,
    total_fee: String(r.totalFee),
    transaction_id: r.transactionId,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}

/** The outer notification: return_code, appid, mch_id, nonce_str, req_info. */
export function refundNotifyBody(r: SandboxRefund, merchant: SandboxMerchant, corrupt: boolean): string {
  // A forger does not know the key: encrypt with another one.
  const key = corrupt ? `${merchant.key.slice(1)}x` : merchant.key;
  return toXml({
    return_code: 'SUCCESS',
    appid: r.appid,
    mch_id: r.mchId,
    nonce_str: nonceStr(32),
    req_info: encryptRefundReqInfo(refundReqInfoFields(r), key),
  });
}

/**
 * Posts refund notifications to a refund's notify_url on WeChat's schedule until one is answered
 * SUCCESS: v2 XML for a refund made by API v2, API v3's encrypted JSON (HTTP 200/204) for one made by v3.
 */
export class RefundNotifier extends XmlNotifier<SandboxRefund, RefundIds> {
  constructor(opts: DeliveryOptions, v3?: V3Keys) {
    super(
      {
        name: 'refund notifier',
        url: (r) => r.notifyUrl,
        body: (r, merchant, corrupt) => (r.api === 'v3' && v3 ? refundNotification(v3, r, merchant, corrupt) : refundNotifyBody(r, merchant, corrupt)),
        identify: (r) => ({ outRefundNo: r.outRefundNo, refundId: r.refundId, outTradeNo: r.outTradeNo, refundStatus: r.status, notifyUrl: r.notifyUrl ?? '' }),
      },
      opts,
    );
  }

  list(outRefundNo?: string): RefundDeliveryAttempt[] {
    return this.entries(outRefundNo === undefined ? undefined : (a) => a.outRefundNo === outRefundNo);
  }
}
