// WeChat's own compiler still compiles every page: miniprogram-ci's getCompiledResult on a
// WebProject of the repo root (project.config.json, as DevTools opens it), offline. It logs network
// errors about fetching a "white ext list" from WeChat: harmless, it compiles without it.
// The compiler runs in a child process (helpers/ci-compile.mjs) with a deadline: it keeps a
// process of its own alive after a failure, and hangs on some broken projects.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import t from 'tap';
import { MINIPROGRAM_DIR, readAppJson } from './helpers/page-harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./helpers/ci-compile.mjs', import.meta.url));
const DEADLINE_MS = 150_000;

interface CompileResult {
  ok: boolean;
  error?: string;
  /** progress entries with status fail or warn */
  problems: Array<{ status: string; message: string }>;
  /** compiled file → its text */
  files: Record<string, string>;
}

function compile(projectPath: string): Promise<CompileResult> {
  const out = join(mkdtempSync(join(tmpdir(), 'mp-ci-')), 'result.json');
  return new Promise((resolve, reject) => {
    // no inherited node options (tap's loaders): the compiler forks with them from the project folder
    const child = spawn(process.execPath, [SCRIPT, projectPath, out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let log = '';
    child.stdout.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    child.stderr.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    child.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(readFileSync(out, 'utf8')) as CompileResult);
      } catch {
        reject(new Error(`miniprogram-ci gave no result within ${DEADLINE_MS} ms:\n${log}`));
      } finally {
        rmSync(dirname(out), { recursive: true, force: true });
      }
    });
  });
}

/** The project as DevTools sees it, copied so that a test may break it. */
function copyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mp-project-'));
  cpSync(join(ROOT, 'project.config.json'), join(dir, 'project.config.json'));
  cpSync(MINIPROGRAM_DIR, join(dir, 'miniprogram'), { recursive: true });
  cpSync(join(ROOT, 'shared'), join(dir, 'shared'), { recursive: true });
  return dir;
}

function tsSources(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) out.push(...tsSources(join(dir, e.name), rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const appJson = readAppJson();
const broken = copyProject();
t.teardown(() => rmSync(broken, { recursive: true, force: true }));
// the WeUI components come from the extended library: without it, they cannot be found
const brokenAppJson = JSON.parse(readFileSync(join(broken, 'miniprogram/app.json'), 'utf8')) as Record<string, unknown>;
delete brokenAppJson.useExtendedLib;
writeFileSync(join(broken, 'miniprogram/app.json'), JSON.stringify(brokenAppJson));

// half a minute each, one after the other: two compilers at once trip over each other
t.setTimeout(2 * DEADLINE_MS + 30_000);
const real = await compile(ROOT);
const withoutWeui = await compile(broken);

t.test('the repo compiles: every page, the app, and every TypeScript file', async (t) => {
  t.equal(real.error, undefined, 'no compile error');
  t.ok(real.ok);
  t.same(real.problems.filter((p) => p.status === 'fail'), [], 'no failed step');
  for (const f of ['app.js', 'app.json', 'app.wxss', 'sitemap.json']) t.type(real.files[f], 'string', f);
  for (const route of appJson.pages) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) t.type(real.files[`${route}.${ext}`], 'string', `${route}.${ext}`);
  }
  for (const src of tsSources(MINIPROGRAM_DIR)) t.type(real.files[src.replace(/\.ts$/, '.js')], 'string', `${src} → .js`);
  t.notOk(Object.keys(real.files).some((f) => f.endsWith('.ts')), 'no TypeScript is shipped');
  const app = JSON.parse(real.files['app.json']!) as { pages: string[]; useExtendedLib?: { weui?: boolean } };
  t.same(app.pages, appJson.pages);
  t.same(app.useExtendedLib, { weui: true }, 'WeUI from the extended library');
});

t.test('the compiled code is JavaScript the runtime can load, and needs nothing outside the package', async (t) => {
  for (const [file, code] of Object.entries(real.files)) {
    if (!file.endsWith('.js')) continue;
    t.doesNotThrow(() => new Script(`(function (require, module, exports) {\n${code}\n})`, { filename: file }), `${file} parses`);
    for (const m of code.matchAll(/require\("([^"]+)"\)/g)) {
      const target = posix.normalize(posix.join(posix.dirname(file), m[1]!));
      // babel's helpers are added to the package by the compiler itself
      const ok = target in real.files || target.startsWith('@babel/');
      t.ok(ok, `${file}: require("${m[1]}") is in the package (DevTools packages only miniprogram/)`);
    }
  }
});

t.test('the checker can fail: without useExtendedLib the WeUI components are not found', async (t) => {
  t.notOk(withoutWeui.ok, 'the compile fails');
  t.match(withoutWeui.error, /component not found/, String(withoutWeui.error));
});
