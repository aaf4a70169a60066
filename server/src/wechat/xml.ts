/**
 * WeChat Pay v2 XML: `toXml` writes a flat `<xml>` of CDATA fields, `parseXml` reads one.
 *
 * parseXml is a hand-written, strict, single-pass reader of that one shape (an `<xml>` root whose
 * children are leaf fields), not a general XML parser. It is hand-written because no library does
 * strict flat parsing at this speed: fast-xml-parser with its validator and our declaration
 * pre-scan spent ~35 µs on an 800-byte notify, most of a notify's cost (issue 10); this reader
 * takes 5-9 µs on the same 2-core box (bench/README.md). It accepts a subset of well-formed XML 1.0
 * and refuses everything else with a typed XmlError:
 *   - over maxBytes (counted in bytes) XML_TOO_LARGE; not UTF-8, characters XML 1.0 cannot carry
 *     (raw or as character references), unknown entities, a bare `&`, `]]>` in text, `--` in a
 *     comment, unterminated markup, a malformed XML declaration XML_MALFORMED
 *   - DOCTYPE, ENTITY and every other `<!` declaration, wherever they are (comments and CDATA are
 *     skipped as such, so hiding one behind a comment does not help), and processing instructions
 *     other than the XML declaration at the very start XML_FORBIDDEN_DECLARATION
 *   - a root other than `<xml>`, a second root, text or CDATA directly under `<xml>`, field names
 *     outside [A-Za-z0-9_] XML_NOT_WECHAT; an element inside a field XML_NESTED_FIELD; a field
 *     twice XML_DUPLICATE_FIELD; a name a plain object cannot hold as data XML_RESERVED_FIELD
 * Values are strings exactly as sent: CDATA verbatim (`]]>` split across sections joins back),
 * entity and character references in plain text decoded, line ends normalised as XML requires (a
 * CR that must survive travels as &#13;), and whitespace around CDATA sections ignored as layout.
 * Attributes are checked for well-formedness and ignored; comments are skipped.
 *
 * fast-xml-parser remains the reference reading of the same grammar (`parseXmlStrictReference`
 * in xml-reference.ts); the tests check with fast-check that the two agree on generated flat
 * documents and both refuse generated hostile ones.
 */
import { isUtf8 } from 'node:buffer';

export type XmlErrorCode =
  | 'XML_TOO_LARGE'
  | 'XML_FORBIDDEN_DECLARATION'
  | 'XML_MALFORMED'
  | 'XML_DUPLICATE_FIELD'
  | 'XML_NESTED_FIELD'
  | 'XML_RESERVED_FIELD'
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

/** A field name both sides can carry: an XML name made of [A-Za-z0-9_] (so not starting with a digit). */
const FIELD_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * True for a field name a plain object cannot hold as ordinary data: every own name of
 * Object.prototype (a field would shadow it or, for __proto__, reach through it) and `prototype`.
 * fast-xml-parser renamed some of them (`toString` became `__toString`) and threw on others; WeChat
 * sends none of them, so the codec refuses them outright rather than carry them under another name.
 * A switch, not `name in Object.prototype`: this runs for every field, and `in` with a freshly read
 * string costs more than the rest of the field's reading (the tests check the list is complete).
 */
export function isReservedFieldName(name: string): boolean {
  switch (name) {
    case '__proto__':
    case 'constructor':
    case 'prototype':
    case 'toString':
    case 'toLocaleString':
    case 'valueOf':
    case 'hasOwnProperty':
    case 'isPrototypeOf':
    case 'propertyIsEnumerable':
    case '__defineGetter__':
    case '__defineSetter__':
    case '__lookupGetter__':
    case '__lookupSetter__':
      return true;
    default:
      return false;
  }
}

// Characters XML 1.0 cannot carry at all, not even in CDATA.
const INVALID_XML_CHAR_RE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// The same without the lone-surrogate part, which String#isWellFormed checks far faster.
const INVALID_XML_BMP_CHAR_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** `<?xml version="1.x" encoding="..." standalone="..."?>`, the only processing instruction accepted, and only first. */
export const XML_DECLARATION_RE =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.[0-9]+"|'1\.[0-9]+')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>/;

