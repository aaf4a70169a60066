// The i18n module: two complete catalogs, the language taken from WeChat's setting, placeholders.
import t from 'tap';
import { catalogs, getLocale, isMessageKey, labels, localeFromLanguage, setLocale, t as tr, type MessageKey } from '../../miniprogram/i18n/index.js';

const CJK = /[\u3400-\u9fff\uff00-\uffef]/;
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

t.test('English has every key of 简体中文 and no other, each a non-empty string', async (t) => {
  const zh = Object.keys(catalogs['zh-CN']).sort();
  const en = Object.keys(catalogs.en).sort();
  t.same(en, zh);
  for (const locale of ['zh-CN', 'en'] as const) {
    for (const [k, v] of Object.entries(catalogs[locale])) t.ok(typeof v === 'string' && v.trim() !== '', `${locale} ${k}`);
  }
});

t.test('the same placeholders in both languages', async (t) => {
  for (const key of Object.keys(catalogs['zh-CN']) as MessageKey[]) {
    t.same(placeholders(catalogs.en[key]), placeholders(catalogs['zh-CN'][key]), key);
  }
});

t.test('English is English: no Chinese characters in it; 简体中文 is Chinese where there are words', async (t) => {
  for (const [k, v] of Object.entries(catalogs.en)) t.notMatch(v, CJK, `en ${k}`);
  // symbols and placeholders alone (−, +, × {n}, {n}/200, {text}（{code}）) need no translation
  const words = (v: string) => v.replace(/\{\w+\}/g, '').replace(/[^\p{L}]/gu, '');
  for (const [k, v] of Object.entries(catalogs['zh-CN'])) {
    if (words(v) !== '') t.match(v, CJK, `zh-CN ${k} is in Chinese`);
  }
});

t.test("WeChat's language picks the locale: English for en*, 简体中文 for everything else", async (t) => {
  for (const lang of ['en', 'en_US', 'en-GB', 'EN']) t.equal(localeFromLanguage(lang), 'en', lang);
  for (const lang of ['zh_CN', 'zh_TW', 'zh_HK', 'ja', '', 'english?', undefined, null, 42]) t.equal(localeFromLanguage(lang), 'zh-CN', String(lang));
});

t.test('t(): the current locale, placeholders filled, unknown ones left as they are', async (t) => {
  t.teardown(() => setLocale('zh-CN'));
  t.equal(getLocale(), 'zh-CN', 'the default');
  t.equal(tr('common.retry'), '重试');
  t.equal(tr('goods.summary', { count: 3 }), '共 3 件 · ');
  t.equal(tr('error.withCode', { text: '订单不存在' }), '订单不存在（{code}）', 'a missing parameter stays visible');
  setLocale('en');
  t.equal(tr('common.retry'), 'Retry');
  t.equal(tr('confirm.orderNo', { no: 'T1' }), 'Order T1');
  t.same(labels({ a: 'common.retry', b: 'common.myOrders' }), { a: 'Retry', b: 'My orders' });
  setLocale('fr' as never);
  t.equal(getLocale(), 'zh-CN', 'an unknown locale falls back to 简体中文');
  t.ok(isMessageKey('common.retry'));
  t.notOk(isMessageKey('common.nope'));
  t.notOk(isMessageKey('toString'), 'no inherited names');
});
