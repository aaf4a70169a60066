// The H5 checkout's pages, server-rendered: Chinese first, English second, mobile-first, no inline
// script or style (the CSP allows neither). Data a page script needs sits in a JSON block.
import type { Order, OrderStatus, Product } from '../../../shared/api.js';

export const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** JSON for a <script type="application/json"> block: nothing in it can close the element. */
const jsonBlock = (data: unknown) => JSON.stringify(data).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

export const yuan = (fen: number): string => `¥${(fen / 100).toFixed(2)}`;

export interface Layout {
  /** the payment directory, e.g. /h5/ */
  base: string;
  /** scripts besides our own (the JS-SDK, or the sandbox's WeixinJSBridge) */
  scripts: string[];
}

function page(l: Layout, o: { page: string; title: string; body: string; data?: unknown }): string {
  const extra = l.scripts.map((src) => `<script src="${esc(src)}"></script>`).join('');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<meta name="referrer" content="same-origin">
<title>${esc(o.title)}</title>
<link rel="stylesheet" href="${l.base}assets/h5.css">
</head><body data-page="${o.page}">
<main>${o.body}</main>
${o.data === undefined ? '' : `<script type="application/json" id="h5-data">${jsonBlock(o.data)}</script>`}
${extra}<script src="${l.base}assets/h5.js"></script>
</body></html>`;
}

const bi = (zh: string, en: string) => `${zh}<span class="en" lang="en">${en}</span>`;

export const STATUS_TEXT: Record<OrderStatus, [string, string]> = {
  CREATED: ['待支付', 'Awaiting payment'],
  PAYING: ['待支付', 'Awaiting payment'],
  PAID: ['已支付', 'Paid'],
  CLOSED: ['已关闭', 'Closed'],
  FAILED: ['支付失败，可重新支付', 'Payment failed: you may pay again'],
  REFUNDING: ['退款中', 'Refunding'],
  PARTIALLY_REFUNDED: ['部分退款', 'Partly refunded'],
  REFUNDED: ['已退款', 'Refunded'],
} as Record<OrderStatus, [string, string]>;

const statusText = (s: OrderStatus) => STATUS_TEXT[s] ?? [s, s];

export function catalogPage(l: Layout, products: readonly Product[]): string {
  const items = products
    .map(
      (p) => `<li><a class="product" href="${l.base}checkout?sku=${encodeURIComponent(p.sku)}"><span class="name">${esc(p.name)}</span><span class="price">${yuan(p.price)}</span></a></li>`,
    )
    .join('');
  return page(l, {
    page: 'catalog',
    title: '选择商品 Goods',
    body: `<h1>${bi('选择商品', 'Goods')}</h1><ul class="list">${items}</ul><p class="links"><a href="${l.base}orders">${bi('我的订单', 'My orders')}</a></p>`,
  });
}

export function checkoutPage(l: Layout, o: { product: Product; csrf: string; key: string }): string {
  const p = o.product;
  return page(l, {
    page: 'checkout',
    title: `${p.name} · 下单`,
    body: `<h1>${bi('确认商品', 'Your order')}</h1>
<section class="card"><p class="name">${esc(p.name)}</p><p class="desc">${esc(p.description)}</p><p class="price" id="unit-price">${yuan(p.price)}</p></section>
<form method="post" action="${l.base}orders" class="card">
<input type="hidden" name="sku" value="${esc(p.sku)}"><input type="hidden" name="_csrf" value="${esc(o.csrf)}"><input type="hidden" name="key" value="${esc(o.key)}">
<label for="quantity">${bi('数量', 'Quantity')}</label>
<input id="quantity" name="quantity" type="number" inputmode="numeric" min="1" max="99" value="1" required>
<button id="place-order" class="primary" type="submit">${bi('提交订单', 'Place order')}</button>
</form>
<p class="links"><a href="${l.base}">${bi('继续选购', 'More goods')}</a> · <a href="${l.base}orders">${bi('我的订单', 'My orders')}</a></p>`,
  });
}

const lines = (order: Order) =>
  order.items
    .map((i) => `<li><span>${esc(i.name)} × ${i.quantity}</span><span>${yuan(i.price * i.quantity)}</span></li>`)
    .join('');

export function orderPage(l: Layout, o: { order: Order; data: unknown }): string {
  const { order } = o;
  const [zh, en] = statusText(order.status);
  const payable = order.status === 'CREATED' || order.status === 'PAYING' || order.status === 'FAILED';
  return page(l, {
    page: 'order',
    title: `订单 ${order.outTradeNo} · 支付`,
    body: `<h1>${bi('确认支付', 'Pay for your order')}</h1>
<section class="card"><ul class="lines">${lines(order)}</ul>
<p class="total">${bi('合计', 'Total')} <strong id="amount">${yuan(order.amount)}</strong></p>
<p class="meta">${bi('订单号', 'Order no.')} ${esc(order.outTradeNo)}</p>
<p class="meta" id="status" data-status="${order.status}">${esc(zh)}<span class="en" lang="en">${esc(en)}</span></p></section>
<p id="message" class="message" role="status" aria-live="polite"></p>
${payable ? `<button id="pay" class="primary" type="button" disabled>${bi('微信支付', 'Pay with WeChat')} ${yuan(order.amount)}</button>` : `<a class="button" href="${l.base}result?id=${order.id}">${bi('查看支付结果', 'See the result')}</a>`}
<p class="links"><a href="${l.base}orders">${bi('我的订单', 'My orders')}</a></p>`,
    data: o.data,
  });
}

export function resultPage(l: Layout, o: { order: Order; data: unknown }): string {
  const { order } = o;
  const [zh, en] = statusText(order.status);
  return page(l, {
    page: 'result',
    title: '支付结果 Payment result',
    body: `<h1 id="result-title">${bi('支付结果', 'Payment result')}</h1>
<section class="card"><p class="total"><strong>${yuan(order.amount)}</strong></p>
<p class="meta">${bi('订单号', 'Order no.')} ${esc(order.outTradeNo)}</p>
<p id="status" class="status" data-status="${order.status}">${esc(zh)}<span class="en" lang="en">${esc(en)}</span></p></section>
<p id="message" class="message" role="status" aria-live="polite"></p>
<p class="links"><a id="to-order" href="${l.base}order?id=${order.id}">${bi('订单详情', 'Order details')}</a> · <a href="${l.base}orders">${bi('我的订单', 'My orders')}</a> · <a href="${l.base}">${bi('继续选购', 'More goods')}</a></p>`,
    data: o.data,
  });
}

export function ordersPage(l: Layout, orders: Order[]): string {
  const rows = orders.length
    ? orders
        .map((o) => {
          const [zh, en] = statusText(o.status);
          return `<li><a href="${l.base}order?id=${o.id}" data-order="${o.id}"><span class="name">${esc(o.items[0]?.name ?? '')}${o.items.length > 1 ? ` 等${o.items.length}件` : ''}</span><span class="price">${yuan(o.amount)}</span><span class="status" data-status="${o.status}">${esc(zh)}<span class="en" lang="en">${esc(en)}</span></span></a></li>`;
        })
        .join('')
    : `<li class="empty">${bi('还没有订单', 'No orders yet')}</li>`;
  return page(l, {
    page: 'orders',
    title: '我的订单 My orders',
    body: `<h1>${bi('我的订单', 'My orders')}</h1><ul class="list" id="orders">${rows}</ul><p class="links"><a href="${l.base}">${bi('继续选购', 'More goods')}</a></p>`,
  });
}

/** An error a buyer can act on: what happened, in Chinese first, and where to try again. */
export function errorPage(l: Layout, o: { code: string; zh: string; en: string; retry?: { href: string; zh: string; en: string }; requestId?: string }): string {
  return page(l, {
    page: 'error',
    title: `${o.zh}`,
    body: `<section class="card error" data-error-code="${esc(o.code)}"><h1>${esc(o.zh)}</h1><p class="en" lang="en">${esc(o.en)}</p>
${o.requestId ? `<p class="meta">请求编号 Request id: ${esc(o.requestId)}</p>` : ''}
<p class="meta">错误代码 Error code: <code>${esc(o.code)}</code></p></section>
${o.retry ? `<a id="retry" class="button primary" href="${esc(o.retry.href)}">${bi(esc(o.retry.zh), esc(o.retry.en))}</a>` : ''}`,
  });
}
