// A browser without a browser: fetch with a cookie jar per origin and redirects followed by hand,
// so a test can stop at any hop of the OAuth dance (and see each Location).
import { randomBytes } from 'node:crypto';
import type { Stack } from '../../helpers/stack.js';

export interface Hop {
  status: number;
  url: string;
  location?: string;
  headers: Headers;
  text: string;
}

export class CookieBrowser {
  private readonly jar = new Map<string, Map<string, string>>();

  /** sets a cookie for an origin, as a test playing a given WeChat user does on the sandbox */
  setCookie(origin: string, name: string, value: string): void {
    this.cookies(origin).set(name, value);
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name);
  }

  private cookies(origin: string): Map<string, string> {
    let c = this.jar.get(origin);
    if (!c) this.jar.set(origin, (c = new Map()));
    return c;
  }

  /** One request, no redirect followed; cookies sent and stored. A #fragment is never sent. */
  async hop(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Hop> {
    const u = new URL(url);
    u.hash = '';
    const jar = this.cookies(u.origin);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(u.href, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(init.headers ?? {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location') ?? undefined;
    return { status: res.status, url: u.href, ...(location ? { location: new URL(location, u.href).href } : {}), headers: res.headers, text: await res.text() };
  }

  /** Follows redirects (up to 10), returning every hop. */
  async go(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Hop[]> {
    const hops: Hop[] = [];
    let next: string | undefined = url;
    let req = init;
    for (let i = 0; next && i < 10; i++) {
      const hop = await this.hop(next, req);
      hops.push(hop);
      next = hop.status >= 300 && hop.status < 400 ? hop.location : undefined;
      req = {};
    }
    return hops;
  }
}

export const last = (hops: Hop[]): Hop => hops[hops.length - 1]!;

/** The value of a hidden form field in a page. */
export function field(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no field ${name} in the page`);
  return m[1]!.replace(/&amp;/g, '&');
}

/** The page's JSON data block. */
export function pageData<T = Record<string, unknown>>(html: string): T {
  const m = /<script type="application\/json" id="h5-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error('no data block in the page');
  return JSON.parse(m[1]!) as T;
}

/** Logs a browser in through OAuth at the given H5 entry; returns the last hop (the page). */
export async function h5Login(s: Stack, b: CookieBrowser, path = '/h5/checkout?sku=COFFEE-LATTE'): Promise<Hop[]> {
  return b.go(s.apiBase + path);
}

export const oaAppid = (s: Stack): string => s.config.apps.oa!.appid;

/**
 * A 公众号 of its own for a test file: the jsapi_ticket and access token are cached in Redis under the
 * appid, and test files run side by side on one Redis, each with its own sandbox (whose tickets the
 * others do not know). Real WeChat has one ticket per appid, so production needs no such thing.
 */
export function ownOaEnv(): Record<string, string> {
  const hex = randomBytes(8).toString('hex');
  return { WECHAT_SANDBOX: '1', WECHAT_OA_APPID: `wx${hex}`, WECHAT_OA_APPSECRET: `oa-secret-${hex}` };
}
