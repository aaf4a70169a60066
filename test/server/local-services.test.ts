import net from 'node:net';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import mongoose from 'mongoose';
import { Redis } from 'ioredis';
import {
  freePort,
  startLocalServices,
  FERRETDB_BINARY,
  FERRETDB_INSTALL_HINT,
  FERRETDB_PATCH_MARKER,
  REDIS_INSTALL_HINT,
} from '../../server/src/local-services.js';

function portOf(uri: string): number {
  return Number(new URL(uri).port);
}

/** Resolves 'refused' or 'open' for a TCP connect to 127.0.0.1:port. */
async function probe(port: number): Promise<'open' | 'refused' | string> {
  return await new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve('open');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : String(err.code)));
  });
}

t.test('freePort gives a port nothing listens on', async (t) => {
  const port = await freePort();
  t.ok(port > 0 && port < 65536, `port ${port} in range`);
  t.equal(await probe(port), 'refused');
});

t.test('starts a real Redis and a real MongoDB-compatible server, and stop() stops them', async (t) => {
  const lines: string[] = [];
  const services = await startLocalServices({ log: (line) => lines.push(line) });
  t.teardown(() => services.stop());
  t.match(services.mongoUri, /^mongodb:\/\/127\.0\.0\.1:\d+\/$/);
  t.match(services.redisUrl, /^redis:\/\/127\.0\.0\.1:\d+$/);
  t.equal(lines.length, 2, 'one log line per server');
  t.ok(lines.some((l) => l.includes(services.redisUrl as string)));
  t.ok(lines.some((l) => l.includes(services.mongoUri as string)));

  const client = new mongoose.mongo.MongoClient(services.mongoUri as string, { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
  t.same(await client.db('admin').command({ ping: 1 }), { ok: 1 });
  const coll = client.db('local_services_test').collection<{ _id: string; n: number }>('things');
  await coll.insertOne({ _id: 'a', n: 1 });
  t.match(await coll.findOne({ _id: 'a' }), { _id: 'a', n: 1 }, 'data written is read back');
  await client.close();

  const redis = new Redis(services.redisUrl as string, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  t.equal(await redis.ping(), 'PONG');
  await redis.set('k', 'v');
  t.equal(await redis.get('k'), 'v');
  redis.disconnect();

  const mongoPort = portOf(services.mongoUri as string);
  const redisPort = portOf(services.redisUrl as string);
  t.equal(await probe(mongoPort), 'open');
  t.equal(await probe(redisPort), 'open');

  await services.stop();
  t.equal(await probe(mongoPort), 'refused', 'MongoDB port refuses after stop()');
  t.equal(await probe(redisPort), 'refused', 'Redis port refuses after stop()');
  await services.stop(); // idempotent
});

t.test('need selects which servers start', async (t) => {
  const onlyRedis = await startLocalServices({ need: { mongo: false } });
  t.teardown(() => onlyRedis.stop());
  t.equal(onlyRedis.mongoUri, undefined);
  t.match(onlyRedis.redisUrl, /^redis:\/\//);
  await onlyRedis.stop();

  const none = await startLocalServices({ need: { mongo: false, redis: false } });
  t.same({ mongoUri: none.mongoUri, redisUrl: none.redisUrl }, { mongoUri: undefined, redisUrl: undefined });
  await none.stop();
});

t.test('dataDir keeps data in that folder', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'wxpay-mp-datadir-test-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const services = await startLocalServices({ dataDir, need: { redis: true, mongo: true } });
  t.teardown(() => services.stop());
  const entries = await fs.readdir(dataDir);
  t.ok(entries.includes('redis'), 'redis dir under dataDir');
  t.ok(entries.some((e) => ['mongod', 'ferretdb', 'mongodb-memory'].includes(e)), 'mongo dir under dataDir');

  const mongo = new mongoose.mongo.MongoClient(services.mongoUri as string, { serverSelectionTimeoutMS: 5_000 });
  await mongo.connect();
  await mongo.db('persist').collection('c').insertOne({ kept: 42 });
  await mongo.close();
  const redis = new Redis(services.redisUrl as string, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.set('kept', '42');
  redis.disconnect();

  await services.stop();
  t.ok((await fs.stat(dataDir)).isDirectory(), 'dataDir is kept after stop()');

  // A restart on the same dataDir (npm start after npm start) sees the data again.
  const again = await startLocalServices({ dataDir });
  t.teardown(() => again.stop());
  const mongo2 = new mongoose.mongo.MongoClient(again.mongoUri as string, { serverSelectionTimeoutMS: 5_000 });
  await mongo2.connect();
  t.match(await mongo2.db('persist').collection('c').findOne({}), { kept: 42 }, 'MongoDB data survives a restart');
  await mongo2.close();
  const redis2 = new Redis(again.redisUrl as string, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis2.connect();
  t.equal(await redis2.get('kept'), '42', 'Redis data survives a restart');
  redis2.disconnect();
  await again.stop();
});

t.test('a missing server fails at once with what to install', async (t) => {
  const saved = { PATH: process.env.PATH, HOME: process.env.HOME, GOPATH: process.env.GOPATH, GOBIN: process.env.GOBIN };
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'wxpay-mp-empty-'));
  t.teardown(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await fs.rm(empty, { recursive: true, force: true });
  });
  // Nothing findable: an empty PATH, HOME, GOPATH and GOBIN. `go` itself may
  // still be found in /usr/local/go/bin, so point its GOPATH at the empty dir.
  process.env.PATH = empty;
  process.env.HOME = empty;
  process.env.GOPATH = empty;
  process.env.GOBIN = path.join(empty, 'bin');

  await t.rejects(startLocalServices({ need: { mongo: true, redis: false } }), {
    message: /No MongoDB-compatible server found[\s\S]*scripts\/build-ferretdb\.sh[\s\S]*go get -tool github\.com\/FerretDB\/FerretDB\/cmd\/ferretdb@v1\.24\.2/,
  });
  t.match(FERRETDB_INSTALL_HINT, /MONGODB_URI/);

  await t.rejects(startLocalServices({ need: { mongo: false, redis: true } }), {
    message: /No redis-server found on PATH[\s\S]*apt-get install redis-server/,
  });
  t.match(REDIS_INSTALL_HINT, /apt-get install redis-server/);
});

t.test('a server that dies at start is reported with its output', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wxpay-mp-fake-'));
  const saved = process.env.PATH;
  t.teardown(async () => {
    process.env.PATH = saved;
    await fs.rm(dir, { recursive: true, force: true });
  });
  // A fake `mongod` first on PATH that prints and exits with an error.
  const fake = path.join(dir, 'mongod');
  await fs.writeFile(fake, '#!/bin/sh\necho "fake mongod: cannot open dbpath" >&2\nexit 3\n', { mode: 0o755 });
  process.env.PATH = `${dir}${path.delimiter}${saved ?? ''}`;
  await t.rejects(startLocalServices({ need: { mongo: true, redis: false } }), {
    message: /mongod exited with code 3[\s\S]*fake mongod: cannot open dbpath/,
  });
});

t.test('servers die with a parent that is killed with SIGKILL', async (t) => {
  const { spawn } = await import('node:child_process');
  const moduleUrl = new URL('../../server/src/local-services.ts', import.meta.url).href;
  const script = `
    const { startLocalServices } = await import(${JSON.stringify(moduleUrl)});
    const lines = [];
    const s = await startLocalServices({ log: (l) => lines.push(l) });
    process.stdout.write(JSON.stringify({ mongoUri: s.mongoUri, redisUrl: s.redisUrl, lines }) + '\\n');
    setInterval(() => {}, 1000);
  `;
  const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    parent.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    parent.once('exit', (code) => reject(new Error(`parent exited early with ${code}`)));
  });
  const { mongoUri, redisUrl, lines } = JSON.parse(line) as { mongoUri: string; redisUrl: string; lines: string[] };
  const tempRoot = /data in (\S+)\/redis\)/.exec(lines.join('\n'))?.[1] ?? '';
  const ports = [portOf(mongoUri), portOf(redisUrl)];
  t.same(await Promise.all(ports.map(probe)), ['open', 'open'], 'both servers up in the child process');

  const exited = new Promise((resolve) => parent.once('exit', resolve));
  parent.kill('SIGKILL');
  await exited;
  // Wait (bounded) until both ports refuse: the reapers stop the orphans.
  let states: string[] = [];
  for (let i = 0; i < 100; i++) {
    states = await Promise.all(ports.map(probe));
    if (states.every((s) => s === 'refused')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.same(states, ['refused', 'refused'], 'no orphaned servers after the parent is SIGKILLed');

  // ...and their temp dir goes too.
  t.ok(tempRoot.startsWith(path.join(os.tmpdir(), 'wxpay-mp-services-')), `temp dir ${tempRoot} reported`);
  let exists = true;
  for (let i = 0; i < 50 && exists; i++) {
    exists = await fs.stat(tempRoot).then(() => true, () => false);
    if (exists) await new Promise((r) => setTimeout(r, 100));
  }
  t.notOk(exists, 'the temp dir is removed');
});

