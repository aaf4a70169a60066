import t from 'tap';
import fc from 'fast-check';
import { isReservedFieldName, parseXml, XmlError, type XmlErrorCode } from '../../../server/src/wechat/xml.js';
import { parseXmlStrictReference } from '../../../server/src/wechat/xml-reference.js';

// parseXml is a hand-written single-pass reader; parseXmlStrictReference reads the same grammar
// through fast-xml-parser. Generated flat documents must give both exactly the fields the generator
// meant, and generated hostile ones must be refused by both.

type Outcome = { ok: true; fields: Record<string, string> } | { ok: false; code: XmlErrorCode | 'not XmlError'; message: string };

function outcome(fn: () => Record<string, string>): Outcome {
  try {
    return { ok: true, fields: fn() };
  } catch (e) {
    return e instanceof XmlError ? { ok: false, code: e.code, message: e.message } : { ok: false, code: 'not XmlError', message: String(e) };
  }
}

const readers = {
  parseXml: (doc: string | Buffer, maxBytes?: number) => outcome(() => parseXml(doc, maxBytes === undefined ? undefined : { maxBytes })),
  reference: (doc: string | Buffer, maxBytes?: number) =>
    outcome(() => parseXmlStrictReference(doc, maxBytes === undefined ? undefined : { maxBytes })),
};

// ---- values and how a field may carry them ------------------------------------------------------

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const VALID_XML_TEXT = (s: string) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(s) && !LONE_SURROGATE.test(s);
const tricky = fc.constantFrom(
  '0001409811653',
  '4200000123202401011234567890',
  '1004400740201409030005092168',
  ']]>',
  ']]]]>',
  ']',
  ']]',
  '<![CDATA[',
  '<xml>',
  '</a>',
  '&',
  '&amp;',
  '&#13;',
  '&#20013;',
  '"\'',
  '中文商品 拿铁咖啡',
  '😀🧧',
  '\r',
  '\r\n',
  '\n',
  '\t',
  ' ',
  ' padded ',
  '<!-- not a comment -->',
  '<!DOCTYPE x>',
  '<?pi?>',
  '1e3',
  '-0',
  '',
);
const value = fc
  .array(fc.oneof(tricky, fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 4 })
  .map((parts) => parts.join(''))
  .filter(VALID_XML_TEXT);

const fieldName = fc
  .oneof(
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,16}$/),
    fc.constantFrom('xml', 'sign', 'return_code', 'out_trade_no', '_', 'A', 'a1', '__toString', 'proto', 'Constructor'),
  )
  .filter((n) => !isReservedFieldName(n));

/** One piece of a field's content: CDATA, escaped text or a comment, with what it stands for. */
interface Segment {
  kind: 'cdata' | 'text' | 'comment';
  raw: string;
  decoded: string;
}

type TextStyle = 'minimal' | 'entities' | 'decimal' | 'hex';

function escapeText(v: string, style: TextStyle): string {
  let out = '';
  for (const ch of v) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '&') out += style === 'decimal' ? '&#38;' : style === 'hex' ? '&#x26;' : '&amp;';
    else if (ch === '<') out += style === 'decimal' ? '&#60;' : '&lt;';
    else if (ch === '>') out += style === 'minimal' && !out.endsWith(']]') ? '>' : '&gt;';
    else if (ch === '\r') out += style === 'hex' ? '&#xD;' : '&#13;';
    else if (ch === '"' && style === 'entities') out += '&quot;';
    else if (ch === "'" && style === 'entities') out += '&apos;';
    else if (style === 'decimal' && cp > 0x7e) out += `&#${cp};`;
    else if (style === 'hex' && cp > 0x7e) out += `&#x${cp.toString(16)};`;
    else out += ch;
  }
  return out;
}

/** CDATA sections for v: `]]>` split across sections, CR between them as &#13; (as toXml does). */
function cdataSegments(v: string): Segment[] {
  const out: Segment[] = [];
  const lines = v.split('\r');
  lines.forEach((line, i) => {
    if (i > 0) out.push({ kind: 'text', raw: '&#13;', decoded: '\r' });
    const pieces = line.split(']]>');
    pieces.forEach((piece, j) => {
      const body = (j > 0 ? '>' : '') + piece + (j < pieces.length - 1 ? ']]' : '');
      out.push({ kind: 'cdata', raw: `<![CDATA[${body}]]>`, decoded: body.replace(/\r\n?/g, '\n') });
    });
  });
  return out;
}

