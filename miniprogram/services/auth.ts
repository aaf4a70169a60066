// Silent login: wx.login → POST /api/session → opaque token kept in storage.
// A 401 triggers one fresh login (shared by every caller) and one retry.
import type { SessionRequest, SessionResponse } from '../../shared/api.js';
import { ApiClientError, type HttpClient, type SendOptions } from './http.js';

export interface Storage {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  remove(key: string): void;
}

/** Resolves with a wx.login code; rejects when wx.login fails. */
export type LoginFn = () => Promise<string>;

export interface AuthOptions {
  http: HttpClient;
  storage: Storage;
  login: LoginFn;
  /** ms since epoch */
  now: () => number;
  storageKey?: string;
  /** treat a token as expired this many ms before the server would; default 60 s */
  expiryMarginMs?: number;
}

export interface StoredSession {
  token: string;
  /** ms since epoch */
  expiresAt: number;
}

export interface Auth {
  /** A valid token, logging in when none is stored (or it expired). */
  token(): Promise<string>;
  /** Log in now, whatever is stored; concurrent callers share one login. */
  login(): Promise<string>;
  /** Forget the stored token (a 401 or a logout). */
  clear(): void;
  /** Send with the Bearer token; on 401 log in again once and retry the request once. */
  send<T>(options: Omit<SendOptions, 'token'>): Promise<T>;
}

function readSession(value: unknown): StoredSession | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.token !== 'string' || v.token === '' || typeof v.expiresAt !== 'number') return null;
  return { token: v.token, expiresAt: v.expiresAt };
}

export function createAuth(options: AuthOptions): Auth {
  const { http, storage, now } = options;
  const key = options.storageKey ?? 'wxpay.session';
  const margin = options.expiryMarginMs ?? 60_000;
  let inFlight: Promise<string> | null = null;

  function stored(): StoredSession | null {
    const s = readSession(storage.get(key));
    if (s === null || s.expiresAt - margin <= now()) return null;
    return s;
  }

  async function doLogin(): Promise<string> {
    let code: string;
    try {
      code = await options.login();
    } catch (e) {
      const msg = e instanceof Error ? e.message : typeof e === 'object' && e !== null && 'errMsg' in e ? String(e.errMsg) : 'wx.login failed';
      throw new ApiClientError('network', 'LOGIN_FAILED', msg);
    }
    const body: SessionRequest = { code };
    const res = await http.send<SessionResponse>({ method: 'POST', path: '/api/session', body });
    if (typeof res?.token !== 'string' || res.token === '' || typeof res.expiresIn !== 'number') {
      throw new ApiClientError('server', 'BAD_RESPONSE', 'the session response has no token');
    }
    storage.set(key, { token: res.token, expiresAt: now() + res.expiresIn * 1000 } satisfies StoredSession);
    return res.token;
  }

  function login(): Promise<string> {
    if (inFlight === null) {
      inFlight = doLogin().finally(() => {
        inFlight = null;
      });
    }
    return inFlight;
  }

  async function token(): Promise<string> {
    // a login under way wins over a stored token: it is replacing a rejected one
    if (inFlight !== null) return inFlight;
    const s = stored();
    return s !== null ? s.token : login();
  }

  function clear(): void {
    storage.remove(key);
  }

  async function send<T>(req: Omit<SendOptions, 'token'>): Promise<T> {
    const first = await token();
    try {
      return await http.send<T>({ ...req, token: first });
    } catch (e) {
      if (!(e instanceof ApiClientError) || e.kind !== 'unauthorized') throw e;
      // Only the first caller to see this token rejected clears it; the others
      // find a login in flight (or a newer token) and reuse it.
      let next: string;
      if (inFlight !== null) {
        next = await inFlight;
      } else {
        const current = stored();
        if (current !== null && current.token !== first) {
          next = current.token;
        } else {
          clear();
          next = await login();
        }
      }
      return http.send<T>({ ...req, token: next });
    }
  }

  return { token, login, clear, send };
}
