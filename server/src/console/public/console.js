// The operators' console: a small vanilla front end over /admin/api (no framework, no inline code).
// Everything shown is built with textContent, never innerHTML, so no stored value can run as code.
import { currentLang, t } from './i18n.js';

const API = '/admin/api';
const state = { me: null, csrf: null };
const $ = (sel) => document.querySelector(sel);

/** h('tag.class', {attr}, ...children): a DOM element; strings become text nodes */
function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['x-csrf-token'] = state.csrf;
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (res.status === 401 && path !== '/session') {
    state.me = null;
    renderLogin();
    throw new ApiError(401, json);
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

function toast(message, bad = false) {
  const el = $('#toast');
  el.textContent = message;
  el.className = bad ? 'bad' : '';
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 5000);
}

function explain(err) {
  if (err.code === 'FORBIDDEN') return t('forbidden');
  if (err.code === 'CSRF_INVALID') return t('csrf');
  return `${t('failed')}: ${err.code ?? ''} ${err.message}`;
}

/** runs an action from a button, shows its outcome, and redraws the page */
async function act(fn, okMessage = t('done')) {
  try {
    await fn();
    toast(okMessage);
    await route();
  } catch (err) {
    toast(explain(err), true);
  }
}

const yuan = (fen) => (fen === undefined || fen === null ? '' : (fen / 100).toFixed(2));
const when = (iso) => (iso ? new Date(iso).toLocaleString(currentLang() === 'en' ? 'en-GB' : 'zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '');
const tag = (text, kind = '') => h(`span.tag${kind ? '.' + kind : ''}`, {}, text);
const statusTag = (s) => tag(s, ['PAID', 'SUCCESS', 'OK', 'REFUNDED', 'APPROVED', 'HEALED'].includes(s) ? 'ok' : ['CLOSED', 'FAILED', 'CHANGE', 'REFUNDCLOSE', 'DIFFERENCES', 'REJECTED'].includes(s) ? 'bad' : 'warn');
const json = (v) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const can = (role) => ['viewer', 'support', 'finance', 'admin'].indexOf(state.me?.role) >= ['viewer', 'support', 'finance', 'admin'].indexOf(role);

function table(columns, rows, onClick) {
  if (rows.length === 0) return h('p.muted', { 'data-test': 'empty' }, t('no_results'));
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, columns.map((c) => h(c.num ? 'th.num' : 'th', {}, t(c.label))))),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          onClick ? 'tr.clickable' : 'tr',
          onClick ? { onclick: () => onClick(r) } : {},
          columns.map((c) => h(c.num ? 'td.num' : 'td', {}, c.get(r))),
        ),
      ),
    ),
  );
}

function reasonPrompt(label = t('reason')) {
  const r = prompt(label);
  if (r === null) return null;
  if (!r.trim()) {
    toast(t('need_reason'), true);
    return null;
  }
  return r.trim();
}

// ---------------------------------------------------------------- login

function renderLogin(message) {
  $('#top').hidden = true;
  const err = h('p.error', { 'data-test': 'login-error' }, message ?? '');
  const form = h(
    'form',
    {
      id: 'login-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const fd = new FormData(form);
        try {
          const res = await api('POST', '/session', { name: String(fd.get('name')), password: String(fd.get('password')) });
          state.me = res.operator;
          state.csrf = res.csrfToken;
          if (!location.hash || location.hash === '#/login') location.hash = '#/dashboard';
          await route();
        } catch (e2) {
          err.textContent = e2.code === 'ACCOUNT_LOCKED' ? `${t('locked')}: ${e2.message}` : e2.code === 'LOGIN_FAILED' ? t('login_failed') : explain(e2);
        }
      },
    },
    h('label', {}, t('name'), h('input', { name: 'name', autocomplete: 'username', required: true })),
    h('label', {}, t('password'), h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button.primary', { type: 'submit' }, t('login')),
    err,
  );
  $('#main').replaceChildren(h('div.login', {}, h('h1', {}, t('login_title')), form, langButton()));
}