const NAME_START = ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
/** An XML 1.0 Name (any script, `:`, `-`, `.`): what a well-formed document may use for an element or attribute. */
export const XML_NAME_RE = new RegExp(`^[${NAME_START}][${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040]*$`, 'u');

function cdata(value: string): string {
  // "]]>" cannot appear inside a CDATA section: end the section after "]]" and start a new one for ">".
  // A CR would be normalised away by any XML parser, so it travels as a character reference between sections.
  const body = value.split(']]>').join(']]]]><![CDATA[>').split('\r').join(']]>&#13;<![CDATA[');
  return `<![CDATA[${body}]]>`;
}

/** `<xml>` with each value in CDATA; undefined/null skipped; names must be [A-Za-z0-9_], not starting with a digit, not reserved. */
export function toXml(fields: Record<string, string | number | undefined | null>, root = 'xml'): string {
  if (!FIELD_NAME_RE.test(root)) throw new TypeError(`toXml: invalid root name ${JSON.stringify(root)}`);
  let out = `<${root}>`;
  for (const [name, raw] of Object.entries(fields)) {
    if (raw === undefined || raw === null) continue;
    if (!FIELD_NAME_RE.test(name)) throw new TypeError(`toXml: invalid field name ${JSON.stringify(name)}`);
    if (isReservedFieldName(name)) throw new TypeError(`toXml: reserved field name ${name}`);
    if (typeof raw === 'number' && !Number.isFinite(raw)) throw new TypeError(`toXml: field ${name} is not a finite number`);
    const value = String(raw);
    if (INVALID_XML_CHAR_RE.test(value)) {
      throw new TypeError(`toXml: field ${name} holds characters XML cannot carry`);
    }
    out += `<${name}>${cdata(value)}</${name}>`;
  }
  return `${out}</${root}>`;
}

// ---- reading ----------------------------------------------------------------------------------

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const AMP = 38;
const SQUOTE = 39;
const DASH = 45;
const SLASH = 47;
const SEMI = 59;
const LT = 60;
const EQ = 61;
const GT = 62;
const QMARK = 63;
const LOWER_X = 120;

const isS = (c: number): boolean => c === SPACE || c === LF || c === CR || c === TAB;
const isAsciiNameStart = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isAsciiNameChar = (c: number): boolean => isAsciiNameStart(c) || (c >= 48 && c <= 57);
// Anything that could begin an XML name (the exact rule is applied when the name is read).
const mayStartName = (c: number): boolean => isAsciiNameStart(c) || c === 58 || c >= 0xc0;

const malformed = (message: string) => new XmlError('XML_MALFORMED', message);
const forbiddenDeclaration = () => new XmlError('XML_FORBIDDEN_DECLARATION', 'XML declarations (DOCTYPE, ENTITY) are not accepted');

/** `<?` at p: the XML declaration out of place is malformed; any other processing instruction is refused as such. */
function piError(s: string, p: number): XmlError {
  const c = s.charCodeAt(p + 5);
  return s.startsWith('<?xml', p) && (isS(c) || c === QMARK)
    ? malformed('XML declaration not at the start')
    : new XmlError('XML_FORBIDDEN_DECLARATION', 'processing instructions are not accepted');
}

