// Every string a buyer sees comes from the i18n module (miniprogram/i18n): this fails when a page
// holds one of its own. Checked statically, for every page of app.json and app.ts:
//   - WXML: text outside {{ }}, string literals inside {{ }} in text, and user-visible attributes
//     (placeholder, title, value, footer, tips, …) that carry words of their own;
//   - TypeScript (pages and app.ts): string literals with Chinese in them, English phrases, and any
//     word given to a property WeChat shows (title, content, confirmText, itemList, …);
//   - JSON: navigation bar titles (set from the i18n module with wx.setNavigationBarTitle instead).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { catalogs, isMessageKey } from '../../../miniprogram/i18n/index.js';
import { MINIPROGRAM_DIR, mustaches, pageFiles, parseWxml, readAppJson, type WxmlNode } from '../helpers/page-harness.js';

const LETTER = /\p{L}/u;
const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
/** two words or more apart: an English phrase, not an identifier, a message key or a code */
const PHRASE = /\p{L}{2,}\S*\s+\S*\p{L}/u;
/** what WeChat shows of an object given to its APIs or of a component's attributes */
const SHOWN_PROPS = new Set(['title', 'content', 'confirmText', 'cancelText', 'alertText', 'placeholder', 'itemList', 'tips', 'footer', 'value', 'desc', 'label']);
const SHOWN_ATTRS = new Set(['placeholder', 'title', 'value', 'footer', 'tips', 'desc', 'aria-label', 'confirm-text', 'cancel-text', 'alt']);
/** wx API constants that happen to be words */
const ALLOWED = new Set(['其他']);
const KEYS = Object.keys(catalogs['zh-CN']);
/** a message key, or the start of some (`status.${s}`): a reference to the i18n module, not a string of its own */
const isKeyRef = (text: string) => isMessageKey(text) || (text.endsWith('.') && KEYS.some((k) => k.startsWith(text)));

export interface Finding {
  file: string;
  line: number;
  text: string;
}

function stringLiteralsIn(expr: string): string[] {
  return [...expr.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2] ?? '');
}

export function wxmlFindings(source: string, file: string): Finding[] {
  const out: Finding[] = [];
  const visit = (nodes: WxmlNode[]) => {
    for (const n of nodes) {
      if (n.type === 'text') {
        const outside = n.text.replace(/\{\{[\s\S]*?\}\}/g, ' ');
        if (LETTER.test(outside)) out.push({ file, line: n.line, text: outside.trim() });
        for (const expr of mustaches(n.text)) {
          for (const lit of stringLiteralsIn(expr)) if (LETTER.test(lit)) out.push({ file, line: n.line, text: lit });
        }
        continue;
      }
      for (const [attr, value] of Object.entries(n.attrs)) {
        if (!SHOWN_ATTRS.has(attr)) continue;
        const outside = value.replace(/\{\{[\s\S]*?\}\}/g, ' ');
        if (LETTER.test(outside)) out.push({ file, line: n.line, text: `${attr}="${value}"` });
        for (const expr of mustaches(value)) {
          for (const lit of stringLiteralsIn(expr)) if (LETTER.test(lit)) out.push({ file, line: n.line, text: `${attr}: ${lit}` });
        }
      }
      visit(n.children);
    }
  };
  visit(parseWxml(source, file));
  return out;
}

function propertyName(node: ts.Node): string | undefined {
  const p = node.parent;
  if (p !== undefined && ts.isPropertyAssignment(p) && p.initializer === node) {
    return ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) ? p.name.text : undefined;
  }
  // an element of an array given to a property (itemList: ['…'])
  if (p !== undefined && ts.isArrayLiteralExpression(p)) return propertyName(p);
  // a ternary's branches (title: ok ? 'a' : 'b')
  if (p !== undefined && ts.isConditionalExpression(p) && p.condition !== node) return propertyName(p);
  return undefined;
}

