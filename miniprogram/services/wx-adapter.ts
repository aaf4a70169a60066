// The only place that turns wx's callback APIs into the promise-shaped
// dependencies the services take. `WxLike` is the slice of `wx` used, typed
// structurally so that tests can hand in a shim (test/miniprogram/helpers).
import type { Storage, LoginFn } from './auth.js';
import type { HttpRequestOptions, RequestFn } from './http.js';
import type { RequestPaymentFn } from './payment.js';
import type { RequestSubscribeFn } from './subscribe.js';

interface ErrResult {
  errMsg: string;
}

export interface WxLike {
  request(option: {
    url: string;
    method?: 'GET' | 'POST';
    data?: any;
    header?: Record<string, string>;
    timeout?: number;
    dataType?: 'json' | '其他';
    success?(res: { statusCode: number; data: unknown }): void;
    fail?(err: ErrResult): void;
  }): unknown;
  requestPayment(option: {
    timeStamp: string;
    nonceStr: string;
    package: string;
    signType?: 'MD5' | 'HMAC-SHA256' | 'RSA';
    paySign: string;
    success?(res: ErrResult): void;
    fail?(err: ErrResult): void;
  }): unknown;
  login(option: { timeout?: number; success?(res: { code: string; errMsg: string }): void; fail?(err: ErrResult): void }): unknown;
  requestSubscribeMessage(option: {
    tmplIds: string[];
    success?(res: Record<string, string>): void;
    fail?(err: { errCode: number; errMsg: string }): void;
  }): unknown;
  getStorageSync(key: string): any;
  setStorageSync(key: string, data: any): void;
  removeStorageSync(key: string): void;
}

export interface WxDeps {
  request: RequestFn;
  requestPayment: RequestPaymentFn;
  login: LoginFn;
  requestSubscribeMessage: RequestSubscribeFn;
  storage: Storage;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

export function depsFromWx(wx: WxLike): WxDeps {
  const request: RequestFn = (o: HttpRequestOptions) =>
    new Promise((resolve, reject) => {
      wx.request({
        url: o.url,
        method: o.method,
        data: o.data,
        header: o.header,
        ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
        dataType: 'json',
        success: (res) => resolve({ statusCode: res.statusCode, data: res.data }),
        fail: (err) => reject(err),
      });
    });

  const requestPayment: RequestPaymentFn = (p) =>
    new Promise((resolve) => {
      wx.requestPayment({
        timeStamp: p.timeStamp,
        nonceStr: p.nonceStr,
        package: p.package,
        signType: p.signType,
        paySign: p.paySign,
        success: (res) => resolve({ errMsg: res?.errMsg ?? 'requestPayment:ok' }),
        fail: (err) => resolve({ errMsg: err?.errMsg ?? 'requestPayment:fail' }),
      });
    });

  const login: LoginFn = () =>
    new Promise((resolve, reject) => {
      wx.login({
        timeout: 10000,
        success: (res) => (res.code ? resolve(res.code) : reject(new Error(res.errMsg || 'wx.login gave no code'))),
        fail: (err) => reject(new Error(err?.errMsg ?? 'wx.login failed')),
      });
    });

  // Called straight away (no await before it): WeChat refuses it outside the tap that led here.
  const requestSubscribeMessage: RequestSubscribeFn = (tmplIds) =>
    new Promise((resolve, reject) => {
      wx.requestSubscribeMessage({
        tmplIds,
        success: (res) => resolve(res),
        fail: (err) => reject(err),
      });
    });

  const storage: Storage = {
    get: (key) => {
      const v: unknown = wx.getStorageSync(key);
      return v === '' ? undefined : v; // getStorageSync answers '' for a missing key
    },
    set: (key, value) => wx.setStorageSync(key, value),
    remove: (key) => wx.removeStorageSync(key),
  };

  return {
    request,
    requestPayment,
    login,
    requestSubscribeMessage,
    storage,
    sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
  };
}