function isXmlChar(code: number): boolean {
  return (
    (code >= 0x20 && code <= 0xd7ff) ||
    code === TAB ||
    code === LF ||
    code === CR ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

function allS(s: string): boolean {
  for (let k = 0; k < s.length; k++) if (!isS(s.charCodeAt(k))) return false;
  return true;
}

const eol = (s: string): string => (s.indexOf('\r') < 0 ? s : s.replace(/\r\n?/g, '\n'));

const DEC_REF_RE = /^#[0-9]+$/;
const HEX_REF_RE = /^#x[0-9A-Fa-f]+$/;

/** Decodes the five predefined entities and character references; anything else with `&` is refused. */
function decodeRefs(raw: string): string {
  let out = '';
  let p = 0;
  for (;;) {
    const amp = raw.indexOf('&', p);
    if (amp < 0) return p === 0 ? raw : out + raw.slice(p);
    out += raw.slice(p, amp);
    const semi = raw.indexOf(';', amp + 1);
    if (semi < 0) throw malformed('bare & in text');
    const ref = raw.slice(amp + 1, semi);
    if (ref.charCodeAt(0) === HASH) {
      const hex = ref.charCodeAt(1) === LOWER_X;
      if (!(hex ? HEX_REF_RE : DEC_REF_RE).test(ref)) throw malformed('bare & in text');
      const code = hex ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      if (!isXmlChar(code)) throw malformed('invalid character reference');
      out += String.fromCodePoint(code);
    } else {
      switch (ref) {
        case 'amp': out += '&'; break;
        case 'lt': out += '<'; break;
        case 'gt': out += '>'; break;
        case 'quot': out += '"'; break;
        case 'apos': out += "'"; break;
        default:
          throw XML_NAME_RE.test(ref) ? malformed(`unknown entity &${ref};`) : malformed('bare & in text');
      }
    }
    p = semi + 1;
  }
}

/** One pass over a decoded document, with the position in `i`. */
class FlatReader {
  private i = 0;
  /** the root element's name: `xml` for WeChat's messages, `root` for a refund notification's req_info */
  constructor(
    private readonly s: string,
    private readonly root = 'xml',
  ) {}

  read(): Record<string, string> {
    const s = this.s;
    if (s.startsWith('<?xml') && (isS(s.charCodeAt(5)) || s.charCodeAt(5) === QMARK)) {
      const decl = XML_DECLARATION_RE.exec(s);
      if (!decl) throw malformed('malformed XML declaration');
      this.i = decl[0].length;
    }
    this.misc();
    if (this.i >= s.length) throw malformed('no root element');
    if (s.charCodeAt(this.i + 1) === SLASH) throw malformed('end tag without a start tag');
    const nameStart = this.i + 1;
    const nameEnd = this.name(nameStart);
    if (nameEnd - nameStart !== this.root.length || !s.startsWith(this.root, nameStart)) {
      throw new XmlError('XML_NOT_WECHAT', `root element must be <${this.root}>`);
    }
    const out: Record<string, string> = {};
    if (!this.startTagEnd(nameEnd)) this.fields(out);
    this.misc();
    if (this.i < s.length) {
      if (s.charCodeAt(this.i + 1) === SLASH) throw malformed('end tag without a start tag');
      throw new XmlError('XML_NOT_WECHAT', 'XML must have exactly one root element');
    }
    return out;
  }

  /** Whitespace and comments outside the root; stops at an element's `<` or at the end. */
  private misc(): void {
    const s = this.s;
    let p = this.i;
    for (;;) {
      while (p < s.length && isS(s.charCodeAt(p))) p++;
      if (p >= s.length || s.charCodeAt(p) !== LT) {
        if (p < s.length) throw malformed('text outside the root element');
        break;
      }
      const c1 = s.charCodeAt(p + 1);
      if (c1 === BANG) {
        if (!s.startsWith('<!--', p)) throw s.startsWith('<![CDATA[', p) ? malformed('CDATA outside the root element') : forbiddenDeclaration();
        p = this.comment(p);
      } else if (c1 === QMARK) {
        throw piError(s, p);
      } else {
        break;
      }
    }
    this.i = p;
  }

  /** `<!--` at p: returns the position after `-->`. */
  private comment(p: number): number {
    const end = this.s.indexOf('--', p + 4);
    if (end < 0) throw malformed('unterminated markup, expected -->');
    if (this.s.charCodeAt(end + 2) !== GT) throw malformed('-- inside a comment');
    return end + 3;
  }

  /** An element name starting at p; returns where it ends. Only [A-Za-z0-9_] names pass. */
  private name(p: number): number {
    const s = this.s;
    let e = p;
    if (isAsciiNameStart(s.charCodeAt(e))) {
      e++;
      while (isAsciiNameChar(s.charCodeAt(e))) e++;
      const c = s.charCodeAt(e);
      if (c === GT || c === SLASH || isS(c)) return e;
    }
    // Not one of ours: tell a well-formed foreign name from broken markup.
    while (e < s.length) {
      const c = s.charCodeAt(e);
      if (c === GT || c === SLASH || c === LT || isS(c)) break;
      e++;
    }
    if (e >= s.length) throw malformed('unterminated tag');
    if (XML_NAME_RE.test(s.slice(p, e))) throw new XmlError('XML_NOT_WECHAT', 'field names must be [A-Za-z0-9_]');
    throw malformed('invalid element name');
  }

  /** The rest of a start tag from p (just after its name): true if it was `/>`. Leaves i after it. */
  private startTagEnd(p: number): boolean {
    const s = this.s;
    let c = s.charCodeAt(p);
    if (c === GT) {
      this.i = p + 1;
      return false;
    }
    let names: string[] | undefined;
    for (;;) {
      let spaced = false;
      while (isS(c)) {
        c = s.charCodeAt(++p);
        spaced = true;
      }
      if (c === GT) {
        this.i = p + 1;
        return false;
      }
      if (c === SLASH) {
        if (s.charCodeAt(p + 1) !== GT) throw malformed('/ inside a tag');
        this.i = p + 2;
        return true;
      }
      if (p >= s.length) throw malformed('unterminated tag');
      if (!spaced) throw malformed('attributes must be separated by whitespace');
      // An attribute: checked for well-formedness, then ignored.
      const a = p;
      while (p < s.length && !isS(c) && c !== EQ && c !== GT && c !== SLASH && c !== LT && c !== DQUOTE && c !== SQUOTE) c = s.charCodeAt(++p);
      const attr = s.slice(a, p);
      if (!XML_NAME_RE.test(attr)) throw malformed('invalid attribute name');
      if (names?.includes(attr)) throw malformed(`attribute ${attr} appears twice`);
      (names ??= []).push(attr);
      while (isS(c)) c = s.charCodeAt(++p);
      if (c !== EQ) throw malformed('attribute without a value');
      c = s.charCodeAt(++p);
      while (isS(c)) c = s.charCodeAt(++p);
      if (c !== DQUOTE && c !== SQUOTE) throw malformed('attribute value must be quoted');
      const close = s.indexOf(c === DQUOTE ? '"' : "'", p + 1);
      if (close < 0) throw malformed('unterminated attribute value');
      const value = s.slice(p + 1, close);
      if (value.includes('<')) throw malformed('< inside an attribute value');
      decodeRefs(value);
      p = close + 1;
      c = s.charCodeAt(p);
    }
  }

  /** The children of `<xml>`, up to and including `</xml>`. */
  private fields(out: Record<string, string>): void {
    const s = this.s;
    for (;;) {
      let p = this.i;
      while (isS(s.charCodeAt(p))) p++;
      if (p >= s.length) throw malformed('unterminated <xml>');
      if (s.charCodeAt(p) !== LT) throw new XmlError('XML_NOT_WECHAT', 'text directly under <xml>');
      const c1 = s.charCodeAt(p + 1);
      if (c1 === SLASH) {
        this.endTag(p, this.root);
        return;
      }
      if (c1 === BANG) {
        if (s.startsWith('<!--', p)) {
          this.i = this.comment(p);
          continue;
        }
        if (s.startsWith('<![CDATA[', p)) throw new XmlError('XML_NOT_WECHAT', 'CDATA directly under <xml>');
        throw forbiddenDeclaration();
      }
      if (c1 === QMARK) throw piError(s, p);
      const end = this.name(p + 1);
      const name = s.slice(p + 1, end);
      if (isReservedFieldName(name)) throw new XmlError('XML_RESERVED_FIELD', `field name ${name} is reserved`);
      if (out[name] !== undefined) throw new XmlError('XML_DUPLICATE_FIELD', `field ${name} appears more than once`);
      out[name] = this.startTagEnd(end) ? '' : this.value(name);
    }
  }

  /** `</name S? >` at p; leaves i after it. */
  private endTag(p: number, name: string): void {
    const s = this.s;
    if (!s.startsWith(name, p + 2)) throw malformed('mismatched end tag');
    let q = p + 2 + name.length;
    while (isS(s.charCodeAt(q))) q++;
    if (s.charCodeAt(q) !== GT) throw malformed('mismatched end tag');
    this.i = q + 1;
  }

  /** A field's content after its start tag, through its end tag. */
  private value(name: string): string {
    const s = this.s;
    const p = this.i;
    // What WeChat sends: one CDATA section right before the end tag.
    if (s.startsWith('<![CDATA[', p)) {
      const e = s.indexOf(']]>', p + 9);
      if (e < 0) throw malformed('unterminated markup, expected ]]>');
      const q = e + 3;
      if (s.charCodeAt(q) === LT && s.charCodeAt(q + 1) === SLASH && s.startsWith(name, q + 2) && s.charCodeAt(q + 2 + name.length) === GT) {
        this.i = q + 3 + name.length;
        return eol(s.slice(p + 9, e));
      }
    }
    return this.mixed(name, p);
  }

  /** Text, CDATA and comments in any order. Whitespace-only text around CDATA is layout, not value. */
  private mixed(name: string, from: number): string {
    const s = this.s;
    let p = from;
    let all = '';
    let sections = '';
    let hasCdata = false;
    let layoutOnly = true;
    for (;;) {
      const lt = s.indexOf('<', p);
      if (lt < 0) throw malformed(`unterminated field ${name}`);
      if (lt > p) {
        const raw = s.slice(p, lt);
        if (layoutOnly && !allS(raw)) layoutOnly = false;
        if (raw.includes(']]>')) throw malformed(']]> in text');
        const text = eol(raw);
        all += text.indexOf('&') < 0 ? text : decodeRefs(text);
      }
      const c1 = s.charCodeAt(lt + 1);
      if (c1 === SLASH) {
        this.endTag(lt, name);
        return hasCdata && layoutOnly ? sections : all;
      }
      if (c1 === BANG) {
        if (s.startsWith('<![CDATA[', lt)) {
          const e = s.indexOf(']]>', lt + 9);
          if (e < 0) throw malformed('unterminated markup, expected ]]>');
          const section = eol(s.slice(lt + 9, e));
          sections += section;
          all += section;
          hasCdata = true;
          p = e + 3;
          continue;
        }
        if (s.startsWith('<!--', lt)) {
          p = this.comment(lt);
          continue;
        }
        throw forbiddenDeclaration();
      }
      if (c1 === QMARK) throw piError(s, lt);
      if (mayStartName(c1)) throw new XmlError('XML_NESTED_FIELD', `field ${name} contains an element`);
      throw malformed('unexpected < in text');
    }
  }
}

const UTF8_BOM_LENGTH = 3;

/** The document as text: size (in bytes) checked first, then strict UTF-8 and the characters XML can carry. */
function documentText(input: string | Buffer, maxBytes: number): string {
  let text: string;
  if (typeof input === 'string') {
    // A UTF-16 code unit is at most 3 bytes of UTF-8: count bytes only when it could matter.
    if (input.length > maxBytes || (input.length * 3 > maxBytes && Buffer.byteLength(input, 'utf8') > maxBytes)) {
      throw new XmlError('XML_TOO_LARGE', `XML body exceeds ${maxBytes} bytes`);
    }
    if (!(input as string & { isWellFormed(): boolean }).isWellFormed()) throw malformed('XML holds characters XML cannot carry');
    text = input;
  } else if (Buffer.isBuffer(input)) {
    if (input.length > maxBytes) throw new XmlError('XML_TOO_LARGE', `XML body exceeds ${maxBytes} bytes`);
    // As TextDecoder does: a leading BOM is dropped, and what follows must be valid UTF-8.
    const bom = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf ? UTF8_BOM_LENGTH : 0;
    if (!isUtf8(bom === 0 ? input : input.subarray(bom))) throw malformed('XML is not valid UTF-8');
    text = input.toString('utf8', bom);
  } else {
    throw malformed('XML body must be a string or Buffer');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (INVALID_XML_BMP_CHAR_RE.test(text)) throw malformed('XML holds characters XML cannot carry');
  if (text.trim() === '') throw malformed('empty XML body');
  return text;
}

/** Parses a flat WeChat `<xml>` document into string fields; throws XmlError on anything else. */
export function parseXml(input: string | Buffer, opts?: { maxBytes?: number; root?: string }): Record<string, string> {
  return new FlatReader(documentText(input, opts?.maxBytes ?? MAX_XML_BYTES), opts?.root ?? 'xml').read();
}
