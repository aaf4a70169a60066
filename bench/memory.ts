import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemorySample {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
}

const mib = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;

// `npm run bench` passes no --expose-gc; turn it on at run time so that "after GC" figures mean something.
setFlagsFromString('--expose-gc');
const gcFn = runInNewContext('gc') as (() => void) | undefined;

export function gc(): void {
  if (typeof gcFn === 'function') {
    gcFn();
    gcFn();
  }
}

export function sample(collect = false): MemorySample {
  if (collect) gc();
  const m = process.memoryUsage();
  return { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external) };
}