function langButton() {
  return h('button.plain', { type: 'button', id: 'lang-login', onclick: switchLang }, t('switchLang'));
}

function switchLang() {
  localStorage.setItem('console.lang', currentLang() === 'zh' ? 'en' : 'zh');
  document.documentElement.lang = currentLang() === 'zh' ? 'zh-CN' : 'en';
  if (state.me) route();
  else renderLogin();
}

// ---------------------------------------------------------------- shell

const SCREENS = [
  ['dashboard', 'nav_dashboard', 'viewer'],
  ['orders', 'nav_orders', 'viewer'],
  ['queue', 'nav_queue', 'viewer'],
  ['refunds', 'nav_refunds', 'viewer'],
  ['recon', 'nav_recon', 'viewer'],
  ['operators', 'nav_operators', 'admin'],
  ['audit', 'nav_audit', 'admin'],
];

function renderShell(active) {
  $('#top').hidden = false;
  document.querySelectorAll('[data-i18n]').forEach((el) => (el.textContent = t(el.dataset.i18n)));
  $('#lang').textContent = t('switchLang');
  $('#who').textContent = `${state.me.name} (${state.me.role})`;
  $('#nav').replaceChildren(
    ...SCREENS.filter(([, , role]) => can(role)).map(([id, label]) => h(`a${id === active ? '.active' : ''}`, { href: `#/${id}`, 'data-nav': id }, t(label))),
  );
}

async function route() {
  if (!state.me) {
    try {
      const res = await api('GET', '/session');
      state.me = res.operator;
      state.csrf = res.csrfToken;
    } catch {
      return renderLogin();
    }
  }
  const [, screen = 'dashboard', ...rest] = location.hash.replace(/^#/, '').split('?')[0].split('/');
  renderShell(screen === 'order' ? 'orders' : screen === 'recon-day' ? 'recon' : screen);
  const main = $('#main');
  main.replaceChildren(h('p.muted', {}, t('loading')));
  const screens = { dashboard, orders, order, queue, refunds, recon, 'recon-day': reconDay, operators, audit };
  try {
    const view = await (screens[screen] ?? dashboard)(...rest.map(decodeURIComponent));
    main.replaceChildren(...[view].flat().filter((x) => x !== null && x !== undefined && x !== false));
  } catch (err) {
    if (err.status !== 401) main.replaceChildren(h('p.error', {}, explain(err)));
  }
}

// ---------------------------------------------------------------- orders

const STATUSES = ['CREATED', 'PAYING', 'PAID', 'CLOSED', 'FAILED', 'PARTIALLY_REFUNDED', 'REFUNDED'];

async function orders() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const form = h(
    'form.inline',
    {
      id: 'order-search',
      onsubmit: (e) => {
        e.preventDefault();
        const q = new URLSearchParams();
        for (const [k, v] of new FormData(form)) if (String(v).trim()) q.set(k, String(v).trim());
        location.hash = `#/orders?${q}`;
      },
    },
    h('label', {}, t('q'), h('input', { name: 'q', value: params.get('q') ?? '', size: 34 })),
    h('label', {}, t('status'), h('select', { name: 'status' }, h('option', { value: '' }, t('any')), STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s)))),
    h('label', {}, t('channel'), h('select', { name: 'channel' }, ['', 'mp', 'oa-h5', 'app', 'native'].map((c) => h('option', { value: c, selected: (params.get('channel') ?? '') === c }, c || t('any'))))),
    h('label', {}, t('from'), h('input', { name: 'from', type: 'date', value: params.get('from') ?? '' })),
    h('label', {}, t('to'), h('input', { name: 'to', type: 'date', value: params.get('to') ?? '' })),
    h('label', {}, t('minAmount'), h('input', { name: 'minAmount', inputmode: 'numeric', value: params.get('minAmount') ?? '' })),
    h('label', {}, t('maxAmount'), h('input', { name: 'maxAmount', inputmode: 'numeric', value: params.get('maxAmount') ?? '' })),
    h('button.primary', { type: 'submit' }, t('search')),
  );
  const query = new URLSearchParams();
  for (const [k, v] of params) query.set(k, v);
  const res = await api('GET', `/orders?${query}`);
  const next = res.next
    ? h('button.plain', { onclick: () => { params.set('before', res.next); location.hash = `#/orders?${params}`; } }, t('next_page'))
    : null;
  return [
    h('h1', {}, t('nav_orders')),
    h('section.card', {}, form),
    h('section.card', { id: 'order-results' }, table(
      [
        { label: 'out_trade_no', get: (o) => o.outTradeNo },
        { label: 'status', get: (o) => statusTag(o.status) },
        { label: 'amount', num: true, get: (o) => yuan(o.amount) },
        { label: 'channel', get: (o) => o.channel },
        { label: 'transaction_id', get: (o) => o.transactionId ?? '' },
        { label: 'created_at', get: (o) => when(o.createdAt) },
        { label: 'flags', get: (o) => o.flags.map((f) => tag(f, 'bad')) },
      ],
      res.items,
      (o) => (location.hash = `#/order/${o.id}`),
    ), next),
  ];
}

