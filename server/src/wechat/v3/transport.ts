// The one HTTP exchange every WeChat Pay API v3 call shares: sign the request (RSA-SHA256 over method,
// path with query, timestamp, nonce and body), read the answer within a deadline and a size limit,
// verify its Wechatpay-Signature before believing a byte of it, and map WeChat's {code, message}
// errors to the v2 codes the rest of the server acts on. Transient failures are retried with the
// same body under a fresh nonce and signature (a signature is only good for five minutes).
import { Agent } from 'undici';
import { WxPayError, type WxPayErrorCode } from '../errors.js';
import { wechatError } from './error-codes.js';
import { caList, dispatcherFetch, HttpError, request, type FetchLike, type HttpResponse } from '../http.js';
import { nonceStr } from '../nonce.js';
import { withRetries, type RetryInfo, type RetryPolicy } from '../retry.js';
import { privateKey, readSignedHeaders, responseMessage, signRequest, type PrivateKeyInput } from './crypto.js';
import type { KeyObject } from 'node:crypto';

export { V3_CODES } from './error-codes.js';

/** One API v3 endpoint: a v2-ish name (for errors, retry rules and metrics), its method and path. */
export interface V3Api {
  name: string;
  method: 'GET' | 'POST';
  /** e.g. /v3/pay/transactions/jsapi, path parameters already encoded */
  path: string;
  /** per-API readings of WeChat's codes, e.g. RESOURCE_NOT_EXISTS → REFUNDNOTEXIST for a refund query */
  codes?: Readonly<Record<string, WxPayErrorCode>>;
}

/** Checks Wechatpay-Signature: which key `serial` names, and whether it signed `message`. */
export interface V3Verifier {
  /** false when the serial is unknown or the signature wrong; throws WxPayError when it cannot know (certificates unreachable) */
  verify(serial: string, message: string, signature: string): boolean | Promise<boolean>;
}

/** An answer as it came, headers lower-cased; nothing in it is verified. */
export interface V3RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface V3TransportOptions {
  mchId: string;
  /** the merchant API certificate's serial (serial_no of the Authorization header) */
  serialNo: string;
  /** the merchant API certificate's private key */
  privateKey: PrivateKeyInput;
  /** e.g. https://api.mch.weixin.qq.com or the sandbox's root */
  baseUrl: string;
  verifier: V3Verifier;
  /** Per attempt, covering the whole response body. Default 10 s. */
  timeoutMs?: number;
  /** Extra attempts after the first for failures with retry 'soon'. Default 2. */
  retries?: number;
  /** First backoff delay; doubled each retry with jitter. Default 500 ms. */
  retryDelayMs?: number;
  fetch?: FetchLike;
  onRetry?: (info: RetryInfo) => void;
  /** CA certificate(s) (PEM) to trust instead of the system roots for https bases (the sandbox's own CA) */
  ca?: string | string[];
  /** the clock answers' timestamps are checked against (tests) */
  now?: () => Date;
}

export interface V3RequestInput {
  /** JSON body of a POST */
  body?: object;
  /** query parameters of a GET, in this order */
  query?: Record<string, string>;
}

export interface V3Transport {
  readonly mchId: string;
  readonly verifier: V3Verifier;
  /** A signed call; the parsed JSON of a verified 2xx answer (undefined for 204); WxPayError otherwise. */
  request<T = unknown>(api: V3Api, input?: V3RequestInput): Promise<T | undefined>;
  /** A signed GET of a download_url on the base's origin; the bytes as served (the only unsigned answer). */
  download(url: string, opts?: { maxBytes?: number; api?: string }): Promise<Buffer>;
  /** A signed call whose answer is returned unverified (GET /v3/certificates: the verifier checks it itself). */
  raw(api: V3Api, input?: V3RequestInput): Promise<V3RawAnswer>;
  close(): Promise<void>;
}

const USER_AGENT = `wxpay-mp (node ${process.version})`;

function pathWithQuery(path: string, query?: Record<string, string>): string {
  if (!query || Object.keys(query).length === 0) return path;
  return `${path}?${new URLSearchParams(query).toString()}`;
}

