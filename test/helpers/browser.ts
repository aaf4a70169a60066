import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's chromium (apt-get install chromium), or CHROMIUM_PATH. `.ci/run` installs it; a machine
 * without it skips browser tests with this reason rather than failing them.
 */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

export const noChromiumReason = 'no chromium here (apt-get install chromium, or set CHROMIUM_PATH)';

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(noChromiumReason);
  return chromium.launch({
    executablePath,
    headless: true,
    // root in CI containers: the sandbox needs user namespaces it does not get there
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** Where a test keeps its screenshots: test-artifacts/<suite>/ at the repo root (git-ignored). */
export function artifactDir(suite: string): string {
  const dir = join(process.cwd(), 'test-artifacts', suite);
  mkdirSync(dir, { recursive: true });
  return dir;
}