async function order(id) {
  const o = await api('GET', `/orders/${encodeURIComponent(id)}`);
  const left = (o.paidAmount ?? o.amount) - o.refundReserved;
  const out = [
    h('h1', {}, `${t('order')} ${o.outTradeNo}`),
    h(
      'section.card',
      { id: 'order-facts' },
      h(
        'dl.facts',
        {},
        h('dt', {}, t('status')), h('dd', { 'data-test': 'order-status' }, statusTag(o.status), o.followUp === 'OPEN' ? tag('FOLLOW-UP', 'bad') : ''),
        h('dt', {}, t('amount')), h('dd', {}, `${yuan(o.amount)} ${t('yuan')}`, o.refundedAmount ? ` (-${yuan(o.refundedAmount)})` : ''),
        h('dt', {}, t('transaction_id')), h('dd', {}, o.transactionId ?? ''),
        h('dt', {}, t('buyer')), h('dd', {}, o.openid),
        h('dt', {}, t('created_at')), h('dd', {}, when(o.createdAt)),
        h('dt', {}, t('paid_at')), h('dd', {}, when(o.paidAt)),
        h('dt', {}, t('flags')), h('dd', {}, o.flags.map((f) => tag(f, 'bad'))),
      ),
    ),
    h('h2', {}, t('items')),
    table(
      [
        { label: 'sku', get: (i) => i.sku },
        { label: 'product', get: (i) => i.name },
        { label: 'price', num: true, get: (i) => yuan(i.price) },
        { label: 'quantity', num: true, get: (i) => i.quantity },
      ],
      o.items,
    ),
    h('h2', {}, t('history')),
    table(
      [
        { label: 'at', get: (x) => when(x.at) },
        { label: 'from_state', get: (x) => x.from },
        { label: 'to_state', get: (x) => x.to },
        { label: 'source', get: (x) => x.source },
      ],
      o.history,
    ),
    h('h2', {}, t('notifies')),
    h('div', { id: 'notify-log' }, table(
      [
        { label: 'at', get: (n) => when(n.at) },
        { label: 'verification', get: (n) => statusTag(n.verification) },
        { label: 'reply', get: (n) => `${n.reply.code}${n.reply.msg ? ' ' + n.reply.msg : ''}` },
        { label: 'http', num: true, get: (n) => n.httpStatus },
        { label: 'transaction_id', get: (n) => n.transactionId ?? '' },
        { label: 'latency', num: true, get: (n) => (n.latencyMs === undefined ? '' : `${n.latencyMs} ms`) },
      ],
      o.notifies,
    )),
    h('h2', {}, t('queries')),
    table(
      [
        { label: 'at', get: (q) => when(q.at) },
        { label: 'trade_state', get: (q) => q.tradeState ?? '' },
        { label: 'error', get: (q) => q.error ?? '' },
        { label: 'duration', num: true, get: (q) => `${q.ms} ms` },
      ],
      o.queries,
    ),
    h('h2', {}, t('refunds')),
    h('div', { id: 'order-refunds' }, refundTable(o.refunds)),
  ];
  if (o.refundRequests.length) {
    out.push(h('h2', {}, t('refund_requests')), requestTable(o.refundRequests));
  }
  if (can('support') && left > 0 && ['PAID', 'PARTIALLY_REFUNDED'].includes(o.status)) {
    const form = h(
      'form.inline',
      {
        id: 'refund-form',
        onsubmit: (e) => {
          e.preventDefault();
          const fd = new FormData(form);
          const text = String(fd.get('amount')).trim();
          const reason = String(fd.get('reason')).trim();
          if (!/^\d+(\.\d{1,2})?$/.test(text) || Number(text) <= 0) return toast(t('bad_amount'), true);
          if (!reason) return toast(t('need_reason'), true);
          const [whole, frac = ''] = text.split('.');
          const fen = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
          if (!confirm(t('confirm_refund', { amount: yuan(fen) }))) return;
          act(() => api('POST', `/orders/${o.id}/refunds`, { amount: fen, reason }));
        },
      },
      h('label', {}, t('refund_amount'), h('input', { name: 'amount', inputmode: 'decimal', placeholder: yuan(left) })),
      h('label', {}, t('reason'), h('input', { name: 'reason', maxlength: 200, size: 30 })),
      h('button.danger', { type: 'submit' }, t('submit_refund')),
    );
    out.push(h('h2', {}, t('issue_refund')), h('section.card', {}, form));
  }
  if (o.followUp === 'OPEN' && can('finance')) out.push(h('section.card.actions', {}, orderActions(o)));
  return out;
}

