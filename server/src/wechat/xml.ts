import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type XmlErrorCode =
  | 'XML_TOO_LARGE'
  | 'XML_FORBIDDEN_DECLARATION'
  | 'XML_MALFORMED'
  | 'XML_DUPLICATE_FIELD'
  | 'XML_NESTED_FIELD'
  | 'XML_NOT_WECHAT';

export class XmlError extends Error {
  readonly code: XmlErrorCode;
  constructor(code: XmlErrorCode, message: string) {
    super(message);
    this.name = 'XmlError';
    this.code = code;
  }
}

/** Largest document parseXml accepts by default; WeChat's own messages are a few KiB. */
export const MAX_XML_BYTES = 64 * 1024;

const FIELD_NAME_RE = /^[A-Za-z0-9_]+$/;
// Characters XML 1.0 cannot carry at all, not even in CDATA.
const INVALID_XML_CHAR_RE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function cdata(value: string): string {
  // "]]>" cannot appear inside a CDATA section: end the section after "]]" and start a new one for ">".
  // A CR would be normalised away by any XML parser, so it travels as a character reference between sections.
  const body = value.split(']]>').join(']]]]><![CDATA[>').split('\r').join(']]>&#13;<![CDATA[');
  return `<![CDATA[${body}]]>`;
}

/** `<xml>` (or `<root>`) with each value in CDATA; undefined/null skipped; names must be [A-Za-z0-9_]. */
export function toXml(fields: Record<string, string | number | undefined | null>, root = 'xml'): string {
  if (!FIELD_NAME_RE.test(root)) throw new TypeError(`toXml: invalid root name ${JSON.stringify(root)}`);
  let out = `<${root}>`;
  for (const [name, raw] of Object.entries(fields)) {
    if (raw === undefined || raw === null) continue;
    if (!FIELD_NAME_RE.test(name)) throw new TypeError(`toXml: invalid field name ${JSON.stringify(name)}`);
    if (typeof raw === 'number' && !Number.isFinite(raw)) throw new TypeError(`toXml: field ${name} is not a finite number`);
    const value = String(raw);
    if (INVALID_XML_CHAR_RE.test(value)) {
      throw new TypeError(`toXml: field ${name} holds characters XML cannot carry`);
    }
    out += `<${name}>${cdata(value)}</${name}>`;
  }
  return `${out}</${root}>`;
}

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

/**
 * Walks the raw markup (outside CDATA, comments and quoted attribute values) and refuses any
 * declaration (`<!DOCTYPE`, `<!ENTITY`, ...) before the parser ever sees it.
 */
function refuseDeclarations(text: string): void {
  let i = 0;
  while (true) {
    const lt = text.indexOf('<', i);
    if (lt < 0) return;
    if (text.startsWith('<![CDATA[', lt)) {
      i = skipTo(text, lt + 9, ']]>');
    } else if (text.startsWith('<!--', lt)) {
      i = skipTo(text, lt + 4, '-->');
    } else if (text.startsWith('<!', lt)) {
      throw new XmlError('XML_FORBIDDEN_DECLARATION', 'XML declarations (DOCTYPE, ENTITY) are not accepted');
    } else if (text.startsWith('<?', lt)) {
      i = skipTo(text, lt + 2, '?>');
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
      i = j + 1;
    }
  }
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);?/g, (match, ref: string) => {
    if (!match.endsWith(';')) throw new XmlError('XML_MALFORMED', 'bare & in text');
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      if (!Number.isInteger(code) || code < 1 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        throw new XmlError('XML_MALFORMED', 'invalid character reference');
      }
      return String.fromCodePoint(code);
    }
    const known = PREDEFINED[ref];
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
  const parts: { text: string; cdata: boolean }[] = [];
  for (const child of children as Node[]) {
    const key = nameOf(child);
    if (key === '#text') {
      const raw = textOf(child) ?? '';
      rawTexts.push(raw);
      const t = decodeText(raw);
      parts.push({ text: t, cdata: false });
    } else if (key === '#cdata') {
      const inner = child['#cdata'];
      let t = '';
      if (Array.isArray(inner)) for (const n of inner as Node[]) t += textOf(n) ?? '';
      cdatas.push(t);
      parts.push({ text: t, cdata: true });
    } else {
      throw new XmlError('XML_NESTED_FIELD', `field ${name} contains element ${key}`);
    }
  }
  // Whitespace around CDATA sections is layout, not value.
  if (cdatas.length > 0 && rawTexts.every(isWhitespace)) return cdatas.join('');
  return parts.map((p) => p.text).join('');
}

/**
 * Parses a flat WeChat `<xml>` document into string fields; throws XmlError on anything else.
 * `root` names another root element with the same rules (a refund notification's req_info decrypts
 * to a `<root>` document).
 */
export function parseXml(input: string | Buffer, opts?: { maxBytes?: number; root?: string }): Record<string, string> {
  const maxBytes = opts?.maxBytes ?? MAX_XML_BYTES;
  const rootName = opts?.root ?? 'xml';
  const isBuffer = Buffer.isBuffer(input);
  if (!isBuffer && typeof input !== 'string') throw new XmlError('XML_MALFORMED', 'XML body must be a string or Buffer');
  const size = isBuffer ? input.length : Buffer.byteLength(input, 'utf8');
  if (size > maxBytes) throw new XmlError('XML_TOO_LARGE', `XML body exceeds ${maxBytes} bytes`);
  let text = isBuffer ? decodeUtf8(input) : input;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new XmlError('XML_MALFORMED', 'empty XML body');

  refuseDeclarations(text);
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
  if (nameOf(root) !== rootName) throw new XmlError('XML_NOT_WECHAT', `root element must be <${rootName}>`);
  const children = root[rootName];
  if (!Array.isArray(children)) throw new XmlError('XML_MALFORMED', 'unexpected parser output');

  const out: Record<string, string> = {};
  for (const child of children as Node[]) {
    const name = nameOf(child);
    if (name === '#text') {
      if (isWhitespace(textOf(child) ?? '')) continue;
      throw new XmlError('XML_NOT_WECHAT', `text directly under <${rootName}>`);
    }
    if (name === '#cdata') throw new XmlError('XML_NOT_WECHAT', `CDATA directly under <${rootName}>`);
    if (!FIELD_NAME_RE.test(name) || name === '__proto__') {
      throw new XmlError('XML_NOT_WECHAT', 'field names must be [A-Za-z0-9_]');
    }
    if (Object.hasOwn(out, name)) throw new XmlError('XML_DUPLICATE_FIELD', `field ${name} appears more than once`);
    out[name] = leafValue(name, child[name]);
  }
  return out;
}