/** Adjacent text segments are one text in the document: "]]" then ">" must not make a raw "]]>". */
function joinTexts(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const seg of segments) {
    const last = out[out.length - 1];
    if (seg.kind === 'text' && last?.kind === 'text') out[out.length - 1] = { kind: 'text', raw: last.raw + seg.raw, decoded: last.decoded + seg.decoded };
    else out.push(seg);
  }
  return out.map((seg) => (seg.kind === 'text' ? { ...seg, raw: seg.raw.split(']]>').join(']]&gt;') } : seg));
}

function textSegment(v: string, style: TextStyle): Segment {
  return { kind: 'text', raw: escapeText(v, style), decoded: v };
}

const layoutWs = fc.constantFrom(' ', '\n', '\r\n', '\t', '\n    ', '  \r\n  ');
const comment = fc.constantFrom('<!---->', '<!-- c -->', '<!-- ]]> <![CDATA[ -->', '<!--->x-->', '<!-- <xml> -->');

/** What a field's content means: the rule both readers implement (layout around CDATA is dropped). */
function meaning(segments: Segment[]): string {
  const texts = segments.filter((s) => s.kind === 'text');
  const hasCdata = segments.some((s) => s.kind === 'cdata');
  if (hasCdata && texts.every((s) => /^[ \t\r\n]*$/.test(s.raw))) {
    return segments.filter((s) => s.kind === 'cdata').map((s) => s.decoded).join('');
  }
  return segments.map((s) => (s.kind === 'comment' ? '' : s.decoded)).join('');
}

const textStyle = fc.constantFrom<TextStyle>('minimal', 'entities', 'decimal', 'hex');

/** The content of a field holding v, in one of the ways a producer may write it. */
const content = (v: string): fc.Arbitrary<{ segments: Segment[]; selfClosing: boolean }> =>
  fc.oneof(
    // What WeChat and toXml send.
    fc.constant({ segments: cdataSegments(v), selfClosing: false }),
    // CDATA with layout around it (a pretty-printed document).
    fc.tuple(layoutWs, layoutWs).map(([a, b]) => ({
      segments: [{ kind: 'text', raw: a, decoded: a.replace(/\r\n?/g, '\n') }, ...cdataSegments(v), { kind: 'text', raw: b, decoded: b.replace(/\r\n?/g, '\n') }] as Segment[],
      selfClosing: false,
    })),
    // Plain text with entity or character references.
    textStyle.map((style) => ({ segments: v === '' ? [] : [textSegment(v, style)], selfClosing: false })),
    // Chunks of text and CDATA with comments between them.
    fc
      .tuple(fc.array(fc.nat(v.length), { maxLength: 4 }), fc.array(fc.tuple(fc.boolean(), textStyle, fc.option(comment, { nil: undefined })), { minLength: 5, maxLength: 5 }))
      .map(([cuts, choices]) => {
        const points = [...new Set([0, ...cuts, v.length])].sort((a, b) => a - b);
        // Never cut a surrogate pair.
        const safe = points.filter((p) => p === 0 || p === v.length || !(v.charCodeAt(p - 1) >= 0xd800 && v.charCodeAt(p - 1) <= 0xdbff));
        const segments: Segment[] = [];
        for (let k = 0; k + 1 < safe.length; k++) {
          const chunk = v.slice(safe[k], safe[k + 1]);
          const [asCdata, style, note] = choices[k % choices.length] as [boolean, TextStyle, string | undefined];
          segments.push(...(asCdata ? cdataSegments(chunk) : [textSegment(chunk, style)]));
          if (note !== undefined) segments.push({ kind: 'comment', raw: note, decoded: '' });
        }
        return { segments: joinTexts(segments), selfClosing: false };
      }),
    ...(v === '' ? [fc.constant({ segments: [] as Segment[], selfClosing: true })] : []),
  );