function orderActions(o) {
  return [
    h('button.danger', { 'data-action': 'refund-in-full', onclick: () => { const r = reasonPrompt(); if (r) act(() => api('POST', `/orders/${o.id}/refund-in-full`, { reason: r })); } }, t('refund_in_full')),
    h('button.plain', { 'data-action': 'resolve', onclick: () => { const r = reasonPrompt(); if (r) act(() => api('POST', `/orders/${o.id}/resolve`, { reason: r })); } }, t('resolve')),
  ];
}

function refundTable(list) {
  return table(
    [
      { label: 'out_refund_no', get: (r) => r.outRefundNo },
      { label: 'out_trade_no', get: (r) => h('a', { href: `#/order/${r.orderId}` }, r.outTradeNo) },
      { label: 'amount', num: true, get: (r) => yuan(r.amount) },
      { label: 'refund_status', get: (r) => h('span', { 'data-test': 'refund-status' }, statusTag(r.status)) },
      { label: 'reason', get: (r) => r.reason },
      { label: 'requested_by', get: (r) => r.requestedBy },
      { label: 'error', get: (r) => r.lastError?.code ?? '' },
      { label: 'created_at', get: (r) => when(r.createdAt) },
    ],
    list,
  );
}

function requestTable(list) {
  return table(
    [
      { label: 'order', get: (r) => h('a', { href: `#/order/${r.orderId}` }, r.orderId) },
      { label: 'reason', get: (r) => r.reason },
      { label: 'request_status', get: (r) => statusTag(r.status) },
      { label: 'created_at', get: (r) => when(r.createdAt) },
      {
        label: 'action',
        get: (r) =>
          ['PENDING', 'OPEN'].includes(r.status) && can('support')
            ? h(
                'span.actions',
                {},
                h('button.primary', { 'data-action': 'approve', onclick: () => act(() => api('POST', `/refund-requests/${r.id}/approve`, {})) }, t('approve')),
                h('button.plain', { 'data-action': 'reject', onclick: () => { const n = reasonPrompt(t('reject_note')); if (n) act(() => api('POST', `/refund-requests/${r.id}/reject`, { note: n })); } }, t('reject')),
              )
            : r.decisionNote ?? '',
      },
    ],
    list,
  );
}

// ---------------------------------------------------------------- follow-ups

