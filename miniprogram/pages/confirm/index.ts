// Creates the order from the cart (or loads an existing one for "pay again"),
// shows the server's amount, and starts the payment. Confirming the outcome is
// the result page's job: the pay sheet hides this page, so no polling here.
import type { Order } from '../../../shared/api.js';
import type { IAppOption } from '../../app.js';
import { labels, t } from '../../i18n/index.js';
import { formatFen, isPayable, payButtonText, statusNote, statusText } from '../../services/format.js';
import { isApiClientError } from '../../services/http.js';
import { newIdempotencyKey } from '../../services/orders.js';
import type { PayPhase } from '../../services/payment.js';
import { errorText } from '../../services/result-view.js';

interface ConfirmLine {
  sku: string;
  name: string;
  quantity: number;
  priceText: string;
  subtotalText: string;
}

interface ConfirmData {
  i18n: ReturnType<typeof pageLabels>;
  loading: boolean;
  error: string;
  orderId: string;
  outTradeNo: string;
  orderNoText: string;
  lines: ConfirmLine[];
  amountText: string;
  statusText: string;
  /** FAILED: no money was taken, pay again */
  statusNote: string;
  payable: boolean;
  /** a pay request is in flight: the button is disabled */
  paying: boolean;
  payLabel: string;
  /** payLabel when no payment is under way (重新支付 for a FAILED order) */
  idleLabel: string;
}

const app = getApp<IAppOption>();

const pageLabels = () => labels({ placing: 'confirm.placing', retry: 'common.retry', total: 'confirm.total' });

const phaseLabel = (phase: PayPhase): string => t(`confirm.phase.${phase}`);

function view(order: Order): Partial<ConfirmData> {
  return {
    orderId: order.id,
    outTradeNo: order.outTradeNo,
    orderNoText: t('confirm.orderNo', { no: order.outTradeNo }),
    lines: order.items.map((i) => ({
      sku: i.sku,
      name: i.name,
      quantity: i.quantity,
      priceText: formatFen(i.price),
      subtotalText: formatFen(i.price * i.quantity),
    })),
    amountText: formatFen(order.amount),
    statusText: statusText(order.status),
    statusNote: statusNote(order.status),
    payable: isPayable(order.status),
    payLabel: payButtonText(order.status),
    idleLabel: payButtonText(order.status),
  };
}

Page({
  data: {
    i18n: pageLabels(),
    loading: true,
    error: '',
    orderId: '',
    outTradeNo: '',
    orderNoText: '',
    lines: [],
    amountText: '',
    statusText: '',
    statusNote: '',
    payable: false,
    paying: false,
    payLabel: t('confirm.pay'),
    idleLabel: t('confirm.pay'),
  } as ConfirmData,

  /** set once: a page never creates two orders */
  creating: false,
  /** one per checkout, so that Retry after a lost answer finds the order instead of making another */
  idempotencyKey: '',

  onLoad(query: Record<string, string | undefined>) {
    wx.setNavigationBarTitle({ title: t('confirm.title') });
    void this.prepare(query.orderId);
  },

  async prepare(orderId?: string) {
    this.setData({ loading: true, error: '' });
    try {
      let order: Order;
      if (orderId !== undefined && orderId !== '') {
        order = await app.api.orders.get(orderId);
      } else if (this.data.orderId !== '') {
        order = await app.api.orders.get(this.data.orderId);
      } else {
        if (this.creating) return;
        const cart = app.globalData.cart;
        if (cart.length === 0) {
          this.setData({ loading: false, error: t('confirm.cartEmpty') });
          return;
        }
        this.creating = true;
        try {
          if (this.idempotencyKey === '') this.idempotencyKey = newIdempotencyKey();
          order = await app.api.orders.create(cart, { idempotencyKey: this.idempotencyKey });
        } finally {
          this.creating = false;
        }
        app.globalData.cart = [];
      }
      this.setData({ loading: false, ...view(order) });
    } catch (e) {
      this.setData({ loading: false, error: errorText(isApiClientError(e) ? e : undefined) });
    }
  },

  retryLoad() {
    void this.prepare();
  },

  async pay() {
    const id = this.data.orderId;
    if (id === '' || this.data.paying || app.api.payment.isBusy(id)) return;
    this.setData({ paying: true, error: '', payLabel: phaseLabel('requesting') });
    // First, inside the tap (WeChat's rule): the payment-success message. No answer stops the payment.
    await app.api.subscribe.askPaid(id);
    const res = await app.api.payment.launch(id, {
      onPhase: (phase) => this.setData({ payLabel: phaseLabel(phase) }),
    });
    this.setData({ paying: false, payLabel: this.data.idleLabel });
    switch (res.outcome) {
      case 'confirming':
      case 'cancelled':
      case 'paid':
      case 'closed':
      case 'failed':
      case 'refunded':
        wx.redirectTo({ url: `/pages/result/index?id=${encodeURIComponent(id)}&state=${res.outcome}` });
        return;
      case 'busy':
        wx.showToast({ title: t('confirm.busy'), icon: 'none' });
        return;
      case 'error':
        // a refusal: show the order as it now stands, then why (prepare clears the error)
        if (!res.retryable) await this.prepare(id);
        this.setData({ error: errorText(res.error), payLabel: res.retryable ? t('confirm.retryPay') : this.data.idleLabel });
        return;
      default:
        return;
    }
  },
});