export function createV3Transport(opts: V3TransportOptions): V3Transport {
  for (const [name, v] of [
    ['mchId', opts.mchId],
    ['serialNo', opts.serialNo],
    ['baseUrl', opts.baseUrl],
  ] as const) {
    if (typeof v !== 'string' || v === '') throw new TypeError(`createV3Transport: ${name} is required`);
  }
  if (!opts.verifier || typeof opts.verifier.verify !== 'function') throw new TypeError('createV3Transport: verifier is required');
  const key: KeyObject = privateKey(opts.privateKey);
  const base = opts.baseUrl.replace(/\/+$/, '');
  const origin = new URL(base).origin;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 2;
  const retryDelayMs = opts.retryDelayMs ?? 500;
  const policy: RetryPolicy = { retries, retryDelayMs, ...(opts.onRetry ? { onRetry: opts.onRetry } : {}) };
  const now = opts.now ?? (() => new Date());
  const { mchId, serialNo, verifier } = opts;
  const ca = caList(opts.ca);
  const agent = ca && base.startsWith('https:') ? new Agent({ connect: { ca } }) : undefined;
  const fetchImpl: FetchLike = agent ? dispatcherFetch(agent, opts.fetch) : (opts.fetch ?? globalThis.fetch);

  function authorization(method: string, pwq: string, body: string): string {
    return signRequest({
      method,
      pathWithQuery: pwq,
      body,
      mchid: mchId,
      serialNo,
      key,
      nonce: nonceStr(32),
      timestamp: String(Math.floor(now().getTime() / 1000)),
    });
  }

  /** One signed exchange; headers are captured beside http.ts's request() (deadline and size limit). */
  async function exchange(apiName: string, method: string, url: string, pwq: string, body: string, limit?: number, accept = 'application/json'): Promise<V3RawAnswer> {
    let headers: Headers | undefined;
    const capture: FetchLike = (async (u: string, init: RequestInit) => {
      const res = await fetchImpl(u, init);
      headers = res.headers;
      return res;
    }) as FetchLike;
    // WeChat's v3 gateway asks for a User-Agent on every request.
    const h: Record<string, string> = { accept, 'user-agent': USER_AGENT, authorization: authorization(method, pwq, body) };
    if (method === 'POST') h['content-type'] = 'application/json';
    let res: HttpResponse;
    try {
      res = await request(capture, url, { method, headers: h, ...(method === 'POST' ? { body } : {}) }, timeoutMs, limit);
    } catch (err) {
      if (err instanceof HttpError && err.failure.kind === 'timeout') {
        throw new WxPayError('TIMEOUT', `${apiName}: no answer within ${timeoutMs} ms`, { api: apiName });
      }
      if (err instanceof HttpError && err.failure.kind === 'network' && err.failure.cause instanceof RangeError) {
        throw new WxPayError('BAD_RESPONSE', `${apiName}: response too large`, { api: apiName, retriable: false });
      }
      throw new WxPayError('NETWORK', `${apiName}: network error`, { api: apiName, cause: err });
    }
    const out: Record<string, string> = {};
    headers?.forEach((v, k) => {
      out[k.toLowerCase()] = v;
    });
    return { status: res.status, headers: out, body: res.body };
  }

  /** Whether the answer carries a good Wechatpay-Signature from a fresh timestamp; the reason when not. */
  async function signatureProblem(ans: V3RawAnswer): Promise<string | undefined> {
    const h = readSignedHeaders((name) => ans.headers[name], now());
    if (h === 'unsigned') return 'is not signed';
    if (typeof h === 'string') return `has a ${h} Wechatpay-Timestamp`;
    const ok = await verifier.verify(h.serial, responseMessage(h.timestamp, h.nonce, ans.body.toString('utf8')), h.signature);
    return ok ? undefined : 'signature does not verify';
  }

  async function attempt<T>(api: V3Api, url: string, pwq: string, body: string): Promise<T | undefined> {
    const ans = await exchange(api.name, api.method, url, pwq, body);
    const problem = await signatureProblem(ans);
    if (problem) {
      // A 5xx from a proxy or a gateway in trouble is not signed; WeChat's own SYSTEM_ERROR is.
      if (ans.status >= 500) throw new WxPayError('SYSTEMERROR', `${api.name}: HTTP ${ans.status}, answer ${problem}`, { api: api.name, status: ans.status, retry: 'soon' });
      throw new WxPayError('BAD_RESPONSE_SIGN', `${api.name}: answer (HTTP ${ans.status}) ${problem}`, { api: api.name, status: ans.status, retriable: false });
    }
    if (ans.status < 200 || ans.status >= 300) throw wechatError(api, ans.status, ans.body);
    if (ans.status === 204 || ans.body.length === 0) return undefined;
    try {
      return JSON.parse(ans.body.toString('utf8')) as T;
    } catch (err) {
      throw new WxPayError('BAD_RESPONSE', `${api.name}: answer is not JSON`, { api: api.name, status: ans.status, retriable: false, cause: err });
    }
  }

  function prepare(api: V3Api, input: V3RequestInput = {}): { url: string; pwq: string; body: string } {
    if (!api.path.startsWith('/v3/')) throw new TypeError(`${api.name}: path must start with /v3/`);
    const pwq = pathWithQuery(api.path, input.query);
    // Serialised once: every retry sends the same bytes.
    const body = api.method === 'POST' ? JSON.stringify(input.body ?? {}) : '';
    return { url: base + pwq, pwq, body };
  }

  return {
    mchId,
    verifier,

    async request<T>(api: V3Api, input?: V3RequestInput) {
      const { url, pwq, body } = prepare(api, input);
      return withRetries(api.name, policy, () => attempt<T>(api, url, pwq, body));
    },

    async raw(api, input) {
      const { url, pwq, body } = prepare(api, input);
      return withRetries(api.name, policy, () => exchange(api.name, api.method, url, pwq, body));
    },

    async download(url, dlOpts = {}) {
      const apiName = dlOpts.api ?? 'downloadbill';
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new WxPayError('BAD_RESPONSE', `${apiName}: download_url is not a URL`, { api: apiName, retriable: false });
      }
      // Our Authorization goes to WeChat only.
      if (u.origin !== origin) throw new WxPayError('BAD_RESPONSE', `${apiName}: download_url is not on ${origin}`, { api: apiName, retriable: false });
      const pwq = u.pathname + u.search;
      return withRetries(apiName, policy, async () => {
        const ans = await exchange(apiName, 'GET', origin + pwq, pwq, '', dlOpts.maxBytes, '*/*');
        if (ans.status >= 500) throw new WxPayError('SYSTEMERROR', `${apiName}: download HTTP ${ans.status}`, { api: apiName, status: ans.status, retry: 'soon' });
        if (ans.status !== 200) {
          // An error here is WeChat's signed JSON like any other answer.
          if (!(await signatureProblem(ans))) throw wechatError({ name: apiName, method: 'GET', path: u.pathname }, ans.status, ans.body);
          throw new WxPayError('BAD_RESPONSE', `${apiName}: download HTTP ${ans.status}`, { api: apiName, status: ans.status, retriable: false });
        }
        return ans.body;
      });
    },

    async close() {
      await agent?.close().catch(() => undefined);
    },
  };
}
