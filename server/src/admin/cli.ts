// Operator accounts from the shell, for the first admin and for an admin locked out:
//   npm run admin -- create-admin <name>      (password asked on the terminal, or read from stdin)
//   npm run admin -- unlock <name>
// MONGODB_URI names the server's database; without it the local one npm start uses (.data/) is used.
import mongoose from 'mongoose';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { startLocalServices } from '../local-services.js';
import { createAuditLog } from './audit.js';
import { createOperatorRepository, NAME_RE, passwordProblem } from './operators.js';

const USAGE = 'usage: npm run admin -- create-admin <name> | unlock <name>   (the password is read from the terminal or stdin, never from arguments)';

export interface AdminCliIo {
  env: Record<string, string | undefined>;
  /** the password source: a TTY is asked twice with echo off; a pipe gives its first line */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  out(line: string): void;
  err(line: string): void;
  /** where prompts go (stderr); muted while a password is typed */
  prompt?: NodeJS.WritableStream;
}

async function readPasswordFromPipe(stdin: NodeJS.ReadableStream): Promise<string> {
  let data = '';
  for await (const chunk of stdin) {
    data += chunk.toString();
    if (data.includes('\n')) break;
  }
  return data.split(/\r?\n/)[0] ?? '';
}

async function askHidden(stdin: NodeJS.ReadableStream, promptTo: NodeJS.WritableStream, question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) promptTo.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: stdin, output, terminal: true });
  try {
    return await new Promise<string>((res) => {
      rl.question(question, (answer) => res(answer));
      muted = true;
    });
  } finally {
    rl.close();
    promptTo.write('\n');
  }
}

/** The CLI as a function (tests call it in-process): returns the exit code. */
export async function runAdminCli(argv: string[], io: AdminCliIo): Promise<number> {
  const [command, name, extra] = argv;
  if (!command || !['create-admin', 'unlock'].includes(command) || !name || extra !== undefined) {
    io.err(USAGE);
    return 2;
  }
  if (!NAME_RE.test(name)) {
    io.err('the name must be 2 to 32 lower-case letters, digits, . _ or -');
    return 2;
  }
  let password = '';
  if (command === 'create-admin') {
    if (io.stdin.isTTY) {
      const to = io.prompt ?? process.stderr;
      password = await askHidden(io.stdin, to, `password for ${name}: `);
      const again = await askHidden(io.stdin, to, 'again: ');
      if (again !== password) {
        io.err('the two passwords differ');
        return 1;
      }
    } else {
      password = await readPasswordFromPipe(io.stdin);
    }
    const problem = passwordProblem(password);
    if (problem) {
      io.err(`the password ${problem}`);
      return 1;
    }
  }

  let uri = io.env.MONGODB_URI;
  let local: Awaited<ReturnType<typeof startLocalServices>> | undefined;
  if (!uri) {
    local = await startLocalServices({ dataDir: resolve('.data'), need: { mongo: true, redis: false }, log: io.err });
    uri = local.mongoUri!;
  }
  const conn = mongoose.createConnection(uri, { autoIndex: false, serverSelectionTimeoutMS: 5_000, ...(io.env.MONGODB_DB ? { dbName: io.env.MONGODB_DB } : {}) });
  try {
    await conn.asPromise();
    const operators = await createOperatorRepository(conn);
    const audit = await createAuditLog(conn);
    if (command === 'create-admin') {
      const created = await operators.create({ name, role: 'admin', password });
      if (created === 'exists') {
        io.err(`an operator named ${name} already exists`);
        return 1;
      }
      await audit.record({ actor: 'cli', action: 'operator.create', target: { kind: 'operator', id: created._id.toString() }, after: { name, role: 'admin', disabled: false, locked: false }, ip: 'local' });
      io.out(`admin ${name} created: sign in at /admin/`);
      return 0;
    }
    const op = await operators.findByName(name);
    if (!op) {
      io.err(`no operator named ${name}`);
      return 1;
    }
    await operators.update(op._id.toString(), { failedLogins: 0, lockedUntil: null });
    await audit.record({ actor: 'cli', action: 'operator.unlock', target: { kind: 'operator', id: op._id.toString() }, before: { failedLogins: op.failedLogins }, after: { failedLogins: 0, locked: false }, ip: 'local' });
    io.out(`${name} unlocked`);
    return 0;
  } finally {
    await conn.close();
    await local?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runAdminCli(process.argv.slice(2), {
    env: process.env,
    stdin: process.stdin,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
