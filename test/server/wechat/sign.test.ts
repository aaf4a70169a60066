import t from 'tap';
import fc from 'fast-check';
import { createHash, createHmac } from 'node:crypto';
import { sign, verifySign, isSignType, SIGN_TYPES, signingString } from '../../../server/src/wechat/sign.js';

// The worked example of WeChat Pay's "安全规范" (signing) page.
const OFFICIAL = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};
const OFFICIAL_KEY = '192006250b4c09247ec02edce69f6a2d';

t.test('official example: MD5 and HMAC-SHA256', async (t) => {
  t.equal(
    signingString(OFFICIAL),
    'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA',
  );
  t.equal(sign(OFFICIAL, OFFICIAL_KEY, 'MD5'), '9A0A8659F005D6984697E2CA0A9CF3B7');
  t.equal(
    sign(OFFICIAL, OFFICIAL_KEY, 'HMAC-SHA256'),
    '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
  );
  t.ok(verifySign({ ...OFFICIAL, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' }, OFFICIAL_KEY, 'MD5'));
  t.notOk(verifySign({ ...OFFICIAL, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' }, OFFICIAL_KEY, 'HMAC-SHA256'));
});

t.test('empty, null and undefined values and sign itself are left out; numbers are stringified', async (t) => {
  const withExtras = { ...OFFICIAL, sign: 'WHATEVER', attach: '', detail: undefined, goods_tag: null };
  t.equal(sign(withExtras, OFFICIAL_KEY, 'MD5'), '9A0A8659F005D6984697E2CA0A9CF3B7');
  t.equal(sign({ ...OFFICIAL, mch_id: 10000100 }, OFFICIAL_KEY, 'MD5'), '9A0A8659F005D6984697E2CA0A9CF3B7');
  // sign_type is a signed field like any other
  t.not(sign({ ...OFFICIAL, sign_type: 'MD5' }, OFFICIAL_KEY, 'MD5'), '9A0A8659F005D6984697E2CA0A9CF3B7');
});

t.test('ASCII order: upper case before lower case, raw values (no URL encoding)', async (t) => {
  t.equal(signingString({ b: '1', B: '2', a_b: 'x&y=z', a: '中 文' }), 'B=2&a=中 文&a_b=x&y=z&b=1');
});

t.test('verifySign refuses a missing, empty, lower-case or truncated sign', async (t) => {
  const good = sign(OFFICIAL, OFFICIAL_KEY, 'MD5');
  t.notOk(verifySign({ ...OFFICIAL }, OFFICIAL_KEY, 'MD5'));
  t.notOk(verifySign({ ...OFFICIAL, sign: '' }, OFFICIAL_KEY, 'MD5'));
  t.notOk(verifySign({ ...OFFICIAL, sign: good.toLowerCase() }, OFFICIAL_KEY, 'MD5'));
  t.notOk(verifySign({ ...OFFICIAL, sign: good.slice(0, 31) }, OFFICIAL_KEY, 'MD5'));
  t.notOk(verifySign({ ...OFFICIAL, sign: good }, 'another-demo-key', 'MD5'));
  t.notOk(verifySign({ ...OFFICIAL, sign: good }, OFFICIAL_KEY, 'SHA1' as never));
});

t.test('isSignType and SIGN_TYPES', async (t) => {
  t.same([...SIGN_TYPES], ['MD5', 'HMAC-SHA256']);
  t.ok(isSignType('MD5'));
  t.ok(isSignType('HMAC-SHA256'));
  t.notOk(isSignType('md5'));
  t.notOk(isSignType(undefined));
  t.throws(() => sign(OFFICIAL, '', 'MD5'));
  t.throws(() => sign(OFFICIAL, OFFICIAL_KEY, 'SHA1' as never));
});

const fieldName = fc.stringMatching(/^[A-Za-z0-9_]{1,16}$/).filter((n) => n !== 'sign');
const params = fc.dictionary(fieldName, fc.string({ unit: 'grapheme', maxLength: 40 }), { minKeys: 1, maxKeys: 12 });
const key = fc.stringMatching(/^[A-Za-z0-9]{32}$/);
const signType = fc.constantFrom(...SIGN_TYPES);

t.test('property: sign then verify round trips', async (t) => {
  fc.assert(
    fc.property(params, key, signType, (p, k, st) => verifySign({ ...p, sign: sign(p, k, st) }, k, st)),
  );
  t.pass('round trip held');
});

t.test('property: changing any non-empty value breaks verification', async (t) => {
  fc.assert(
    fc.property(
      params.filter((p) => Object.values(p).some((v) => v !== '')),
      key,
      signType,
      fc.nat(),
      fc.string({ minLength: 1, maxLength: 8 }),
      (p, k, st, pick, extra) => {
        const signed = { ...p, sign: sign(p, k, st) };
        const names = Object.keys(p).filter((n) => p[n] !== '');
        const name = names[pick % names.length] as string;
        const tampered = { ...signed, [name]: `${p[name]}${extra}` };
        return !verifySign(tampered, k, st);
      },
    ),
  );
  fc.assert(
    fc.property(params, key, signType, fieldName, fc.string({ minLength: 1, maxLength: 8 }), (p, k, st, name, v) => {
      fc.pre(!(name in p));
      return !verifySign({ ...p, [name]: v, sign: sign(p, k, st) }, k, st);
    }),
  );
  t.pass('tampering detected');
});

t.test('property: verifySign accepts exactly the upper-case hex sign() gives, nothing that differs in one character', async (t) => {
  const hexOrNot = fc.constantFrom(...'0123456789ABCDEFabcdefGZ -\u0000é');
  fc.assert(
    fc.property(params, key, signType, fc.nat(), hexOrNot, (p, k, st, at, ch) => {
      const good = sign(p, k, st);
      const i = at % good.length;
      const other = good.slice(0, i) + ch + good.slice(i + 1);
      return verifySign({ ...p, sign: other }, k, st) === (other === good);
    }),
  );
  t.throws(() => verifySign({ ...OFFICIAL, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' }, '', 'MD5'), TypeError, 'an empty key is a programming error');
  t.notOk(verifySign({ ...OFFICIAL, sign: '9A0A8659F005D6984697E2CA0A9CF3B7'.repeat(2) }, OFFICIAL_KEY, 'MD5'), 'too long');
  t.notOk(verifySign({ ...OFFICIAL, sign: '9A0A8659F005D6984697E2CA0A9CF3B' + 'g' }, OFFICIAL_KEY, 'MD5'), 'not hex');
});

t.test('non-ASCII values are signed as UTF-8 bytes, as WeChat does', async (t) => {
  const p = { ...OFFICIAL, body: '拿铁咖啡 Latte 😀' };
  const text = `${signingString(p)}&key=${OFFICIAL_KEY}`;
  t.equal(sign(p, OFFICIAL_KEY, 'MD5'), createHash('md5').update(Buffer.from(text, 'utf8')).digest('hex').toUpperCase());
  t.equal(sign(p, OFFICIAL_KEY, 'HMAC-SHA256'), createHmac('sha256', OFFICIAL_KEY).update(Buffer.from(text, 'utf8')).digest('hex').toUpperCase());
});
