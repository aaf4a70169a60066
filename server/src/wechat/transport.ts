// The one HTTP exchange every WeChat Pay v2 API shares: sign the fields, POST them as XML, read the
// answer within a deadline and a size limit, check return_code / the response signature / the merchant
// / result_code, and retry transient failures with the same bytes. Paths under /secapi/ go over mutual
// TLS with the merchant certificate (an undici dispatcher holding it); downloadbill's answer is unsigned
// text or gzip, so `download` hands back the raw body.
import { Agent } from 'undici';
import { WxPayError } from './errors.js';
import { caList, dispatcherFetch, HttpError, request, type FetchLike, type HttpResponse } from './http.js';
import { withRetries, type RetryInfo, type RetryPolicy } from './retry.js';
import { nonceStr } from './nonce.js';
import { isSignType, sign, verifySign, type SignType } from './sign.js';
import { parseXml, toXml, XmlError } from './xml.js';

/** One WeChat Pay API: its name (for errors and retry rules) and path under the base URL. */
export interface ApiSpec {
  name: string;
  /** e.g. /pay/orderquery, /secapi/pay/refund */
  path: string;
}

export type { RetryInfo } from './retry.js';

export interface TransportOptions {
  appid: string;
  mchId: string;
  key: string;
  signType: SignType;
  /** e.g. https://api.mch.weixin.qq.com or the sandbox's root. */
  baseUrl: string;
  /** where /secapi/ paths go (default: baseUrl); the sandbox serves them on its own TLS listener */
  secapiBaseUrl?: string;
  /** the merchant certificate (loadMerchantCert's result, or any { cert, key } PEM pair), for /secapi/ */
  cert?: { cert: string; key: string };
  /** CA certificate(s) (PEM) to trust instead of the system roots for https bases (the sandbox's own CA) */
  ca?: string | string[];
  /** Per attempt, covering the whole response body. Default 10 s. */
  timeoutMs?: number;
  /** Extra attempts after the first for failures with retry 'soon'. Default 2. */
  retries?: number;
  /** First backoff delay; doubled each retry with jitter. Default 500 ms. */
  retryDelayMs?: number;
  /** for plain (non-mTLS) calls; /secapi/ calls use undici's fetch with the certificate's dispatcher */
  fetch?: FetchLike;
  onRetry?: (info: RetryInfo) => void;
}

/** Per call: another sign type, or another of the merchant's apps (one mch_id serves several appids). */
export interface CallOptions {
  signType?: SignType;
  /** the appid this call is made under (default: the transport's); its answer must carry the same */
  appid?: string;
}

export interface Transport {
  readonly appid: string;
  readonly mchId: string;
  readonly signType: SignType;
  /** whether a merchant certificate is configured (refunds need one) */
  readonly hasCert: boolean;
  /**
   * A signed call whose answer is signed XML: returns its fields once return_code and result_code are
   * SUCCESS and the signature and merchant check out; throws WxPayError otherwise.
   */
  call(api: ApiSpec, fields: Record<string, string>, opts?: CallOptions): Promise<Record<string, string>>;
  /** A signed call whose answer is returned raw (downloadbill: text, gzip, or an unsigned XML error). */
  download(api: ApiSpec, fields: Record<string, string>, opts?: { maxBytes?: number; check?: (res: HttpResponse) => void }): Promise<HttpResponse>;
  /** Closes the keep-alive connections of the TLS dispatchers. */
  close(): Promise<void>;
}

export function isSecapi(path: string): boolean {
  return path.startsWith('/secapi/');
}

