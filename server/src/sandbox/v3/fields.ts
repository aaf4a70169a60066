// Field checks of API v3 JSON bodies; a refusal is PARAM_ERROR naming the field (detail.field is
// its JSON path, as WeChat's detail does).
import { paramError } from './http.js';

type Obj = Record<string, unknown>;

function at(path: string): string {
  return `/${path.replace(/\./g, '/')}`;
}

export function reqString(o: Obj, path: string, opts: { max: number; min?: number; re?: RegExp }, location: 'body' | 'query' | 'path' = 'body'): string {
  const v = get(o, path);
  if (v === undefined || v === null || v === '') throw paramError(at(path), `缺少必填参数 ${path}`, location);
  return checkString(v, path, opts, location);
}

export function optString(o: Obj, path: string, opts: { max: number; min?: number; re?: RegExp }): string | undefined {
  const v = get(o, path);
  if (v === undefined || v === null) return undefined;
  return checkString(v, path, opts, 'body');
}

function checkString(v: unknown, path: string, opts: { max: number; min?: number; re?: RegExp }, location: 'body' | 'query' | 'path'): string {
  if (typeof v !== 'string') throw paramError(at(path), `参数 ${path} 类型错误，应为字符串`, location);
  const n = [...v].length;
  if (n > opts.max || n < (opts.min ?? 1)) throw paramError(at(path), `参数 ${path} 长度有误`, location);
  if (opts.re && !opts.re.test(v)) throw paramError(at(path), `参数 ${path} 格式错误`, location);
  return v;
}

export function reqObject(o: Obj, path: string): Obj {
  const v = get(o, path);
  if (v === undefined || v === null) throw paramError(at(path), `缺少必填参数 ${path}`);
  if (typeof v !== 'object' || Array.isArray(v)) throw paramError(at(path), `参数 ${path} 类型错误，应为对象`);
  return v as Obj;
}

export function reqPositiveInt(o: Obj, path: string): number {
  const v = get(o, path);
  if (v === undefined || v === null) throw paramError(at(path), `缺少必填参数 ${path}`);
  if (typeof v !== 'number' || !Number.isInteger(v)) throw paramError(at(path), `参数 ${path} 类型错误，应为整数`);
  if (v <= 0 || v > 100_000_000_00) throw paramError(at(path), `参数 ${path} 取值超出范围`);
  return v;
}

export function optCurrency(o: Obj, path: string): void {
  const v = get(o, path);
  if (v !== undefined && v !== 'CNY') throw paramError(at(path), `参数 ${path} 只支持CNY`);
}

function get(o: Obj, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Obj)[k];
  }
  return cur;
}

