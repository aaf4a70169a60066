// The mini-program runtime, as far as our pages use it, in Node: the globals
// `App`, `Page`, `getApp`, `getCurrentPages` and `wx`, a page stack with
// WeChat's lifecycle order, `setData` with dotted/indexed paths, and a small
// WXML renderer so that a test taps what a user sees ("Checkout", "Pay ¥3.00")
// and the event reaches the method the binding names, with its dataset.
//
// `wx` is the services' wx shim (wx.request over fetch, storage in a Map) plus
// the UI and navigation APIs, scriptable from the test: `nextActionSheet()`
// hands back the sheet the page opened, and the test picks an item.
//
// The pages are imported for real (miniprogram/app.ts, pages/*/index.ts); ESM
// caches them, so a process has one app and each page registers once: install
// the harness once per test file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createWxShim, type WxShim, type WxShimOptions } from './wx-shim.js';

export const MINIPROGRAM_DIR = fileURLToPath(new URL('../../../miniprogram/', import.meta.url));

type Dict = Record<string, unknown>;
type Fn = (...args: unknown[]) => unknown;

export interface AppJson {
  pages: string[];
  tabBar?: { list: Array<{ pagePath: string }> };
}

export function readAppJson(): AppJson {
  return JSON.parse(readFileSync(join(MINIPROGRAM_DIR, 'app.json'), 'utf8')) as AppJson;
}

// ---------------------------------------------------------------------------
// WXML: parse, scope, render

export interface WxmlElement {
  type: 'element';
  tag: string;
  attrs: Record<string, string>;
  children: WxmlNode[];
  line: number;
}
export interface WxmlText {
  type: 'text';
  text: string;
  line: number;
}
export type WxmlNode = WxmlElement | WxmlText;

const UNSUPPORTED_TAGS = new Set(['template', 'import', 'include', 'wxs', 'slot']);
const VOID_TAGS = new Set(['icon', 'input', 'image', 'progress', 'switch', 'checkbox', 'radio', 'slider']);

