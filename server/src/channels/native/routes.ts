// Native QR pay (模式二) on a desktop checkout page, server-rendered, Chinese first:
//   GET  /pay/native/checkout?sku=…          the goods and a button that makes the order
//   POST /pay/native/orders {sku, quantity}   a NATIVE order (product_id = the sku) → its page's URL
//   GET  /pay/native/orders/:id?t=…          the QR code of its code_url; polls until PAID
//   GET  /pay/native/orders/:id/qr.svg|png   the QR code (a new prepay once the last one's window is over)
//   GET  /pay/native/orders/:id/status       { status, validUntil, codeVersion } (orderquery when stale)
// The buyer at a desktop is not logged in: the order has no buyer, and its pages open with the random
// token made with it (only its hash is stored). Status comes from notify / orderquery only.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Errors } from '../../errors.js';
import type { OrderDoc } from '../../orders/model.js';
import { clientIp } from '../../routes/orders.js';
import { errorResponses, OrderStatusSchema, pageSchema } from '../../routes/schemas.js';
import { esc, page, PAGE_HEADERS, yuan } from '../html.js';
import { qrPng, qrSvg } from './qr.js';

const TokenQuery = Type.Object({ t: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }), v: Type.Optional(Type.String({ maxLength: 32 })) });
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{24}$' }) });
const SkuQuery = Type.Object({ sku: Type.String({ minLength: 1, maxLength: 64 }), quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })) });

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const PAID_STATES = new Set(['PAID', 'REFUNDING', 'REFUNDED', 'PARTIALLY_REFUNDED']);

export function nativePagePath(order: Pick<OrderDoc, '_id'>, token: string): string {
  return `/pay/native/orders/${order._id.toString()}?t=${token}`;
}

const nativeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const nativeApp = () => {
    // NATIVE is paid under the 公众号's appid (or the mini-program's): what the scanning user's WeChat knows.
    const a = app.config.apps.oa ?? app.config.apps.mp;
    if (!a) throw new Errors.ChannelNotConfigured('Native pay needs a 公众号 or mini-program appid');
    return a;
  };

  /** The order its token opens; anything else is simply not found. */
  async function load(id: string, token: string): Promise<OrderDoc> {
    const order = await app.orderRepo.find({ id });
    const given = Buffer.from(sha256(token), 'hex');
    const ok = order?.viewKey !== undefined && order.channel === 'native' && timingSafeEqual(given, Buffer.from(order.viewKey, 'hex'));
    if (!order || !ok) throw new Errors.NotFound('Order');
    return order;
  }

  /** The code_url of a live prepay, or why there is none (paid, closed, expired). */
  async function codeUrl(order: OrderDoc): Promise<{ codeUrl: string; validUntil: Date } | { status: string }> {
    try {
      return await app.orders.payNative(order);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ORDER_ALREADY_PAID' || code === 'ORDER_NOT_PAYABLE' || code === 'ORDER_EXPIRED') {
        const fresh = await app.orderRepo.find({ id: order._id.toString() });
        return { status: fresh?.status ?? 'CLOSED' };
      }
      throw err;
    }
  }

  app.get('/pay/native/checkout', { schema: { querystring: SkuQuery, ...pageSchema('a desktop checkout page for one product') } }, async (req, reply) => {
    reply.headers(PAGE_HEADERS);
    const product = app.catalog.get(req.query.sku);
    if (!product) return reply.code(404).send(page('商品不存在', `<h1>商品不存在</h1><p class="muted">Product not found: ${esc(req.query.sku)}</p>`));
    const quantity = req.query.quantity ?? 1;
    const body = `<h1>微信扫码支付</h1>
<div class="card"><div>${esc(product.name)} × ${quantity}</div><div class="amount">${yuan(product.price * quantity)}</div>
<p class="muted">${esc(product.description)}</p>
<button id="go" data-sku="${esc(product.sku)}" data-quantity="${quantity}">生成付款二维码 Pay with WeChat</button>
<p id="err" class="bad"></p></div>`;
    const script = `document.getElementById('go').onclick=function(e){var b=e.target;b.disabled=true;
fetch('/pay/native/orders',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({sku:b.dataset.sku,quantity:Number(b.dataset.quantity)})})
.then(function(r){return r.json().then(function(j){if(!r.ok)throw new Error(j.message||r.status);location.href=j.url;});})
.catch(function(x){b.disabled=false;document.getElementById('err').textContent='下单失败，请重试（'+x.message+'）';});};`;
    return reply.send(page(`微信扫码支付 · ${product.name}`, body, { script }));
  });

  app.post(
    '/pay/native/orders',
    {
      schema: {
        body: Type.Object({ sku: Type.String({ minLength: 1, maxLength: 64 }), quantity: Type.Integer({ minimum: 1, maximum: 99 }) }, { additionalProperties: false }),
        response: { 201: Type.Object({ id: Type.String(), url: Type.String() }), ...errorResponses },
      },
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const a = nativeApp();
      const token = randomBytes(32).toString('base64url');
      const { order } = await app.orders.create(
        { appid: a.appid, channel: 'native', productId: req.body.sku },
        [{ sku: req.body.sku, quantity: req.body.quantity }],
        clientIp(req.ip),
        { viewKey: sha256(token) },
      );
      return reply.code(201).send({ id: order._id.toString(), url: nativePagePath(order, token) });
    },
  );

  app.get('/pay/native/orders/:id', { schema: { params: IdParams, querystring: TokenQuery, ...pageSchema('the QR code page of the order: polls until paid') } }, async (req, reply) => {
    reply.headers(PAGE_HEADERS);
    let order: OrderDoc;
    try {
      order = await load(req.params.id, req.query.t);
    } catch {
      return reply.code(404).send(page('订单不存在', '<h1>订单不存在</h1><p class="muted">链接无效或已失效。Order not found.</p>'));
    }
    order = await app.orders.refresh(order);
    const first = PAID_STATES.has(order.status) || order.status === 'CLOSED' ? { status: order.status } : await codeUrl(order);
    const sku = order.items[0]?.sku ?? '';
    const lines = order.items.map((i) => `<li>${esc(i.name)} × ${i.quantity}</li>`).join('');
    const qrBase = `/pay/native/orders/${order._id.toString()}`;
    const live = 'codeUrl' in first;
    const version = live ? sha256(first.codeUrl).slice(0, 12) : '';
    const body = `<h1>微信扫码支付</h1>
<div class="card"><ul>${lines}</ul><div class="amount">${yuan(order.amount)}</div><p class="muted">订单号 ${esc(order.outTradeNo)}</p></div>
<div class="card" id="pay">
<img id="qr" class="qr" alt="付款二维码" src="${live ? `${qrBase}/qr.svg?t=${esc(req.query.t)}&amp;v=${version}` : ''}" ${live ? '' : 'hidden'}>
<p id="status" class="status">${live ? '请打开微信，扫一扫二维码付款' : PAID_STATES.has(order.status) ? '<span class="ok">支付成功</span>' : '<span class="bad">订单已关闭</span>'}</p>
<p class="muted" style="text-align:center">Scan with WeChat to pay · <a href="${qrBase}/qr.png?t=${esc(req.query.t)}">PNG</a></p>
${live && app.config.sandbox.enabled ? `<p class="muted" style="text-align:center;word-break:break-all">沙箱 sandbox: POST /sandbox/scan {"codeUrl":"<code id="code-url">${esc(first.codeUrl)}</code>"}</p>` : ''}
<p id="again" style="text-align:center" ${live || PAID_STATES.has(order.status) ? 'hidden' : ''}><a class="button" href="/pay/native/checkout?sku=${encodeURIComponent(sku)}">重新下单</a></p>
</div>`;
    const script = `(function(){var base=${JSON.stringify(qrBase)},t=${JSON.stringify(req.query.t)},v=${JSON.stringify(version)};
var img=document.getElementById('qr'),st=document.getElementById('status'),again=document.getElementById('again');
var waits=[1000,1000,2000,2000,3000,5000],n=0,done=${live ? 'false' : 'true'};
function say(h){st.innerHTML=h;}
function poll(){if(done)return;if(document.hidden){setTimeout(poll,1000);return;}
fetch(base+'/status?t='+t,{cache:'no-store'}).then(function(r){return r.json();}).then(function(s){
if(s.paid){done=true;img.hidden=true;say('<span class="ok">支付成功</span> Paid');return;}
if(s.status==='CLOSED'){done=true;img.hidden=true;again.hidden=false;say('<span class="bad">订单已关闭，二维码已失效</span>');return;}
if(s.codeVersion&&s.codeVersion!==v){v=s.codeVersion;img.src=base+'/qr.svg?t='+t+'&v='+v;var c=document.getElementById('code-url');if(c&&s.codeUrl)c.textContent=s.codeUrl;}
else if(s.validUntil&&Date.parse(s.validUntil)<=Date.now()){img.src=base+'/qr.svg?t='+t+'&v=r'+Date.now();}
if(s.status==='FAILED')say('支付未成功，可重新扫码付款');
setTimeout(poll,waits[Math.min(n++,waits.length-1)]);}).catch(function(){setTimeout(poll,5000);});}
setTimeout(poll,1000);})();`;
    return reply.send(page('微信扫码支付', body, live ? { script } : {}));
  });

  for (const kind of ['svg', 'png'] as const) {
    app.get(`/pay/native/orders/:id/qr.${kind}`, { schema: { params: IdParams, querystring: TokenQuery, ...pageSchema('the QR code of the code_url of the order', kind === 'svg' ? 'image/svg+xml' : 'image/png') } }, async (req, reply) => {
      const order = await load(req.params.id, req.query.t);
      const live = await codeUrl(order);
      reply.header('cache-control', 'no-store');
      if (!('codeUrl' in live)) throw new Errors.OrderNotPayable(live.status);
      if (kind === 'svg') return reply.type('image/svg+xml').send(await qrSvg(live.codeUrl));
      return reply.type('image/png').send(await qrPng(live.codeUrl));
    });
  }

  app.get(
    '/pay/native/orders/:id/status',
    {
      schema: {
        params: IdParams,
        querystring: TokenQuery,
        response: {
          200: Type.Object({
            status: OrderStatusSchema,
            paid: Type.Boolean(),
            validUntil: Type.Optional(Type.String()),
            codeVersion: Type.Optional(Type.String()),
            /** sandbox mode only: what the QR code says, for playing the scan */
            codeUrl: Type.Optional(Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      const order = await app.orders.refresh(await load(req.params.id, req.query.t));
      const prepay = order.prepay;
      return {
        status: order.status,
        paid: PAID_STATES.has(order.status),
        ...(prepay?.codeUrl ? { validUntil: prepay.reuseUntil.toISOString(), codeVersion: sha256(prepay.codeUrl).slice(0, 12) } : {}),
        ...(prepay?.codeUrl && app.config.sandbox.enabled ? { codeUrl: prepay.codeUrl } : {}),
      };
    },
  );
};
export default nativeRoutes;
