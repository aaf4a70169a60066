// Usage (inside with-services): node --import tsx scripts/test-v3.ts [tap args...]
// The second half of `npm test`: every integration test (a test file that builds the server, with
// startStack or buildApp) runs again with the server on WeChat Pay API v3 (TEST_API_VERSION=v3;
// test/helpers/services.ts testApiVersion), against the sandbox playing v3.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return testFiles(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const integration = testFiles('test')
  .filter((f) => /\bstartStack\(|\bbuildApp\(/.test(readFileSync(f, 'utf8')))
  .sort();
process.stderr.write(`[test-v3] ${integration.length} integration test files again on API v3\n`);
const run = spawnSync('npx', ['tap', ...process.argv.slice(2), ...integration], {
  stdio: 'inherit',
  env: { ...process.env, TEST_API_VERSION: 'v3' },
});
process.exit(run.status ?? 1);