const attributes = fc.constantFrom('', ' x="1"', " lang='zh_CN'", ' a="&amp;&#20013;" b=\'"\'', '\n  id = "]]>"', ' xml:lang="zh"');
const endSpace = fc.constantFrom('', ' ', '\n');

interface FieldDoc {
  name: string;
  attrs: string;
  /** undefined: self-closing */
  body: string | undefined;
  endSpace: string;
  meaning: string;
}

const fieldText = (f: FieldDoc, name = f.name): string =>
  f.body === undefined ? `<${name}${f.attrs}${f.endSpace === '' ? '' : ' '}/>` : `<${name}${f.attrs}>${f.body}</${name}${f.endSpace}>`;

const field = (name: string, v: string): fc.Arbitrary<FieldDoc> =>
  fc.tuple(content(v), attributes, endSpace).map(([c, attrs, sp]) => ({
    name,
    attrs,
    body: c.selfClosing ? undefined : c.segments.map((s) => s.raw).join(''),
    endSpace: sp,
    meaning: c.selfClosing ? '' : meaning(c.segments),
  }));

interface Doc {
  prolog: string;
  open: string;
  fields: FieldDoc[];
  gaps: string[];
  close: string;
  epilog: string;
  expected: Record<string, string>;
}

/** The document's text; `swap` puts other text in place of field `index`. */
const render = (d: Doc, swap?: { index: number; text: string }): string =>
  d.prolog +
  d.open +
  d.fields.map((f, i) => (d.gaps[i] ?? '') + (swap?.index === i ? swap.text : fieldText(f))).join('') +
  (d.gaps[d.fields.length] ?? '') +
  d.close +
  d.epilog;

