// Sandbox mode only: the sandbox knows nothing of codes from DevTools' wx.login,
// so the mini-program asks it for one, as the WeChat client would get one.
import type { SandboxLoginCodeRequest, SandboxLoginCodeResponse } from '../../shared/api.js';
import type { LoginFn } from './auth.js';
import { joinUrl, type RequestFn } from './http.js';

export interface SandboxLoginOptions {
  request: RequestFn;
  /** the sandbox's base URL */
  base: string;
  appId: string;
  /** the demo user; the sandbox makes one up when absent */
  openid?: string;
}

export function createSandboxLogin(options: SandboxLoginOptions): LoginFn {
  return async () => {
    const body: SandboxLoginCodeRequest = { appid: options.appId };
    if (options.openid !== undefined) body.openid = options.openid;
    const res = await options.request({
      url: joinUrl(options.base, '/sandbox/login-codes'),
      method: 'POST',
      data: body,
      header: { 'Content-Type': 'application/json', Accept: 'application/json' },
      timeout: 10000,
    });
    const data = res.data as Partial<SandboxLoginCodeResponse> | null;
    if (res.statusCode !== 200 || typeof data?.code !== 'string' || data.code === '') {
      throw new Error(`the sandbox minted no login code (HTTP ${res.statusCode})`);
    }
    return data.code;
  };
}