t.test('scripts/with-services.ts runs a command with the services and passes its exit code', async (t) => {
  const { spawn } = await import('node:child_process');
  const script = new URL('../../scripts/with-services.ts', import.meta.url).pathname;
  const run = (env: NodeJS.ProcessEnv, code: number) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const childEnv = { ...process.env, ...env };
      for (const k of Object.keys(env)) if (env[k] === undefined) delete childEnv[k];
      const p = spawn(
        process.execPath,
        ['--import', 'tsx', script, process.execPath, '-e', `console.log(JSON.stringify({ m: process.env.MONGODB_URI, r: process.env.REDIS_URL })); process.exit(${code})`],
        { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      p.stdout.on('data', (c: Buffer) => (out += c.toString()));
      p.stderr.on('data', (c: Buffer) => (err += c.toString()));
      p.once('exit', (c) => resolve({ code: c, out, err }));
    });

  const both = await run({ MONGODB_URI: undefined, REDIS_URL: undefined }, 7);
  t.equal(both.code, 7, "the command's exit code is passed on");
  const seen = JSON.parse(both.out.trim()) as { m: string; r: string };
  t.match(seen, { m: /^mongodb:\/\/127\.0\.0\.1:\d+\/$/, r: /^redis:\/\/127\.0\.0\.1:\d+$/ });
  t.match(both.err, /\[with-services\] local services: redis-server/);
  t.same(await Promise.all([probe(portOf(seen.m)), probe(portOf(seen.r))]), ['refused', 'refused'], 'services stopped after the command');

  const given = await run({ MONGODB_URI: undefined, REDIS_URL: 'redis://127.0.0.1:1' }, 0);
  t.equal(given.code, 0);
  const seen2 = JSON.parse(given.out.trim()) as { m: string; r: string };
  t.equal(seen2.r, 'redis://127.0.0.1:1', 'a given REDIS_URL is kept');
  t.match(seen2.m, /^mongodb:\/\//, 'only the missing MongoDB is started');
  t.notMatch(given.err, /redis-server/);

  const missing = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script, 'no-such-command-wxpay'], {
      env: { ...process.env, MONGODB_URI: 'mongodb://127.0.0.1:1/', REDIS_URL: 'redis://127.0.0.1:1' },
      stdio: 'ignore',
    });
    p.once('exit', resolve);
  });
  t.equal(missing, 127, 'command not found exits 127');
});

