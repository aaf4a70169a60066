// The mini-program's one i18n module: every string a buyer sees comes from here.
// 简体中文 by default; English for a WeChat set to English (wx.getAppBaseInfo().language),
// chosen once at launch by app.ts. Pages read their labels into data (`i18n`), services call t().
import { en } from './en.js';
import { zhCN } from './zh-CN.js';

export type Locale = 'zh-CN' | 'en';
export type MessageKey = keyof typeof zhCN;
export type Messages = Readonly<Record<MessageKey, string>>;

export const LOCALES: readonly Locale[] = ['zh-CN', 'en'];
export const catalogs: Readonly<Record<Locale, Messages>> = { 'zh-CN': zhCN, en };

let current: Locale = 'zh-CN';

/** WeChat's language ('zh_CN', 'zh_TW', 'en', 'en_US', …) → ours: English for en*, 简体中文 otherwise. */
export function localeFromLanguage(language: unknown): Locale {
  return typeof language === 'string' && /^en(?:[-_]|$)/i.test(language.trim()) ? 'en' : 'zh-CN';
}

export function setLocale(locale: Locale): void {
  current = LOCALES.includes(locale) ? locale : 'zh-CN';
}

export function getLocale(): Locale {
  return current;
}

export function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(zhCN, key);
}

/** The message for `key` in the current locale, with {name} placeholders filled in. */
export function t(key: MessageKey, params?: Readonly<Record<string, string | number>>): string {
  const text = catalogs[current][key] ?? zhCN[key];
  if (params === undefined) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** A page's labels: `labels({ retry: 'common.retry' })` → `{ retry: '重试' }`, for `{{i18n.retry}}` in its WXML. */
export function labels<K extends string>(keys: Readonly<Record<K, MessageKey>>): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const name of Object.keys(keys) as K[]) out[name] = t(keys[name]);
  return out;
}
