// The H5 pages' one script and one stylesheet, served from the payment directory (CSP 'self').
// The script pays with WeixinJSBridge.invoke('getBrandWCPayRequest'), then leaves the verdict to
// the server: the result page polls the order as the mini-program does (1,1,2,2,3,5 s… for a minute;
// FAILED is final only after 6 s; stops while the page is hidden). The bridge's "ok" proves nothing.
// Plain ES2017 without modules: WeChat's built-in browser runs it as it is.

export const H5_SCRIPT = String.raw`(function () {
  'use strict';
  var dataEl = document.getElementById('h5-data');
  var data = dataEl ? JSON.parse(dataEl.textContent || '{}') : {};
  var page = document.body.getAttribute('data-page');
  var message = document.getElementById('message');
  var statusEl = document.getElementById('status');
  var TEXT = data.statusText || {};

  function say(zh, en, kind) {
    if (!message) return;
    message.textContent = zh;
    if (en) { var s = document.createElement('span'); s.className = 'en'; s.lang = 'en'; s.textContent = en; message.appendChild(s); }
    message.setAttribute('data-kind', kind || 'info');
  }
  function showStatus(status) {
    if (!statusEl) return;
    var t = TEXT[status] || [status, status];
    statusEl.textContent = t[0];
    var s = document.createElement('span'); s.className = 'en'; s.lang = 'en'; s.textContent = t[1];
    statusEl.appendChild(s);
    statusEl.setAttribute('data-status', status);
  }
  function request(method, url) {
    var headers = { accept: 'application/json' };
    if (method !== 'GET') headers['x-csrf-token'] = data.csrf;
    return fetch(url, { method: method, headers: headers, credentials: 'same-origin' }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) { return { status: res.status, body: body }; });
    });
  }

  // wx.config for the JS-SDK (its signature is the server's); the pay itself needs only the bridge
  if (data.jssdk && window.wx && typeof window.wx.config === 'function') {
    document.body.setAttribute('data-jssdk', 'pending');
    window.wx.config({ debug: false, appId: data.jssdk.appId, timestamp: data.jssdk.timestamp, nonceStr: data.jssdk.nonceStr, signature: data.jssdk.signature, jsApiList: ['chooseWXPay'] });
    window.wx.ready(function () { document.body.setAttribute('data-jssdk', 'ready'); });
    window.wx.error(function () { document.body.setAttribute('data-jssdk', 'error'); });
  }

  function bridge() {
    return new Promise(function (resolve) {
      if (typeof window.WeixinJSBridge !== 'undefined') return resolve(window.WeixinJSBridge);
      var done = false;
      document.addEventListener('WeixinJSBridgeReady', function () { if (!done) { done = true; resolve(window.WeixinJSBridge); } }, false);
      setTimeout(function () { if (!done) { done = true; resolve(null); } }, 3000);
    });
  }

  function invokePay(p) {
    return bridge().then(function (jsb) {
      if (!jsb) return 'no-bridge';
      return new Promise(function (resolve) {
        jsb.invoke('getBrandWCPayRequest', { appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType, paySign: p.paySign }, function (res) {
          var m = res && res.err_msg;
          resolve(m === 'get_brand_wcpay_request:ok' ? 'ok' : m === 'get_brand_wcpay_request:cancel' ? 'cancel' : 'fail');
        });
      });
    });
  }

  if (page === 'order') {
    var btn = document.getElementById('pay');
    if (btn) {
      btn.disabled = false;
      btn.addEventListener('click', function () {
        if (btn.disabled) return;
        btn.disabled = true;
        say('正在发起支付…', 'Starting the payment…');
        request('POST', data.api.pay).then(function (r) {
          if (r.status !== 200) {
            var code = r.body && r.body.code;
            if (code === 'ORDER_ALREADY_PAID' || code === 'PAYMENT_IN_PROGRESS') { location.href = data.resultUrl; return; }
            if (code === 'UNAUTHORIZED') { say('登录已过期，请重新打开页面', 'Your session expired: open the page again', 'error'); return; }
            say('暂时无法支付：' + ((r.body && r.body.message) || r.status), 'Cannot pay right now', 'error');
            btn.disabled = false;
            return;
          }
          return invokePay(r.body).then(function (outcome) {
            if (outcome === 'cancel') { say('支付未完成，可再次支付', 'Payment not completed: you may pay again'); btn.disabled = false; return; }
            if (outcome === 'no-bridge') { say('请在微信中打开此页面完成支付', 'Open this page in WeChat to pay', 'error'); btn.disabled = false; return; }
            // ok or fail alike: only the server knows how it ended
            location.href = data.resultUrl;
          });
        }, function () {
          say('网络错误，请重试', 'Network error: try again', 'error');
          btn.disabled = false;
        });
      });
    }
  }

  if (page === 'result') {
    var schedule = [1, 1, 2, 2, 3, 5];
    var MAX_MS = 60000, FAILED_GRACE_MS = 6000;
    var start = Date.now(), i = 0, timer = null, failedSince = null, finished = false;
    var FINAL = { PAID: 1, CLOSED: 1, REFUNDING: 1, REFUNDED: 1, PARTIALLY_REFUNDED: 1 };
    function end(status) {
      finished = true;
      document.body.setAttribute('data-outcome', status);
      if (status === 'PAID') say('支付成功', 'Payment successful', 'ok');
      else if (status === 'CLOSED') say('订单已关闭', 'The order is closed', 'error');
      else if (status === 'FAILED') say('支付失败，未扣款，可重新支付', 'Payment failed, nothing was charged: you may pay again', 'error');
      else if (status === 'TIMEOUT') say('正在确认支付结果，请勿重复支付', 'Confirming your payment: do not pay again', 'info');
      else say('订单已退款', 'The order was refunded', 'info');
    }
    function next() {
      if (finished || document.hidden) return;
      var delay = schedule[Math.min(i, schedule.length - 1)] * 1000;
      i++;
      if (Date.now() - start + delay > MAX_MS) { end(failedSince !== null ? 'FAILED' : 'TIMEOUT'); return; }
      timer = setTimeout(poll, delay);
    }
    function poll() {
      timer = null;
      if (finished || document.hidden) return;
      request('GET', data.api.order).then(function (r) {
        if (r.status === 200 && r.body && r.body.status) {
          var s = r.body.status;
          showStatus(s);
          if (FINAL[s]) return end(s);
          if (s === 'FAILED') {
            if (failedSince === null) failedSince = Date.now();
            if (Date.now() - failedSince >= FAILED_GRACE_MS) return end('FAILED');
          } else failedSince = null;
        } else if (r.status >= 400 && r.status < 500 && r.status !== 429) {
          finished = true;
          say('无法查询订单：' + ((r.body && r.body.message) || r.status), 'Cannot read the order', 'error');
          return;
        }
        next();
      }, function () { next(); });
    }
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) { if (timer) { clearTimeout(timer); timer = null; } return; }
      if (!finished && !timer) { start = Date.now(); i = 0; poll(); }
    });
    var initial = statusEl ? statusEl.getAttribute('data-status') : '';
    if (FINAL[initial]) end(initial);
    else { say('正在确认支付结果…', 'Confirming your payment…'); poll(); }
  }
})();
`;

