// A disposable PostgreSQL cluster in a temp dir, for `airlock demo` and the test harness.
// Throwaway by design: fsync is off, and everything is deleted on stop().
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { scramVerifier } from '../identity/scram-verifier.ts';

export interface LocalPostgresOptions {
  /** TCP port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** Serve TLS with a fresh self-signed certificate for CN=localhost (default true). */
  ssl?: boolean;
  /** Receives every line the server writes to stderr/stdout. */
  log?: (line: string) => void;
}

export interface LocalPostgres extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** The cluster's data directory (PGDATA); its temp parent is removed on stop. */
  readonly dataDir: string;
  readonly superuser: string;
  readonly superPassword: string;
  /** Where initdb/postgres/psql/pgbench were found. */
  readonly binDir: string;
  /** Runs SQL as superuser in the given database via psql (ON_ERROR_STOP=1); returns stdout. */
  sql(database: string, sql: string): Promise<string>;
  /** Creates a login role whose password is stored as a SCRAM-SHA-256 verifier. */
  createRole(name: string, password: string, opts?: { superuser?: boolean }): Promise<void>;
  createDatabase(name: string, owner: string): Promise<void>;
  /** Fast shutdown, then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** The OS identity the server runs as when we are root (PostgreSQL refuses to run as root). */
interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** Everything known about a cluster before its server is started. */
interface Cluster {
  readonly rootDir: string;
  readonly dataDir: string;
  readonly binDir: string;
  readonly runAs: RunAs | undefined;
  readonly superPassword: string;
  readonly logTail: LogTail;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'airlock_admin';
const READY_LINE = 'database system is ready to accept connections';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;
const LOG_TAIL_LINES = 200;

/**
 * Finds a directory holding `initdb` and `postgres`: the newest `/usr/lib/postgresql/<major>/bin`
 * (Debian/Ubuntu layout), else the first such directory on PATH.
 *
 * @example
 * const bin = findPostgresBinaries(); // '/usr/lib/postgresql/15/bin'
 */
export function findPostgresBinaries(): string | undefined {
  return newestDebianBinDir() ?? pathBinDir();
}

function newestDebianBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return majors.map((m) => join(base, m, 'bin')).find(hasServerBinaries);
}

function pathBinDir(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  return dirs.find(hasServerBinaries);
}

function hasServerBinaries(dir: string): boolean {
  return existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'));
}

/**
 * Starts a throwaway PostgreSQL on 127.0.0.1 with SCRAM auth everywhere (no trust), TLS by
 * default, and durability turned off for speed. Runs as the `postgres` OS user when we are root.
 *
 * @example
 * await using pg = await startLocalPostgres();
 * await pg.createRole('clinic_app', 's3cret');
 * await pg.createDatabase('clinic', 'clinic_app');
 * const n = await pg.sql('clinic', 'select 1'); // '1\n'
 */
export async function startLocalPostgres(opts: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const ssl = opts.ssl ?? true;
  const cluster = await prepareCluster(opts.log);
  try {
    // initdb and RSA key generation are the slow parts; they do not depend on each other.
    await allOrFirstError([initdb(cluster), ssl ? generateCertificate(cluster) : undefined]);
    await configureCluster(cluster, ssl);
    const { child, port } = await launchWithRetry(cluster, opts.port ?? 0);
    return new RunningPostgres(cluster, child, port);
  } catch (err) {
    await rm(cluster.rootDir, { recursive: true, force: true });
    throw err;
  }
}

/** Like Promise.all, but waits for every task to settle so none still writes into a removed dir. */
async function allOrFirstError(tasks: Array<Promise<void> | undefined>): Promise<void> {
  for (const result of await Promise.allSettled(tasks)) {
    if (result.status === 'rejected') throw result.reason;
  }
}

