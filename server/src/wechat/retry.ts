// The retry rule both WeChat Pay transports (v2 XML, v3 JSON) follow: a failure whose retry hint is
// 'soon' (SYSTEMERROR, network, timeout) is sent again with the same parameters, up to `retries`
// times, after a doubling backoff with jitter; anything else is the caller's to decide.
import { WxPayError } from './errors.js';
import { sleep } from './http.js';

export interface RetryInfo {
  api: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  delayMs: number;
  error: WxPayError;
}

export interface RetryPolicy {
  /** extra attempts after the first */
  retries: number;
  /** first backoff delay; doubled each retry */
  retryDelayMs: number;
  onRetry?: (info: RetryInfo) => void;
}

export function backoff(base: number, attempt: number): number {
  const exp = base * 2 ** (attempt - 1);
  // Full jitter on the upper half keeps retries of many instances apart.
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

export async function withRetries<T>(api: string, policy: RetryPolicy, run: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof WxPayError) || err.retry !== 'soon' || n > policy.retries) throw err;
      const delayMs = backoff(policy.retryDelayMs, n);
      policy.onRetry?.({ api, attempt: n, delayMs, error: err });
      await sleep(delayMs);
    }
  }
}