export function createTransport(opts: TransportOptions): Transport {
  for (const [name, v] of [
    ['appid', opts.appid],
    ['mchId', opts.mchId],
    ['key', opts.key],
    ['baseUrl', opts.baseUrl],
  ] as const) {
    if (typeof v !== 'string' || v === '') throw new TypeError(`createTransport: ${name} is required`);
  }
  if (!isSignType(opts.signType)) throw new TypeError('createTransport: signType must be MD5 or HMAC-SHA256');
  const base = opts.baseUrl.replace(/\/+$/, '');
  const secapiBase = (opts.secapiBaseUrl ?? opts.baseUrl).replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 2;
  const retryDelayMs = opts.retryDelayMs ?? 500;
  const policy: RetryPolicy = { retries, retryDelayMs, ...(opts.onRetry ? { onRetry: opts.onRetry } : {}) };
  const plainFetch = opts.fetch ?? globalThis.fetch;
  const { appid, mchId, key } = opts;
  const ca = caList(opts.ca);

  const agents: Agent[] = [];
  let mtlsFetch: FetchLike | undefined;
  if (opts.cert) {
    if (typeof opts.cert.cert !== 'string' || typeof opts.cert.key !== 'string') throw new TypeError('createTransport: cert must be { cert, key } PEM');
    const agent = new Agent({ connect: { cert: opts.cert.cert, key: opts.cert.key, ...(ca ? { ca } : {}) } });
    agents.push(agent);
    mtlsFetch = dispatcherFetch(agent, opts.fetch);
  }
  let caFetch: FetchLike | undefined;
  if (ca) {
    const agent = new Agent({ connect: { ca } });
    agents.push(agent);
    caFetch = dispatcherFetch(agent, opts.fetch);
  }

  function target(api: ApiSpec, apiName: string): { url: string; fetchImpl: FetchLike } {
    if (isSecapi(api.path)) {
      if (!mtlsFetch) {
        throw new WxPayError('NO_MERCHANT_CERT', `${apiName}: needs the merchant certificate (WECHATPAY_CERT_P12, or WECHATPAY_CERT_PEM + WECHATPAY_KEY_PEM)`, {
          api: apiName,
          retriable: false,
        });
      }
      return { url: secapiBase + api.path, fetchImpl: mtlsFetch };
    }
    const url = base + api.path;
    return { url, fetchImpl: caFetch && url.startsWith('https:') ? caFetch : plainFetch };
  }

  async function exchange(api: ApiSpec, payload: string, limit?: number): Promise<HttpResponse> {
    const { url, fetchImpl } = target(api, api.name);
    try {
      return await request(fetchImpl, url, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: payload }, timeoutMs, limit);
    } catch (err) {
      if (err instanceof HttpError && err.failure.kind === 'timeout') {
        throw new WxPayError('TIMEOUT', `${api.name}: no answer within ${timeoutMs} ms`, { api: api.name });
      }
      if (err instanceof HttpError && err.failure.kind === 'network' && err.failure.cause instanceof RangeError) {
        // Asking again will not make it smaller.
        throw new WxPayError('BAD_RESPONSE', `${api.name}: response too large`, { api: api.name, retriable: false });
      }
      throw new WxPayError('NETWORK', `${api.name}: network error`, { api: api.name, cause: err });
    }
  }

  function checkStatus(api: string, res: HttpResponse): void {
    if (res.status >= 500) throw new WxPayError('NETWORK', `${api}: HTTP ${res.status}`, { api, status: res.status, retriable: true });
    if (res.status < 200 || res.status >= 300) throw new WxPayError('BAD_RESPONSE', `${api}: HTTP ${res.status}`, { api, status: res.status });
  }

  async function attempt(api: ApiSpec, payload: string, signType: SignType, callAppid: string): Promise<Record<string, string>> {
    const name = api.name;
    const res = await exchange(api, payload);
    checkStatus(name, res);
    let fields: Record<string, string>;
    try {
      fields = parseXml(res.body);
    } catch (err) {
      const detail = err instanceof XmlError ? err.code : 'unparseable';
      throw new WxPayError('BAD_RESPONSE', `${name}: response is not WeChat XML (${detail})`, { api: name, cause: err });
    }
    if (fields.return_code !== 'SUCCESS') {
      if (fields.return_code !== 'FAIL') throw new WxPayError('BAD_RESPONSE', `${name}: response without return_code`, { api: name });
      throw new WxPayError('RETURN_FAIL', `${name}: return_code FAIL${fields.return_msg ? `: ${fields.return_msg}` : ''}`, {
        api: name,
        wechatMessage: fields.return_msg,
        retriable: false,
      });
    }
    if (!verifySign(fields, key, signType)) {
      throw new WxPayError('BAD_RESPONSE_SIGN', `${name}: response signature does not verify`, { api: name, retriable: false });
    }
    if ((fields.appid !== undefined && fields.appid !== callAppid) || (fields.mch_id !== undefined && fields.mch_id !== mchId)) {
      throw new WxPayError('BAD_RESPONSE', `${name}: response is for another merchant`, { api: name });
    }
    if (fields.result_code !== 'SUCCESS') {
      if (fields.result_code !== 'FAIL') throw new WxPayError('BAD_RESPONSE', `${name}: response without result_code`, { api: name });
      const code = fields.err_code || 'SYSTEMERROR';
      throw new WxPayError(code, `${name}: ${code}${fields.err_code_des ? `: ${fields.err_code_des}` : ''}`, {
        api: name,
        wechatMessage: fields.err_code_des,
      });
    }
    return fields;
  }

  function signed(fields: Record<string, string>, signType: SignType, callAppid = appid): string {
    const params: Record<string, string> = { ...fields, appid: callAppid, mch_id: mchId, nonce_str: nonceStr(), sign_type: signType };
    params.sign = sign(params, key, signType);
    return toXml(params);
  }

  return {
    appid,
    mchId,
    signType: opts.signType,
    hasCert: mtlsFetch !== undefined,

    async call(api, fields, callOpts = {}) {
      const signType = callOpts.signType ?? opts.signType;
      if (!isSignType(signType)) throw new TypeError('call: signType must be MD5 or HMAC-SHA256');
      const callAppid = callOpts.appid ?? appid;
      if (typeof callAppid !== 'string' || callAppid === '') throw new TypeError('call: appid must be a non-empty string');
      target(api, api.name); // fails fast (NO_MERCHANT_CERT) before anything is signed
      // Built once: every retry sends byte-for-byte the same request.
      const payload = signed(fields, signType, callAppid);
      return withRetries(api.name, policy, () => attempt(api, payload, signType, callAppid));
    },

    async download(api, fields, dlOpts = {}) {
      target(api, api.name);
      const payload = signed(fields, opts.signType);
      return withRetries(api.name, policy, async () => {
        const res = await exchange(api, payload, dlOpts.maxBytes);
        checkStatus(api.name, res);
        dlOpts.check?.(res);
        return res;
      });
    },

    async close() {
      await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
    },
  };
}

/** Throws the BAD_RESPONSE an API client reports when an answer lacks what WeChat documents. */
export function badResponse(api: string, message: string, field?: string): WxPayError {
  return new WxPayError('BAD_RESPONSE', `${api}: ${message}`, { api, ...(field ? { field } : {}), retriable: false });
}
