// The payment-success subscribe message: asked for (wx.requestSubscribeMessage) on the tap that
// pays, once per order in a session. Whatever the answer, or an error, payment goes on: askPaid
// never rejects. WeChat accepts the call only from a tap, so askPaid calls `request` at once,
// before anything asynchronous, and the page calls askPaid first thing in its tap handler.

/** WeChat's answer per template: accept, reject, ban (blocked by WeChat), filter (a duplicate title). */
export type TemplateAnswer = 'accept' | 'reject' | 'ban' | 'filter';

/**
 * wx.requestSubscribeMessage as a promise: resolves with its success result ({ [templateId]: answer,
 * errMsg }), rejects with its fail result ({ errCode, errMsg }: 20004 the user turned subscribe
 * messages off, 20001 no such template, 10002/10003 network, 20005 the tap rule…).
 */
export type RequestSubscribeFn = (templateIds: string[]) => Promise<Record<string, unknown>>;

export type SubscribeOutcome =
  | TemplateAnswer
  /** nothing asked: no template configured, or already asked for this order */
  | 'skipped'
  /** the API failed (errCode in `errCode`) */
  | 'error';

export interface SubscribeResult {
  outcome: SubscribeOutcome;
  errCode?: number;
}

export interface SubscribeService {
  /** Asks for the paid-message template for this order (once); never rejects. */
  askPaid(orderId: string): Promise<SubscribeResult>;
}

export interface SubscribeOptions {
  templateId: string;
  request: RequestSubscribeFn;
}

const ANSWERS: readonly string[] = ['accept', 'reject', 'ban', 'filter'];

export function createSubscribe(options: SubscribeOptions): SubscribeService {
  const asked = new Set<string>();
  return {
    askPaid(orderId) {
      const id = options.templateId;
      if (id === '' || asked.has(orderId)) return Promise.resolve({ outcome: 'skipped' });
      asked.add(orderId);
      let pending: Promise<Record<string, unknown>>;
      try {
        pending = options.request([id]); // synchronously, inside the tap
      } catch (e) {
        pending = Promise.reject(e);
      }
      return pending.then(
        (res): SubscribeResult => {
          const a = res?.[id];
          return typeof a === 'string' && ANSWERS.includes(a) ? { outcome: a as TemplateAnswer } : { outcome: 'error' };
        },
        (e: unknown): SubscribeResult => {
          const code = typeof e === 'object' && e !== null ? (e as { errCode?: unknown }).errCode : undefined;
          return typeof code === 'number' ? { outcome: 'error', errCode: code } : { outcome: 'error' };
        },
      );
    },
  };
}