async function queue() {
  const q = await api('GET', '/queue');
  return [
    h('h1', {}, t('nav_queue')),
    h('h2', {}, t('queue_orders')),
    h('div', { id: 'queue-orders' }, table(
      [
        { label: 'out_trade_no', get: (o) => h('a', { href: `#/order/${o.id}` }, o.outTradeNo) },
        { label: 'flags', get: (o) => o.flags.map((f) => tag(f, 'bad')) },
        { label: 'amount', num: true, get: (o) => yuan(o.paidAmount ?? o.amount) },
        { label: 'action', get: (o) => (can('finance') ? h('span.actions', {}, orderActions(o)) : '') },
      ],
      q.orders,
    )),
    h('h2', {}, t('queue_change')),
    table(
      [
        { label: 'out_refund_no', get: (r) => r.outRefundNo },
        { label: 'out_trade_no', get: (r) => h('a', { href: `#/order/${r.orderId}` }, r.outTradeNo) },
        { label: 'amount', num: true, get: (r) => yuan(r.amount) },
        { label: 'action', get: (r) => (can('finance') ? h('button.plain', { onclick: () => { const n = reasonPrompt(); if (n) act(() => api('POST', `/refunds/${r.id}/resolve`, { reason: n })); } }, t('resolved_offline')) : '') },
      ],
      q.refundsChange,
    ),
    h('h2', {}, t('queue_waiting')),
    table(
      [
        { label: 'out_refund_no', get: (r) => r.outRefundNo },
        { label: 'amount', num: true, get: (r) => yuan(r.amount) },
        { label: 'error', get: (r) => r.lastError?.code ?? '' },
        { label: 'at', get: (r) => when(r.waitingSince) },
        { label: 'action', get: (r) => (can('finance') ? h('button.plain', { onclick: () => act(() => api('POST', `/refunds/${r.id}/retry`)) }, t('retry_now')) : '') },
      ],
      q.refundsWaiting,
    ),
    h('h2', {}, t('queue_dead')),
    table(
      [
        { label: 'job', get: (d) => d.id },
        { label: 'error', get: (d) => d.error },
        { label: 'attempts', num: true, get: (d) => d.attempts },
        { label: 'failed_at', get: (d) => when(d.failedAt) },
        { label: 'payload', get: (d) => json(d.payload) },
        { label: 'action', get: (d) => (can('finance') ? h('button.plain', { onclick: () => act(() => api('POST', '/dead-jobs/retry', { id: d.id })) }, t('retry')) : '') },
      ],
      q.deadJobs,
    ),
  ];
}

// ---------------------------------------------------------------- refunds

async function refunds() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const status = params.get('status') ?? '';
  const [list, requests] = await Promise.all([api('GET', `/refunds${status ? `?status=${status}` : ''}`), api('GET', '/refund-requests')]);
  const select = h(
    'select',
    { id: 'refund-status-filter', onchange: (e) => (location.hash = `#/refunds${e.target.value ? `?status=${e.target.value}` : ''}`) },
    ['', 'PENDING', 'PROCESSING', 'SUCCESS', 'CHANGE', 'REFUNDCLOSE', 'FAILED'].map((s) => h('option', { value: s, selected: s === status }, s || t('any'))),
  );
  return [
    h('h1', {}, t('nav_refunds')),
    h('h2', {}, t('refund_requests')),
    h('div', { id: 'refund-requests' }, requestTable(requests.items)),
    h('h2', {}, t('refunds')),
    h('section.card', {}, h('label', {}, t('refund_status'), select)),
    h('div', { id: 'refund-list' }, refundTable(list.items)),
  ];
}

// ---------------------------------------------------------------- reconciliation