const gap = fc.oneof(fc.constant(''), layoutWs, comment, fc.tuple(layoutWs, comment, layoutWs).map((p) => p.join('')));
const prolog = fc
  .tuple(
    fc.boolean(),
    fc.constantFrom('', '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>"),
    gap,
  )
  .map(([bom, decl, g]) => (bom ? '\uFEFF' : '') + decl + g);

const flatDoc: fc.Arbitrary<Doc> = fc
  .dictionary(fieldName, value, { maxKeys: 12 })
  .chain((fields) => {
    const entries = Object.entries(fields);
    return fc.record({
      prolog,
      open: fc.constantFrom('<xml>', '<xml >', '<xml\n>', '<xml a="1">'),
      fields: entries.length === 0 ? fc.constant([] as FieldDoc[]) : fc.tuple(...entries.map(([n, v]) => field(n, v))),
      gaps: fc.array(gap, { minLength: entries.length + 1, maxLength: entries.length + 1 }),
      close: fc.constantFrom('</xml>', '</xml >', '</xml\n>'),
      epilog: gap,
    });
  })
  .map((d) => ({ ...d, expected: Object.fromEntries(d.fields.map((f) => [f.name, f.meaning])) }));

t.test('generated flat documents: both readers give exactly the fields meant, from text and from bytes', async (t) => {
  let fields = 0;
  fc.assert(
    fc.property(flatDoc, (d) => {
      const doc = render(d);
      fields += d.fields.length;
      for (const input of [doc, Buffer.from(doc, 'utf8')]) {
        const ours = readers.parseXml(input);
        const ref = readers.reference(input);
        if (!ours.ok || !ref.ok) throw new Error(`refused: ${JSON.stringify(doc)} ours=${JSON.stringify(ours)} ref=${JSON.stringify(ref)}`);
        t.same(ours.fields, d.expected);
        t.same(ref.fields, ours.fields);
        if (JSON.stringify(ours.fields) !== JSON.stringify(ref.fields) || JSON.stringify(Object.keys(ours.fields)) !== JSON.stringify(Object.keys(d.expected))) {
          throw new Error(`differ: ${JSON.stringify(doc)}`);
        }
        if (Object.getPrototypeOf(ours.fields) !== Object.prototype) throw new Error('not a plain object');
      }
    }),
    { numRuns: 400 },
  );
  t.ok(fields > 1000, `${fields} fields read`);
});

// ---- hostile documents: one defect put into an otherwise valid document --------------------------

type Where = 'prolog' | 'gap' | 'value' | 'epilog';
interface Defect {
  label: string;
  code: XmlErrorCode | readonly XmlErrorCode[];
  apply(d: Doc, at: number): { doc: string | Buffer; maxBytes?: number } | undefined;
}

function insert(d: Doc, where: Where, what: string, at: number): string {
  const i = d.fields.length === 0 ? 0 : at % d.fields.length;
  switch (where) {
    case 'prolog':
      return render({ ...d, prolog: d.prolog + what });
    case 'epilog':
      return render({ ...d, epilog: what + d.epilog });
    case 'gap': {
      const gaps = [...d.gaps];
      const g = at % gaps.length;
      gaps[g] = (gaps[g] ?? '') + what;
      return render({ ...d, gaps });
    }
    case 'value': {
      const f = d.fields[i];
      if (!f) return render({ ...d, gaps: [`<a>${what}</a>`] });
      const fields = [...d.fields];
      fields[i] = { ...f, body: what + (f.body ?? '') };
      return render({ ...d, fields });
    }
  }
}

function renamed(d: Doc, at: number, name: string): string | undefined {
  const i = at % Math.max(1, d.fields.length);
  const f = d.fields[i];
  if (!f) return undefined;
  return render(d, { index: i, text: fieldText(f, name) });
}

const everywhere: Where[] = ['prolog', 'gap', 'value', 'epilog'];
const defects: Defect[] = [
  ...['<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', '<!-- c --><!DOCTYPE x>', '<!ENTITY x "y">', '<!ELEMENT a ANY>', '<!ATTLIST a b CDATA #IMPLIED>', '<![INCLUDE[ x ]]>', '<!doctype x>'].flatMap(
    (decl) => everywhere.map((w): Defect => ({ label: `declaration ${decl} in ${w}`, code: 'XML_FORBIDDEN_DECLARATION', apply: (d, at) => ({ doc: insert(d, w, decl, at) }) })),
  ),
  ...['<?xml-stylesheet href="x.xsl"?>', '<?php echo 1 ?>', '<?pi?>', '<?XML version="1.0"?>'].flatMap((pi) =>
    everywhere.map((w): Defect => ({ label: `processing instruction ${pi} in ${w}`, code: 'XML_FORBIDDEN_DECLARATION', apply: (d, at) => ({ doc: insert(d, w, pi, at) }) })),
  ),
  ...everywhere.map((w): Defect => ({ label: `XML declaration in ${w}`, code: 'XML_MALFORMED', apply: (d, at) => ({ doc: insert(d, w, ' <?xml version="1.0"?>', at) }) })),
  ...['<b>1</b>', '<b/>', '<xml/>', '<中/>'].map((el): Defect => ({ label: `element ${el} inside a field`, code: 'XML_NESTED_FIELD', apply: (d, at) => ({ doc: insert(d, 'value', el, at) }) })),
  {
    label: 'a field twice',
    code: 'XML_DUPLICATE_FIELD',
    apply: (d, at) => {
      const f = d.fields[at % Math.max(1, d.fields.length)];
      return f ? { doc: render({ ...d, fields: [...d.fields, f], gaps: [...d.gaps, ''] }) } : undefined;
    },
  },
  ...['loose', '&amp;', '&#32;', '\u00a0', '\u3000'].map((text): Defect => ({ label: `text ${JSON.stringify(text)} under <xml>`, code: 'XML_NOT_WECHAT', apply: (d, at) => ({ doc: insert(d, 'gap', text, at) }) })),
  { label: 'CDATA under <xml>', code: 'XML_NOT_WECHAT', apply: (d, at) => ({ doc: insert(d, 'gap', '<![CDATA[x]]>', at) }) },
  ...['<xml/>', '<xml></xml>', '<other/>'].map((el): Defect => ({ label: `second root ${el}`, code: 'XML_NOT_WECHAT', apply: (d) => ({ doc: insert(d, 'epilog', el, 0) }) })),
  ...['root', 'XML', 'xmlx', 'Xml'].map(
    (root): Defect => ({
      label: `root <${root}>`,
      code: 'XML_NOT_WECHAT',
      apply: (d) => ({ doc: render({ ...d, open: d.open.replace('<xml', `<${root}`), close: d.close.replace('</xml', `</${root}`) }) }),
    }),
  ),
  ...['text', 'bytes'].map(
    (kind): Defect => ({
      label: `one byte over maxBytes (${kind})`,
      code: 'XML_TOO_LARGE',
      apply: (d) => {
        const doc = render(d);
        return { doc: kind === 'bytes' ? Buffer.from(doc) : doc, maxBytes: Buffer.byteLength(doc) - 1 };
      },
    }),
  ),
  ...[[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe4, 0xb8], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xef, 0xbb]].flatMap((bytes) =>
    everywhere.map(
      (w): Defect => ({
        label: `bytes ${Buffer.from(bytes).toString('hex')} (not UTF-8) in ${w}`,
        code: 'XML_MALFORMED',
        apply: (d, at) => {
          const marker = '\u0000MARK\u0000';
          const [before, after] = insert(d, w, marker, at).split(marker) as [string, string];
          return { doc: Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]) };
        },
      }),
    ),
  ),
  ...['\u0001', '\u0000', '\u000b', '\u001f', '\ufffe', '\uffff', '\ud800', '\udc00x'].flatMap((ch) =>
    (['value', 'gap', 'prolog'] as Where[]).map((w): Defect => ({ label: `character U+${ch.charCodeAt(0).toString(16)} in ${w}`, code: 'XML_MALFORMED', apply: (d, at) => ({ doc: insert(d, w, ch, at) }) })),
  ),
  ...['&#0;', '&#1;', '&#x1F;', '&#xFFFE;', '&#xD800;', '&#1114112;', '&#99999999999999999999;'].map(
    (ref): Defect => ({ label: `character reference ${ref}`, code: 'XML_MALFORMED', apply: (d, at) => ({ doc: insert(d, 'value', ref, at) }) }),
  ),
  ...['&nbsp;', '&xxe;', '&lt x', '& ', '&;', '&#;', '&#x;', '&#X41;', '&#12a;', '&amp ', 'a & b'].map(
    (bad): Defect => ({ label: `entity ${JSON.stringify(bad)} in text`, code: 'XML_MALFORMED', apply: (d, at) => ({ doc: insert(d, 'value', bad, at) }) }),
  ),
  { label: ']]> in text', code: 'XML_MALFORMED', apply: (d, at) => ({ doc: insert(d, 'value', 'x]]>', at) }) },
  { label: '-- inside a comment', code: 'XML_MALFORMED', apply: (d, at) => ({ doc: insert(d, 'gap', '<!-- a -- b -->', at) }) },
  { label: 'comment ending --->', code: 'XML_MALFORMED', apply: (d, at) => ({ doc: insert(d, 'gap', '<!-- a --->', at) }) },
  { label: 'bad attribute', code: 'XML_MALFORMED', apply: (d) => ({ doc: render({ ...d, open: '<xml a=1>' }) }) },
  { label: '< in an attribute value', code: 'XML_MALFORMED', apply: (d) => ({ doc: render({ ...d, open: '<xml a="<">' }) }) },
  { label: 'unknown entity in an attribute value', code: 'XML_MALFORMED', apply: (d) => ({ doc: render({ ...d, open: '<xml a="&xxe;">' }) }) },
  { label: 'duplicate attribute', code: 'XML_MALFORMED', apply: (d) => ({ doc: render({ ...d, open: '<xml a="1" a="2">' }) }) },
  ...['a-b', 'a.b', 'a:b', '中文', 'é'].map((name): Defect => ({ label: `field name ${name}`, code: 'XML_NOT_WECHAT', apply: (d, at) => { const doc = renamed(d, at, name); return doc === undefined ? undefined : { doc }; } })),
  ...['1a', '-a', '.a'].map((name): Defect => ({ label: `element name ${name}`, code: 'XML_MALFORMED', apply: (d, at) => { const doc = renamed(d, at, name); return doc === undefined ? undefined : { doc }; } })),
  ...['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf'].map(
    (name): Defect => ({ label: `reserved name ${name}`, code: 'XML_RESERVED_FIELD', apply: (d, at) => { const doc = renamed(d, at, name); return doc === undefined ? undefined : { doc }; } }),
  ),
  {
    label: 'mismatched end tag',
    code: 'XML_MALFORMED',
    apply: (d, at) => {
      const index = at % Math.max(1, d.fields.length);
      const f = d.fields[index];
      if (!f || f.body === undefined) return undefined;
      return { doc: render(d, { index, text: `<${f.name}${f.attrs}>${f.body}</${f.name}x${f.endSpace}>` }) };
    },
  },
  {
    label: 'unterminated (cut before the root ends)',
    code: ['XML_MALFORMED', 'XML_FORBIDDEN_DECLARATION'],
    apply: (d, at) => {
      const doc = render(d);
      const end = doc.length - d.epilog.length;
      let cut = at % end;
      if (cut > 0 && doc.charCodeAt(cut - 1) >= 0xd800 && doc.charCodeAt(cut - 1) <= 0xdbff) cut--;
      return { doc: doc.slice(0, cut) };
    },
  },
];

