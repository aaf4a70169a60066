import type { IAppOption } from '../../app.js';
import { labels, t } from '../../i18n/index.js';
import { formatFen } from '../../services/format.js';
import { isApiClientError } from '../../services/http.js';
import { errorText } from '../../services/result-view.js';

interface GoodsItem {
  sku: string;
  name: string;
  description: string;
  priceText: string;
  price: number;
  quantity: number;
}

interface GoodsData {
  i18n: ReturnType<typeof pageLabels>;
  loading: boolean;
  error: string;
  items: GoodsItem[];
  count: number;
  /** "共 3 件 · " */
  summaryText: string;
  /** an estimate from the catalog; the confirm page shows the server's amount */
  totalText: string;
}

const MAX_QUANTITY = 99;
const app = getApp<IAppOption>();

const pageLabels = () =>
  labels({
    shop: 'goods.shop',
    myOrders: 'common.myOrders',
    loading: 'common.loading',
    retry: 'common.retry',
    empty: 'goods.empty',
    minus: 'goods.minus',
    plus: 'goods.plus',
    checkout: 'goods.checkout',
  });

function totals(items: GoodsItem[]): Pick<GoodsData, 'count' | 'totalText' | 'summaryText'> {
  let count = 0;
  let fen = 0;
  for (const i of items) {
    count += i.quantity;
    fen += i.quantity * i.price;
  }
  return { count, totalText: formatFen(fen), summaryText: t('goods.summary', { count }) };
}

Page({
  data: { i18n: pageLabels(), loading: true, error: '', items: [], ...totals([]) } as GoodsData,

  /**
   * a navigation is under way: a second tap before the next page opens would
   * open a second confirm page, and that page would create a second order
   */
  leaving: false,

  onLoad() {
    wx.setNavigationBarTitle({ title: t('goods.title') });
    void this.load();
  },

  onShow() {
    this.leaving = false;
  },

  /** navigateTo once per visit of this page */
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

  onPullDownRefresh() {
    void this.load().then(() => wx.stopPullDownRefresh());
  },

  async load() {
    this.setData({ loading: true, error: '' });
    try {
      const products = await app.api.products.list();
      const items: GoodsItem[] = products.map((p) => ({
        sku: p.sku,
        name: p.name,
        description: p.description,
        price: p.price,
        priceText: formatFen(p.price),
        quantity: 0,
      }));
      this.setData({ loading: false, items, ...totals(items) });
    } catch (e) {
      this.setData({ loading: false, error: errorText(isApiClientError(e) ? e : undefined) });
    }
  },

  change(e: WechatMiniprogram.TouchEvent) {
    const { sku, delta } = e.currentTarget.dataset as { sku: string; delta: string };
    const items = this.data.items.map((i) =>
      i.sku === sku ? { ...i, quantity: Math.min(MAX_QUANTITY, Math.max(0, i.quantity + Number(delta))) } : i,
    );
    this.setData({ items, ...totals(items) });
  },

  toConfirm() {
    const cart = this.data.items.filter((i) => i.quantity > 0).map((i) => ({ sku: i.sku, quantity: i.quantity }));
    if (cart.length === 0) {
      wx.showToast({ title: t('goods.pickFirst'), icon: 'none' });
      return;
    }
    if (this.leaving) return;
    app.globalData.cart = cart;
    this.go('/pages/confirm/index');
  },

  toOrders() {
    this.go('/pages/orders/index');
  },
});
