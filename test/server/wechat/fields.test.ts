import t from 'tap';
import fc from 'fast-check';
import { parseIntField, FieldError, OUT_TRADE_NO_RE } from '../../../server/src/wechat/fields.js';

t.test('parseIntField accepts strict integers', async (t) => {
  t.equal(parseIntField('1', 'total_fee'), 1);
  t.equal(parseIntField('0001', 'total_fee'), 1);
  t.equal(parseIntField('-5', 'x'), -5);
  t.equal(parseIntField(String(Number.MAX_SAFE_INTEGER), 'x'), Number.MAX_SAFE_INTEGER);
  t.ok(Object.is(parseIntField('-0', 'x'), 0));
  fc.assert(fc.property(fc.maxSafeInteger(), (n) => parseIntField(String(n), 'x') === n));
});

t.test('parseIntField refuses everything else with a typed error', async (t) => {
  for (const bad of ['1.0', '1e3', ' 1', '1 ', '+1', '0x10', 'abc', '１', '9007199254740993', '--1']) {
    t.throws(() => parseIntField(bad, 'total_fee'), { name: 'FieldError', code: 'BAD_FIELD', field: 'total_fee' }, bad);
  }
  t.throws(() => parseIntField(undefined, 'cash_fee'), { code: 'MISSING_FIELD', field: 'cash_fee' });
  t.throws(() => parseIntField('', 'cash_fee'), { code: 'MISSING_FIELD' });
  try {
    parseIntField('x', 'f');
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof FieldError);
  }
});

t.test('OUT_TRADE_NO_RE', async (t) => {
  for (const ok of ['1', 'A_b-c|d*e@f', 'x'.repeat(32), '20240101123456789012']) t.match(ok, OUT_TRADE_NO_RE);
  for (const bad of ['', 'x'.repeat(33), 'a b', 'a.b', '中', 'a/b', 'a#b']) t.notMatch(bad, OUT_TRADE_NO_RE);
});
