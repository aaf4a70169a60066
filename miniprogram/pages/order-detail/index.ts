// One order as the server has it: items, amount, status in words, payment time, transaction id, and
// its refunds and refund requests with their states. Reached from My orders and the result page.
import type { Order } from '../../../shared/api.js';
import type { IAppOption } from '../../app.js';
import { labels, t } from '../../i18n/index.js';
import { isApiClientError, type ApiClientError } from '../../services/http.js';
import {
  newestFirst,
  orderView,
  refundAvailability,
  refundBlockedText,
  refundView,
  requestView,
  type OrderView,
  type RefundView,
  type RequestView,
} from '../../services/order-view.js';
import { errorText } from '../../services/result-view.js';

interface DetailData {
  i18n: ReturnType<typeof pageLabels>;
  orderId: string;
  /** the first load, with nothing to show yet */
  loading: boolean;
  /** why the order could not be loaded ('' when it was) */
  error: string;
  /** 404: no such order, or someone else's */
  notFound: boolean;
  order: OrderView | null;
  /** money was taken: refunds and refund requests are shown */
  paid: boolean;
  refunds: RefundView[];
  requests: RequestView[];
  /** the refund lists could not be loaded (the order itself could) */
  refundsError: string;
  canRefund: boolean;
  /** why not, when the order was paid but cannot be refunded now */
  refundBlocked: string;
}

const app = getApp<IAppOption>();

const pageLabels = () =>
  labels({
    loading: 'common.loading',
    retry: 'common.retry',
    myOrders: 'common.myOrders',
    notFound: 'order.notFound',
    items: 'order.items',
    status: 'order.status',
    amount: 'order.amount',
    outTradeNo: 'order.outTradeNo',
    createdAt: 'order.createdAt',
    paidAt: 'order.paidAt',
    transactionId: 'order.transactionId',
    refundedAmount: 'order.refundedAmount',
    refunds: 'order.refunds',
    noRefunds: 'order.noRefunds',
    requests: 'order.requests',
    requestRefund: 'order.requestRefund',
  });

const PAID_STATES: readonly string[] = ['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED', 'REFUNDING'];

const isNotFound = (e: unknown): boolean => isApiClientError(e) && e.statusCode === 404;
const asError = (e: unknown): ApiClientError | undefined => (isApiClientError(e) ? e : undefined);

Page({
  data: {
    i18n: pageLabels(),
    orderId: '',
    loading: true,
    error: '',
    notFound: false,
    order: null,
    paid: false,
    refunds: [],
    requests: [],
    refundsError: '',
    canRefund: false,
    refundBlocked: '',
  } as DetailData,

  /** loads once per visit: onShow after onLoad does not load twice */
  loadedOnce: false,
  /** unloaded: answers still on their way are dropped */
  gone: false,
  /** a navigation is under way: a second tap must not open a second page */
  leaving: false,

  onLoad(query: Record<string, string | undefined>) {
    wx.setNavigationBarTitle({ title: t('order.title') });
    this.setData({ orderId: query.id ?? '' });
    void this.load();
  },

  onShow() {
    this.leaving = false;
    // back from paying or from a refund request: the order has moved on
    if (this.loadedOnce) void this.load();
  },

  onUnload() {
    this.gone = true;
  },

  /** setData, unless the page is gone */
  show(patch: Partial<DetailData>) {
    if (!this.gone) this.setData(patch);
  },

  onPullDownRefresh() {
    void this.load().then(() => wx.stopPullDownRefresh());
  },

  async load() {
    const id = this.data.orderId;
    this.loadedOnce = true;
    if (id === '') {
      this.show({ loading: false, notFound: true });
      return;
    }
    this.show({ loading: this.data.order === null, error: '' });
    let order: Order;
    try {
      order = await app.api.orders.get(id);
    } catch (e) {
      if (isNotFound(e)) this.show({ loading: false, notFound: true, order: null });
      else this.show({ loading: false, error: errorText(asError(e)) });
      return;
    }
    const paid = PAID_STATES.includes(order.status);
    this.show({ loading: false, notFound: false, order: orderView(order), paid });
    if (!paid) {
      this.show({ refunds: [], requests: [], refundsError: '', canRefund: false, refundBlocked: '' });
      return;
    }
    try {
      const [refunds, requests] = await Promise.all([app.api.refunds.list(id), app.api.refunds.requests(id)]);
      const availability = refundAvailability(order, requests);
      this.show({
        refunds: newestFirst(refunds).map(refundView),
        requests: newestFirst(requests).map(requestView),
        refundsError: '',
        canRefund: availability === 'allowed',
        refundBlocked: refundBlockedText(availability),
      });
    } catch (e) {
      this.show({ refundsError: errorText(asError(e)), canRefund: false, refundBlocked: '' });
    }
  },

  retry() {
    return this.load();
  },

  go(url: string) {
    if (this.leaving) return;
    this.leaving = true;
    wx.navigateTo({
      url,
      fail: () => {
        this.leaving = false;
      },
    });
  },

  pay() {
    this.go(`/pages/confirm/index?orderId=${encodeURIComponent(this.data.orderId)}`);
  },

  requestRefund() {
    if (!this.data.canRefund) return;
    this.go(`/pages/refund/index?id=${encodeURIComponent(this.data.orderId)}`);
  },

  toOrders() {
    wx.redirectTo({ url: '/pages/orders/index' });
  },
});
