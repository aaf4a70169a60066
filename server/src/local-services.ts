// Local MongoDB-compatible and Redis servers for `npm start` / `npm test` when
// MONGODB_URI / REDIS_URL are not given. Real servers, never mocks: Redis from
// the system `redis-server`; MongoDB from `mongod`, else our build of FerretDB
// 1.24 on SQLite (`ferretdb-wxpay-mp.N`, made by scripts/build-ferretdb.sh: atomic
// per document, filters answered by indexes), else any other `ferretdb`, else
// mongodb-memory-server when that package is installed.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';

export interface LocalServicesOptions {
  /** Keep data under this folder (e.g. `.data`) instead of a temp dir removed by stop(). */
  dataDir?: string;
  log?: (line: string) => void;
  /** Which servers to start; both by default. */
  need?: { mongo?: boolean; redis?: boolean };
}

export interface LocalServices {
  mongoUri?: string;
  /** process id of the MongoDB-compatible server, when it is a process we started (mongod, ferretdb) */
  mongoPid?: number;
  redisUrl?: string;
  stop(): Promise<void>;
}

const FERRETDB_VERSION = 'v1.24.2';
/**
 * Printed as `package:` by `ferretdb --version` (and as `ferretdbPackage` by buildInfo) when built by
 * scripts/build-ferretdb.sh with its patch; the same as `marker=` there.
 */
export const FERRETDB_PATCH_MARKER = 'wxpay-mp.2';
/** The name scripts/build-ferretdb.sh installs that build under, beside any other `ferretdb`. */
export const FERRETDB_BINARY = `ferretdb-${FERRETDB_PATCH_MARKER}`;

/** How to get FerretDB on a machine with Go; printed when no MongoDB-compatible server is found. */
export const FERRETDB_INSTALL_HINT = [
  `Install FerretDB ${FERRETDB_VERSION} (needs Go): run \`bash scripts/build-ferretdb.sh\` from the repo root, which does:`,
  `  mkdir -p ~/.cache/wxpay-mp/ferretdb-build-${FERRETDB_PATCH_MARKER} && cd ~/.cache/wxpay-mp/ferretdb-build-${FERRETDB_PATCH_MARKER} && go mod init ferretbuild`,
  `  go get -tool github.com/FerretDB/FerretDB/cmd/ferretdb@${FERRETDB_VERSION}`,
  `  then builds it from a copy of the module source with build/version/version.txt filled in and`,
  `  scripts/ferretdb/wxpay-mp.patch applied (atomic single-document writes, index-backed filters),`,
  `  into $(go env GOPATH)/bin/${FERRETDB_BINARY}.`,
  `  (A plain \`go install github.com/FerretDB/FerretDB/cmd/ferretdb\` gives a binary that panics: "Invalid build/version/version.txt".)`,
  `Or install MongoDB (\`mongod\` on PATH), or \`npm i -D mongodb-memory-server\`, or set MONGODB_URI to a running server.`,
].join('\n');

export const REDIS_INSTALL_HINT =
  'Install Redis: `apt-get install redis-server` (Debian/Ubuntu) so that `redis-server` is on PATH, or set REDIS_URL to a running server.';

const STOP_TIMEOUT_MS = 5_000;
const START_TIMEOUT_MS = 60_000;
const OUTPUT_LIMIT = 16 * 1024;

/** Every child we started and have not yet seen exit; killed if this process exits first. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous only here: ask each child to shut down cleanly (Redis saves,
  // SQLite closes); its reaper sends SIGKILL if it is still there 5 s later.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  });
}

/** Ask the OS for a free loopback port. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First executable named `name` on PATH, then in `extraDirs`. */
export async function findExecutable(name: string, extraDirs: string[] = []): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, ...extraDirs]) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function goEnvGopath(): Promise<string | undefined> {
  const go = await findExecutable('go', ['/usr/local/go/bin']);
  if (!go) return undefined;
  return await new Promise((resolve) => {
    execFile(go, ['env', 'GOPATH'], { timeout: 10_000 }, (err, stdout) => {
      resolve(err ? undefined : stdout.trim() || undefined);
    });
  });
}

/** Where `go install` puts binaries: $GOBIN, each $GOPATH entry's bin, `go env GOPATH`/bin, ~/go/bin. */
export async function goBinDirs(): Promise<string[]> {
  const dirs: string[] = [];
  if (process.env.GOBIN) dirs.push(process.env.GOBIN);
  for (const p of (process.env.GOPATH ?? '').split(path.delimiter).filter(Boolean)) dirs.push(path.join(p, 'bin'));
  const fromGo = await goEnvGopath();
  if (fromGo) for (const p of fromGo.split(path.delimiter).filter(Boolean)) dirs.push(path.join(p, 'bin'));
  dirs.push(path.join(os.homedir(), 'go', 'bin'));
  return [...new Set(dirs)];
}

