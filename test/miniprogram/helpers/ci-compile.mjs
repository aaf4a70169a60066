// Run as a child process: WeChat's own compiler (miniprogram-ci, offline) over a project folder.
// Writes its result as JSON to outFile and exits: miniprogram-ci keeps a compiler process of its own
// alive after a failure, so the exit is explicit.
//   node test/miniprogram/helpers/ci-compile.mjs <projectPath> <outFile>
// Plain JavaScript on purpose: miniprogram-ci forks its compiler with this process's node options
// from the project folder, where a loader such as tsx cannot be found.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ci = require('miniprogram-ci');

const [projectPath, outFile] = process.argv.slice(2);
if (!projectPath || !outFile) throw new Error('usage: ci-compile.mjs <projectPath> <outFile>');

/** @type {{ status: string, message: string }[]} */
const problems = [];
let result;
try {
  const project = new ci.WebProject({ projectPath, ignores: ['node_modules/**/*'] });
  const res = await ci.getCompiledResult({
    project,
    setting: { useProjectConfig: true },
    onProgressUpdate: (p) => {
      if (typeof p === 'object' && p !== null && (p.status === 'fail' || p.status === 'warn')) {
        problems.push({ status: String(p.status), message: String(p.message) });
      }
    },
  });
  /** @type {Record<string, string>} */
  const files = {};
  for (const [name, content] of Object.entries(res)) {
    if (!name.startsWith('@babel/')) files[name] = Buffer.isBuffer(content) ? content.toString('utf8') : String(content);
  }
  result = { ok: true, problems, files };
} catch (e) {
  result = { ok: false, error: e instanceof Error ? e.message : String(e), problems, files: {} };
}
writeFileSync(outFile, JSON.stringify(result));
process.exit(0);