t.test('hostile documents: one defect anywhere is refused by both, with its code', async (t) => {
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(flatDoc, fc.nat(defects.length - 1), fc.nat(10_000), (d, k, at) => {
      const defect = defects[k] as Defect;
      const bad = defect.apply(d, at);
      if (!bad) return;
      seen.set(defect.label, (seen.get(defect.label) ?? 0) + 1);
      const ours = readers.parseXml(bad.doc, bad.maxBytes);
      const ref = readers.reference(bad.doc, bad.maxBytes);
      const codes = typeof defect.code === 'string' ? [defect.code] : defect.code;
      if (ours.ok || !codes.includes(ours.code as XmlErrorCode)) {
        throw new Error(`${defect.label}: parseXml ${JSON.stringify(ours)} on ${JSON.stringify(String(bad.doc))}`);
      }
      if (ref.ok || ref.code === 'not XmlError') throw new Error(`${defect.label}: reference ${JSON.stringify(ref)} on ${JSON.stringify(String(bad.doc))}`);
    }),
    { numRuns: 3000 },
  );
  // Every defect actually got tried (the property alone would pass with none).
  const never = defects.map((d) => d.label).filter((l) => !seen.has(l));
  t.same(never, [], 'every kind of defect was generated');
});

// ---- random damage: whatever a few edits make of a valid document, both readers agree -------------

