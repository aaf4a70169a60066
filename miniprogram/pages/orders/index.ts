import type { Order } from '../../../shared/api.js';
import type { IAppOption } from '../../app.js';
import { labels, t } from '../../i18n/index.js';
import { formatFen, formatTime, isPayable, statusNote, statusText } from '../../services/format.js';
import { isApiClientError } from '../../services/http.js';
import { errorText } from '../../services/result-view.js';

interface OrderRow {
  id: string;
  outTradeNo: string;
  amountText: string;
  status: string;
  statusText: string;
  /** what the status means for the buyer, when it needs saying (FAILED: no money taken) */
  statusNote: string;
  createdText: string;
  summary: string;
  payable: boolean;
  payText: string;
}

interface OrdersData {
  i18n: ReturnType<typeof pageLabels>;
  rows: OrderRow[];
  loading: boolean;
  error: string;
  cursor: string;
  done: boolean;
  /** an order being cancelled: its buttons are disabled */
  cancelling: string;
}

const app = getApp<IAppOption>();
const pageLabels = () =>
  labels({
    cancel: 'orders.cancel',
    retry: 'common.retry',
    loading: 'common.loading',
    empty: 'orders.empty',
    backToShop: 'common.backToShop',
    allLoaded: 'common.allLoaded',
  });

function row(o: Order): OrderRow {
  return {
    id: o.id,
    outTradeNo: o.outTradeNo,
    amountText: formatFen(o.amount),
    status: o.status,
    statusText: statusText(o.status),
    statusNote: statusNote(o.status),
    createdText: formatTime(o.createdAt),
    summary: o.items.map((i) => `${i.name} × ${i.quantity}`).join(', '),
    payable: isPayable(o.status),
    payText: o.status === 'FAILED' ? t('orders.payAgain') : t('orders.pay'),
  };
}

Page({
  data: { i18n: pageLabels(), rows: [], loading: false, error: '', cursor: '', done: false, cancelling: '' } as OrdersData,

  /** a navigation is under way: a second tap on Pay must not open a second confirm page */
  leaving: false,

  onLoad() {
    wx.setNavigationBarTitle({ title: t('orders.title') });
  },

  onShow() {
    this.leaving = false;
    // statuses change while away (payments confirmed, orders expired): start over
    void this.load(true);
  },

  onPullDownRefresh() {
    void this.load(true).then(() => wx.stopPullDownRefresh());
  },

  onReachBottom() {
    if (!this.data.done) void this.load(false);
  },

  async load(reset: boolean) {
    if (this.data.loading) return;
    this.setData({ loading: true, error: '' });
    try {
      const page = await app.api.orders.list({
        limit: app.config.pageSize,
        ...(reset || this.data.cursor === '' ? {} : { before: this.data.cursor }),
      });
      const rows = page.items.map(row);
      this.setData({
        loading: false,
        rows: reset ? rows : [...this.data.rows, ...rows],
        cursor: page.nextCursor ?? '',
        done: page.nextCursor === undefined,
      });
    } catch (e) {
      this.setData({ loading: false, error: errorText(isApiClientError(e) ? e : undefined) });
    }
  },

  retry() {
    void this.load(this.data.rows.length === 0);
  },

  /** navigateTo once per visit of this page: a second tap must not open a second page */
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

  payAgain(e: WechatMiniprogram.TouchEvent) {
    const { id } = e.currentTarget.dataset as { id: string };
    this.go(`/pages/confirm/index?orderId=${encodeURIComponent(id)}`);
  },

  toDetail(e: WechatMiniprogram.TouchEvent) {
    const { id } = e.currentTarget.dataset as { id: string };
    this.go(`/pages/order-detail/index?id=${encodeURIComponent(id)}`);
  },

  toGoods() {
    wx.reLaunch({ url: '/pages/goods/index' });
  },

  async cancel(e: WechatMiniprogram.TouchEvent) {
    const { id } = e.currentTarget.dataset as { id: string };
    if (this.data.cancelling !== '') return;
    this.setData({ cancelling: id });
    try {
      const o = await app.api.orders.cancel(id);
      this.setData({ rows: this.data.rows.map((r) => (r.id === id ? row(o) : r)) });
    } catch (err) {
      wx.showToast({ title: errorText(isApiClientError(err) ? err : undefined), icon: 'none' });
    } finally {
      this.setData({ cancelling: '' });
    }
  },
});