async function recon() {
  let res;
  try {
    res = await api('GET', '/reconciliation');
  } catch (err) {
    if (err.status === 404) return [h('h1', {}, t('nav_recon')), h('p.muted', {}, t('recon_unavailable'))];
    throw err;
  }
  const days = res.items ?? res.days ?? (Array.isArray(res) ? res : []);
  const runForm = can('finance')
    ? h(
        'form.inline',
        {
          id: 'recon-run',
          onsubmit: (e) => {
            e.preventDefault();
            const day = String(new FormData(e.target).get('day'));
            const reason = day && reasonPrompt();
            if (reason) act(() => api('POST', `/reconciliation/${day}/run`, { reason }));
          },
        },
        h('label', {}, t('day'), h('input', { name: 'day', type: 'date', required: true })),
        h('button.primary', { type: 'submit' }, t('recon_run')),
      )
    : null;
  return [
    h('h1', {}, t('nav_recon')),
    runForm && h('section.card', {}, runForm),
    h('div', { id: 'recon-days' }, table(
      [
        { label: 'day', get: (d) => d.day },
        { label: 'status', get: (d) => statusTag(d.status) },
        { label: 'counts', get: (d) => reconCounts(d.counts) },
        { label: 'totals', get: (d) => reconTotals(d.totals) },
        { label: 'differences', num: true, get: (d) => (d.counts ? `${d.counts.differences} (${t('open')} ${d.counts.open})` : '') },
      ],
      days,
      (d) => (location.hash = `#/recon-day/${d.day}`),
    )),
  ];
}

function reconCounts(c) {
  if (!c) return '';
  return `${t('wechat')} ${c.billPayments}/${c.billRefunds} · ${t('ours')} ${c.ourPayments}/${c.ourRefunds} · ${t('matched')} ${c.matched}`;
}

function reconTotals(x) {
  if (!x?.wechat) return json(x);
  return `${t('wechat')} ${yuan(x.wechat.payments)} / -${yuan(x.wechat.refunds)} · ${t('ours')} ${yuan(x.ours.payments)} / -${yuan(x.ours.refunds)}`;
}

async function reconDay(day) {
  const r = await api('GET', `/reconciliation/${encodeURIComponent(day)}`);
  const diffs = r.differences ?? [];
  return [
    h('h1', {}, `${t('nav_recon')} ${r.day}`),
    h('section.card', { id: 'recon-report' }, h('dl.facts', {}, h('dt', {}, t('status')), h('dd', { 'data-test': 'recon-status' }, statusTag(r.status)), h('dt', {}, t('counts')), h('dd', {}, reconCounts(r.counts)), h('dt', {}, t('totals')), h('dd', {}, reconTotals(r.totals)), r.error ? h('dt', {}, t('error')) : null, r.error ? h('dd.error', {}, `${r.error.code}: ${r.error.message}`) : null)),
    can('finance') ? h('p', {}, h('button.primary', { id: 'recon-rerun', onclick: () => { const reason = reasonPrompt(); if (reason) act(() => api('POST', `/reconciliation/${r.day}/run`, { reason })); } }, t('recon_run'))) : null,
    h('h2', {}, `${t('differences')} (${diffs.length})`),
    h('div', { id: 'recon-differences' }, table(
      [
        { label: 'kind', get: (d) => tag(d.kind, 'bad') },
        { label: 'out_trade_no', get: (d) => d.outTradeNo ?? '' },
        { label: 'transaction_id', get: (d) => d.transactionId ?? '' },
        { label: 'out_refund_no', get: (d) => d.outRefundNo ?? '' },
        { label: 'ours', get: (d) => json(d.ours) },
        { label: 'wechat', get: (d) => json(d.wechat) },
        { label: 'resolution', get: (d) => [statusTag(d.resolution), d.note ? ` ${d.note}` : ''] },
      ],
      diffs,
    )),
  ];
}

// ---------------------------------------------------------------- dashboard

const charts = [];

