// The WeChat client's side of an H5 page, for an ordinary browser: GET /sandbox/jsbridge.js gives the
// page `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` and the JS-SDK's `wx.config` / `wx.ready` /
// `wx.error` / `wx.chooseWXPay`. The pay sheet lives in a frame on the sandbox's own origin (as
// WeChat's is native: the page cannot script it); it pays at /sandbox/cashier, which checks paySign
// as the WeChat client does (MD5 / HMAC-SHA256 for a v2 prepay, signType RSA for an API v3 one), and
// checks wx.config's signature at /sandbox/jssdk/verify.
// The page script talks to the frame by postMessage only, checking the frame's origin.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { SandboxState } from './state.js';

const PAGE_SCRIPT = String.raw`(function () {
  'use strict';
  if (window.WeixinJSBridge) return;
  var me = document.currentScript;
  var origin = new URL(me.src).origin;
  var frame = null, frameReady = false, queue = [], pending = {}, seq = 0;
  var configured = null, configState = 'none', configError = null, readyFns = [], errorFns = [];

  function frameEl() {
    if (frame) return frame;
    frame = document.createElement('iframe');
    frame.src = origin + '/sandbox/jsbridge/client';
    frame.title = '微信客户端（沙箱）';
    frame.id = 'wx-sandbox-client';
    frame.style.cssText = 'position:fixed;left:0;top:0;width:100%;height:100%;border:0;z-index:2147483647;display:none;background:transparent';
    (document.body || document.documentElement).appendChild(frame);
    return frame;
  }
  function send(msg) {
    if (frameReady) frame.contentWindow.postMessage(msg, origin);
    else queue.push(msg);
  }
  function call(kind, params) {
    frameEl();
    return new Promise(function (resolve) {
      var id = ++seq;
      pending[id] = resolve;
      send({ wxSandbox: true, id: id, kind: kind, params: params, url: location.href.split('#')[0] });
    });
  }
  window.addEventListener('message', function (e) {
    if (e.origin !== origin || !frame || e.source !== frame.contentWindow) return;
    var d = e.data;
    if (!d || d.wxSandbox !== true) return;
    if (d.type === 'ready') { frameReady = true; queue.splice(0).forEach(send); return; }
    if (d.type === 'show') { frame.style.display = 'block'; return; }
    if (d.type === 'hide') { frame.style.display = 'none'; return; }
    if (d.type === 'result' && pending[d.id]) { var r = pending[d.id]; delete pending[d.id]; r(d.result || {}); }
  });

  function payResult(errMsg) {
    if (errMsg === 'requestPayment:ok') return { err_msg: 'get_brand_wcpay_request:ok' };
    if (errMsg === 'requestPayment:fail cancel') return { err_msg: 'get_brand_wcpay_request:cancel' };
    return { err_msg: 'get_brand_wcpay_request:fail', err_desc: String(errMsg || '').replace(/^requestPayment:fail ?/, '') };
  }

  window.WeixinJSBridge = {
    invoke: function (name, params, cb) {
      var done = typeof cb === 'function' ? cb : function () {};
      if (name !== 'getBrandWCPayRequest') {
        setTimeout(function () { done({ err_msg: name + ':fail_not_supported_in_sandbox' }); }, 0);
        return;
      }
      call('pay', params || {}).then(function (r) { done(payResult(r.errMsg)); });
    },
    on: function () {},
    call: function () {}
  };

  window.wx = {
    config: function (c) {
      configured = c || {};
      configState = 'pending';
      call('config', { appId: configured.appId, timestamp: configured.timestamp, nonceStr: configured.nonceStr, signature: configured.signature })
        .then(function (r) {
          if (r.errMsg === 'config:ok') { configState = 'ok'; readyFns.splice(0).forEach(function (f) { f(); }); }
          else { configState = 'error'; configError = { errMsg: r.errMsg }; errorFns.splice(0).forEach(function (f) { f(configError); }); }
        });
    },
    ready: function (fn) { if (configState === 'ok') fn(); else readyFns.push(fn); },
    error: function (fn) { if (configState === 'error') fn(configError); else errorFns.push(fn); },
    chooseWXPay: function (o) {
      o = o || {};
      var end = function (kind, res) { if (typeof o[kind] === 'function') o[kind](res); if (typeof o.complete === 'function') o.complete(res); };
      if (configState !== 'ok') { setTimeout(function () { end('fail', { errMsg: 'chooseWXPay:fail, the permission value is offline verifying' }); }, 0); return; }
      call('pay', { appId: configured.appId, timeStamp: String(o.timestamp), nonceStr: o.nonceStr, package: o.package, signType: o.signType, paySign: o.paySign })
        .then(function (r) {
          if (r.errMsg === 'requestPayment:ok') end('success', { errMsg: 'chooseWXPay:ok' });
          else if (r.errMsg === 'requestPayment:fail cancel') end('cancel', { errMsg: 'chooseWXPay:cancel' });
          else end('fail', { errMsg: 'chooseWXPay:fail ' + String(r.errMsg || '').replace(/^requestPayment:fail ?/, '') });
        });
    }
  };

  setTimeout(function () {
    var ev = document.createEvent('Event');
    ev.initEvent('WeixinJSBridgeReady', true, true);
    document.dispatchEvent(ev);
  }, 0);
})();
`;

