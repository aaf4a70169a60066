import type { CashierOutcome, OrderItemInput } from '../shared/api.js';
import { configFor, sandboxOf, type AppConfig } from './config.js';
import { localeFromLanguage, setLocale, t } from './i18n/index.js';
import { createApi, type Api } from './services/api.js';
import { createSandboxLogin } from './services/sandbox-login.js';
import { createSandboxSubscribe } from './services/sandbox-subscribe.js';
import { depsFromWx } from './services/wx-adapter.js';

export interface IAppOption {
  globalData: {
    /** what the goods page hands to the confirm page */
    cart: OrderItemInput[];
  };
  api: Api;
  config: AppConfig;
}

/** The running version (develop / trial / release); an older base library without the API is taken as release. */
function envVersion(): unknown {
  try {
    return wx.getAccountInfoSync().miniProgram.envVersion;
  } catch {
    return 'release';
  }
}

function language(): string {
  try {
    return wx.getAppBaseInfo().language;
  } catch {
    return '';
  }
}

setLocale(localeFromLanguage(language()));
const config = configFor(envVersion());
const sandbox = sandboxOf(config);

const OUTCOMES: CashierOutcome[] = ['pay', 'cancel', 'fail'];

/** Sandbox mode's "Simulated WeChat Pay" sheet; dismissing it is a cancel, as with the real one. */
function chooseCashierOutcome(): Promise<CashierOutcome> {
  return new Promise((resolve) => {
    wx.showActionSheet({
      alertText: t('cashier.title'),
      itemList: [t('cashier.pay'), t('cashier.cancel'), t('cashier.fail')],
      success: (res) => resolve(OUTCOMES[res.tapIndex] ?? 'cancel'),
      fail: () => resolve('cancel'),
    });
  });
}

/** Sandbox mode's subscribe prompt, standing for WeChat's own sheet. */
function confirmSubscribe(): Promise<boolean> {
  return new Promise((resolve) => {
    wx.showModal({
      title: t('subscribe.sandbox.title'),
      content: t('subscribe.sandbox.content'),
      confirmText: t('subscribe.sandbox.allow'),
      cancelText: t('subscribe.sandbox.deny'),
      success: (res) => resolve(res.confirm),
      fail: () => resolve(false),
    });
  });
}

const deps = depsFromWx(wx);

const api = createApi(
  {
    baseUrl: config.apiBase,
    appId: sandbox?.appId ?? '',
    allowSandbox: sandbox !== null,
    paidTemplateId: config.subscribe.paidTemplateId,
    ...(sandbox !== null ? { defaultSandboxBase: sandbox.base } : {}),
    pollScheduleSeconds: config.pollScheduleSeconds,
    maxConfirmMs: config.maxConfirmMs,
    failedGraceMs: config.failedGraceMs,
  },
  {
    ...deps,
    ...(sandbox !== null
      ? {
          login: createSandboxLogin({ request: deps.request, base: sandbox.base, appId: sandbox.appId, openid: sandbox.openid }),
          requestSubscribe: createSandboxSubscribe({
            request: deps.request,
            base: sandbox.base,
            appId: sandbox.appId,
            openid: sandbox.openid,
            confirm: confirmSubscribe,
          }),
          chooseCashierOutcome,
        }
      : {}),
  },
);

App<IAppOption>({
  globalData: { cart: [] },
  api,
  config,
  onLaunch() {
    // Silent login; a failure here is retried by the first page request.
    api.auth.token().catch(() => undefined);
  },
});
