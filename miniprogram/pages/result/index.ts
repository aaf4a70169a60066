// Says how the payment ended, and only "paid" when the server says PAID.
// Polling runs while the page is visible and stops at once on hide/unload.
import type { IAppOption } from '../../app.js';
import { labels, t } from '../../i18n/index.js';
import { formatFen, statusText } from '../../services/format.js';
import { createStopper, type PayResult, type Stopper } from '../../services/payment.js';
import { resultView, type ResultState, type ResultView } from '../../services/result-view.js';

interface ResultData extends ResultView {
  i18n: ReturnType<typeof pageLabels>;
  orderId: string;
  state: ResultState;
  amountText: string;
  orderStatus: string;
}

const app = getApp<IAppOption>();
const pageLabels = () => labels({ retry: 'common.retry', viewOrder: 'common.viewOrder', myOrders: 'common.myOrders', backToShop: 'common.backToShop' });
const STATES: ResultState[] = ['paid', 'cancelled', 'closed', 'failed', 'refunded', 'timeout', 'stopped', 'error', 'busy', 'confirming'];

Page({
  data: { i18n: pageLabels(), orderId: '', state: 'confirming', amountText: '', orderStatus: '', ...resultView('confirming') } as ResultData,

  stopper: null as Stopper | null,

  onLoad(query: Record<string, string | undefined>) {
    wx.setNavigationBarTitle({ title: t('result.title') });
    const state = STATES.find((s) => s === query.state) ?? 'confirming';
    this.setData({ orderId: query.id ?? '', state, ...resultView(state) });
  },

  onShow() {
    // back from the background while still confirming: ask again
    if (this.data.state === 'confirming' || this.data.state === 'stopped') void this.confirm();
  },

  onHide() {
    this.stop();
  },

  onUnload() {
    this.stop();
  },

  stop() {
    this.stopper?.stop();
    this.stopper = null;
  },

  async confirm() {
    if (this.data.orderId === '' || this.stopper !== null) return;
    const stopper = createStopper();
    this.stopper = stopper;
    this.setData({ state: 'confirming', ...resultView('confirming') });
    const res: PayResult = await app.api.payment.confirm(this.data.orderId, { signal: stopper.signal });
    const current = this.stopper === stopper;
    if (current) this.stopper = null;
    // a newer confirm (hidden, then shown again) owns the page now
    else if (this.stopper !== null) return;
    // 'stopped': the page is hidden or gone; onShow resumes
    this.setData({
      state: res.outcome,
      ...resultView(res.outcome, res.error),
      ...(res.order !== undefined ? { amountText: formatFen(res.order.amount), orderStatus: statusText(res.order.status) } : {}),
    });
  },

  retry() {
    void this.confirm();
  },

  payAgain() {
    wx.redirectTo({ url: `/pages/confirm/index?orderId=${encodeURIComponent(this.data.orderId)}` });
  },

  toOrder() {
    wx.redirectTo({ url: `/pages/order-detail/index?id=${encodeURIComponent(this.data.orderId)}` });
  },

  toOrders() {
    wx.redirectTo({ url: '/pages/orders/index' });
  },

  toGoods() {
    wx.reLaunch({ url: '/pages/goods/index' });
  },
});
