// One printed code per product or till: the code carries one URL (/pay/scan/:code), and whoever opens
// it is routed by the app that scanned it. Each wallet is a Scanner; another one (a bank app, Alipay…)
// is added as its own channel by adding it to the list, nothing else changes.
import type { FastifyReply } from 'fastify';
import type { Config } from '../../config.js';
import type { Product } from '../../../../shared/api.js';

export interface ScanContext {
  /** what the printed code names (a product's sku) */
  code: string;
  product: Product;
  config: Config;
}

export interface Scanner {
  /** stable name (logs, metrics) */
  name: string;
  /** what the buyer reads on the "open this with…" page, Chinese first */
  label: string;
  /** whether this wallet opened the URL (its in-app browser's user agent) */
  matches(userAgent: string): boolean;
  /** answers the request: a redirect into the wallet's own pay flow, or a page */
  handle(ctx: ScanContext, reply: FastifyReply): FastifyReply | Promise<FastifyReply>;
}

/** Where the 公众号 H5 flow starts (the h5 channel's checkout page) with the default H5_PAY_PATH. */
export const H5_CHECKOUT_PATH = '/h5/checkout';

/** WeChat's built-in browser says MicroMessenger in its user agent (and its mini-program web-views too). */
export const wechatScanner: Scanner = {
  name: 'wechat',
  label: '微信 WeChat',
  matches: (ua) => /MicroMessenger\//i.test(ua),
  handle(ctx, reply) {
    // 302, not 301: the code's target may change, and WeChat's browser caches permanent redirects.
    return reply.code(302).header('cache-control', 'no-store').redirect(`${ctx.config.h5.payPath}checkout?sku=${encodeURIComponent(ctx.product.sku)}`, 302);
  },
};

/** The wallets that can pay a printed code, in the order they are asked. */
export function defaultScanners(config: Config): Scanner[] {
  // WeChat pays a scanned code in the 公众号 H5 flow: without a 公众号 there is nothing to send it to.
  return config.apps.oa ? [wechatScanner] : [];
}

export function pickScanner(scanners: readonly Scanner[], userAgent: string): Scanner | undefined {
  return scanners.find((s) => s.matches(userAgent));
}