/** A strict little WXML parser: unbalanced tags and unsupported features throw, so a typo cannot pass unseen. */
export function parseWxml(source: string, file = 'index.wxml'): WxmlNode[] {
  const root: WxmlElement = { type: 'element', tag: '#root', attrs: {}, children: [], line: 1 };
  const stack: WxmlElement[] = [root];
  const token = /<!--[\s\S]*?-->|<\/([\w-]+)\s*>|<([\w-]+)((?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'))?)*)\s*(\/?)>|([^<]+)|(<)/g;
  const lineAt = (i: number) => source.slice(0, i).split('\n').length;
  for (let m = token.exec(source); m !== null; m = token.exec(source)) {
    const top = stack[stack.length - 1]!;
    const line = lineAt(m.index);
    if (m[6] !== undefined) throw new Error(`${file}:${line}: stray '<'`);
    if (m[0].startsWith('<!--')) continue;
    if (m[1] !== undefined) {
      if (top.tag !== m[1]) throw new Error(`${file}:${line}: </${m[1]}> closes <${top.tag}>`);
      stack.pop();
    } else if (m[2] !== undefined) {
      const tag = m[2];
      if (UNSUPPORTED_TAGS.has(tag)) throw new Error(`${file}:${line}: <${tag}> is not supported by the page harness`);
      const attrs: Record<string, string> = {};
      const attr = /([^\s=>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'))?/g;
      for (let a = attr.exec(m[3] ?? ''); a !== null; a = attr.exec(m[3] ?? '')) {
        if (a[1]! in attrs) throw new Error(`${file}:${line}: duplicate attribute ${a[1]} on <${tag}>`);
        attrs[a[1]!] = a[2] ?? a[3] ?? '';
      }
      const el: WxmlElement = { type: 'element', tag, attrs, children: [], line };
      top.children.push(el);
      if (m[4] !== '/' && !VOID_TAGS.has(tag)) stack.push(el);
    } else if (m[5] !== undefined) {
      if (m[5].trim() !== '') top.children.push({ type: 'text', text: m[5], line });
    }
  }
  if (stack.length !== 1) throw new Error(`${file}: <${stack[stack.length - 1]!.tag}> (line ${stack[stack.length - 1]!.line}) is never closed`);
  return root.children;
}

const MUSTACHE = /\{\{([\s\S]*?)\}\}/g;

/** The expressions inside {{ }} of a text or attribute value. */
export function mustaches(value: string): string[] {
  return [...value.matchAll(MUSTACHE)].map((m) => m[1]!.trim());
}

const NOT_NAMES = new Set(['true', 'false', 'null', 'undefined', 'typeof', 'instanceof', 'in', 'new', 'void', 'this']);

/** Top-level identifiers an expression reads (`item.name` → item; `a ? b + 'c' : d.e` → a, b, d). */
export function topLevelIdentifiers(expr: string): string[] {
  const noStrings = expr.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '""');
  const out = new Set<string>();
  for (const m of noStrings.matchAll(/(?<![\w$])[A-Za-z_$][\w$]*/g)) {
    const before = noStrings.slice(0, m.index).trimEnd();
    if (before.endsWith('.') && !before.endsWith('..')) continue; // a member access
    const after = noStrings.slice(m.index + m[0].length).trimStart();
    if (after.startsWith(':') && /[{,]$/.test(before)) continue; // an object literal key
    if (!NOT_NAMES.has(m[0])) out.add(m[0]);
  }
  return [...out];
}

/** bindtap="x", bind:tap="x", catchtap, capture-bind:…, mut-bind:… → { event, method, catches } */
export function eventBinding(attr: string, value: string): { event: string; method: string; catches: boolean } | null {
  const m = /^(bind|catch|capture-bind|capture-catch|mut-bind):?([A-Za-z]+)$/.exec(attr);
  if (m === null) return null;
  return { event: m[2]!, method: value.trim(), catches: m[1] === 'catch' || m[1] === 'capture-catch' };
}

function evaluate(expr: string, scope: Dict): unknown {
  const proxy = new Proxy(scope, {
    has: (_t, key) => typeof key === 'string',
    get: (t, key) => (typeof key === 'string' && Object.prototype.hasOwnProperty.call(t, key) ? t[key] : undefined),
  });
  // WXML expressions are JS expressions over the page data (and wx:for names) only
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const fn = new Function('scope', `with (scope) { return (${expr}); }`) as (s: unknown) => unknown;
  return fn(proxy);
}

function interpolate(value: string, scope: Dict): unknown {
  const whole = /^\s*\{\{([\s\S]*?)\}\}\s*$/.exec(value);
  if (whole !== null && mustaches(value).length === 1) return evaluate(whole[1]!, scope);
  return value.replace(MUSTACHE, (_m, e: string) => {
    const v = evaluate(e, scope);
    return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

export interface RenderedElement {
  tag: string;
  attrs: Record<string, unknown>;
  dataset: Record<string, unknown>;
  events: Record<string, { method: string; catches: boolean }>;
  children: Array<RenderedElement | string>;
  parent: RenderedElement | null;
}

function textOf(el: RenderedElement): string {
  return el.children
    .map((c) => (typeof c === 'string' ? c : textOf(c)))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function datasetKey(name: string): string {
  return name.toLowerCase().replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * The WeUI extended-library components the pages use (app.json useExtendedLib weui), reduced to
 * what they show: their text attributes around their slot content, as weui-miniprogram's own
 * templates lay them out (cell: title, value or the default slot, footer; loading: tips while shown).
 */
const WEUI_COMPONENTS = new Set(['mp-cells', 'mp-cell', 'mp-loading']);

function renderComponent(el: RenderedElement): void {
  if (!el.tag.startsWith('mp-')) return;
  if (!WEUI_COMPONENTS.has(el.tag)) throw new Error(`<${el.tag}> is not a WeUI component the page harness knows`);
  const text = (name: string): string[] => {
    const v = el.attrs[name];
    return v === undefined || v === null || v === '' || v === true ? [] : [String(v)];
  };
  if (el.tag === 'mp-loading') {
    const shown = el.attrs.show === undefined || (el.attrs.show !== false && el.attrs.show !== 'false');
    el.children = shown ? [...text('tips')] : [];
    return;
  }
  if (el.tag === 'mp-cells') {
    el.children = [...text('title'), ...el.children, ...text('footer')];
    return;
  }
  const value = text('value');
  el.children = [...text('title'), ...(value.length > 0 ? value : el.children), ...text('footer')];
}

export function renderWxml(nodes: WxmlNode[], data: Dict, warn: (problem: string) => void = () => undefined): RenderedElement {
  const root: RenderedElement = { tag: '#root', attrs: {}, dataset: {}, events: {}, children: [], parent: null };
  const renderList = (list: WxmlNode[], scope: Dict, parent: RenderedElement) => {
    let chain: 'none' | 'open' | 'done' = 'none';
    for (const node of list) {
      if (node.type === 'text') {
        const text = String(interpolate(node.text, scope)).replace(/\s+/g, ' ').trim();
        if (text !== '') parent.children.push(text);
        chain = 'none';
        continue;
      }
      const a = node.attrs;
      const renderOne = (s: Dict) => {
        // wx:for first, then wx:if per item, as WeChat does
        if ('wx:if' in a) {
          const shown = Boolean(interpolate(a['wx:if']!, s));
          chain = shown ? 'done' : 'open';
          if (!shown) return;
        } else if ('wx:elif' in a) {
          if (chain !== 'open') return;
          const shown = Boolean(interpolate(a['wx:elif']!, s));
          if (shown) chain = 'done';
          if (!shown) return;
        } else if ('wx:else' in a) {
          if (chain !== 'open') return;
          chain = 'done';
        } else {
          chain = 'none';
        }
        if (node.tag === 'block') {
          renderList(node.children, s, parent);
          return;
        }
        const el: RenderedElement = { tag: node.tag, attrs: {}, dataset: {}, events: {}, children: [], parent };
        for (const [name, raw] of Object.entries(a)) {
          if (name.startsWith('wx:')) continue;
          const binding = eventBinding(name, raw);
          if (binding !== null) {
            el.events[binding.event] = { method: String(interpolate(binding.method, s)), catches: binding.catches };
            continue;
          }
          const value = raw === '' && !raw.includes('{{') ? true : interpolate(raw, s);
          if (name.startsWith('data-')) el.dataset[datasetKey(name.slice(5))] = value;
          else el.attrs[name] = value;
        }
        renderList(node.children, s, el);
        renderComponent(el);
        parent.children.push(el);
      };
      if ('wx:for' in a) {
        const items = interpolate(a['wx:for']!, scope);
        const itemName = a['wx:for-item'] ?? 'item';
        const indexName = a['wx:for-index'] ?? 'index';
        const list: unknown[] = Array.isArray(items)
          ? items
          : typeof items === 'number'
            ? Array.from({ length: items }, (_x, i) => i)
            : typeof items === 'string'
              ? [...items]
              : items !== null && typeof items === 'object'
                ? Object.values(items)
                : [];
        const key = a['wx:key'];
        if (key !== undefined && key !== '*this') {
          // WeChat warns about a missing or repeated wx:key, and then re-renders the wrong rows
          const seen = new Set<unknown>();
          for (const item of list) {
            const k = item !== null && typeof item === 'object' ? (item as Dict)[key] : undefined;
            if (k === undefined) warn(`line ${node.line}: wx:key "${key}" missing in an item of ${a['wx:for']}`);
            else if (seen.has(k)) warn(`line ${node.line}: wx:key "${key}" repeats ${String(k)} in ${a['wx:for']}`);
            seen.add(k);
          }
        }
        list.forEach((item, index) => renderOne({ ...scope, [itemName]: item, [indexName]: index }));
        chain = 'none';
      } else {
        renderOne(scope);
      }
    }
  };
  renderList(nodes, data, root);
  return root;
}

function* walk(el: RenderedElement): Generator<RenderedElement> {
  yield el;
  for (const c of el.children) if (typeof c !== 'string') yield* walk(c);
}

// ---------------------------------------------------------------------------
// setData

/** 'items[0].qty' → ['items', 0, 'qty'] */
export function parseDataPath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let consumed = 0;
  for (let m = re.exec(path); m !== null; m = re.exec(path)) {
    const gap = path.slice(consumed, m.index);
    if (gap !== '' && gap !== '.') throw new Error(`bad data path ${JSON.stringify(path)}`);
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
    consumed = m.index + m[0].length;
  }
  if (consumed !== path.length || out.length === 0) throw new Error(`bad data path ${JSON.stringify(path)}`);
  return out;
}

function setPath(data: Dict, path: Array<string | number>, value: unknown): void {
  let target: Dict | unknown[] = data;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const next = path[i + 1]!;
    const cur = (target as Record<string | number, unknown>)[key];
    if (typeof cur !== 'object' || cur === null) {
      (target as Record<string | number, unknown>)[key] = typeof next === 'number' ? [] : {};
    }
    target = (target as Record<string | number, unknown>)[key] as Dict | unknown[];
  }
  (target as Record<string | number, unknown>)[path[path.length - 1]!] = value;
}

function jsonProblem(value: unknown, where: string): string | null {
  if (value === undefined) return `${where} is undefined (WeChat: "Setting data field to undefined is invalid")`;
  if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') return `${where} is a ${typeof value}`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = jsonProblem(value[i], `${where}[${i}]`);
      if (p !== null) return p;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue; // dropped on the way to the view, as JSON does
      const p = jsonProblem(v, `${where}.${k}`);
      if (p !== null) return p;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// The runtime

export interface PageInstance extends Dict {
  data: Dict;
  route: string;
  options: Record<string, string>;
  setData(patch: Dict, callback?: () => void): void;
}

export interface TapResult {
  fired: boolean;
  /** why nothing fired */
  reason?: string;
  /** what the (first) handler returned; a promise for async methods */
  result?: unknown;
}

export interface PageHandle {
  route: string;
  query: Record<string, string>;
  instance: PageInstance;
  readonly data: Dict;
  /** onLoad, onShow, onHide… in the order the runtime called them */
  lifecycle: string[];
  /** every setData patch, in order (to assert what the page never showed) */
  patches: Dict[];
  unloaded: boolean;
  render(): RenderedElement;
  /** the visible text, whitespace collapsed */
  text(): string;
  /** texts of the elements that have a tap binding, in document order */
  tappables(): string[];
  /** taps the nth element with a tap binding whose text is `label` (or matches it), as a user would */
  tap(label: string | RegExp, opts?: { nth?: number }): TapResult;
  /** types into the nth element with an input binding (textarea, input), as a user would: fires bindinput with { value } */
  input(value: string, opts?: { nth?: number }): unknown;
  /** what wx.setNavigationBarTitle last set while this page was on top ('' if nothing) */
  readonly title: string;
  /** the user pulls down (only when index.json enables it) */
  pullDown(): unknown;
  /** the user scrolls to the bottom */
  reachBottom(): unknown;
}

export interface Dialog {
  kind: 'actionSheet' | 'modal';
  options: Dict;
  /** actionSheet: the item's label; modal: 'confirm' | 'cancel' */
  choose(label: string): void;
  /** the user dismisses it (actionSheet: fail cancel) */
  dismiss(): void;
}

export interface Navigation {
  api: 'navigateTo' | 'redirectTo' | 'navigateBack' | 'reLaunch' | 'switchTab';
  url?: string;
  route?: string;
  query?: Record<string, string>;
  /** set when the runtime refused it */
  error?: string;
}

export interface Harness {
  wx: Dict;
  shim: WxShim;
  /** every page definition registered so far, by route */
  definitions: Map<string, Dict>;
  appDefinition: Dict | undefined;
  navigations: Navigation[];
  toasts: Dict[];
  /** every sheet or modal opened, answered or not */
  dialogs: Dialog[];
  /** setData misuse and other things the real runtime warns about */
  warnings: string[];
  /** setData calls on pages already unloaded */
  lateSetData: string[];
  /** imports miniprogram/app.ts (App registers); no lifecycle yet */
  loadApp(): Promise<Dict>;
  /** imports a page module (it registers with Page) if not yet loaded */
  loadPage(route: string): Promise<Dict>;
  /** app.json's pages, all loaded */
  loadAllPages(): Promise<Map<string, Dict>>;
  /** App.onLaunch, App.onShow, then the first page of app.json (onLoad, onShow, onReady) */
  launch(query?: Record<string, string>): Promise<PageHandle>;
  pages(): PageHandle[];
  current(): PageHandle;
  /** waits for navigations, setData callbacks and wx.request calls under way */
  settle(): Promise<void>;
  /** waits until `check` holds (polled), failing with `what` after `timeoutMs` */
  waitFor(what: string, check: () => boolean, timeoutMs?: number): Promise<void>;
  nextDialog(kind?: Dialog['kind']): Promise<Dialog>;
  /** the user presses Home / comes back */
  hideApp(): void;
  showApp(): void;
  /** the navigation bar's back button */
  back(): Promise<void>;
}

let installed: Harness | undefined;

export interface HarnessOptions {
  /** what wx.login answers (sandbox mode never calls it: leave it out to make a call an error) */
  mintCode?: () => Promise<string>;
  /** wx.getAppBaseInfo().language: WeChat's language setting (default 'zh_CN', as on most buyers' phones) */
  language?: string;
  /** wx.getAccountInfoSync().miniProgram.envVersion (default 'develop', as in DevTools) */
  envVersion?: string;
  /** wx.requestSubscribeMessage's answer per template (see WxShimOptions.subscribe; default reject) */
  subscribe?: WxShimOptions['subscribe'];
  /**
   * wx.request goes here instead of over the network (the fakes' fakeServer().request): resolves
   * with any HTTP status, rejects like wx.request's fail
   */
  request?: (o: { url: string; method: 'GET' | 'POST'; data?: unknown; header: Record<string, string>; timeout?: number }) => Promise<{ statusCode: number; data: unknown }>;
}

/** Installs the globals once per process; later calls return the same harness. */
export function installPageHarness(opts: HarnessOptions = {}): Harness {
  if (installed !== undefined) return installed;
  const appJson = readAppJson();
  const shim = createWxShim({
    mintCode: opts.mintCode ?? (() => Promise.reject(new Error('wx.login called, but the harness has no login codes'))),
    // no sandboxBase: wx.requestPayment is recorded (shim.payments) and fails
    ...(opts.subscribe !== undefined ? { subscribe: opts.subscribe } : {}),
  });
  const titles = new Map<PageHandle, string>();
  const definitions = new Map<string, Dict>();
  const navigations: Navigation[] = [];
  const toasts: Dict[] = [];
  const dialogs: Dialog[] = [];
  const warnings: string[] = [];
  const lateSetData: string[] = [];
  const stack: PageHandle[] = [];
  const pending = new Set<Promise<unknown>>();
  const dialogWaiters: Array<{ kind: Dialog['kind'] | undefined; resolve: (d: Dialog) => void }> = [];
  const unclaimedDialogs: Dialog[] = [];
  let appDefinition: Dict | undefined;
  let appInstance: Dict | undefined;
  let registering: string | undefined;
  const wxmlCache = new Map<string, WxmlNode[]>();
  const jsonCache = new Map<string, Dict>();

  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => undefined);
    return p;
  };
  const later = (fn: () => void): void => {
    void track(new Promise<void>((resolve) => setTimeout(() => {
      try {
        fn();
      } finally {
        resolve();
      }
    }, 0)));
  };

  const pageFile = (route: string, ext: string) => join(MINIPROGRAM_DIR, `${route}.${ext}`);
  const wxmlOf = (route: string): WxmlNode[] => {
    let nodes = wxmlCache.get(route);
    if (nodes === undefined) {
      nodes = parseWxml(readFileSync(pageFile(route, 'wxml'), 'utf8'), `${route}.wxml`);
      wxmlCache.set(route, nodes);
    }
    return nodes;
  };
  const jsonOf = (route: string): Dict => {
    let j = jsonCache.get(route);
    if (j === undefined) {
      j = JSON.parse(readFileSync(pageFile(route, 'json'), 'utf8')) as Dict;
      jsonCache.set(route, j);
    }
    return j;
  };

  // --- globals ---------------------------------------------------------------

  const App = (def: Dict): void => {
    if (appDefinition !== undefined) throw new Error('App() called twice');
    appDefinition = def;
    // The app object is the definition itself (getApp() returns it), with its methods
    appInstance = def;
  };
  const Page = (def: Dict): void => {
    if (registering === undefined) throw new Error('Page() called outside of a page module being loaded');
    if (definitions.has(registering)) throw new Error(`Page() called twice for ${registering}`);
    definitions.set(registering, def);
  };
  const getApp = (): Dict | undefined => appInstance;
  const getCurrentPages = (): PageInstance[] => stack.map((p) => p.instance);

  // --- pages -------------------------------------------------------------------

  async function loadApp(): Promise<Dict> {
    if (appDefinition === undefined) {
      await import(pathToFileURL(join(MINIPROGRAM_DIR, 'app.ts')).href);
      if (appDefinition === undefined) throw new Error('miniprogram/app.ts did not call App()');
    }
    return appDefinition;
  }

  async function loadPage(route: string): Promise<Dict> {
    const known = definitions.get(route);
    if (known !== undefined) return known;
    if (!appJson.pages.includes(route)) throw new Error(`${route} is not a page in app.json`);
    await loadApp();
    registering = route;
    try {
      await import(pathToFileURL(pageFile(route, 'ts')).href);
    } finally {
      registering = undefined;
    }
    const def = definitions.get(route);
    if (def === undefined) throw new Error(`${route}.ts did not call Page()`);
    return def;
  }

  function call(target: Dict, name: string, ...args: unknown[]): unknown {
    const f = target[name];
    return typeof f === 'function' ? (f as Fn).apply(target, args) : undefined;
  }

  function instantiate(route: string, def: Dict, query: Record<string, string>): PageHandle {
    const instance = { route, options: { ...query } } as unknown as PageInstance;
    for (const [k, v] of Object.entries(def)) {
      if (k === 'data') continue;
      // methods are shared, other fields are deep-copied per instance
      (instance as Dict)[k] = typeof v === 'function' ? v : structuredClone(v);
    }
    instance.data = structuredClone((def.data ?? {}) as Dict);
    const handle: PageHandle = {
      route,
      query: { ...query },
      instance,
      get data() {
        return instance.data;
      },
      lifecycle: [],
      patches: [],
      unloaded: false,
      render: () => renderWxml(wxmlOf(route), instance.data, (w) => warnings.push(`${route}.wxml ${w}`)),
      text: () => textOf(handle.render()),
      tappables: () => [...walk(handle.render())].filter((e) => e.events.tap !== undefined).map(textOf),
      tap(label, o = {}) {
        if (handle.unloaded) throw new Error(`tap on ${route}, which is unloaded`);
        if (stack[stack.length - 1] !== handle) throw new Error(`tap on ${route}, which is not the page on top`);
        const matches = (el: RenderedElement) => (typeof label === 'string' ? textOf(el) === label : label.test(textOf(el)));
        const found = [...walk(handle.render())].filter((e) => e.events.tap !== undefined && matches(e));
        const target = found[o.nth ?? 0];
        if (target === undefined) {
          throw new Error(`${route}: nothing tappable labelled ${String(label)} (#${o.nth ?? 0}); tappable: ${JSON.stringify(handle.tappables())}`);
        }
        if (target.tag === 'button' && target.attrs.disabled !== undefined && target.attrs.disabled !== false && target.attrs.disabled !== '') {
          return { fired: false, reason: 'disabled' };
        }
        const event = (current: RenderedElement) => ({
          type: 'tap',
          timeStamp: Date.now(),
          detail: { x: 0, y: 0 },
          target: { id: String(target.attrs.id ?? ''), dataset: { ...target.dataset } },
          currentTarget: { id: String(current.attrs.id ?? ''), dataset: { ...current.dataset } },
          mark: {},
        });
        const res: TapResult = { fired: false };
        for (let el: RenderedElement | null = target; el !== null; el = el.parent) {
          const b = el.events.tap;
          if (b === undefined) continue;
          const method = instance[b.method];
          if (typeof method !== 'function') {
            warnings.push(`${route}: tap bound to ${b.method}, which the page does not have`);
          } else {
            const r = (method as Fn).call(instance, event(el));
            if (!res.fired) {
              res.fired = true;
              res.result = r;
            }
          }
          if (b.catches) break;
        }
        return res;
      },
      input(value, o = {}) {
        if (handle.unloaded) throw new Error(`input on ${route}, which is unloaded`);
        const found = [...walk(handle.render())].filter((e) => e.events.input !== undefined);
        const target = found[o.nth ?? 0];
        if (target === undefined) throw new Error(`${route}: no element with an input binding (#${o.nth ?? 0})`);
        const max = target.attrs.maxlength;
        // WeChat cuts what is typed at maxlength (140 when not set; -1: no limit)
        const limit = max === undefined ? 140 : Number(max);
        const typed = limit >= 0 ? value.slice(0, limit) : value;
        const b = target.events.input!;
        const method = instance[b.method];
        if (typeof method !== 'function') throw new Error(`${route}: input bound to ${b.method}, which the page does not have`);
        return (method as Fn).call(instance, {
          type: 'input',
          timeStamp: Date.now(),
          detail: { value: typed, cursor: typed.length, keyCode: 0 },
          target: { id: String(target.attrs.id ?? ''), dataset: { ...target.dataset } },
          currentTarget: { id: String(target.attrs.id ?? ''), dataset: { ...target.dataset } },
          mark: {},
        });
      },
      get title() {
        return titles.get(handle) ?? '';
      },
      pullDown() {
        if (jsonOf(route).enablePullDownRefresh !== true) throw new Error(`${route}: pull-down refresh is not enabled in index.json`);
        return call(instance, 'onPullDownRefresh');
      },
      reachBottom: () => call(instance, 'onReachBottom'),
    };
    instance.setData = (patch: Dict, callback?: () => void) => {
      if (typeof patch !== 'object' || patch === null) throw new Error(`${route}: setData takes an object`);
      // harmless in WeChat (nothing is shown), but worth knowing
      if (handle.unloaded) lateSetData.push(`${route}: ${Object.keys(patch).join(', ')}`);
      handle.patches.push({ ...patch });
      for (const [path, value] of Object.entries(patch)) {
        const problem = jsonProblem(value, `${route}: setData ${path}`);
        if (problem !== null) warnings.push(problem);
        setPath(instance.data, parseDataPath(path), value);
      }
      if (callback !== undefined) later(callback);
    };
    return handle;
  }

  const life = (p: PageHandle, hook: string, ...args: unknown[]) => {
    p.lifecycle.push(hook);
    return call(p.instance, hook, ...args);
  };

  async function open(route: string, query: Record<string, string>): Promise<PageHandle> {
    const def = await loadPage(route);
    const p = instantiate(route, def, query);
    stack.push(p);
    life(p, 'onLoad', { ...query });
    life(p, 'onShow');
    life(p, 'onReady');
    return p;
  }

  function unload(p: PageHandle): void {
    life(p, 'onUnload');
    p.unloaded = true;
  }

  function parseUrl(url: string): { route: string; query: Record<string, string> } {
    const [path = '', search = ''] = url.split('?', 2);
    let route: string;
    if (path.startsWith('/')) route = path.slice(1);
    else {
      const from = (stack[stack.length - 1]?.route ?? '').split('/').slice(0, -1);
      for (const part of path.split('/')) {
        if (part === '..') from.pop();
        else if (part !== '.' && part !== '') from.push(part);
      }
      route = from.join('/');
    }
    const query: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(search)) query[k] = v;
    return { route, query };
  }

  type NavOpts = { url?: string; delta?: number; success?: (r: Dict) => void; fail?: (r: Dict) => void; complete?: (r: Dict) => void };

  function navigate(api: Navigation['api'], o: NavOpts, run: (nav: Navigation) => Promise<string | undefined> | string | undefined): void {
    const nav: Navigation = { api };
    if (o.url !== undefined) {
      const { route, query } = parseUrl(o.url);
      Object.assign(nav, { url: o.url, route, query });
    }
    navigations.push(nav);
    const finish = (error?: string) => {
      const res = { errMsg: `${api}:${error === undefined ? 'ok' : `fail ${error}`}` };
      if (error === undefined) o.success?.(res);
      else {
        nav.error = error;
        o.fail?.(res);
      }
      o.complete?.(res);
    };
    // the runtime navigates asynchronously: the calling method runs to its end first
    void track(
      new Promise<void>((resolve) => setTimeout(resolve, 0)).then(async () => {
        if (nav.route !== undefined && !appJson.pages.includes(nav.route)) return finish(`page "${nav.route}" is not found`);
        const r = await run(nav);
        finish(typeof r === 'string' ? r : undefined);
      }),
    );
  }

  const isTab = (route: string | undefined) => appJson.tabBar?.list.some((t) => t.pagePath === route) ?? false;

  const nav = {
    navigateTo(o: NavOpts) {
      navigate('navigateTo', o, async (n) => {
        if (isTab(n.route)) return 'can not navigateTo a tabbar page';
        if (stack.length >= 10) return 'webview count limit exceed';
        const top = stack[stack.length - 1];
        if (top !== undefined) life(top, 'onHide');
        await open(n.route!, n.query!);
        return undefined;
      });
    },
    redirectTo(o: NavOpts) {
      navigate('redirectTo', o, async (n) => {
        if (isTab(n.route)) return 'can not redirectTo a tabbar page';
        const top = stack.pop();
        if (top !== undefined) unload(top);
        await open(n.route!, n.query!);
        return undefined;
      });
    },
    reLaunch(o: NavOpts) {
      navigate('reLaunch', o, async (n) => {
        while (stack.length > 0) unload(stack.pop()!);
        await open(n.route!, n.query!);
        return undefined;
      });
    },
    switchTab(o: NavOpts) {
      navigate('switchTab', o, (n) => (isTab(n.route) ? undefined : 'can not switch to no-tabBar page'));
    },
    navigateBack(o: NavOpts = {}) {
      navigate('navigateBack', o, () => {
        if (stack.length <= 1) return 'cannot navigate back at first page.';
        const delta = Math.max(1, Math.min(o.delta ?? 1, stack.length - 1));
        for (let i = 0; i < delta; i++) unload(stack.pop()!);
        life(stack[stack.length - 1]!, 'onShow');
        return undefined;
      });
    },
  };

  // --- dialogs -------------------------------------------------------------------

  function openDialog(kind: Dialog['kind'], options: Dict & { success?: (r: Dict) => void; fail?: (r: Dict) => void; complete?: (r: Dict) => void }) {
    const { success, fail, complete, ...shown } = options;
    let answered = false;
    const answer = (ok: boolean, res: Dict) => {
      if (answered) throw new Error(`${kind} answered twice`);
      answered = true;
      setTimeout(() => {
        if (ok) success?.(res);
        else fail?.(res);
        complete?.(res);
      }, 0);
    };
    const d: Dialog = {
      kind,
      options: shown,
      choose(label) {
        if (kind === 'actionSheet') {
          const items = (shown.itemList ?? []) as string[];
          const tapIndex = items.indexOf(label);
          if (tapIndex < 0) throw new Error(`no item ${JSON.stringify(label)} in ${JSON.stringify(items)}`);
          answer(true, { errMsg: 'showActionSheet:ok', tapIndex });
        } else {
          if (label !== 'confirm' && label !== 'cancel') throw new Error('a modal answers confirm or cancel');
          answer(true, { errMsg: 'showModal:ok', confirm: label === 'confirm', cancel: label === 'cancel' });
        }
      },
      dismiss() {
        if (kind === 'actionSheet') answer(false, { errMsg: 'showActionSheet:fail cancel' });
        else answer(true, { errMsg: 'showModal:ok', confirm: false, cancel: true });
      },
    };
    dialogs.push(d);
    if (kind === 'actionSheet') {
      const items = shown.itemList;
      if (!Array.isArray(items) || items.length === 0 || items.length > 6) {
        answer(false, { errMsg: 'showActionSheet:fail parameter error: itemList should have 1 to 6 items' });
        return;
      }
    }
    const i = dialogWaiters.findIndex((w) => w.kind === undefined || w.kind === kind);
    if (i >= 0) dialogWaiters.splice(i, 1)[0]!.resolve(d);
    else unclaimedDialogs.push(d);
  }

  // --- wx --------------------------------------------------------------------------

  type CbOpts = Dict & { success?: (r: Dict) => void; complete?: (r: Dict) => void };
  const ok = (name: string, o: CbOpts | undefined) => {
    setTimeout(() => {
      const res = { errMsg: `${name}:ok` };
      o?.success?.(res);
      o?.complete?.(res);
    }, 0);
  };
  type RequestOpts = Parameters<WxShim['request']>[0];
  const wxImpl: Dict = {
    // tracked, so that settle() also waits for the network
    request: (o: RequestOpts) => {
      let done!: () => void;
      void track(new Promise<void>((resolve) => (done = resolve)));
      if (opts.request !== undefined) {
        shim.requests.push({ method: o.method ?? 'GET', url: o.url });
        const req = { url: o.url, method: o.method ?? 'GET', header: o.header ?? {}, ...(o.data !== undefined ? { data: structuredClone(o.data) } : {}), ...(o.timeout !== undefined ? { timeout: o.timeout } : {}) };
        void opts.request(req).then(
          (res) => setTimeout(() => {
            done();
            o.success?.({ statusCode: res.statusCode, data: structuredClone(res.data) });
          }, 0),
          (err: unknown) => setTimeout(() => {
            done();
            const errMsg = typeof err === 'object' && err !== null && typeof (err as { errMsg?: unknown }).errMsg === 'string' ? (err as { errMsg: string }).errMsg : 'request:fail';
            o.fail?.({ errMsg });
          }, 0),
        );
        return undefined;
      }
      return shim.request({
        ...o,
        success: (res) => {
          done();
          o.success?.(res);
        },
        fail: (err) => {
          done();
          o.fail?.(err);
        },
      });
    },
    login: shim.login.bind(shim),
    requestPayment: shim.requestPayment.bind(shim),
    requestSubscribeMessage: shim.requestSubscribeMessage.bind(shim),
    getAppBaseInfo: () => ({ language: opts.language ?? 'zh_CN', SDKVersion: '3.6.0', enableDebug: false, host: { appId: '' }, theme: 'light' }),
    getAccountInfoSync: () => ({ miniProgram: { appId: 'touristappid', envVersion: opts.envVersion ?? 'develop', version: '' }, plugin: {} }),
    setNavigationBarTitle: (o: CbOpts & { title?: unknown }) => {
      const top = stack[stack.length - 1];
      if (typeof o.title !== 'string') throw new Error('setNavigationBarTitle takes a string title');
      if (top !== undefined) titles.set(top, o.title);
      ok('setNavigationBarTitle', o);
    },
    getStorageSync: shim.getStorageSync.bind(shim),
    setStorageSync: shim.setStorageSync.bind(shim),
    removeStorageSync: shim.removeStorageSync.bind(shim),
    ...nav,
    showActionSheet: (o: CbOpts) => openDialog('actionSheet', o),
    showModal: (o: CbOpts) => openDialog('modal', o),
    showToast: (o: CbOpts) => {
      toasts.push({ api: 'showToast', title: o.title, icon: o.icon ?? 'success' });
      ok('showToast', o);
    },
    showLoading: (o: CbOpts) => {
      toasts.push({ api: 'showLoading', title: o.title });
      ok('showLoading', o);
    },
    hideLoading: (o?: CbOpts) => {
      toasts.push({ api: 'hideLoading' });
      ok('hideLoading', o);
    },
    hideToast: (o?: CbOpts) => {
      toasts.push({ api: 'hideToast' });
      ok('hideToast', o);
    },
    stopPullDownRefresh: (o?: CbOpts) => {
      toasts.push({ api: 'stopPullDownRefresh' });
      ok('stopPullDownRefresh', o);
    },
  };
  // a wx API the harness lacks is a loud error, not a silent undefined
  const wx = new Proxy(wxImpl, {
    get(t, key) {
      if (typeof key === 'string' && !(key in t)) throw new Error(`wx.${key} is not provided by the page harness`);
      return t[key as string];
    },
  });

  Object.assign(globalThis, { App, Page, getApp, getCurrentPages, wx });

  const harness: Harness = {
    wx,
    shim,
    definitions,
    get appDefinition() {
      return appDefinition;
    },
    navigations,
    toasts,
    dialogs,
    warnings,
    lateSetData,
    loadApp,
    loadPage,
    async loadAllPages() {
      for (const route of appJson.pages) await loadPage(route);
      return definitions;
    },
    async launch(query = {}) {
      if (stack.length > 0) throw new Error('already launched');
      const app = await loadApp();
      const first = appJson.pages[0]!;
      call(app, 'onLaunch', { path: first, query, scene: 1001 });
      call(app, 'onShow', { path: first, query, scene: 1001 });
      return open(first, query);
    },
    pages: () => [...stack],
    current() {
      const top = stack[stack.length - 1];
      if (top === undefined) throw new Error('no page is open');
      return top;
    },
    async settle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async waitFor(what, check, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    nextDialog(kind) {
      const i = unclaimedDialogs.findIndex((d) => kind === undefined || d.kind === kind);
      if (i >= 0) return Promise.resolve(unclaimedDialogs.splice(i, 1)[0]!);
      return new Promise((resolve) => dialogWaiters.push({ kind, resolve }));
    },
    hideApp() {
      const top = stack[stack.length - 1];
      if (top !== undefined) life(top, 'onHide');
      if (appInstance !== undefined) call(appInstance, 'onHide');
    },
    showApp() {
      if (appInstance !== undefined) call(appInstance, 'onShow', { path: stack[stack.length - 1]?.route ?? '', query: {}, scene: 1001 });
      const top = stack[stack.length - 1];
      if (top !== undefined) life(top, 'onShow');
    },
    async back() {
      nav.navigateBack({});
      await harness.settle();
    },
  };
  installed = harness;
  return harness;
}

/** For the static check: the four files of a page that app.json lists. */
export function pageFiles(route: string): Record<'ts' | 'wxml' | 'wxss' | 'json', { path: string; exists: boolean }> {
  const f = (ext: string) => {
    const path = join(MINIPROGRAM_DIR, `${route}.${ext}`);
    return { path, exists: existsSync(path) };
  };
  return { ts: f('ts'), wxml: f('wxml'), wxss: f('wxss'), json: f('json') };
}
