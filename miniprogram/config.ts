// The one place to point the mini-program at a server.
//
// WeChat DevTools: run `npm start` (the server starts the sandbox in-process when
// no WeChat credentials are set) and tick "不校验合法域名" (urlCheck is already off
// in project.config.json). A real build: set apiBase to the merchant's HTTPS
// domain (listed as a request domain in the mini-program console) and
// sandbox.enabled to false.

export interface AppConfig {
  /** the merchant server, no trailing slash */
  apiBase: string;
  sandbox: {
    /**
     * true: log in with codes minted by the sandbox (DevTools' own wx.login codes
     * mean nothing to it). Payment follows the server: `sandbox: true` in a pay
     * response always goes through the simulated cashier.
     */
    enabled: boolean;
    /** the sandbox's base URL (npm start runs it on SANDBOX_PORT, 3001 by default); pay responses may override it */
    base: string;
    /** the appid the sandbox signs for (WeChat's public documentation example); the cashier checks paySign with it */
    appId: string;
    /** the demo user the sandbox mints login codes for */
    openid: string;
  };
  /** seconds between status polls after paying; the last repeats */
  pollScheduleSeconds: readonly number[];
  /** give up polling (and say "do not pay again") after this long */
  maxConfirmMs: number;
  /** keep polling a FAILED order this long (the server may still see the payment) before offering 重新支付 */
  failedGraceMs: number;
  pageSize: number;
}

export const config: AppConfig = {
  apiBase: 'http://127.0.0.1:3000',
  sandbox: {
    enabled: true,
    base: 'http://127.0.0.1:3001',
    appId: 'wxd930ea5d5a258f4f',
    openid: 'o-devtools-demo-user',
  },
  pollScheduleSeconds: [1, 1, 2, 2, 3, 5],
  maxConfirmMs: 60_000,
  failedGraceMs: 6_000,
  pageSize: 10,
};