t.test('the FerretDB build marker is the same in the build script, the patch and here', async (t) => {
  const root = new URL('../../', import.meta.url);
  const script = await fs.readFile(new URL('scripts/build-ferretdb.sh', root), 'utf8');
  const patch = await fs.readFile(new URL('scripts/ferretdb/wxpay-mp.patch', root), 'utf8');
  t.equal(/^marker="([^"]+)"/m.exec(script)?.[1], FERRETDB_PATCH_MARKER, 'build-ferretdb.sh marker=');
  t.equal(/^Marker: (\S+)/m.exec(patch)?.[1], FERRETDB_PATCH_MARKER, 'the patch header');
  t.equal(FERRETDB_BINARY, `ferretdb-${FERRETDB_PATCH_MARKER}`);
});

t.test(`our build (${FERRETDB_BINARY}) is chosen over another ferretdb`, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wxpay-mp-fake-ferretdb-'));
  const saved = { PATH: process.env.PATH, HOME: process.env.HOME, GOPATH: process.env.GOPATH, GOBIN: process.env.GOBIN };
  t.teardown(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await fs.rm(dir, { recursive: true, force: true });
  });
  // Two fakes that say who they are and exit; only this folder on PATH (so no mongod is found), and
  // Go's bin folders pointed here too (so the real builds there are not found). They take a moment
  // first, like a real server: the reaper watching each child must not stop it meanwhile, even
  // with a PATH that lacks cat and sleep.
  for (const name of ['ferretdb', FERRETDB_BINARY]) {
    await fs.writeFile(path.join(dir, name), `#!/bin/sh\n/bin/sleep 0.3\necho "fake ${name} started" >&2\nexit 3\n`, { mode: 0o755 });
  }
  process.env.PATH = dir;
  process.env.HOME = dir;
  process.env.GOPATH = dir;
  process.env.GOBIN = dir;
  await t.rejects(startLocalServices({ need: { mongo: true, redis: false } }), {
    message: new RegExp(`exited with code 3[\\s\\S]*fake ${FERRETDB_BINARY.replace(/\./g, '\\.')} started`),
  });
  await fs.rm(path.join(dir, FERRETDB_BINARY));
  // Without it, another ferretdb on PATH still serves (an older build, with a warning when it starts).
  const found = await startLocalServices({ need: { mongo: true, redis: false } }).then(
    () => 'started',
    (err: Error) => err.message,
  );
  t.match(found, /fake ferretdb started/);
});

