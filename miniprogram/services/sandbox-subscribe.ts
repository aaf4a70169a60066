// Sandbox mode only: DevTools' wx.requestSubscribeMessage knows nothing of the sandbox's template,
// so the app asks with its own prompt and, on "allow", tells the sandbox what the WeChat client
// would tell WeChat: this user accepted one message of this template.
import type { SandboxSubscriptionRequest } from '../../shared/api.js';
import { joinUrl, type RequestFn } from './http.js';
import type { RequestSubscribeFn } from './subscribe.js';

export interface SandboxSubscribeOptions {
  request: RequestFn;
  base: string;
  appId: string;
  /** the demo user (the one the sandbox mints login codes for) */
  openid: string;
  /** the prompt; resolves true for "allow" (must open at once: it stands for WeChat's sheet) */
  confirm: () => Promise<boolean>;
}

export function createSandboxSubscribe(options: SandboxSubscribeOptions): RequestSubscribeFn {
  return async (templateIds) => {
    const allowed = await options.confirm();
    const out: Record<string, unknown> = { errMsg: 'requestSubscribeMessage:ok' };
    for (const id of templateIds) {
      if (!allowed) {
        out[id] = 'reject';
        continue;
      }
      const body: SandboxSubscriptionRequest = { appid: options.appId, openid: options.openid, template_id: id };
      let status = 0;
      try {
        const res = await options.request({
          url: joinUrl(options.base, '/sandbox/subscriptions'),
          method: 'POST',
          data: body,
          header: { 'Content-Type': 'application/json', Accept: 'application/json' },
          timeout: 10000,
        });
        status = res.statusCode;
      } catch {
        status = 0;
      }
      // as WeChat's own sheet failing on the network
      if (status !== 200) throw { errCode: 10002, errMsg: `requestSubscribeMessage:fail sandbox answered ${status || 'nothing'}` };
      out[id] = 'accept';
    }
    return out;
  };
}
