// What the sandbox's listeners share: one state, one set of fault knobs, the notifiers, the refunds.
import type { Faults } from './faults.js';
import type { Notifier } from './notifier.js';
import type { RefundNotifier } from './refund-notifier.js';
import type { RefundLedger } from './refund-state.js';
import type { OAuthCodes } from './sns-routes.js';
import type { SandboxState } from './state.js';
import type { V3Keys } from './v3/keys.js';

export interface SandboxCore {
  state: SandboxState;
  faults: Faults;
  notifier: Notifier;
  refunds: RefundLedger;
  refundNotifier: RefundNotifier;
  /** single-use OAuth codes (公众号 authorize, mobile SDK sendAuth), redeemed by /sns/oauth2/access_token */
  oauthCodes: OAuthCodes;
  /** API v3's keys and signing modes (absent in a buildSandbox without pkiDir: no /v3/ routes there) */
  v3?: V3Keys;
  /** 1 = WeChat's real timing */
  timeScale: number;
}
