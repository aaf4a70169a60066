// What the result page says for each outcome, and how an error reads; kept here so that it is tested.
import { isMessageKey, t } from '../i18n/index.js';
import type { ApiClientError } from './http.js';
import type { PayOutcome } from './payment.js';

export type ResultState = PayOutcome | 'confirming';

export interface ResultView {
  title: string;
  detail: string;
  /** weui icon type */
  icon: 'success' | 'waiting' | 'warn' | 'info' | 'cancel';
  /** the order can be paid again from here */
  canPayAgain: boolean;
  /** the label of that button */
  payAgainText: string;
  /** asking the server again may help */
  canRetry: boolean;
  /** still waiting for the server's answer */
  busy: boolean;
}

/**
 * An error as the buyer reads it. Network trouble, 5xx and a failed sign-in each have a sentence; a
 * refusal (4xx) is said from its code, which is kept at the end for support. The server's own
 * `message` is never shown: it is English for developers.
 */
export function errorText(error: Pick<ApiClientError, 'kind' | 'code'> | undefined): string {
  if (error === undefined) return t('error.unknown');
  switch (error.kind) {
    case 'network':
      return t('error.network');
    case 'server':
      return t('error.server');
    case 'unauthorized':
      return t('error.unauthorized');
    case 'client': {
      const key = `error.code.${error.code}`;
      return t('error.withCode', { text: isMessageKey(key) ? t(key) : t('error.unknown'), code: error.code });
    }
  }
}

export function resultView(state: ResultState, error?: Pick<ApiClientError, 'kind' | 'code'>): ResultView {
  const v = (title: string, detail: string, icon: ResultView['icon'], extra: Partial<ResultView> = {}): ResultView => ({
    title,
    detail,
    icon,
    canPayAgain: false,
    payAgainText: t('result.payAgain'),
    canRetry: false,
    busy: false,
    ...extra,
  });
  switch (state) {
    case 'paid':
      return v(t('result.paid.title'), t('result.paid.detail'), 'success');
    case 'cancelled':
      return v(t('result.cancelled.title'), t('result.cancelled.detail'), 'cancel', { canPayAgain: true });
    case 'confirming':
    case 'stopped':
      return v(t('result.confirming.title'), t('result.confirming.detail'), 'waiting', { busy: true });
    case 'timeout':
      return v(t('result.timeout.title'), t('result.timeout.detail'), 'waiting');
    case 'closed':
      return v(t('result.closed.title'), t('result.closed.detail'), 'info');
    case 'failed':
      // the server keeps a FAILED order payable: the same order, paid again
      return v(t('status.FAILED'), t('status.note.FAILED'), 'warn', { canPayAgain: true, payAgainText: t('confirm.payAgain') });
    case 'refunded':
      return v(t('result.refunded.title'), t('result.refunded.detail'), 'info');
    case 'busy':
      return v(t('result.busy.title'), t('result.busy.detail'), 'waiting');
    case 'error':
      return v(t('result.error.title'), errorText(error), 'warn', {
        canRetry: error === undefined || error.kind !== 'client',
      });
  }
}