async function ferretdbVersion(bin: string): Promise<string> {
  return await new Promise((resolve) => {
    execFile(bin, ['--version'], { timeout: 10_000 }, (err, stdout) => resolve(err ? '' : stdout));
  });
}

// A process 'exit' hook does not run when this process is killed by SIGKILL
// (or by a signal nobody handles). A tiny shell per child holds a pipe from us
// and, when the pipe closes because we died, stops the child: no orphans.
// It then removes the temp dir ($2, if any) once the child is gone.
const REAPER_SCRIPT = [
  'cat >/dev/null 2>&1',
  'kill -TERM "$1" 2>/dev/null',
  `i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt ${STOP_TIMEOUT_MS / 100} ]; do sleep 0.1; i=$((i+1)); done`,
  'kill -KILL "$1" 2>/dev/null',
  'if [ -n "$2" ]; then sleep 0.2; rm -rf "$2"; fi',
  'exit 0',
].join('; ');

function spawnReaper(pid: number, cleanupDir?: string): ChildProcess | undefined {
  try {
    const reaper = spawn('/bin/sh', ['-c', REAPER_SCRIPT, 'local-services-reaper', String(pid), cleanupDir ?? ''], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // it needs cat and sleep whatever PATH we run with: without them it would stop the child at once
      env: { ...process.env, PATH: [process.env.PATH, '/usr/bin', '/bin'].filter(Boolean).join(path.delimiter) },
    });
    reaper.on('error', () => undefined);
    reaper.stdin?.on('error', () => undefined);
    return reaper;
  } catch {
    return undefined;
  }
}

/** A started server process whose output is kept for error messages. */
class Child {
  readonly proc: ChildProcess;
  private output = '';
  exited = false;
  exitInfo = '';
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    cwd: string,
    /** removed if this process dies without stop() (a temp dir, never a dataDir) */
    cleanupDir?: string,
  ) {
    installExitHook();
    this.proc = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    live.add(this.proc);
    const keep = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      if (this.output.length > OUTPUT_LIMIT) this.output = this.output.slice(-OUTPUT_LIMIT);
    };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', keep);
    const reaper = this.proc.pid ? spawnReaper(this.proc.pid, cleanupDir) : undefined;
    this.exitPromise = new Promise<void>((resolve) => {
      const done = (info: string): void => {
        if (this.exited) return;
        this.exited = true;
        this.exitInfo = info;
        live.delete(this.proc);
        reaper?.kill('SIGKILL');
        resolve();
      };
      this.proc.once('error', (err) => done(`could not start: ${err.message}`));
      this.proc.once('exit', (code, signal) => done(signal ? `killed by ${signal}` : `exited with code ${code}`));
    });
  }

  get recentOutput(): string {
    return this.output.trim();
  }

  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exitPromise.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (timedOut && !this.exited) {
      this.proc.kill('SIGKILL');
      await this.exitPromise;
    }
  }

  failure(what: string, cause?: unknown): Error {
    const reason = this.exited ? `${this.label} ${this.exitInfo}` : `${this.label} did not become ready`;
    const detail = cause instanceof Error ? ` (${cause.message})` : '';
    const out = this.recentOutput;
    return new Error(`${what}: ${reason}${detail}.${out ? `\n--- ${this.label} output ---\n${out}\n---` : ' No output.'}`);
  }

  async waitExit(): Promise<void> {
    await this.exitPromise;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry `probe` until it resolves, the child exits, or the deadline passes. */
async function waitReady(child: Child, probe: () => Promise<void>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (child.exited) throw child.failure(`${child.label} failed to start`, lastError);
    try {
      await Promise.race([probe(), child.waitExit()]);
      if (!child.exited) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw child.failure(`${child.label} failed to start within ${timeoutMs / 1000}s`, lastError);
    await Promise.race([sleep(100), child.waitExit()]);
  }
}

/** Send a RESP PING over a plain socket; resolves on +PONG. */
export async function pingRedis(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ port, host });
    let buf = '';
    const finish = (err?: Error): void => {
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => finish(new Error('redis ping timed out')));
    socket.once('error', finish);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      if (!buf.includes('\r\n')) return;
      if (buf.startsWith('+PONG')) finish();
      else finish(new Error(`redis answered ${JSON.stringify(buf.trim())}`));
    });
  });
}

/** Connect with the driver mongoose ships and run `ping`. */
export async function pingMongo(uri: string, timeoutMs = 1_000): Promise<void> {
  const client = new mongoose.mongo.MongoClient(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    directConnection: true,
  });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close(true).catch(() => undefined);
  }
}