/** Step 1: find the binaries, decide who runs the server, make the temp dir. */
async function prepareCluster(log: ((line: string) => void) | undefined): Promise<Cluster> {
  const binDir = findPostgresBinaries();
  if (binDir === undefined) {
    throw new Error(
      'PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or ' +
        'on PATH; install them, e.g. `apt-get install postgresql`',
    );
  }
  const runAs = resolveRunAs();
  const rootDir = await makeRootDir(runAs);
  return {
    rootDir,
    dataDir: join(rootDir, 'data'),
    binDir,
    runAs,
    superPassword: randomBytes(18).toString('base64url'),
    logTail: new LogTail(log),
  };
}

/** Root: run the server as the `postgres` OS user. Otherwise: as ourselves (undefined). */
function resolveRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(
      'running as root, but there is no `postgres` OS user to run PostgreSQL as ' +
        '(PostgreSQL refuses to run as root); install the postgresql package or create the user',
    );
  }
}

/** A 0700 temp dir owned by whoever runs the server; the data dir and pwfile live inside. */
async function makeRootDir(runAs: RunAs | undefined): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-pg-'));
  await chmod(dir, 0o700);
  if (runAs) await chown(dir, runAs.uid, runAs.gid);
  return dir;
}

/** Step 2a: initdb with a SCRAM-only superuser; the pwfile exists only while it runs. */
async function initdb(cluster: Cluster): Promise<void> {
  const pwfile = join(cluster.rootDir, 'pwfile');
  await writeOwnedFile(cluster, pwfile, `${cluster.superPassword}\n`);
  try {
    await run(join(cluster.binDir, 'initdb'), {
      args: [
        ...['-D', cluster.dataDir, '-U', SUPERUSER, `--pwfile=${pwfile}`],
        ...['--auth=scram-sha-256', '--auth-local=scram-sha-256'],
        ...['--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      ],
      runAs: cluster.runAs,
      env: serverEnv(),
    });
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** Step 3: postgresql.conf, pg_hba.conf, and the certificate moved into the data dir. */
async function configureCluster(cluster: Cluster, ssl: boolean): Promise<void> {
  if (ssl) await moveCertificate(cluster);
  const conf = [
    '',
    '# --- airlock local-postgres (throwaway cluster) ---',
    `listen_addresses = '${HOST}'`,
    `unix_socket_directories = ${quoteLiteral(cluster.dataDir)}`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'max_connections = 200',
    "password_encryption = 'scram-sha-256'",
    `ssl = ${ssl ? 'on' : 'off'}`,
    ...(ssl ? ["ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"] : []),
    '',
  ];
  await appendFile(join(cluster.dataDir, 'postgresql.conf'), conf.join('\n'));
  await writeFile(join(cluster.dataDir, 'pg_hba.conf'), HBA);
}

/** SCRAM for every local and TCP connection, replication included. No trust, no peer. */
const HBA = `# airlock local-postgres: password (SCRAM) required everywhere
local   all          all                  scram-sha-256
host    all          all   127.0.0.1/32   scram-sha-256
host    all          all   ::1/128        scram-sha-256
local   replication  all                  scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
host    replication  all   ::1/128        scram-sha-256
`;

const CERT_FILES = ['server.crt', 'server.key'] as const;

/**
 * Step 2b: a self-signed certificate for localhost/127.0.0.1, made in the root dir while initdb
 * fills the (necessarily empty) data dir.
 */
async function generateCertificate(cluster: Cluster): Promise<void> {
  const [crt, key] = CERT_FILES.map((f) => join(cluster.rootDir, f));
  await run('openssl', {
    args: [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'],
      ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ...['-keyout', key!, '-out', crt!],
    ],
  }).catch((err: unknown) => {
    throw new Error('could not generate a TLS certificate with the `openssl` CLI', { cause: err });
  });
}

/** The key must be 0600 and owned by the server's OS user, or postgres refuses to start. */
async function moveCertificate(cluster: Cluster): Promise<void> {
  for (const file of CERT_FILES) {
    const target = join(cluster.dataDir, file);
    await rename(join(cluster.rootDir, file), target);
    await chmod(target, 0o600);
    if (cluster.runAs) await chown(target, cluster.runAs.uid, cluster.runAs.gid);
  }
}

/** Step 4: start `postgres -D`, picking a new free port when an auto-picked one was taken. */
async function launchWithRetry(
  cluster: Cluster,
  requestedPort: number,
): Promise<{ child: ChildProcess; port: number }> {
  const attempts = requestedPort === 0 ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const port = requestedPort === 0 ? await pickFreePort() : requestedPort;
    try {
      return { child: await launch(cluster, port), port };
    } catch (err) {
      if (attempt >= attempts || !(err instanceof BindError)) throw err;
    }
  }
}

/** Asks the kernel for a free port on 127.0.0.1 (racy by nature, hence the retry). */
function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

class BindError extends Error {}

/** Spawns the postmaster in its own process group and waits until it accepts connections. */
async function launch(cluster: Cluster, port: number): Promise<ChildProcess> {
  const child = spawn(join(cluster.binDir, 'postgres'), ['-D', cluster.dataDir, '-p', `${port}`], {
    ...spawnIdentity(cluster.runAs),
    env: serverEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal's Ctrl-C must not reach postgres before the gateway has
    // closed its sessions; the owner stops it explicitly.
    detached: true,
  });
  registerForExitKill(child);
  try {
    await waitUntilReady(child, cluster.logTail);
    return child;
  } catch (err) {
    await terminate(child);
    throw err;
  }
}

/** Resolves on the "ready to accept connections" log line; rejects on exit or timeout. */
function waitUntilReady(child: ChildProcess, tail: LogTail): Promise<void> {
  const mark = tail.mark();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish(
        new Error(`postgres did not start within ${START_TIMEOUT_MS / 1000} s${tail.dump(mark)}`),
      );
    }, START_TIMEOUT_MS);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      child.off('close', onClose).off('error', finish);
      tail.offLine(onLine);
      if (err) reject(err);
      else resolve();
    };
    const onLine = (line: string) => line.includes(READY_LINE) && finish();
    // 'close', not 'exit': the last log lines (the reason) may still be in the pipe at 'exit'.
    const onClose = (code: number | null, signal: string | null) =>
      finish(startupExitError(tail, mark, signal ?? `code ${code}`));
    tail.attach(child);
    tail.onLine(onLine);
    child.once('close', onClose).once('error', finish);
  });
}

