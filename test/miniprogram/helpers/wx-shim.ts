// A `wx` for tests in Node: wx.request over fetch (same success/fail contract:
// any HTTP status is a success, only a transport failure is a fail),
// wx.requestPayment over the sandbox cashier, wx.login over a code minter,
// and the sync storage over a Map.
import type { CashierOutcome } from '../../../shared/api.js';
import type { WxLike } from '../../../miniprogram/services/wx-adapter.js';

export interface WxShimOptions {
  /** a fresh wx.login code (e.g. stack.mintCode) */
  mintCode: () => Promise<string>;
  /** where wx.requestPayment goes: the sandbox cashier, with the appid the server signs for */
  sandboxBase?: string;
  appId?: string;
  /** what the user does in the pay sheet; default 'pay' */
  outcome?: () => CashierOutcome;
  /**
   * what wx.requestSubscribeMessage answers for each template: an answer ('accept', 'reject', …) or
   * an errCode for a fail; default: every template rejected (the user said no)
   */
  subscribe?: (templateId: string) => 'accept' | 'reject' | 'ban' | 'filter' | number;
}

export interface WxShim extends WxLike {
  storage: Map<string, unknown>;
  /** every wx.request, in order */
  requests: Array<{ method: string; url: string }>;
  /** every wx.requestPayment argument, callbacks left out */
  payments: Array<Record<string, unknown>>;
  /** every wx.requestSubscribeMessage's tmplIds */
  subscribeRequests: string[][];
  logins: number;
}

function withQuery(url: string, data: unknown): string {
  if (typeof data !== 'object' || data === null) return url;
  const q = Object.entries(data as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return q === '' ? url : `${url}${url.includes('?') ? '&' : '?'}${q}`;
}

export function createWxShim(opts: WxShimOptions): WxShim {
  const storage = new Map<string, unknown>();
  const requests: WxShim['requests'] = [];
  const payments: WxShim['payments'] = [];
  const subscribeRequests: WxShim['subscribeRequests'] = [];

  const shim: WxShim = {
    storage,
    requests,
    payments,
    subscribeRequests,
    logins: 0,

    request(o) {
      const method = o.method ?? 'GET';
      const url = method === 'GET' ? withQuery(o.url, o.data) : o.url;
      requests.push({ method, url });
      const headers: Record<string, string> = { ...(o.header ?? {}) };
      let body: string | undefined;
      if (method !== 'GET' && o.data !== undefined) {
        body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      }
      const init: RequestInit = { method, headers, signal: AbortSignal.timeout(o.timeout ?? 60_000) };
      if (body !== undefined) init.body = body;
      fetch(url, init)
        .then(async (res) => {
          const text = await res.text();
          let data: unknown = text;
          if (o.dataType !== '其他') {
            try {
              data = JSON.parse(text);
            } catch {
              data = text;
            }
          }
          o.success?.({ statusCode: res.status, data });
        })
        .catch((e: unknown) => o.fail?.({ errMsg: `request:fail ${e instanceof Error ? e.message : String(e)}` }));
    },

    requestPayment(o) {
      const { success, fail, ...params } = o;
      payments.push({ ...params });
      const answer = (errMsg: string) => (errMsg === 'requestPayment:ok' ? success?.({ errMsg }) : fail?.({ errMsg }));
      if (opts.sandboxBase === undefined || opts.appId === undefined) {
        answer('requestPayment:fail no cashier configured');
        return;
      }
      fetch(`${opts.sandboxBase.replace(/\/+$/, '')}/sandbox/cashier`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ appId: opts.appId, ...params, outcome: opts.outcome?.() ?? 'pay' }),
      })
        .then(async (res) => {
          const data = (await res.json()) as { errMsg?: unknown };
          answer(typeof data.errMsg === 'string' ? data.errMsg : 'requestPayment:fail');
        })
        .catch(() => answer('requestPayment:fail network'));
    },

    requestSubscribeMessage(o) {
      subscribeRequests.push([...o.tmplIds]);
      const answers = o.tmplIds.map((id) => [id, opts.subscribe?.(id) ?? 'reject'] as const);
      const failed = answers.find(([, a]) => typeof a === 'number');
      setTimeout(() => {
        if (failed !== undefined) o.fail?.({ errCode: failed[1] as number, errMsg: `requestSubscribeMessage:fail errCode ${String(failed[1])}` });
        else o.success?.({ errMsg: 'requestSubscribeMessage:ok', ...Object.fromEntries(answers) } as Record<string, string>);
      }, 0);
    },

    login(o) {
      shim.logins++;
      opts.mintCode().then(
        (code) => o.success?.({ code, errMsg: 'login:ok' }),
        (e: unknown) => o.fail?.({ errMsg: `login:fail ${e instanceof Error ? e.message : String(e)}` }),
      );
    },

    getStorageSync(key) {
      return storage.has(key) ? structuredClone(storage.get(key)) : '';
    },
    setStorageSync(key, data) {
      storage.set(key, structuredClone(data));
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
  };
  return shim;
}