async function dashboard() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const days = params.get('days') ?? '7';
  const bucket = params.get('bucket') ?? 'day';
  const s = await api('GET', `/stats?days=${encodeURIComponent(days)}&bucket=${encodeURIComponent(bucket)}`);
  const controls = h(
    'form.inline',
    { id: 'dash-controls', onchange: (e) => { const fd = new FormData(e.currentTarget); location.hash = `#/dashboard?days=${fd.get('days')}&bucket=${fd.get('bucket')}`; } },
    h('label', {}, t('days'), h('select', { name: 'days' }, ['1', '2', '7', '14', '31'].map((d) => h('option', { value: d, selected: d === days }, d)))),
    h('label', {}, t('bucket'), h('select', { name: 'bucket' }, h('option', { value: 'day', selected: bucket === 'day' }, t('by_day')), h('option', { value: 'hour', selected: bucket === 'hour' }, t('by_hour')))),
  );
  const pct = (x) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
  const kpis = h(
    'div.kpis',
    { id: 'kpis' },
    h('div.kpi', {}, t('dash_paid_amount'), h('b', {}, yuan(s.totals.paidAmount))),
    h('div.kpi', {}, t('dash_paid_count'), h('b', {}, s.totals.paidCount)),
    h('div.kpi', {}, t('dash_success'), h('b', {}, pct(s.totals.successRate))),
    h('div.kpi', {}, t('dash_notify_fail'), h('b', {}, `${s.totals.notifyFailures} / ${s.totals.notifies}`)),
    h('div.kpi', {}, t('dash_latency'), h('b', {}, s.totals.notifyLatencyP95Ms ?? '—')),
    h('div.kpi', {}, t('dash_refunds'), h('b', {}, `${s.totals.refundCount} · ${yuan(s.totals.refundAmount)}`)),
  );
  const canvases = ['paid', 'rate', 'notify', 'refunds', 'channel'].map((id) => h('canvas', { id: `chart-${id}` }));
  const boxes = [
    [t('dash_paid_amount') + ' / ' + t('dash_paid_count'), canvases[0]],
    [t('dash_success'), canvases[1]],
    [t('dash_notify') + ' / ' + t('dash_latency'), canvases[2]],
    [t('dash_refunds'), canvases[3]],
    [t('dash_channel'), canvases[4]],
  ].map(([title, c]) => h('section.card', {}, h('h2', {}, title), h('div.chart-box', {}, c)));
  setTimeout(() => drawCharts(s, canvases), 0);
  return [h('h1', {}, t('nav_dashboard')), h('section.card', {}, controls), s.truncated ? h('p.error', {}, t('truncated')) : null, kpis, h('div.grid', { id: 'charts' }, boxes)];
}

function drawCharts(s, [paid, rate, notify, refundsCanvas, channel]) {
  while (charts.length) charts.pop().destroy();
  if (!window.Chart) return;
  const labels = s.series.map((b) => b.key);
  const opts = { responsive: true, maintainAspectRatio: false, animation: false };
  const add = (canvas, config) => charts.push(new window.Chart(canvas, { ...config, options: { ...opts, ...(config.options ?? {}) } }));
  add(paid, {
    data: {
      labels,
      datasets: [
        { type: 'bar', label: t('dash_paid_amount'), data: s.series.map((b) => b.paidAmount / 100), backgroundColor: '#07c160', yAxisID: 'y' },
        { type: 'line', label: t('dash_paid_count'), data: s.series.map((b) => b.paidCount), borderColor: '#1456f0', yAxisID: 'y1' },
      ],
    },
    options: { scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } } } },
  });
  add(rate, {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: t('dash_success'), data: s.series.map((b) => (b.successRate === null ? null : Math.round(b.successRate * 1000) / 10)), borderColor: '#07c160', spanGaps: true },
        { label: t('attempts_label'), data: s.series.map((b) => b.attempts), borderColor: '#8f959e', yAxisID: 'y1' },
      ],
    },
    options: { scales: { y: { min: 0, max: 100 }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } } } },
  });
  add(notify, {
    data: {
      labels,
      datasets: [
        { type: 'bar', label: t('dash_notify'), data: s.series.map((b) => b.notifies), backgroundColor: '#a9e5c0' },
        { type: 'bar', label: t('dash_notify_fail'), data: s.series.map((b) => b.notifyFailures), backgroundColor: '#f54a45' },
        { type: 'line', label: t('dash_latency'), data: s.series.map((b) => b.notifyLatencyP95Ms), borderColor: '#c26f00', yAxisID: 'y1', spanGaps: true },
      ],
    },
    options: { scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } } } },
  });
  add(refundsCanvas, {
    type: 'bar',
    data: { labels, datasets: [{ label: t('dash_refunds'), data: s.series.map((b) => b.refundCount), backgroundColor: '#f7ba1e' }] },
    options: { scales: { y: { beginAtZero: true } } },
  });
  add(channel, {
    type: 'bar',
    data: {
      labels: s.byChannel.map((c) => c.channel),
      datasets: [
        { label: t('dash_paid_amount'), data: s.byChannel.map((c) => c.paidAmount / 100), backgroundColor: '#07c160' },
        { label: t('attempts_label'), data: s.byChannel.map((c) => c.attempts), backgroundColor: '#8f959e' },
      ],
    },
  });
}