interface Started {
  uri: string;
  stop(): Promise<void>;
  describe: string;
  /** the server's process id, when we started it ourselves */
  pid?: number;
}

async function startRedis(dir: string, persistent: boolean, cleanupDir?: string): Promise<Started> {
  const bin = await findExecutable('redis-server');
  if (!bin) throw new Error(`No redis-server found on PATH. ${REDIS_INSTALL_HINT}`);
  await fs.mkdir(dir, { recursive: true });
  const port = await freePort();
  const persistence = persistent
    ? ['--save', '3600 1 300 100 60 10000', '--appendonly', 'no', '--dbfilename', 'dump.rdb']
    : ['--save', '', '--appendonly', 'no'];
  const child = new Child('redis-server', bin, [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--protected-mode', 'yes',
    '--dir', dir,
    '--daemonize', 'no',
    '--loglevel', 'warning',
    ...persistence,
  ], dir, cleanupDir);
  try {
    await waitReady(child, () => pingRedis(port), START_TIMEOUT_MS);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { uri: `redis://127.0.0.1:${port}`, stop: () => child.stop(), describe: `redis-server (${bin}, data in ${dir})` };
}

async function startMongod(bin: string, dir: string, cleanupDir?: string): Promise<Started> {
  await fs.mkdir(dir, { recursive: true });
  const port = await freePort();
  const child = new Child('mongod', bin, ['--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet'], dir, cleanupDir);
  const uri = `mongodb://127.0.0.1:${port}/`;
  try {
    await waitReady(child, () => pingMongo(uri), START_TIMEOUT_MS);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { uri, stop: () => child.stop(), describe: `mongod (${bin})`, pid: child.proc.pid };
}

async function startFerretdb(bin: string, dir: string, cleanupDir?: string): Promise<Started> {
  const dataDir = path.join(dir, 'sqlite');
  await fs.mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const child = new Child('ferretdb', bin, [
    '--handler=sqlite',
    `--sqlite-url=file:${dataDir}/`,
    `--listen-addr=127.0.0.1:${port}`,
    '--telemetry=disable',
    `--state-dir=${dir}`,
    '--debug-addr=-',
    '--log-level=warn',
  ], dir, cleanupDir);
  const uri = `mongodb://127.0.0.1:${port}/`;
  try {
    await waitReady(child, () => pingMongo(uri), START_TIMEOUT_MS);
  } catch (err) {
    await child.stop();
    if (err instanceof Error && /version\.txt/.test(err.message)) {
      err.message += `\nThis ferretdb was built without its version file. ${FERRETDB_INSTALL_HINT}`;
    }
    throw err;
  }
  const pkg = /package: (\S+)/.exec(await ferretdbVersion(bin))?.[1] ?? '';
  const warning =
    pkg === FERRETDB_PATCH_MARKER
      ? ''
      : pkg.startsWith('wxpay-mp.')
        ? `; WARNING: an older build (${pkg}, not ${FERRETDB_PATCH_MARKER}): its filters are full scans that slow down as orders grow: rebuild with \`bash scripts/build-ferretdb.sh\``
        : `; WARNING: not built by scripts/build-ferretdb.sh (no "${FERRETDB_PATCH_MARKER}" in --version), so concurrent conditional updates are not atomic and filters are full scans: rebuild with \`bash scripts/build-ferretdb.sh\``;
  return { uri, stop: () => child.stop(), describe: `ferretdb (${bin}, SQLite in ${dataDir})${warning}`, pid: child.proc.pid };
}

export interface FerretdbServer {
  uri: string;
  pid?: number;
  describe: string;
  stop(): Promise<void>;
}

/**
 * Start one given FerretDB binary on SQLite with its data in `dir` (kept; made if missing), on a
 * free loopback port, stopped with its parent like every server here. For benchmarks that
 * compare builds side by side and tests that restart a server on its data.
 */
export async function startFerretdbServer(bin: string, dir: string): Promise<FerretdbServer> {
  return await startFerretdb(bin, dir);
}

/**
 * Our FerretDB build (`ferretdb-wxpay-mp.N`) on PATH or where `go install` puts binaries; with
 * `anyBuild`, else a plain `ferretdb` (some other build, possibly an older patch or stock).
 */
export async function findFerretdb(anyBuild = false): Promise<string | undefined> {
  const dirs = await goBinDirs();
  return (await findExecutable(FERRETDB_BINARY, dirs)) ?? (anyBuild ? await findExecutable('ferretdb', dirs) : undefined);
}

interface MemoryServer {
  getUri(): string;
  stop(): Promise<unknown>;
}
interface MemoryServerModule {
  MongoMemoryServer: { create(opts?: unknown): Promise<MemoryServer> };
}

async function importMemoryServer(): Promise<MemoryServerModule | undefined> {
  const name = 'mongodb-memory-server';
  try {
    const mod = (await import(name)) as Partial<MemoryServerModule> & { default?: Partial<MemoryServerModule> };
    const ctor = mod.MongoMemoryServer ?? mod.default?.MongoMemoryServer;
    return ctor ? { MongoMemoryServer: ctor } : undefined;
  } catch {
    return undefined;
  }
}

async function startMemoryServer(mod: MemoryServerModule, dir: string, persistent: boolean): Promise<Started> {
  await fs.mkdir(dir, { recursive: true });
  const port = await freePort();
  const server = await mod.MongoMemoryServer.create({
    instance: { ip: '127.0.0.1', port, ...(persistent ? { dbPath: dir, storageEngine: 'wiredTiger' } : {}) },
  });
  const uri = server.getUri();
  return { uri, stop: async () => void (await server.stop()), describe: 'mongodb-memory-server' };
}

type MongoPlan =
  | { kind: 'mongod'; bin: string }
  | { kind: 'ferretdb'; bin: string }
  | { kind: 'memory'; mod: MemoryServerModule };

async function planMongo(): Promise<MongoPlan | undefined> {
  const mongod = await findExecutable('mongod');
  if (mongod) return { kind: 'mongod', bin: mongod };
  const ferretdb = await findFerretdb(true);
  if (ferretdb) return { kind: 'ferretdb', bin: ferretdb };
  const mod = await importMemoryServer();
  if (mod) return { kind: 'memory', mod };
  return undefined;
}

/**
 * Start the local servers asked for (both by default) on free loopback ports.
 * Data lives in a temp dir removed by stop(), or under `dataDir` (kept).
 * Throws, having stopped anything it started, when a server cannot be had or
 * does not come up; the message says what to install or shows the server's output.
 */
export async function startLocalServices(opts: LocalServicesOptions = {}): Promise<LocalServices> {
  const log = opts.log ?? (() => undefined);
  const needMongo = opts.need?.mongo ?? true;
  const needRedis = opts.need?.redis ?? true;

  // Find everything first so that a missing piece fails at once, before anything starts.
  const missing: string[] = [];
  let mongoPlan: MongoPlan | undefined;
  if (needMongo) {
    mongoPlan = await planMongo();
    if (!mongoPlan) {
      missing.push(
        `No MongoDB-compatible server found: no \`mongod\` on PATH, no \`${FERRETDB_BINARY}\` or \`ferretdb\` on PATH or in ${(await goBinDirs()).join(', ')}, and mongodb-memory-server is not installed.\n${FERRETDB_INSTALL_HINT}`,
      );
    }
  }
  if (needRedis && !(await findExecutable('redis-server'))) {
    missing.push(`No redis-server found on PATH. ${REDIS_INSTALL_HINT}`);
  }
  if (missing.length > 0) throw new Error(missing.join('\n\n'));

  const persistent = opts.dataDir !== undefined;
  const root = persistent
    ? path.resolve(opts.dataDir as string)
    : await fs.mkdtemp(path.join(os.tmpdir(), 'wxpay-mp-services-'));
  await fs.mkdir(root, { recursive: true });

  const cleanupDir = persistent ? undefined : root;
  const started: Started[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
    if (!persistent) await fs.rm(root, { recursive: true, force: true }).catch(() => undefined);
  };

  const result: LocalServices = { stop };
  try {
    const tasks: Promise<void>[] = [];
    if (needRedis) {
      tasks.push(
        startRedis(path.join(root, 'redis'), persistent, cleanupDir).then((s) => {
          started.push(s);
          result.redisUrl = s.uri;
          log(`local services: ${s.describe} on ${s.uri}`);
        }),
      );
    }
    if (mongoPlan) {
      const plan = mongoPlan;
      const dir = path.join(root, plan.kind === 'mongod' ? 'mongod' : plan.kind === 'ferretdb' ? 'ferretdb' : 'mongodb-memory');
      const start =
        plan.kind === 'mongod'
          ? startMongod(plan.bin, dir, cleanupDir)
          : plan.kind === 'ferretdb'
            ? startFerretdb(plan.bin, dir, cleanupDir)
            : startMemoryServer(plan.mod, dir, persistent);
      tasks.push(
        start.then((s) => {
          started.push(s);
          result.mongoUri = s.uri;
          if (s.pid !== undefined) result.mongoPid = s.pid;
          log(`local services: ${s.describe} on ${s.uri}`);
        }),
      );
    }
    const outcomes = await Promise.allSettled(tasks);
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failures.length > 0) {
      throw new Error(failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n\n'));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return result;
}