/** A BindError (worth retrying on another port) when the log says the port was taken. */
function startupExitError(tail: LogTail, mark: number, status: string): Error {
  const message = `postgres exited during startup (${status})${tail.dump(mark)}`;
  const bindFailed = /could not bind|could not create any TCP\/IP sockets/.test(tail.text(mark));
  return bindFailed ? new BindError(message) : new Error(message);
}

/**
 * Sends `signal` to the postmaster (SIGKILL: to its whole process group), waits for exit, and
 * SIGKILLs the group after STOP_TIMEOUT_MS.
 */
async function terminate(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return unregisterForExitKill(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (signal === 'SIGKILL') killGroup(child);
  else child.kill(signal);
  const timer = setTimeout(() => killGroup(child), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  unregisterForExitKill(child);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** One process-wide 'exit' hook SIGKILLs every cluster still running, so none outlive us. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function registerForExitKill(child: ChildProcess, rootDir?: string): void {
  live.set(child, rootDir ?? '');
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [c, dir] of live) {
      killGroup(c);
      try {
        if (dir !== '') rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort while exiting
      }
    }
  });
}

function unregisterForExitKill(child: ChildProcess): void {
  live.delete(child);
}

class RunningPostgres implements LocalPostgres {
  readonly host = HOST;
  readonly port: number;
  readonly dataDir: string;
  readonly superuser = SUPERUSER;
  readonly superPassword: string;
  readonly binDir: string;
  readonly #cluster: Cluster;
  readonly #child: ChildProcess;
  #stopping: Promise<void> | undefined;

  constructor(cluster: Cluster, child: ChildProcess, port: number) {
    this.#cluster = cluster;
    this.#child = child;
    this.port = port;
    this.dataDir = cluster.dataDir;
    this.superPassword = cluster.superPassword;
    this.binDir = cluster.binDir;
    registerForExitKill(child, cluster.rootDir);
  }

