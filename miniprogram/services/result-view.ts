// What the result page says for each outcome; kept here so that it is tested.
import { FAILED_NOTE, FAILED_TEXT, PAY_AGAIN_TEXT } from './format.js';
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

export function errorText(error: Pick<ApiClientError, 'kind' | 'code' | 'message'> | undefined): string {
  if (error === undefined) return 'Something went wrong.';
  switch (error.kind) {
    case 'network':
      return 'Could not reach the server. Check the connection and retry.';
    case 'server':
      return 'The server had a problem. Please retry in a moment.';
    case 'unauthorized':
      return 'Could not sign you in. Please retry.';
    case 'client':
      return `${error.message} (${error.code})`;
  }
}

export function resultView(state: ResultState, error?: Pick<ApiClientError, 'kind' | 'code' | 'message'>): ResultView {
  const v = (title: string, detail: string, icon: ResultView['icon'], extra: Partial<ResultView> = {}): ResultView => ({
    title,
    detail,
    icon,
    canPayAgain: false,
    payAgainText: 'Pay again',
    canRetry: false,
    busy: false,
    ...extra,
  });
  switch (state) {
    case 'paid':
      return v('Paid', 'The merchant has received your payment.', 'success');
    case 'cancelled':
      return v('Payment not completed', 'You can pay this order again.', 'cancel', { canPayAgain: true });
    case 'confirming':
    case 'stopped':
      return v('Confirming payment…', 'Asking the merchant whether the payment arrived.', 'waiting', { busy: true });
    case 'timeout':
      return v(
        'We are confirming your payment',
        'Do not pay again. The order will update by itself; check it in My orders.',
        'waiting',
      );
    case 'closed':
      return v('Order closed', 'This order can no longer be paid.', 'info');
    case 'failed':
      // the server keeps a FAILED order payable: the same order, paid again
      return v(FAILED_TEXT, FAILED_NOTE, 'warn', { canPayAgain: true, payAgainText: PAY_AGAIN_TEXT });
    case 'refunded':
      return v('Refunded', 'This order was paid and then refunded.', 'info');
    case 'busy':
      return v('Payment in progress', 'Wait for the payment under way to finish.', 'waiting');
    case 'error':
      return v('Could not confirm', errorText(error), 'warn', {
        canRetry: error === undefined || error.kind !== 'client',
      });
  }
}
