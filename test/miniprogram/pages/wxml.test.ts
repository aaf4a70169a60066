// What DevTools would only show at run time, checked statically for every page
// in app.json: its four files exist, index.json is JSON, index.wxml is well
// formed, every event binding names a method of the page's definition, and
// every name a {{ }} expression reads is in the initial data or a wx:for name.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  MINIPROGRAM_DIR,
  eventBinding,
  installPageHarness,
  mustaches,
  pageFiles,
  parseWxml,
  readAppJson,
  topLevelIdentifiers,
  type WxmlNode,
} from '../helpers/page-harness.js';

const harness = installPageHarness();
const appJson = readAppJson();
const definitions = await harness.loadAllPages();

interface Use {
  line: number;
  /** where it appears: an attribute name or 'text' */
  where: string;
  expr: string;
  /** wx:for names in scope there */
  scope: Set<string>;
}

interface Binding {
  line: number;
  attr: string;
  method: string;
}

/** Every expression and event binding of a template, with the wx:for names in scope. */
function collect(nodes: WxmlNode[]): { uses: Use[]; bindings: Binding[] } {
  const uses: Use[] = [];
  const bindings: Binding[] = [];
  const visit = (list: WxmlNode[], scope: Set<string>) => {
    for (const n of list) {
      if (n.type === 'text') {
        for (const expr of mustaches(n.text)) uses.push({ line: n.line, where: 'text', expr, scope });
        continue;
      }
      let inner = scope;
      if ('wx:for' in n.attrs) {
        // the list itself is read in the outer scope; the rest of the element sees item/index
        for (const expr of mustaches(n.attrs['wx:for']!)) uses.push({ line: n.line, where: 'wx:for', expr, scope });
        inner = new Set([...scope, n.attrs['wx:for-item'] ?? 'item', n.attrs['wx:for-index'] ?? 'index']);
      }
      for (const [attr, value] of Object.entries(n.attrs)) {
        if (attr === 'wx:for' || attr === 'wx:key' || attr === 'wx:for-item' || attr === 'wx:for-index') continue;
        const b = eventBinding(attr, value);
        if (b !== null) {
          if (mustaches(value).length > 0) t.fail(`line ${n.line}: ${attr} is bound dynamically (${value}); this check cannot follow it`);
          bindings.push({ line: n.line, attr, method: b.method });
          continue;
        }
        for (const expr of mustaches(value)) uses.push({ line: n.line, where: attr, expr, scope: inner });
      }
      visit(n.children, inner);
    }
  };
  visit(nodes, new Set());
  return { uses, bindings };
}

t.test('app.json lists every page folder, and each page has its four files', async (t) => {
  t.ok(appJson.pages.length > 0, 'app.json lists pages');
  t.same(new Set(appJson.pages).size, appJson.pages.length, 'no page listed twice');
  const folders = readdirSync(join(MINIPROGRAM_DIR, 'pages'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `pages/${d.name}/index`);
  t.same([...folders].sort(), [...appJson.pages].sort(), 'the page folders are the pages in app.json');
  for (const route of appJson.pages) {
    for (const [ext, f] of Object.entries(pageFiles(route))) t.ok(f.exists, `${route}.${ext} exists`);
  }
});

t.test('every index.json (and app.json, sitemap.json) is valid JSON of the right shape', async (t) => {
  for (const file of ['app.json', 'sitemap.json', ...appJson.pages.map((r) => `${r}.json`)]) {
    const text = readFileSync(join(MINIPROGRAM_DIR, file), 'utf8');
    let parsed: unknown;
    t.doesNotThrow(() => (parsed = JSON.parse(text)), `${file} parses`);
    t.type(parsed, 'object', `${file} is an object`);
    t.notOk(Array.isArray(parsed), `${file} is not an array`);
    if (file.startsWith('pages/')) {
      const p = parsed as Record<string, unknown>;
      if ('usingComponents' in p) t.type(p.usingComponents, 'object', `${file} usingComponents is an object`);
      if ('enablePullDownRefresh' in p) t.type(p.enablePullDownRefresh, 'boolean', `${file} enablePullDownRefresh is a boolean`);
    }
  }
});

t.test('app.ts registers the app with App() and every page registers with Page()', async (t) => {
  t.type(harness.appDefinition, 'object', 'App() called');
  t.type(harness.appDefinition?.onLaunch, 'function', 'the app has onLaunch');
  t.same([...definitions.keys()].sort(), [...appJson.pages].sort(), 'one Page() per page in app.json');
});

for (const route of appJson.pages) {
  t.test(`${route}: bindings name methods, expressions read known data`, async (t) => {
    const def = definitions.get(route)!;
    const nodes = parseWxml(readFileSync(pageFiles(route).wxml.path, 'utf8'), `${route}.wxml`);
    const { uses, bindings } = collect(nodes);
    const data = (def.data ?? {}) as Record<string, unknown>;
    t.type(def.data, 'object', 'the definition has initial data');

    t.ok(bindings.length > 0, 'the page has event bindings');
    for (const b of bindings) {
      t.type(def[b.method], 'function', `line ${b.line}: ${b.attr}="${b.method}" is a method of the page`);
    }

    t.ok(uses.length > 0, 'the page has expressions');
    for (const u of uses) {
      for (const name of topLevelIdentifiers(u.expr)) {
        t.ok(
          u.scope.has(name) || Object.prototype.hasOwnProperty.call(data, name),
          `line ${u.line}: ${name} in ${u.where}="{{${u.expr}}}" is in the initial data${u.scope.size > 0 ? ` or one of ${[...u.scope].join(', ')}` : ''}`,
        );
      }
    }

    // what the data declares but the template never reads is not an error, but the lifecycle
    // hooks a page defines must be the runtime's names (a typo is a hook that never runs)
    const HOOKS = /^on[A-Z]/;
    const KNOWN = new Set([
      'onLoad', 'onShow', 'onReady', 'onHide', 'onUnload', 'onPullDownRefresh', 'onReachBottom',
      'onShareAppMessage', 'onShareTimeline', 'onPageScroll', 'onResize', 'onTabItemTap', 'onAddToFavorites', 'onSaveExitState',
    ]);
    for (const key of Object.keys(def)) if (HOOKS.test(key)) t.ok(KNOWN.has(key), `${key} is a page lifecycle hook`);
  });
}

t.test('the checker itself: a wrong binding and an unknown name are caught', async (t) => {
  const { uses, bindings } = collect(
    parseWxml('<view wx:for="{{rows}}" wx:for-item="r"><button bindtap="nope" data-id="{{r.id}}">{{r.name}} {{missing ? a.b : "c"}}</button></view>'),
  );
  t.same(bindings.map((b) => b.method), ['nope']);
  const names = uses.flatMap((u) => topLevelIdentifiers(u.expr).filter((n) => !u.scope.has(n)));
  t.same(names.sort(), ['a', 'missing', 'rows']);
  t.throws(() => parseWxml('<view><text>x</view>'), /closes <text>/);
  t.throws(() => parseWxml('<view>'), /never closed/);
  t.same(topLevelIdentifiers("a.b + c['d'] + e ? 'f g' : h.i.j"), ['a', 'c', 'e', 'h']);
});
