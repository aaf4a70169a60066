// A typed request wrapper over an injected `request` (built from wx.request in
// the app, from fetch in tests). No wx.* here: this runs under tap in Node too.
import type { ApiError } from '../../shared/api.js';

export type HttpMethod = 'GET' | 'POST';

export interface HttpRequestOptions {
  url: string;
  method: HttpMethod;
  /** JSON body (POST); GET requests carry their query in `url` */
  data?: unknown;
  header: Record<string, string>;
  /** ms */
  timeout?: number;
}

export interface HttpResponse {
  statusCode: number;
  data: unknown;
}

/** Resolves with any HTTP status (like wx.request's success); rejects only when no response came. */
export type RequestFn = (options: HttpRequestOptions) => Promise<HttpResponse>;

export type ApiErrorKind = 'network' | 'server' | 'client' | 'unauthorized';

export class ApiClientError extends Error {
  readonly kind: ApiErrorKind;
  /** HTTP status, when a response came */
  readonly statusCode: number | undefined;
  /** the server's machine-readable code (4xx), or one of ours: NETWORK, BAD_RESPONSE, LOGIN_FAILED, ... */
  readonly code: string;
  readonly requestId: string | undefined;

  constructor(
    kind: ApiErrorKind,
    code: string,
    message: string,
    extra: { statusCode?: number; requestId?: string } = {},
  ) {
    super(message);
    this.name = 'ApiClientError';
    this.kind = kind;
    this.code = code;
    this.statusCode = extra.statusCode;
    this.requestId = extra.requestId;
  }

  /** Network trouble and 5xx may succeed on a retry; 4xx will not. */
  get retryable(): boolean {
    return this.kind === 'network' || this.kind === 'server';
  }
}

export function isApiClientError(e: unknown): e is ApiClientError {
  return e instanceof ApiClientError;
}

export interface HttpClientOptions {
  /** e.g. http://127.0.0.1:3000 (no trailing slash needed) */
  baseUrl: string;
  request: RequestFn;
  /** ms, passed to request; default 15000 */
  timeout?: number;
}

export interface SendOptions {
  method: HttpMethod;
  /** starts with '/', may carry a query string */
  path: string;
  body?: unknown;
  token?: string;
  /** extra request headers (e.g. Idempotency-Key) */
  headers?: Record<string, string>;
}

export interface HttpClient {
  readonly baseUrl: string;
  send<T>(options: SendOptions): Promise<T>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asApiError(data: unknown): Partial<ApiError> {
  if (typeof data === 'string') {
    // wx.request hands back the raw text when the body is not JSON
    try {
      const parsed: unknown = JSON.parse(data);
      if (isObject(parsed)) data = parsed;
    } catch {
      return {};
    }
  }
  if (!isObject(data)) return {};
  const out: Partial<ApiError> = {};
  if (typeof data.code === 'string') out.code = data.code;
  if (typeof data.message === 'string') out.message = data.message;
  if (typeof data.requestId === 'string') out.requestId = data.requestId;
  return out;
}

export function toApiClientError(res: HttpResponse): ApiClientError {
  const body = asApiError(res.data);
  const status = res.statusCode;
  const extra: { statusCode: number; requestId?: string } = { statusCode: status };
  if (body.requestId !== undefined) extra.requestId = body.requestId;
  if (status === 401) {
    return new ApiClientError('unauthorized', body.code ?? 'UNAUTHORIZED', body.message ?? 'not logged in', extra);
  }
  if (status >= 400 && status < 500) {
    return new ApiClientError('client', body.code ?? `HTTP_${status}`, body.message ?? `request refused (${status})`, extra);
  }
  return new ApiClientError('server', body.code ?? `HTTP_${status}`, body.message ?? `server error (${status})`, extra);
}

export function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** `{ limit: 10, before: undefined }` → `?limit=10`; no URLSearchParams in the mini-program runtime. */
export function queryString(params: Record<string, string | number | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { baseUrl, request } = options;
  const timeout = options.timeout ?? 15000;
  return {
    baseUrl,
    async send<T>({ method, path, body, token, headers }: SendOptions): Promise<T> {
      const header: Record<string, string> = { Accept: 'application/json', ...headers };
      if (body !== undefined) header['Content-Type'] = 'application/json';
      if (token !== undefined) header.Authorization = `Bearer ${token}`;
      const req: HttpRequestOptions = { url: joinUrl(baseUrl, path), method, header, timeout };
      if (body !== undefined) req.data = body;
      let res: HttpResponse;
      try {
        res = await request(req);
      } catch (e) {
        const msg = isObject(e) && typeof e.errMsg === 'string' ? e.errMsg : e instanceof Error ? e.message : 'request failed';
        throw new ApiClientError('network', 'NETWORK', msg);
      }
      if (res.statusCode >= 200 && res.statusCode < 300) {
        let data = res.data;
        if (typeof data === 'string' && data !== '') {
          try {
            data = JSON.parse(data);
          } catch {
            throw new ApiClientError('server', 'BAD_RESPONSE', 'the server answered with something other than JSON', {
              statusCode: res.statusCode,
            });
          }
        }
        return data as T;
      }
      throw toApiClientError(res);
    },
  };
}
