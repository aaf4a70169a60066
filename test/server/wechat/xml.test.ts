import t from 'tap';
import fc from 'fast-check';
import { toXml, parseXml, XmlError, MAX_XML_BYTES, isReservedFieldName } from '../../../server/src/wechat/xml.js';

const fieldName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/).filter((n) => !isReservedFieldName(n));
// Any string XML 1.0 can carry: no C0 controls other than TAB/LF/CR, no U+FFFE/U+FFFF, no lone surrogates.
const xmlChar = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(']]>', ']]]]>', '<![CDATA[', '<', '&', '&amp;', '&#20013;', '中文商品', '😀🧧', '0001409811653', '4200000123202401011234567890', '', ' ', '\r\n', ' padded '),
);
const value = fc
  .array(xmlChar, { maxLength: 4 })
  .map((parts) => parts.join(''))
  .filter((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(s));

t.test('property: toXml/parseXml round trip keeps every value byte for byte', async (t) => {
  fc.assert(
    fc.property(fc.dictionary(fieldName, value, { maxKeys: 15 }), (fields) => {
      const back = parseXml(toXml(fields));
      t.same(back, fields);
      return JSON.stringify(Object.entries(back).sort()) === JSON.stringify(Object.entries(fields).sort());
    }),
    { numRuns: 300 },
  );
});

t.test('values stay strings: leading zeros, 28-digit ids, numbers, empty', async (t) => {
  const xml =
    '<xml><openid><![CDATA[0001409811653]]></openid><transaction_id>4200000123202401011234567890</transaction_id>' +
    '<total_fee>100</total_fee><attach><![CDATA[]]></attach><detail></detail><device_info/><x>1e3</x></xml>';
  t.same(parseXml(xml), {
    openid: '0001409811653',
    transaction_id: '4200000123202401011234567890',
    total_fee: '100',
    attach: '',
    detail: '',
    device_info: '',
    x: '1e3',
  });
  t.same(parseXml(toXml({ total_fee: 1, a: undefined, b: null, c: 0 })), { total_fee: '1', c: '0' });
});

t.test('toXml: CDATA split for ]]>, names validated, bad characters refused', async (t) => {
  t.equal(toXml({ a: 'x]]>y' }), '<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>');
  t.equal(toXml({ return_code: 'SUCCESS' }), '<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>');
  t.throws(() => toXml({ 'a b': '1' }), TypeError);
  t.throws(() => toXml({ '': '1' }), TypeError);
  t.throws(() => toXml({ 'a>': '1' }), TypeError);
  t.throws(() => toXml({ a: '\u0001' }), TypeError);
  t.throws(() => toXml({ a: '\uD800' }), TypeError);
  t.throws(() => toXml({ a: Number.NaN }), TypeError);
});

t.test('text (non-CDATA) values: entities decoded, layout around CDATA ignored', async (t) => {
  t.same(parseXml('<xml><a>x &amp; &lt;y&gt; &#20013;&#x6587; &quot;&apos;</a></xml>'), { a: 'x & <y> 中文 "\'' });
  t.same(parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n  <a>\n    <![CDATA[ v ]]>\n  </a>\n</xml>\n'), { a: ' v ' });
  t.same(parseXml('<xml><a> raw text </a></xml>'), { a: ' raw text ' });
  t.same(parseXml('<xml><a x="1">v</a></xml>'), { a: 'v' }, 'attributes ignored');
  t.same(parseXml(Buffer.from('\uFEFF<xml><body><![CDATA[商品😀]]></body></xml>', 'utf8')), { body: '商品😀' });
  t.same(parseXml('<xml></xml>'), {});
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof XmlError ? e.code : `not XmlError: ${String(e)}`;
  }
}

t.test('refuses DOCTYPE and ENTITY declarations, wherever they hide', async (t) => {
  const xxe =
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>';
  t.equal(code(() => parseXml(xxe)), 'XML_FORBIDDEN_DECLARATION');
  const billion = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><xml><a>&lol2;</a></xml>';
  t.equal(code(() => parseXml(billion)), 'XML_FORBIDDEN_DECLARATION');
  t.equal(code(() => parseXml('<!doctype xml><xml/>')), 'XML_FORBIDDEN_DECLARATION');
  t.equal(code(() => parseXml('<xml><a>1</a><!ENTITY x "y"></xml>')), 'XML_FORBIDDEN_DECLARATION');
  t.equal(code(() => parseXml('<xml><!-- <![CDATA[ --><!ENTITY x "y"> ]]> --></xml>')), 'XML_FORBIDDEN_DECLARATION');
  t.equal(code(() => parseXml('<xml><a g="]]> -->">1</a><!DOCTYPE x></xml>')), 'XML_FORBIDDEN_DECLARATION');
  t.equal(code(() => parseXml("<xml><a g='\"' h=\"'\">1</a><!DOCTYPE x></xml>")), 'XML_FORBIDDEN_DECLARATION');
  // XML does not allow < in an attribute value, so no comment can start there to hide what follows.
  t.equal(code(() => parseXml('<xml><a g="<!--">1</a><!DOCTYPE x></xml>')), 'XML_MALFORMED');
  t.equal(code(() => parseXml(Buffer.from(xxe, 'utf8'))), 'XML_FORBIDDEN_DECLARATION');
  // The same text inside CDATA is just a value.
  t.same(parseXml('<xml><a><![CDATA[<!DOCTYPE x>]]></a></xml>'), { a: '<!DOCTYPE x>' });
});

t.test('refuses nested, duplicate, oversize, non-WeChat and malformed documents', async (t) => {
  t.equal(code(() => parseXml('<xml><a><b>1</b></a></xml>')), 'XML_NESTED_FIELD');
  t.equal(code(() => parseXml('<xml><a>x<b/></a></xml>')), 'XML_NESTED_FIELD');
  t.equal(code(() => parseXml('<xml><a>1</a><a>2</a></xml>')), 'XML_DUPLICATE_FIELD');
  t.equal(code(() => parseXml('<xml><a>1</a><b/><a>1</a></xml>')), 'XML_DUPLICATE_FIELD');
  t.equal(code(() => parseXml('<root><a>1</a></root>')), 'XML_NOT_WECHAT');
  t.equal(code(() => parseXml('<xml><a>1</a></xml><xml/>')), 'XML_NOT_WECHAT');
  t.equal(code(() => parseXml('<xml>loose<a>1</a></xml>')), 'XML_NOT_WECHAT');
  t.equal(code(() => parseXml('<xml><__proto__>1</__proto__></xml>')), 'XML_RESERVED_FIELD');
  t.equal(({} as Record<string, unknown>)['1'], undefined, 'no prototype pollution');
  t.equal(code(() => parseXml('<xml><a-b>1</a-b></xml>')), 'XML_NOT_WECHAT');
  t.equal(code(() => parseXml('{"return_code":"SUCCESS"}')), 'XML_MALFORMED');
  t.equal(code(() => parseXml('')), 'XML_MALFORMED');
  t.equal(code(() => parseXml('   ')), 'XML_MALFORMED');
  t.equal(code(() => parseXml('<xml><a>1</xml>')), 'XML_MALFORMED');
  t.equal(code(() => parseXml('<xml><a>1 & 2</a></xml>')), 'XML_MALFORMED');
  t.equal(code(() => parseXml('<xml><a>&nbsp;</a></xml>')), 'XML_MALFORMED');
  t.equal(code(() => parseXml('<xml><a><![CDATA[open</a></xml>')), 'XML_MALFORMED');
  t.equal(code(() => parseXml(Buffer.from([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e]))), 'XML_MALFORMED');
  t.equal(code(() => parseXml(42 as never)), 'XML_MALFORMED');

  const big = toXml({ body: 'x'.repeat(MAX_XML_BYTES) });
  t.equal(code(() => parseXml(big)), 'XML_TOO_LARGE');
  t.equal(code(() => parseXml(Buffer.from(big))), 'XML_TOO_LARGE');
  t.equal(code(() => parseXml('<xml><a>中</a></xml>', { maxBytes: 20 })), 'XML_TOO_LARGE', 'bytes, not characters');
  t.same(parseXml('<xml><a>中</a></xml>', { maxBytes: 21 }), { a: '中' });
});

t.test('refuses what the fast-xml-parser reading let through: PIs, characters XML cannot carry, stray & and ]]>, bad markup', async (t) => {
  const cases: Array<[string | Buffer, string]> = [
    // processing instructions other than the XML declaration at the very start
    ['<xml><?pi x?><a>1</a></xml>', 'XML_FORBIDDEN_DECLARATION'],
    ['<?xml-stylesheet href="x.xsl"?><xml><a>1</a></xml>', 'XML_FORBIDDEN_DECLARATION'],
    ['<xml><a>1</a></xml><?pi?>', 'XML_FORBIDDEN_DECLARATION'],
    ['<xml><a>x<?php echo 1 ?>y</a></xml>', 'XML_FORBIDDEN_DECLARATION'],
    ['<?XML version="1.0"?><xml/>', 'XML_FORBIDDEN_DECLARATION'],
    ['<?xmlfoo?><xml/>', 'XML_FORBIDDEN_DECLARATION'],
    ['<xml><a>1</a><?xml version="1.0"?></xml>', 'XML_MALFORMED'],
    ['<?xml?><xml/>', 'XML_MALFORMED'],
    ['<?xml foo="bar"?><xml/>', 'XML_MALFORMED'],
    // characters XML 1.0 cannot carry, raw or as references
    ['<xml><a>\u0001</a></xml>', 'XML_MALFORMED'],
    ['<xml><a><![CDATA[\u0000]]></a></xml>', 'XML_MALFORMED'],
    ['<xml><a><![CDATA[\uFFFE]]></a></xml>', 'XML_MALFORMED'],
    ['<xml><a>\uD800</a></xml>', 'XML_MALFORMED'],
    [Buffer.from('<xml><a>\u000B</a></xml>'), 'XML_MALFORMED'],
    ['<xml><a>&#1;</a></xml>', 'XML_MALFORMED'],
    ['<xml><a>&#xFFFE;</a></xml>', 'XML_MALFORMED'],
    ['<xml><a>&#xD800;</a></xml>', 'XML_MALFORMED'],
    // a & that starts no reference, ]]> in text, -- in a comment
    ['<xml><a>&#;</a></xml>', 'XML_MALFORMED'],
    ['<xml><a>&#x;</a></xml>', 'XML_MALFORMED'],
    ['<xml><a>x]]>y</a></xml>', 'XML_MALFORMED'],
    ['<xml><a>1</a><!-- a -- b --></xml>', 'XML_MALFORMED'],
    ['<xml><a>1</a><!-- a ---></xml>', 'XML_MALFORMED'],
    // attributes and tags
    ['<xml><a b="&xxe;">1</a></xml>', 'XML_MALFORMED'],
    ['<xml><a b="<">1</a></xml>', 'XML_MALFORMED'],
    ['<xml><a\u00a0>1</a></xml>', 'XML_MALFORMED'],
    ['<xml><a>1</a\uFEFF></xml>', 'XML_MALFORMED'],
    // text outside the root element
    ['<xml><a>1</a></xml>&amp;', 'XML_MALFORMED'],
    ['\uFEFF\uFEFF<xml><a>1</a></xml>', 'XML_MALFORMED'],
  ];
  for (const [doc, expected] of cases) t.equal(code(() => parseXml(doc)), expected, JSON.stringify(String(doc)));
  // What stays accepted around them.
  t.same(parseXml('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><xml><a>&#9;&#10;&#13;&#x10FFFF;</a><!-- ok - ok --></xml>'), { a: '\t\n\r\u{10FFFF}' });
  t.same(parseXml('<xml><a b="]]> &amp; &#20013;">x]]<!---->>y</a></xml>'), { a: 'x]]>y' });
  t.same(parseXml('\uFEFF<xml><a>1</a></xml>'), { a: '1' });
});

t.test('field names a plain object cannot carry as is are refused, never renamed or dropped', async (t) => {
  const reserved = [
    '__proto__', 'constructor', 'prototype', 'toString', 'toLocaleString', 'valueOf', 'hasOwnProperty',
    'isPrototypeOf', 'propertyIsEnumerable', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__',
  ];
  for (const own of Object.getOwnPropertyNames(Object.prototype)) t.ok(reserved.includes(own) && isReservedFieldName(own), `${own} is reserved`);
  for (const name of reserved) {
    for (const doc of [
      `<xml><${name}>1</${name}></xml>`,
      `<xml><a>1</a><${name}><![CDATA[x]]></${name}><b>2</b></xml>`,
      `<xml><${name}/></xml>`,
      `<?xml version="1.0"?>\n<xml>\n  <${name} x="1"> <![CDATA[x]]> </${name} >\n</xml>`,
    ]) {
      t.equal(code(() => parseXml(doc)), 'XML_RESERVED_FIELD', doc);
      t.equal(code(() => parseXml(Buffer.from(doc))), 'XML_RESERVED_FIELD', `${doc} (bytes)`);
    }
    t.throws(() => toXml({ [name]: '1' }), TypeError, `toXml refuses ${name}`);
  }
  t.equal(Object.getPrototypeOf({}), Object.prototype, 'no prototype pollution');
  // Names that only look like them are ordinary fields, carried as they are.
  t.same(parseXml('<xml><__toString>1</__toString><tostring>2</tostring><toString_>3</toString_><proto>4</proto></xml>'), {
    __toString: '1',
    tostring: '2',
    toString_: '3',
    proto: '4',
  });
});

t.test('XmlError carries a code and a name', async (t) => {
  const e = new XmlError('XML_MALFORMED', 'x');
  t.equal(e.code, 'XML_MALFORMED');
  t.equal(e.name, 'XmlError');
  t.ok(e instanceof Error);
});
