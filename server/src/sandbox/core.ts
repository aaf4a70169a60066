// What the sandbox's listeners share: one state, one set of fault knobs, the notifiers, the refunds.
import type { Faults } from './faults.js';
import type { Notifier } from './notifier.js';
import type { RefundNotifier } from './refund-notifier.js';
import type { RefundLedger } from './refund-state.js';
import type { OAuthCodes } from './sns-routes.js';
import type { SandboxState } from './state.js';

export interface SandboxCore {
  state: SandboxState;
  faults: Faults;
  notifier: Notifier;
  refunds: RefundLedger;
  refundNotifier: RefundNotifier;
  /** single-use OAuth codes (公众号 authorize, mobile SDK sendAuth), redeemed by /sns/oauth2/access_token */
  oauthCodes: OAuthCodes;
  /** 1 = WeChat's real timing */
  timeScale: number;
}
