// GET /pay/scan/:code — the one URL a printed code carries. Opened by a wallet that can pay it (see
// scanners.ts), it goes into that wallet's flow; opened by anything else (a phone's camera, another
// app, a desktop browser), a Chinese page says which apps can pay it. GET /pay/scan/:code/qr.svg|png
// is the code to print.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { pageSchema } from '../../routes/schemas.js';
import { Errors } from '../../errors.js';
import { esc, page, PAGE_HEADERS, yuan } from '../html.js';
import { qrPng, qrSvg } from '../native/qr.js';
import { defaultScanners, pickScanner, type Scanner } from './scanners.js';

export interface ScanRoutesOptions {
  /** the wallets, in order (default: WeChat, when a 公众号 is configured) */
  scanners?: Scanner[];
}

const CodeParams = Type.Object({ code: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

const scanRoutes: FastifyPluginAsyncTypebox<ScanRoutesOptions> = async (app, opts) => {
  const scanners = opts.scanners ?? defaultScanners(app.config);

  app.get('/pay/scan/:code', { schema: { params: CodeParams, ...pageSchema('WeChat: a redirect to the 公众号 H5 checkout; any other app: a page naming the apps that can pay') } }, async (req, reply) => {
    const product = app.catalog.get(req.params.code);
    if (!product) {
      reply.headers(PAGE_HEADERS);
      return reply.code(404).send(page('付款码无效', '<h1>付款码无效</h1><p>这个付款码不存在或已停用，请联系店员。</p><p class="muted">This payment code does not exist.</p>'));
    }
    const ua = req.headers['user-agent'] ?? '';
    const scanner = pickScanner(scanners, ua);
    if (scanner) {
      req.log.info({ event: 'scan_routed', scanner: scanner.name, code: req.params.code }, 'payment code opened');
      return scanner.handle({ code: req.params.code, product, config: app.config }, reply);
    }
    reply.headers(PAGE_HEADERS);
    const apps = scanners.map((s) => `<li>${esc(s.label)}</li>`).join('');
    const body = scanners.length
      ? `<h1>请用以下应用扫码付款</h1>
<div class="card"><div>${esc(product.name)}</div><div class="amount">${yuan(product.price)}</div></div>
<div class="card"><p>这个付款码只能用下列应用的“扫一扫”打开并付款：</p><ul id="apps">${apps}</ul>
<p class="muted">您当前使用的应用无法完成付款。请打开上面的应用，扫描同一个二维码。</p>
<p class="muted">This code can be paid with: ${scanners.map((s) => esc(s.label)).join(', ')}. Open one of them and scan the code again.</p></div>`
      : `<h1>暂不支持扫码付款</h1><p>本店暂未开通扫码付款，请联系店员。</p><p class="muted">No wallet is configured to pay this code.</p>`;
    return reply.code(200).send(page('请用微信扫码付款', body));
  });

  for (const kind of ['svg', 'png'] as const) {
    app.get(`/pay/scan/:code/qr.${kind}`, { schema: { params: CodeParams, ...pageSchema('the printed code', kind === 'svg' ? 'image/svg+xml' : 'image/png') } }, async (req, reply) => {
      if (!app.catalog.get(req.params.code)) throw new Errors.NotFound('Payment code');
      // The code to print carries this server's own URL of /pay/scan/:code.
      const url = `${req.protocol}://${req.host}/pay/scan/${encodeURIComponent(req.params.code)}`;
      if (kind === 'svg') return reply.type('image/svg+xml').send(await qrSvg(url));
      return reply.type('image/png').send(await qrPng(url, 600));
    });
  }
};
export default scanRoutes;