t.test('acknowledged writes survive kill -9 of the database server', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'wxpay-mp-kill9-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const first = await startLocalServices({ dataDir, need: { mongo: true, redis: false } });
  t.teardown(() => first.stop());
  if (first.mongoPid === undefined) {
    t.pass('the MongoDB-compatible server is not a process of ours (mongodb-memory-server): nothing to kill');
    return;
  }
  const client = new mongoose.mongo.MongoClient(first.mongoUri as string, { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
  const coll = client.db('durability').collection<{ _id: string; n: number; state?: string }>('c');
  await coll.createIndex({ state: 1 });
  // Many acknowledged writes in flight together, the last of them just before the kill.
  await Promise.all([
    ...Array.from({ length: 20 }, (_, b) => coll.insertMany(Array.from({ length: 25 }, (_, i) => ({ _id: `b${b}-${i}`, n: i })))),
    ...Array.from({ length: 50 }, (_, i) => coll.insertOne({ _id: `one-${i}`, n: i, state: 'NEW' })),
  ]);
  await coll.insertOne({ _id: 'counter', n: 0 });
  await Promise.all(Array.from({ length: 100 }, () => coll.updateOne({ _id: 'counter' }, { $inc: { n: 1 } })));
  const won = await coll.findOneAndUpdate({ _id: 'one-7', state: 'NEW' }, { $set: { state: 'PAID' } }, { returnDocument: 'after' });
  t.equal(won?.state, 'PAID');
  const deleted = await coll.deleteOne({ _id: 'one-8' });
  t.equal(deleted.deletedCount, 1);
  await client.close(true);

  const port = portOf(first.mongoUri as string);
  process.kill(first.mongoPid, 'SIGKILL');
  for (let i = 0; i < 100 && (await probe(port)) === 'open'; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(await probe(port), 'refused', 'the server is gone');
  await first.stop();

  const again = await startLocalServices({ dataDir, need: { mongo: true, redis: false } });
  t.teardown(() => again.stop());
  const client2 = new mongoose.mongo.MongoClient(again.mongoUri as string, { serverSelectionTimeoutMS: 5_000 });
  await client2.connect();
  const coll2 = client2.db('durability').collection<{ _id: string; n: number; state?: string }>('c');
  t.equal(await coll2.countDocuments({ _id: { $regex: /^b/ } }), 500, 'every batch-inserted document');
  t.equal(await coll2.countDocuments({ state: 'NEW' }), 48, 'every single insert, less the one updated and the one deleted');
  t.match(await coll2.findOne({ _id: 'counter' }), { n: 100 }, 'every acknowledged $inc');
  t.match(await coll2.findOne({ _id: 'one-7' }), { state: 'PAID' }, 'the conditional update');
  t.equal(await coll2.findOne({ _id: 'one-8' }), null, 'the delete');
  await client2.close();
  await again.stop();
});
