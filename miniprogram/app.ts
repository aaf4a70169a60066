import type { CashierOutcome, OrderItemInput } from '../shared/api.js';
import { config } from './config.js';
import { createApi, type Api } from './services/api.js';
import { createSandboxLogin } from './services/sandbox-login.js';
import { depsFromWx } from './services/wx-adapter.js';

export interface IAppOption {
  globalData: {
    /** what the goods page hands to the confirm page */
    cart: OrderItemInput[];
  };
  api: Api;
}

const OUTCOMES: CashierOutcome[] = ['pay', 'cancel', 'fail'];

/** Sandbox mode's "Simulated WeChat Pay" sheet; dismissing it is a cancel, as with the real one. */
function chooseCashierOutcome(): Promise<CashierOutcome> {
  return new Promise((resolve) => {
    wx.showActionSheet({
      alertText: 'Simulated WeChat Pay (sandbox)',
      itemList: ['Pay', 'Cancel', 'Fail'],
      success: (res) => resolve(OUTCOMES[res.tapIndex] ?? 'cancel'),
      fail: () => resolve('cancel'),
    });
  });
}

const deps = depsFromWx(wx);

const api = createApi(
  {
    baseUrl: config.apiBase,
    appId: config.sandbox.appId,
    defaultSandboxBase: config.sandbox.base,
    pollScheduleSeconds: config.pollScheduleSeconds,
    maxConfirmMs: config.maxConfirmMs,
    failedGraceMs: config.failedGraceMs,
  },
  {
    ...deps,
    login: config.sandbox.enabled
      ? createSandboxLogin({
          request: deps.request,
          base: config.sandbox.base,
          appId: config.sandbox.appId,
          openid: config.sandbox.openid,
        })
      : deps.login,
    chooseCashierOutcome,
  },
);

App<IAppOption>({
  globalData: { cart: [] },
  api,
  onLaunch() {
    // Silent login; a failure here is retried by the first page request.
    api.auth.token().catch(() => undefined);
  },
});
