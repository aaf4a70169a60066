// Sandbox mode: instead of wx.requestPayment, the user picks Pay / Cancel / Fail
// in a "Simulated WeChat Pay" sheet and the sandbox cashier, which checks
// paySign exactly as WeChat would, answers with requestPayment's errMsg.
import type { CashierOutcome, SandboxCashierRequest, SandboxCashierResponse } from '../../shared/api.js';
import { joinUrl, type RequestFn } from './http.js';
import type { PaymentCallbackResult, SimulatedPayFn, SimulatedPayParams } from './payment.js';

/** Asks the user; a dismissed sheet is 'cancel'. */
export type ChooseOutcome = (params: SimulatedPayParams) => Promise<CashierOutcome>;

export interface CashierOptions {
  request: RequestFn;
  choose: ChooseOutcome;
  timeout?: number;
}

export function createSimulatedPay(options: CashierOptions): SimulatedPayFn {
  return async (params) => {
    let outcome: CashierOutcome;
    try {
      outcome = await options.choose(params);
    } catch {
      outcome = 'cancel';
    }
    return postToCashier(options.request, params, outcome, options.timeout);
  };
}

export async function postToCashier(
  request: RequestFn,
  params: SimulatedPayParams,
  outcome: CashierOutcome,
  timeout = 15000,
): Promise<PaymentCallbackResult> {
  const body: SandboxCashierRequest = {
    appId: params.appId,
    timeStamp: params.timeStamp,
    nonceStr: params.nonceStr,
    package: params.package,
    signType: params.signType,
    paySign: params.paySign,
    outcome,
  };
  try {
    const res = await request({
      url: joinUrl(params.sandboxBase, '/sandbox/cashier'),
      method: 'POST',
      data: body,
      header: { 'Content-Type': 'application/json', Accept: 'application/json' },
      timeout,
    });
    let data = res.data;
    if (typeof data === 'string') {
      try {
        data = JSON.parse(data);
      } catch {
        data = null;
      }
    }
    const errMsg = (data as Partial<SandboxCashierResponse> | null)?.errMsg;
    if (typeof errMsg === 'string' && errMsg !== '') return { errMsg };
    return { errMsg: `requestPayment:fail cashier answered HTTP ${res.statusCode}` };
  } catch {
    // like WeChat's own sheet failing: the payment state is unknown, so the caller confirms with the server
    return { errMsg: 'requestPayment:fail network' };
  }
}