const CLIENT_PAGE = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>微信支付（沙箱）</title><link rel="stylesheet" href="/sandbox/jsbridge/client.css"></head>
<body><div id="sheet" class="sheet" hidden>
<div class="panel" role="dialog" aria-label="微信支付（沙箱）">
<p class="title">微信支付 · 沙箱模拟</p>
<p id="what" class="what"></p><p id="fee" class="fee"></p>
<p class="hint">这是沙箱：不会扣款。Sandbox: no money moves.</p>
<button id="wx-pay" class="pay" type="button">立即支付 Pay</button>
<button id="wx-fail" type="button">支付失败 Fail</button>
<button id="wx-cancel" type="button">取消 Cancel</button>
</div></div><script src="/sandbox/jsbridge/client.js"></script></body></html>`;

const CLIENT_CSS = `body{margin:0;font-family:-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;background:transparent}
.sheet{position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:flex-end}
.sheet[hidden]{display:none}
.panel{background:#fff;width:100%;border-radius:12px 12px 0 0;padding:20px 16px;box-sizing:border-box;text-align:center}
.title{color:#666;margin:0 0 8px}.what{margin:4px 0}.fee{font-size:32px;font-weight:600;margin:8px 0}.hint{color:#999;font-size:12px}
button{display:block;width:100%;margin:8px 0;padding:12px;font-size:17px;border-radius:8px;border:1px solid #ddd;background:#f7f7f7}
button.pay{background:#07c160;color:#fff;border-color:#07c160}`;

const CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  var sheet = document.getElementById('sheet');
  var current = null;
  function reply(target, origin, id, result) { target.postMessage({ wxSandbox: true, type: 'result', id: id, result: result }, origin); }
  function post(path, body) {
    return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); })
      .catch(function () { return { errMsg: 'requestPayment:fail network error' }; });
  }
  function finish(outcome) {
    if (!current) return;
    var c = current;
    current = null;
    var body = {};
    ['appId', 'timeStamp', 'nonceStr', 'package', 'signType', 'paySign'].forEach(function (k) { if (c.params[k] !== undefined) body[k] = c.params[k]; });
    body.outcome = outcome;
    var go = outcome === 'cancel' ? Promise.resolve({ errMsg: 'requestPayment:fail cancel' }) : post('/sandbox/cashier', body);
    go.then(function (r) {
      sheet.hidden = true;
      c.source.postMessage({ wxSandbox: true, type: 'hide' }, c.origin);
      reply(c.source, c.origin, c.id, { errMsg: r.errMsg });
    });
  }
  document.getElementById('wx-pay').addEventListener('click', function () { finish('pay'); });
  document.getElementById('wx-fail').addEventListener('click', function () { finish('fail'); });
  document.getElementById('wx-cancel').addEventListener('click', function () { finish('cancel'); });
  window.addEventListener('message', function (e) {
    var d = e.data;
    if (!d || d.wxSandbox !== true || e.source !== parent) return;
    if (d.kind === 'config') {
      var p = d.params || {};
      post('/sandbox/jssdk/verify', { appId: p.appId, timestamp: p.timestamp, nonceStr: p.nonceStr, signature: p.signature, url: d.url })
        .then(function (r) { reply(e.source, e.origin, d.id, { errMsg: r.errMsg || 'config:fail' }); });
      return;
    }
    if (d.kind === 'pay') {
      if (current) { reply(e.source, e.origin, d.id, { errMsg: 'requestPayment:fail another payment is in progress' }); return; }
      var c = (current = { id: d.id, params: d.params || {}, source: e.source, origin: e.origin });
      // WeChat first checks that the page is in one of the merchant's payment directories
      post('/sandbox/jsbridge/page-check', { appId: c.params.appId, url: d.url }).then(function (r) {
        if (r.errMsg !== 'ok') { current = null; reply(c.source, c.origin, c.id, { errMsg: r.errMsg || 'requestPayment:fail' }); return; }
        show(c);
      });
    }
  });
  function show(c) {
    document.getElementById('what').textContent = '';
    document.getElementById('fee').textContent = '';
    fetch('/sandbox/jsbridge/trade?package=' + encodeURIComponent(String(c.params.package || ''))).then(function (r) { return r.ok ? r.json() : null; }).then(function (t) {
      if (!t) return;
      document.getElementById('what').textContent = t.body;
      document.getElementById('fee').textContent = '¥' + (t.totalFee / 100).toFixed(2);
    }).catch(function () {});
    sheet.hidden = false;
    c.source.postMessage({ wxSandbox: true, type: 'show' }, c.origin);
  }
  parent.postMessage({ wxSandbox: true, type: 'ready' }, '*');
})();
`;

/**
 * WeChat's rule for the JSAPI payment directory (支付授权目录): a page pays when its directory (its
 * URL up to the last / of the path) is one the merchant registered; a registered domain root covers
 * every page of that host, a deeper directory only pages directly in it (not in its subdirectories).
 */
export function inPayDirectory(pageUrl: string, directories: readonly string[]): boolean {
  let page: URL;
  try {
    page = new URL(pageUrl);
  } catch {
    return false;
  }
  const dir = `${page.origin}${page.pathname.slice(0, page.pathname.lastIndexOf('/') + 1)}`;
  return directories.some((d) => {
    let reg: URL;
    try {
      reg = new URL(d);
    } catch {
      return false;
    }
    if (reg.origin !== page.origin) return false;
    return reg.pathname === '/' || `${reg.origin}${reg.pathname}` === dir;
  });
}

const PayDirectoriesSchema = Type.Object(
  { mchId: Type.String({ minLength: 1, maxLength: 32 }), directories: Type.Array(Type.String({ pattern: '^https?://[^\\s?#]+/$', maxLength: 256 }), { maxItems: 5 }) },
  { additionalProperties: false },
);

export async function jsbridgeRoutes(app: FastifyInstance, opts: { state: SandboxState }): Promise<void> {
  // per mch_id; a merchant with none registered pays from any page (the sandbox's default, so that
  // `npm start` needs no setup); POST /sandbox/pay-directories turns the check on
  const directories = new Map<string, string[]>();

  app.post<{ Body: Static<typeof PayDirectoriesSchema> }>('/sandbox/pay-directories', { schema: { body: PayDirectoriesSchema } }, async (req, reply) => {
    if (!opts.state.merchantByMchId(req.body.mchId)) return reply.code(400).send({ statusCode: 400, code: 'UNKNOWN_MCH_ID', error: 'Bad Request', message: `mch_id ${req.body.mchId} is not registered with the sandbox` });
    directories.set(req.body.mchId, req.body.directories);
    return { mchId: req.body.mchId, directories: req.body.directories };
  });

  app.post<{ Body: { appId?: unknown; url?: unknown } }>('/sandbox/jsbridge/page-check', async (req) => {
    const appid = typeof req.body?.appId === 'string' ? req.body.appId : '';
    const url = typeof req.body?.url === 'string' ? req.body.url.split('#')[0]! : '';
    const mchIds = opts.state.merchants.filter((m) => m.appid === appid).map((m) => m.mchId);
    const registered = mchIds.flatMap((m) => directories.get(m) ?? []);
    const enforced = mchIds.some((m) => directories.has(m));
    if (!enforced || inPayDirectory(url, registered)) return { errMsg: 'ok' };
    return { errMsg: `requestPayment:fail 当前页面的URL未注册：${url}` };
  });

  const js = 'application/javascript; charset=utf-8';
  app.get('/sandbox/jsbridge.js', async (_req, reply) => reply.header('content-type', js).header('cache-control', 'no-cache').send(PAGE_SCRIPT));
  app.get('/sandbox/jsbridge/client.js', async (_req, reply) => reply.header('content-type', js).send(CLIENT_SCRIPT));
  app.get('/sandbox/jsbridge/client.css', async (_req, reply) => reply.header('content-type', 'text/css; charset=utf-8').send(CLIENT_CSS));
  app.get('/sandbox/jsbridge/client', async (_req, reply) =>
    reply
      .header('content-type', 'text/html; charset=utf-8')
      // meant to be framed by any merchant page, as WeChat's client sits over any page
      .header('content-security-policy', "default-src 'self'; frame-ancestors *")
      .send(CLIENT_PAGE),
  );
  // what the pay sheet shows: the goods and the amount of the trade behind a prepay_id
  app.get<{ Querystring: { package?: string } }>('/sandbox/jsbridge/trade', async (req, reply) => {
    const m = /^prepay_id=(.+)$/.exec(typeof req.query.package === 'string' ? req.query.package : '');
    const trade = m ? opts.state.tradeByPrepayId(m[1] as string) : undefined;
    if (!trade) return reply.code(404).send({ statusCode: 404, code: 'PREPAY_NOT_FOUND', error: 'Not Found', message: 'no trade for this package' });
    return { body: trade.body, totalFee: trade.totalFee };
  });
}
