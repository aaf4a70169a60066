import t from 'tap';
import { nonceStr } from '../../../server/src/wechat/nonce.js';

t.test('default: 32 chars of [A-Za-z0-9]', async (t) => {
  const n = nonceStr();
  t.match(n, /^[A-Za-z0-9]{32}$/);
});

t.test('lengths 1..32 are honoured, others refused', async (t) => {
  for (let len = 1; len <= 32; len++) t.equal(nonceStr(len).length, len);
  t.throws(() => nonceStr(0), RangeError);
  t.throws(() => nonceStr(33), RangeError);
  t.throws(() => nonceStr(1.5), RangeError);
});

t.test('nonces do not repeat and use the whole alphabet', async (t) => {
  const seen = new Set<string>();
  const chars = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const n = nonceStr();
    seen.add(n);
    for (const c of n) chars.add(c);
  }
  t.equal(seen.size, 2000);
  t.equal(chars.size, 62);
});