export const H5_STYLE = `*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#ededed;color:#111;font-size:16px;line-height:1.5}
main{max-width:640px;margin:0 auto;padding:16px 16px calc(24px + env(safe-area-inset-bottom))}
h1{font-size:20px;margin:8px 0 16px}
.en{display:block;font-size:12px;color:#888;font-weight:normal}
.card{background:#fff;border-radius:8px;padding:16px;margin:0 0 12px}
.list{list-style:none;padding:0;margin:0 0 12px;background:#fff;border-radius:8px}
.list li{border-bottom:1px solid #eee}.list li:last-child{border:0}
.list a{display:flex;flex-wrap:wrap;justify-content:space-between;padding:14px 16px;color:inherit;text-decoration:none}
.list .status{width:100%;font-size:14px;color:#576b95}
.list .empty{padding:16px;color:#888}
.lines{list-style:none;padding:0;margin:0}.lines li{display:flex;justify-content:space-between;padding:4px 0}
.price{color:#fa5151;font-weight:600}
.total{font-size:18px;text-align:right;margin:12px 0 0}.total strong{font-size:28px;color:#111}
.meta{color:#888;font-size:14px;margin:4px 0}
.desc{color:#666;font-size:14px}
.status{font-size:18px;font-weight:600;text-align:center}
label{display:block;margin:0 0 6px}
input[type=number]{width:100%;font-size:18px;padding:10px;border:1px solid #ddd;border-radius:6px;margin:0 0 12px}
button,.button{display:block;width:100%;padding:12px;font-size:17px;border-radius:8px;border:0;background:#f2f2f2;color:#111;text-align:center;text-decoration:none;margin:12px 0}
button.primary,.button.primary{background:#07c160;color:#fff}
button:disabled{opacity:.6}
.message{min-height:1.5em;text-align:center;color:#576b95}
.message[data-kind=error]{color:#fa5151}.message[data-kind=ok]{color:#07c160;font-size:20px;font-weight:600}
.links{text-align:center;font-size:14px}.links a{color:#576b95}
.links .en,.meta .en,.total .en,label .en{display:inline;margin-left:4px}
.error h1{color:#fa5151}
code{font-size:13px}`;