// ---------------------------------------------------------------- operators and audit

async function operators() {
  const res = await api('GET', '/operators');
  const roles = ['viewer', 'support', 'finance', 'admin'];
  const form = h(
    'form.inline',
    {
      id: 'operator-create',
      onsubmit: (e) => {
        e.preventDefault();
        const fd = new FormData(form);
        act(() => api('POST', '/operators', { name: String(fd.get('name')), role: String(fd.get('role')), password: String(fd.get('password')) }));
      },
    },
    h('label', {}, t('name'), h('input', { name: 'name', required: true, pattern: '[a-z0-9][a-z0-9._-]{1,31}' })),
    h('label', {}, t('role'), h('select', { name: 'role' }, roles.map((r) => h('option', { value: r }, r)))),
    h('label', {}, t('password'), h('input', { name: 'password', type: 'password', minlength: 12, required: true, autocomplete: 'new-password' })),
    h('button.primary', { type: 'submit' }, t('create')),
  );
  return [
    h('h1', {}, t('operators')),
    h('section.card', {}, h('h2', {}, t('create_operator')), form),
    table(
      [
        { label: 'name', get: (o) => o.name },
        {
          label: 'role',
          get: (o) => h('select', { onchange: (e) => act(() => api('PATCH', `/operators/${o.id}`, { role: e.target.value })) }, roles.map((r) => h('option', { value: r, selected: r === o.role }, r))),
        },
        { label: 'status', get: (o) => [o.disabled ? tag(t('disabled'), 'bad') : '', o.locked ? tag(t('locked_label'), 'bad') : ''] },
        {
          label: 'action',
          get: (o) =>
            h(
              'span.actions',
              {},
              o.locked ? h('button.plain', { onclick: () => act(() => api('PATCH', `/operators/${o.id}`, { unlock: true })) }, t('unlock')) : '',
              h('button.plain', { onclick: () => act(() => api('PATCH', `/operators/${o.id}`, { disabled: !o.disabled })) }, o.disabled ? t('enable') : t('disable')),
            ),
        },
      ],
      res.items,
    ),
  ];
}

async function audit() {
  const res = await api('GET', '/audit?limit=200');
  return [
    h('h1', {}, t('nav_audit')),
    table(
      [
        { label: 'at', get: (e) => when(e.at) },
        { label: 'actor', get: (e) => e.actor },
        { label: 'action', get: (e) => e.action },
        { label: 'target', get: (e) => `${e.target.kind}:${e.target.id}` },
        { label: 'before', get: (e) => json(e.before) },
        { label: 'after', get: (e) => json(e.after) },
        { label: 'reason', get: (e) => e.reason ?? '' },
        { label: 'ip', get: (e) => e.ip },
      ],
      res.items,
    ),
  ];
}

// ---------------------------------------------------------------- start

$('#lang').addEventListener('click', switchLang);
$('#logout').addEventListener('click', async () => {
  try {
    await api('DELETE', '/session');
  } catch {
    // the session is gone either way
  }
  state.me = null;
  state.csrf = null;
  location.hash = '#/login';
  renderLogin();
});
window.addEventListener('hashchange', () => (state.me ? route() : undefined));
document.documentElement.lang = currentLang() === 'zh' ? 'zh-CN' : 'en';
route();
