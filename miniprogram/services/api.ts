// Everything a page needs, built once in app.ts from `wx` (or in tests from fakes).
import { createAuth, type Auth } from './auth.js';
import { createSimulatedPay, type ChooseOutcome } from './cashier.js';
import { createHttpClient, type HttpClient } from './http.js';
import { createOrders, type OrdersService } from './orders.js';
import { createPayment, type PaymentService, type SimulatedPayFn } from './payment.js';
import { createProducts, type ProductsService } from './products.js';
import { createRefunds, type RefundsService } from './refunds.js';
import { createSubscribe, type RequestSubscribeFn, type SubscribeService } from './subscribe.js';
import type { WxDeps } from './wx-adapter.js';

export interface ApiConfig {
  baseUrl: string;
  appId: string | (() => string);
  /** a `sandbox: true` pay answer may go to the simulated cashier (a develop build with the sandbox on only) */
  allowSandbox: boolean;
  /** the subscribe-message template asked for before paying ('' or absent: none) */
  paidTemplateId?: string;
  /** used when a sandbox pay response carries no sandboxBase */
  defaultSandboxBase?: string;
  pollScheduleSeconds?: readonly number[];
  maxConfirmMs?: number;
  /** how long the poll keeps asking about a FAILED order before it answers 'failed' */
  failedGraceMs?: number;
}

/** what `depsFromWx(wx)` gives, plus the sandbox-mode hooks */
export interface ApiDeps extends WxDeps {
  /** sandbox mode: how the user picks Pay / Cancel / Fail (ignored when simulatedPay is given) */
  chooseCashierOutcome?: ChooseOutcome;
  /** sandbox mode: replaces the cashier call altogether */
  simulatedPay?: SimulatedPayFn;
  /** sandbox mode: the simulated subscribe prompt, in place of wx.requestSubscribeMessage */
  requestSubscribe?: RequestSubscribeFn;
}

export interface Api {
  http: HttpClient;
  auth: Auth;
  products: ProductsService;
  orders: OrdersService;
  payment: PaymentService;
  refunds: RefundsService;
  subscribe: SubscribeService;
}

export function createApi(config: ApiConfig, deps: ApiDeps): Api {
  const http = createHttpClient({ baseUrl: config.baseUrl, request: deps.request });
  const auth = createAuth({ http, storage: deps.storage, login: deps.login, now: deps.now });
  const products = createProducts(auth);
  const orders = createOrders(auth);
  const simulatedPay =
    deps.simulatedPay ??
    createSimulatedPay({ request: deps.request, choose: deps.chooseCashierOutcome ?? (async () => 'cancel') });
  const payment = createPayment({
    auth,
    orders,
    requestPayment: deps.requestPayment,
    simulatedPay,
    appId: config.appId,
    allowSandbox: config.allowSandbox,
    ...(config.defaultSandboxBase !== undefined ? { defaultSandboxBase: config.defaultSandboxBase } : {}),
    ...(config.pollScheduleSeconds !== undefined ? { pollScheduleSeconds: config.pollScheduleSeconds } : {}),
    ...(config.maxConfirmMs !== undefined ? { maxConfirmMs: config.maxConfirmMs } : {}),
    ...(config.failedGraceMs !== undefined ? { failedGraceMs: config.failedGraceMs } : {}),
    sleep: deps.sleep,
    now: deps.now,
  });
  const refunds = createRefunds(auth);
  const subscribe = createSubscribe({ templateId: config.paidTemplateId ?? '', request: deps.requestSubscribe ?? deps.requestSubscribeMessage });
  return { http, auth, products, orders, payment, refunds, subscribe };
}
