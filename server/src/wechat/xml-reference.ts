/**
 * The reference reading of WeChat's flat `<xml>`: the same grammar and refusals as parseXml
 * (xml.ts), built on fast-xml-parser (its validator for well-formedness, its parser for the
 * tree) with a pre-scan of the markup for what it lets through (declarations, processing
 * instructions, reserved names, tag syntax) and strict entity decoding. It is several times
 * slower than parseXml; the tests use it as the oracle parseXml must agree with, and it is the
 * place to start from should anything but flat XML ever be needed.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { isReservedFieldName, MAX_XML_BYTES, XML_DECLARATION_RE, XML_NAME_RE, XmlError } from './xml.js';

const FIELD_NAME_RE = /^[A-Za-z0-9_]+$/;
const INVALID_XML_CHAR_RE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const START_TAG_RE = /^<([^ \t\r\n/>]+)((?:[ \t\r\n]+[^ \t\r\n=/>]+[ \t\r\n]*=[ \t\r\n]*(?:"[^"<]*"|'[^'<]*'))*)[ \t\r\n]*\/?>$/;
const ATTRIBUTE_RE = /([^ \t\r\n=]+)[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')/g;
const END_TAG_RE = /^<\/([^ \t\r\n>]+)[ \t\r\n]*>$/;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  cdataPropName: '#cdata',
  commentPropName: false,
  // Entities are decoded by decodeText below (the five predefined ones and character references only).
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

function decodeUtf8(input: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    throw new XmlError('XML_MALFORMED', 'XML is not valid UTF-8');
  }
}

function skipTo(text: string, from: number, end: string): number {
  const at = text.indexOf(end, from);
  if (at < 0) throw new XmlError('XML_MALFORMED', `unterminated markup, expected ${end}`);
  return at + end.length;
}

// Names are judged here, as written: fast-xml-parser trims them (`a\uFEFF` would become `a`).
function checkElementName(name: string): void {
  if (isReservedFieldName(name)) throw new XmlError('XML_RESERVED_FIELD', `field name ${name} is reserved`);
  if (!XML_NAME_RE.test(name)) throw new XmlError('XML_MALFORMED', 'invalid element name');
  if (!FIELD_NAME_RE.test(name)) throw new XmlError('XML_NOT_WECHAT', 'field names must be [A-Za-z0-9_]');
}

/**
 * Checks a tag's syntax and names against the open elements (fast-xml-parser trims names, so
 * `</a\uFEFF>` would close `<a>` there); pushes or pops `open`.
 */
function checkTag(tag: string, open: string[]): void {
  if (tag.startsWith('</')) {
    const m = END_TAG_RE.exec(tag);
    if (!m) throw new XmlError('XML_MALFORMED', 'malformed end tag');
    checkElementName(m[1] as string);
    if (open.pop() !== m[1]) throw new XmlError('XML_MALFORMED', 'mismatched end tag');
    return;
  }
  const m = START_TAG_RE.exec(tag);
  if (!m) throw new XmlError('XML_MALFORMED', 'malformed start tag');
  checkElementName(m[1] as string);
  for (const a of (m[2] as string).matchAll(ATTRIBUTE_RE)) {
    if (!XML_NAME_RE.test(a[1] as string)) throw new XmlError('XML_MALFORMED', 'invalid attribute name');
    decodeText(a[2] ?? a[3] ?? '');
  }
  if (!tag.endsWith('/>')) open.push(m[1] as string);
}

/**
 * Walks the raw markup (outside CDATA, comments and quoted attribute values) and refuses, before the
 * parser ever sees them, any declaration (`<!DOCTYPE`, `<!ENTITY`, ...), processing instructions
 * other than a leading XML declaration, malformed comments and tags, reserved names, and text
 * outside the root element (fast-xml-parser drops some of it, such as `&amp;` after the root).
 */
function prescan(text: string): void {
  let i = 0;
  const open: string[] = [];
  while (true) {
    const depth = open.length;
    const lt = text.indexOf('<', i);
    const between = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (depth === 0 && !isWhitespace(between)) throw new XmlError('XML_MALFORMED', 'text outside the root element');
    // Checked here, on the document's own text: fast-xml-parser joins the text on both sides of a comment.
    if (between.includes(']]>')) throw new XmlError('XML_MALFORMED', ']]> in text');
    decodeText(between);
    if (lt < 0) return;
    if (text.startsWith('<![CDATA[', lt)) {
      if (depth === 0) throw new XmlError('XML_MALFORMED', 'CDATA outside the root element');
      i = skipTo(text, lt + 9, ']]>');
    } else if (text.startsWith('<!--', lt)) {
      i = skipTo(text, lt + 4, '-->');
      const body = text.slice(lt + 4, i - 3);
      if (body.includes('--') || body.endsWith('-')) throw new XmlError('XML_MALFORMED', '-- inside a comment');
    } else if (text.startsWith('<!', lt)) {
      throw new XmlError('XML_FORBIDDEN_DECLARATION', 'XML declarations (DOCTYPE, ENTITY) are not accepted');
    } else if (text.startsWith('<?', lt)) {
      const isDeclaration = /^<\?xml(?:[ \t\r\n?]|$)/.test(text.slice(lt, lt + 6));
      if (!isDeclaration) throw new XmlError('XML_FORBIDDEN_DECLARATION', 'processing instructions are not accepted');
      if (lt !== 0) throw new XmlError('XML_MALFORMED', 'XML declaration not at the start');
      const decl = XML_DECLARATION_RE.exec(text);
      if (!decl) throw new XmlError('XML_MALFORMED', 'malformed XML declaration');
      i = decl[0].length;
    } else {
      // An ordinary tag: find its end, stepping over quoted attribute values.
      let j = lt + 1;
      let quote = '';
      for (; j < text.length; j++) {
        const c = text[j];
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") {
          quote = c;
        } else if (c === '>') {
          break;
        } else if (c === '<') {
          throw new XmlError('XML_MALFORMED', 'unexpected < inside a tag');
        }
      }
      if (j >= text.length) throw new XmlError('XML_MALFORMED', 'unterminated tag');
      checkTag(text.slice(lt, j + 1), open);
      i = j + 1;
    }
  }
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function isXmlCodePoint(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

function decodeText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[^\s&;<>#]+)?(;)?/g, (_match, ref: string | undefined, semi: string | undefined) => {
    if (ref === undefined || semi === undefined) throw new XmlError('XML_MALFORMED', 'bare & in text');
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      if (!isXmlCodePoint(code)) throw new XmlError('XML_MALFORMED', 'invalid character reference');
      return String.fromCodePoint(code);
    }
    const known = Object.hasOwn(PREDEFINED, ref) ? PREDEFINED[ref] : undefined;
    if (known === undefined) throw new XmlError('XML_MALFORMED', `unknown entity &${ref};`);
    return known;
  });
}

