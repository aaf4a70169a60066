// A refund request for one of the buyer's paid orders: a reason, one tap, and then the request's
// state as the server reports it. No request is offered for an order that is not the buyer's
// (404), not paid, fully refunded, or already waiting for the shop; the server refuses them too.
import type { Order, RefundRequest } from '../../../shared/api.js';
import type { IAppOption } from '../../app.js';
import { labels, t, type MessageKey } from '../../i18n/index.js';
import { isApiClientError, type ApiClientError } from '../../services/http.js';
import { newestFirst, orderView, refundAvailability, refundBlockedText, requestView, type RequestView } from '../../services/order-view.js';
import { REFUND_REASON_MAX, reasonProblem, type RefundAvailability } from '../../services/refunds.js';
import { errorText } from '../../services/result-view.js';

interface ReasonChoice {
  key: string;
  text: string;
}

interface RefundData {
  i18n: ReturnType<typeof pageLabels>;
  orderId: string;
  loading: boolean;
  error: string;
  notFound: boolean;
  outTradeNo: string;
  amountText: string;
  availability: RefundAvailability | '';
  blockedText: string;
  choices: ReasonChoice[];
  /** the chosen preset's key ('' none) */
  chosen: string;
  detail: string;
  countText: string;
  maxLength: number;
  submitting: boolean;
  submitError: string;
  /** the newest request, as the server reports it */
  request: RequestView | null;
}

const app = getApp<IAppOption>();

const pageLabels = () =>
  labels({
    loading: 'common.loading',
    retry: 'common.retry',
    notFound: 'order.notFound',
    order: 'refund.order',
    paidAmount: 'refund.paidAmount',
    reasonLabel: 'refund.reasonLabel',
    reasonPlaceholder: 'refund.reasonPlaceholder',
    submit: 'refund.submit',
    submitting: 'refund.submitting',
    state: 'refund.state',
    backToOrder: 'refund.backToOrder',
  });

const CHOICES: Array<{ key: string; message: MessageKey }> = [
  { key: 'changedMind', message: 'refund.reason.changedMind' },
  { key: 'wrongItem', message: 'refund.reason.wrongItem' },
  { key: 'quality', message: 'refund.reason.quality' },
  { key: 'other', message: 'refund.reason.other' },
];

const asError = (e: unknown): ApiClientError | undefined => (isApiClientError(e) ? e : undefined);

/** "不想要了：尺码不合适", or either part alone. */
function composeReason(chosenText: string, detail: string): string {
  const d = detail.trim();
  if (chosenText === '') return d;
  return d === '' ? chosenText : `${chosenText}：${d}`;
}

Page({
  data: {
    i18n: pageLabels(),
    orderId: '',
    loading: true,
    error: '',
    notFound: false,
    outTradeNo: '',
    amountText: '',
    availability: '',
    blockedText: '',
    choices: CHOICES.map((c) => ({ key: c.key, text: t(c.message) })),
    chosen: '',
    detail: '',
    countText: t('refund.reasonCount', { n: 0 }),
    maxLength: REFUND_REASON_MAX,
    submitting: false,
    submitError: '',
    request: null,
  } as RefundData,

  /** unloaded: answers still on their way are dropped */
  gone: false,

  onUnload() {
    this.gone = true;
  },

  onLoad(query: Record<string, string | undefined>) {
    wx.setNavigationBarTitle({ title: t('refund.title') });
    this.setData({ orderId: query.id ?? '' });
    void this.load();
  },

  async load() {
    const id = this.data.orderId;
    if (id === '') {
      this.setData({ loading: false, notFound: true });
      return;
    }
    this.setData({ loading: true, error: '' });
    let order: Order;
    let requests: RefundRequest[];
    try {
      [order, requests] = await Promise.all([app.api.orders.get(id), app.api.refunds.requests(id)]);
    } catch (e) {
      if (this.gone) return;
      if (isApiClientError(e) && e.statusCode === 404) this.setData({ loading: false, notFound: true });
      else this.setData({ loading: false, error: errorText(asError(e)) });
      return;
    }
    this.show(order, requests);
  },

  show(order: Order, requests: RefundRequest[]) {
    if (this.gone) return;
    const availability = refundAvailability(order, requests);
    const newest = newestFirst(requests)[0];
    const v = orderView(order);
    this.setData({
      loading: false,
      notFound: false,
      outTradeNo: v.outTradeNo,
      amountText: v.amountText,
      availability,
      blockedText: refundBlockedText(availability),
      request: newest !== undefined ? requestView(newest) : null,
    });
  },

  choose(e: WechatMiniprogram.TouchEvent) {
    const { key } = e.currentTarget.dataset as { key: string };
    this.setData({ chosen: this.data.chosen === key ? '' : key, submitError: '' });
    this.count();
  },

  typeDetail(e: WechatMiniprogram.Input) {
    this.setData({ detail: String(e.detail.value ?? ''), submitError: '' });
    this.count();
  },

  reason(): string {
    const chosen = this.data.choices.find((c) => c.key === this.data.chosen);
    return composeReason(chosen?.text ?? '', this.data.detail);
  },

  count() {
    this.setData({ countText: t('refund.reasonCount', { n: this.reason().length }) });
  },

  async submit() {
    if (this.data.submitting || this.data.availability !== 'allowed') return;
    const reason = this.reason();
    const problem = reasonProblem(reason);
    if (problem !== null) {
      this.setData({ submitError: t(problem === 'required' ? 'refund.reasonRequired' : 'refund.reasonTooLong') });
      return;
    }
    this.setData({ submitting: true, submitError: '' });
    try {
      const created = await app.api.refunds.request(this.data.orderId, reason);
      this.setData({ submitting: false, availability: 'open', blockedText: refundBlockedText('open'), request: requestView(created) });
      wx.showToast({ title: t('refund.submitted'), icon: 'success' });
    } catch (e) {
      const err = asError(e);
      this.setData({ submitting: false, submitError: errorText(err) });
      if (err?.statusCode === 404) this.setData({ notFound: true });
      // the server knows better (a request already open, the order refunded meanwhile): show what it says now
      else if (err?.statusCode === 409) await this.refresh();
    }
  },

  /** reloads the order and its requests, keeping the refusal on screen */
  async refresh() {
    try {
      const [order, requests] = await Promise.all([app.api.orders.get(this.data.orderId), app.api.refunds.requests(this.data.orderId)]);
      this.show(order, requests);
    } catch {
      // the refusal already says enough
    }
  },

  retry() {
    return this.load();
  },

  toOrder() {
    wx.navigateBack({
      fail: () => wx.redirectTo({ url: `/pages/order-detail/index?id=${encodeURIComponent(this.data.orderId)}` }),
    });
  },
});