  async sql(database: string, sql: string): Promise<string> {
    const psql = existsSync(join(this.binDir, 'psql'))
      ? join(this.binDir, 'psql')
      : '/usr/bin/psql';
    const conn = ['-h', this.host, '-p', `${this.port}`, '-U', this.superuser, '-d', database];
    return run(psql, {
      args: [...conn, '-v', 'ON_ERROR_STOP=1', '-X', '-q', '-At', '-f', '-'],
      env: { ...clientEnv(), PGPASSWORD: this.superPassword },
      stdin: sql,
    });
  }

  async createRole(name: string, password: string, opts: { superuser?: boolean } = {}) {
    const attrs = opts.superuser ? 'LOGIN SUPERUSER' : 'LOGIN';
    // A pre-computed verifier: the plaintext never reaches the server or its logs.
    const secret = quoteLiteral(scramSecret(password));
    await this.sql('postgres', `CREATE ROLE ${quoteIdent(name)} ${attrs} PASSWORD ${secret};`);
  }

  async createDatabase(name: string, owner: string): Promise<void> {
    await this.sql('postgres', `CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(owner)};`);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #shutdown(): Promise<void> {
    // SIGINT = fast shutdown: roll back open transactions, disconnect clients, exit.
    await terminate(this.#child, 'SIGINT');
    await rm(this.#cluster.rootDir, { recursive: true, force: true });
  }
}

/**
 * The verifier in the `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` form that
 * CREATE ROLE ... PASSWORD accepts, so the password itself never reaches the server.
 * https://www.postgresql.org/docs/current/catalog-pg-authid.html
 */
function scramSecret(password: string): string {
  const v = scramVerifier(password);
  return `SCRAM-SHA-256$${v.iterations}:${v.salt}$${v.storedKey}:${v.serverKey}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A single-quoted string, valid both as an SQL literal and in postgresql.conf. */
function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Write a file (0600) that the server user can read. */
async function writeOwnedFile(cluster: Cluster, path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  if (cluster.runAs) await chown(path, cluster.runAs.uid, cluster.runAs.gid);
}

/** Our environment without libpq/server PG* variables, in the C locale (English log lines). */
function serverEnv(): NodeJS.ProcessEnv {
  return { ...clientEnv(), LC_ALL: 'C', LANG: 'C' };
}

function clientEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
}

function spawnIdentity(runAs: RunAs | undefined): { uid?: number; gid?: number } {
  return runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
}

interface RunOptions {
  args: string[];
  runAs?: RunAs | undefined;
  env?: NodeJS.ProcessEnv;
  stdin?: string;
}

/** Runs a program to completion; resolves stdout, rejects with stderr on a non-zero exit. */
function run(file: string, opts: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, opts.args, {
      ...spawnIdentity(opts.runAs),
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString().trim();
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`${file} failed (${signal ?? `code ${code}`}): ${stderr}`));
    });
    child.stdin.on('error', () => {}); // EPIPE when the program exits early; 'close' reports it
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Keeps the last LOG_TAIL_LINES server log lines for error messages and forwards each line. */
class LogTail {
  readonly #lines: string[] = [];
  readonly #listeners = new Set<(line: string) => void>();
  #total = 0;

  constructor(log: ((line: string) => void) | undefined) {
    if (log) this.#listeners.add(log);
  }

  attach(child: ChildProcess): void {
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.#push(line));
    }
  }

  onLine(fn: (line: string) => void): void {
    this.#listeners.add(fn);
  }

  offLine(fn: (line: string) => void): void {
    this.#listeners.delete(fn);
  }

  /** A position in the log, to read only what came after it. */
  mark(): number {
    return this.#total;
  }

  text(since = 0): string {
    const skip = Math.max(0, this.#lines.length - (this.#total - since));
    return this.#lines.slice(skip).join('\n');
  }

  /** The tail (since `mark`) formatted for appending to an error message. */
  dump(since = 0): string {
    const text = this.text(since);
    return text === '' ? '' : `; server log:\n${text}`;
  }

  #push(line: string): void {
    this.#lines.push(line);
    this.#total++;
    if (this.#lines.length > LOG_TAIL_LINES) this.#lines.shift();
    for (const fn of this.#listeners) fn(line);
  }
}