type Node = Record<string, unknown>;

function isWhitespace(s: string): boolean {
  return /^[ \t\r\n]*$/.test(s);
}

function textOf(node: Node): string | undefined {
  const t = node['#text'];
  return typeof t === 'string' ? t : typeof t === 'number' ? String(t) : undefined;
}

function nameOf(node: Node): string {
  const keys = Object.keys(node).filter((k) => k !== ':@');
  if (keys.length !== 1) throw new XmlError('XML_MALFORMED', 'unexpected parser output');
  return keys[0] as string;
}

function leafValue(name: string, children: unknown): string {
  if (!Array.isArray(children)) throw new XmlError('XML_MALFORMED', 'unexpected parser output');
  const rawTexts: string[] = [];
  const cdatas: string[] = [];
  const parts: string[] = [];
  for (const child of children as Node[]) {
    const key = nameOf(child);
    if (key === '#text') {
      const raw = textOf(child) ?? '';
      rawTexts.push(raw);
      parts.push(decodeText(raw));
    } else if (key === '#cdata') {
      const inner = child['#cdata'];
      let t = '';
      if (Array.isArray(inner)) for (const n of inner as Node[]) t += textOf(n) ?? '';
      cdatas.push(t);
      parts.push(t);
    } else {
      throw new XmlError('XML_NESTED_FIELD', `field ${name} contains element ${key}`);
    }
  }
  // Whitespace around CDATA sections is layout, not value.
  if (cdatas.length > 0 && rawTexts.every(isWhitespace)) return cdatas.join('');
  return parts.join('');
}

/** parseXml's grammar read through fast-xml-parser: same fields, same refusals, much slower. */
export function parseXmlStrictReference(input: string | Buffer, opts?: { maxBytes?: number }): Record<string, string> {
  const maxBytes = opts?.maxBytes ?? MAX_XML_BYTES;
  const isBuffer = Buffer.isBuffer(input);
  if (!isBuffer && typeof input !== 'string') throw new XmlError('XML_MALFORMED', 'XML body must be a string or Buffer');
  const size = isBuffer ? input.length : Buffer.byteLength(input, 'utf8');
  if (size > maxBytes) throw new XmlError('XML_TOO_LARGE', `XML body exceeds ${maxBytes} bytes`);
  let text = isBuffer ? decodeUtf8(input) : input;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (INVALID_XML_CHAR_RE.test(text)) throw new XmlError('XML_MALFORMED', 'XML holds characters XML cannot carry');
  if (text.trim() === '') throw new XmlError('XML_MALFORMED', 'empty XML body');
  if (text.charCodeAt(0) === 0xfeff) throw new XmlError('XML_MALFORMED', 'text outside the root element');

  prescan(text);
  if (XMLValidator.validate(text) !== true) throw new XmlError('XML_MALFORMED', 'XML is not well-formed');

  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch {
    throw new XmlError('XML_MALFORMED', 'XML could not be parsed');
  }
  if (!Array.isArray(doc)) throw new XmlError('XML_MALFORMED', 'unexpected parser output');
  const roots = (doc as Node[]).filter((n) => {
    const key = nameOf(n);
    return !(key === '#text' && isWhitespace(textOf(n) ?? ''));
  });
  if (roots.length !== 1) throw new XmlError('XML_NOT_WECHAT', 'XML must have exactly one root element');
  const root = roots[0] as Node;
  if (nameOf(root) !== 'xml') throw new XmlError('XML_NOT_WECHAT', 'root element must be <xml>');
  const children = root['xml'];
  if (!Array.isArray(children)) throw new XmlError('XML_MALFORMED', 'unexpected parser output');

  const out: Record<string, string> = {};
  for (const child of children as Node[]) {
    const name = nameOf(child);
    if (name === '#text') {
      if (isWhitespace(textOf(child) ?? '')) continue;
      throw new XmlError('XML_NOT_WECHAT', 'text directly under <xml>');
    }
    if (name === '#cdata') throw new XmlError('XML_NOT_WECHAT', 'CDATA directly under <xml>');
    if (!FIELD_NAME_RE.test(name)) throw new XmlError('XML_NOT_WECHAT', 'field names must be [A-Za-z0-9_]');
    if (Object.hasOwn(out, name)) throw new XmlError('XML_DUPLICATE_FIELD', `field ${name} appears more than once`);
    out[name] = leafValue(name, child[name]);
  }
  return out;
}