const edit = fc.record({
  at: fc.nat(),
  del: fc.nat(3),
  ins: fc.array(fc.constantFrom('<', '>', '/', '!', '?', '[', ']', '-', '&', ';', '#', 'x', '"', "'", '=', ' ', '\n', '\r', 'a', '1', '_', ':', 'CDATA[', '<!--', '-->', ']]>', '</', '/>', '<xml>', '</xml>', '&amp;', '&#1;', '&#13;', '&lt;', '\u00a0', '\u2028', '\u3000', '\u200b', '中', 'é', '\t', '\u0001', '\uFEFF', '<?', '?>', '<!DOCTYPE x>', ' a="1"', "='", '<a>', '</a>', '<a/>', '%'), { maxLength: 3 }),
});

t.test('random edits of valid documents: both readers accept the same fields or both refuse', async (t) => {
  let refused = 0;
  let accepted = 0;
  fc.assert(
    fc.property(flatDoc, fc.array(edit, { minLength: 1, maxLength: 3 }), (d, edits) => {
      let doc = render(d);
      for (const e of edits) {
        const at = e.at % (doc.length + 1);
        doc = doc.slice(0, at) + e.ins.join('') + doc.slice(at + e.del);
      }
      for (const input of [doc, Buffer.from(doc, 'utf8')]) {
        const ours = readers.parseXml(input);
        const ref = readers.reference(input);
        if (ours.ok !== ref.ok || (ours.ok && ref.ok && JSON.stringify(ours.fields) !== JSON.stringify(ref.fields))) {
          throw new Error(`disagree on ${JSON.stringify(doc)}: parseXml ${JSON.stringify(ours)} reference ${JSON.stringify(ref)}`);
        }
        if (!ours.ok && ours.code === 'not XmlError') throw new Error(`untyped error on ${JSON.stringify(doc)}: ${ours.message}`);
        if (ours.ok) accepted++;
        else refused++;
      }
    }),
    { numRuns: 3000 },
  );
  t.ok(refused > 1000 && accepted > 500, `both outcomes exercised (${accepted} accepted, ${refused} refused)`);
});