export function tsFindings(source: string, file: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Finding[] = [];
  const report = (node: ts.Node, text: string) => {
    if (ALLOWED.has(text)) return;
    out.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1, text });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node) || ts.isImportTypeNode(node)) return;
    const texts: string[] = [];
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) texts.push(node.text);
    else if (ts.isTemplateExpression(node)) texts.push(node.head.text, ...node.templateSpans.map((s) => s.literal.text));
    for (const text of texts) {
      // a route with its query (`/pages/x/index?id=${…}`) is not shown
      if (/^\/?pages\//.test(text) || /^[?&][\w-]+=$/.test(text) || isKeyRef(text)) continue;
      if (CJK.test(text) || PHRASE.test(text)) report(node, text);
      else if (LETTER.test(text) && SHOWN_PROPS.has(propertyName(node) ?? '')) report(node, text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

export function jsonFindings(source: string, file: string): Finding[] {
  const json = JSON.parse(source) as { navigationBarTitleText?: unknown; window?: { navigationBarTitleText?: unknown } };
  const out: Finding[] = [];
  for (const title of [json.navigationBarTitleText, json.window?.navigationBarTitleText]) {
    if (typeof title === 'string' && LETTER.test(title)) out.push({ file, line: 1, text: `navigationBarTitleText: ${title}` });
  }
  return out;
}

const appJson = readAppJson();
const read = (path: string) => readFileSync(path, 'utf8');

for (const route of appJson.pages) {
  t.test(`${route}: no user-visible string of its own`, async (t) => {
    const f = pageFiles(route);
    const findings = [
      ...wxmlFindings(read(f.wxml.path), `${route}.wxml`),
      ...tsFindings(read(f.ts.path), `${route}.ts`),
      ...jsonFindings(read(f.json.path), `${route}.json`),
    ];
    t.same(findings, [], 'every string comes from miniprogram/i18n');
    t.match(read(f.ts.path), /wx\.setNavigationBarTitle\(\{ title: t\('/, 'the title is set from the i18n module');
  });
}

t.test('app.ts and app.json: no user-visible string of their own', async (t) => {
  t.same(tsFindings(read(join(MINIPROGRAM_DIR, 'app.ts')), 'app.ts'), []);
  t.same(jsonFindings(read(join(MINIPROGRAM_DIR, 'app.json')), 'app.json'), []);
});

t.test('services: no Chinese outside the i18n module', async (t) => {
  for (const name of ['format', 'result-view', 'order-view', 'refunds', 'subscribe', 'sandbox-subscribe', 'payment', 'cashier', 'orders', 'http', 'auth', 'wx-adapter']) {
    const file = `services/${name}.ts`;
    const cjk = tsFindings(read(join(MINIPROGRAM_DIR, file)), file).filter((f) => CJK.test(f.text));
    t.same(cjk, [], file);
  }
});

t.test('the checker itself finds strings that are not from the i18n module', async (t) => {
  const wxml = wxmlFindings(
    '<view>Pay</view><view>{{a}} × {{b}}</view><text>{{ok ? "Yes" : i18n.no}}</text>' +
      '<textarea placeholder="Reason"></textarea><mp-cell title="{{i18n.a}}" footer="{{x ? \'退款\' : y}}"></mp-cell><view class="status-PAID">·</view>',
    'x.wxml',
  );
  t.same(wxml.map((f) => f.text), ['Pay', 'Yes', 'placeholder="Reason"', 'footer: 退款']);
  const code = tsFindings(
    [
      "wx.showToast({ title: 'Pay' });",
      "this.setData({ error: 'Could not reach the server' });",
      "const a = '支付';",
      "const b = `${n} item(s) left`;",
      "wx.showActionSheet({ itemList: ['Pay', t('x')] });",
      "wx.showModal({ title: ok ? t('a') : 'Oops' });",
      "wx.redirectTo({ url: `/pages/result/index?id=${id}&state=${s}` });",
      "this.setData({ state: 'confirming', icon: 'warn' });",
      "import { t } from '../../i18n/index.js';",
      "const k = t('common.retry');",
    ].join('\n'),
    'x.ts',
  );
  t.same(code.map((f) => f.text), ['Pay', 'Could not reach the server', '支付', ' item(s) left', 'Pay', 'Oops']);
  t.same(jsonFindings('{"navigationBarTitleText":"Goods"}', 'x.json').length, 1);
  t.same(jsonFindings('{"window":{"navigationBarTitleText":""}}', 'app.json'), []);
});
