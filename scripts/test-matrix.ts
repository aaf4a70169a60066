// Usage (inside with-services): node --import tsx scripts/test-matrix.ts [v2|v3]
// `npm test`: every test file on WeChat Pay API v2, then every integration test (a test file that
// builds the server, with startStack or buildApp) again with the server on API v3 (TEST_API_VERSION=v3;
// test/helpers/services.ts testApiVersion), against the sandbox playing v3. `v2` or `v3` runs one half.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return testFiles(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

// A file builds the server itself, or through a helper of test/ it imports (test/helpers/stack.ts, a folder's helpers.ts).
const BUILDS = /\bstartStack\(|\bbuildApp\(/;
const memo = new Map<string, boolean>();
function buildsServer(file: string, seen = new Set<string>()): boolean {
  if (memo.has(file)) return memo.get(file)!;
  if (seen.has(file)) return false;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  let yes = BUILDS.test(text);
  for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
    if (yes) break;
    const dep = resolve(dirname(file), `${m[1]}.ts`);
    if (dep.startsWith(resolve('test')) && !dep.endsWith(join('helpers', 'stack.ts')) && !dep.endsWith(join('helpers', 'services.ts'))) {
      try {
        yes = buildsServer(dep, seen);
      } catch {
        // not a file of ours
      }
    }
  }
  memo.set(file, yes);
  return yes;
}

const integration = testFiles('test').filter((f) => buildsServer(f)).sort();
if (process.env.TEST_V3_LIST === '1') {
  process.stdout.write(`${integration.join('\n')}\n`);
  process.exit(0);
}

function tap(files: string[], env: Record<string, string>): number {
  const run = spawnSync('npx', ['tap', ...files], { stdio: 'inherit', env: { ...process.env, ...env } });
  return run.status ?? 1;
}

const only = process.argv[2];
let status = 0;
if (only !== 'v3') {
  process.stderr.write('[test-matrix] every test file, server on API v2\n');
  status = tap([], { TEST_API_VERSION: 'v2' });
}
if (status === 0 && only !== 'v2') {
  process.stderr.write(`[test-matrix] ${integration.length} integration test files again, server on API v3\n`);
  status = tap(integration, { TEST_API_VERSION: 'v3' });
}
process.exit(status);
