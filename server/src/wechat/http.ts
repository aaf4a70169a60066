import { fetch as undiciFetch, type Agent } from 'undici';

export type FetchLike = typeof fetch;

/**
 * A fetch whose connections go through `agent` (an undici Agent holding a CA to trust, or the merchant
 * certificate for mutual TLS); over `inner` when given (tests), else undici's own fetch.
 */
export function dispatcherFetch(agent: Agent, inner?: FetchLike): FetchLike {
  const f = inner ?? (undiciFetch as unknown as FetchLike);
  return ((url: string, init: RequestInit) => f(url, { ...init, dispatcher: agent } as RequestInit)) as FetchLike;
}

/** A `ca` option (one PEM or several) as the list an Agent takes. */
export function caList(ca: string | string[] | undefined): string[] | undefined {
  return ca === undefined ? undefined : Array.isArray(ca) ? ca : [ca];
}

export type HttpFailure = { kind: 'timeout' } | { kind: 'network'; cause: unknown };

export interface HttpResponse {
  status: number;
  body: Buffer;
}

/** Largest response body we read from WeChat; its answers are a few KiB. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

async function readBody(res: Response, limit: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new RangeError('response too large');
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/**
 * One HTTP exchange with a hard deadline covering the whole body. Throws an HttpFailure-shaped
 * object wrapped in HttpError; never includes the URL (it may carry a secret in its query).
 */
export class HttpError extends Error {
  readonly failure: HttpFailure;
  constructor(failure: HttpFailure) {
    super(failure.kind === 'timeout' ? 'request timed out' : 'network error');
    this.name = 'HttpError';
    this.failure = failure;
  }
}

export async function request(
  fetchImpl: FetchLike,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  limit = MAX_RESPONSE_BYTES,
): Promise<HttpResponse> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetchImpl(url, { ...init, signal });
    const body = await readBody(res, limit);
    return { status: res.status, body };
  } catch (err) {
    if (signal.aborted) throw new HttpError({ kind: 'timeout' });
    throw new HttpError({ kind: 'network', cause: err });
  }
}

/** URL without its query string, safe for logs. */
export function redactUrl(url: string): string {
  const q = url.search(/[?#]/);
  return q < 0 ? url : url.slice(0, q);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
