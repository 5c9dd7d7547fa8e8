/**
 * `npm run bench:ssh`: the SSH gateway against OpenSSH's sshd directly, interleaved round by
 * round in one run:
 *
 * - a 100 MB file uploaded and downloaded with `scp` (SFTP mode), in MB/s;
 * - `ssh host true`: a new connection, authentication and one command, in ms;
 * - one `exec` on an already open connection (the ssh2 client), in ms: what each command of a
 *   long-lived agent session costs, including Airlock's durable ledger write before it runs.
 *
 * Prints the medians side by side with the ratio Airlock/direct. Both sides authenticate with an
 * ed25519 key; Airlock records with `audit.sync: full` (fsync per group commit) and audits the
 * transfers (SHA-256 of each file). Loopback only; everything stops by itself.
 *
 * Env: BENCH_SSH_MB (100), BENCH_ROUNDS (3), BENCH_SSH_CONNECTS (10), BENCH_SSH_EXECS (30).
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { ensureOpenSsh } from '../scripts/ensure-openssh.ts';
import { freePort, sshConnectionYaml, startSshd } from '../test/helpers/sshd.ts';
import { AIRLOCK_CLI, spawnAirlock } from './lib/airlock.ts';

const MB = Number(process.env.BENCH_SSH_MB ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTS = Number(process.env.BENCH_SSH_CONNECTS ?? 10);
const EXECS = Number(process.env.BENCH_SSH_EXECS ?? 30);

interface Target {
  readonly name: string;
  readonly port: number;
  readonly user: string;
  readonly key: string;
  readonly knownHosts: string;
}

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

function options(t: Target): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    t.key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${t.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'LogLevel=ERROR',
  ];
}

function timed(cmd: string, args: string[]): number {
  const t0 = performance.now();
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  return performance.now() - t0;
}

function scpMBps(t: Target, from: string, to: string): number {
  const ms = timed('scp', ['-P', String(t.port), ...options(t), from, to]);
  return MB / (ms / 1000);
}

function connectMs(t: Target): number {
  const samples: number[] = [];
  for (let i = 0; i < CONNECTS; i += 1) {
    samples.push(
      timed('ssh', ['-p', String(t.port), ...options(t), `${t.user}@127.0.0.1`, 'true']),
    );
  }
  return median(samples);
}

/** Sequential `exec('true')` on one open connection (ssh2 client). */
async function execMs(t: Target): Promise<number> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: t.port,
      username: t.user,
      privateKey: readFileSync(t.key),
    });
  });
  const samples: number[] = [];
  try {
    for (let i = 0; i < EXECS; i += 1) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        client.exec('true', (err, stream) => {
          if (err) return reject(err);
          stream.on('close', () => resolve());
          stream.resume();
        });
      });
      samples.push(performance.now() - t0);
    }
  } finally {
    client.end();
  }
  return median(samples);
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('airlock exited');
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('airlock did not start');
}

async function startAirlock(
  dir: string,
  sshd: Awaited<ReturnType<typeof startSshd>>,
): Promise<Target> {
  const port = await freePort();
  const config = join(dir, 'airlock.yaml');
  writeFileSync(
    config,
    `listen:
  ssh: 127.0.0.1:${port}
data_dir: ${join(dir, 'data')}
log: { level: warn }
audit: { sync: ${process.env.BENCH_AUDIT_SYNC ?? 'full'} }
connections:
${sshConnectionYaml(sshd, 'box')}`,
  );
  const cli = (args: string[]) =>
    execFileSync(process.execPath, [AIRLOCK_CLI, ...args, '--config', config])
      .toString()
      .trim();
  const token = cli([
    'token',
    'create',
    '--owner',
    'bench@example.com',
    '--name',
    'ssh-bench',
    '--purpose',
    'bench',
  ]);
  const key = join(dir, 'bench_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  cli(['ssh-key', 'add', `${key}.pub`, '--token', token.split('_')[1] as string]);
  const hostKey = cli(['ssh-host-key', 'show']);
  const knownHosts = join(dir, 'known_hosts_airlock');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKey}\n`);
  const child = spawnAirlock(config);
  children.push(child);
  await waitForPort(port, child);
  return { name: 'airlock', port, user: 'box', key, knownHosts };
}

async function main(): Promise<void> {
  ensureOpenSsh();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-ssh-'));
  const sshd = await startSshd();
  try {
    const knownHosts = join(dir, 'known_hosts_direct');
    const hostPub = readFileSync(join(sshd.dir, 'host_ed25519_key.pub'), 'utf8').trim();
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${hostPub}\n`);
    const direct: Target = {
      name: 'direct',
      port: sshd.port,
      user: sshd.user,
      key: sshd.clientKeyFile,
      knownHosts,
    };
    const airlock = await startAirlock(dir, sshd);
    const file = join(dir, 'payload.bin');
    writeFileSync(file, randomBytes(MB * 1024 * 1024));
    log(`bench:ssh: ${MB} MB scp up/down, ${CONNECTS} connects, ${EXECS} execs, ${ROUNDS} rounds`);
    const results: Record<string, Record<string, number[]>> = { direct: {}, airlock: {} };
    const add = (t: Target, metric: string, v: number) => {
      const bucket = results[t.name] as Record<string, number[]>;
      bucket[metric] = [...(bucket[metric] ?? []), v];
    };
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const t of [direct, airlock]) {
        const remote = join(dir, `up-${t.name}.bin`);
        add(t, 'upload', scpMBps(t, file, `${t.user}@127.0.0.1:${remote}`));
        if (statSync(remote).size !== MB * 1024 * 1024)
          throw new Error(`${t.name}: upload incomplete`);
        add(
          t,
          'download',
          scpMBps(t, `${t.user}@127.0.0.1:${remote}`, join(dir, `down-${t.name}.bin`)),
        );
        add(t, 'connect', connectMs(t));
        add(t, 'exec', await execMs(t));
        rmSync(remote, { force: true });
      }
      log(`round ${round}/${ROUNDS} done`);
    }
    report(results);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sshd.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(results: Record<string, Record<string, number[]>>): void {
  const rows: [string, string, boolean][] = [
    ['upload', `scp upload ${MB} MB (MB/s)`, true],
    ['download', `scp download ${MB} MB (MB/s)`, true],
    ['connect', 'ssh host true, new connection (ms)', false],
    ['exec', 'exec on an open connection (ms)', false],
  ];
  const lines = ['| metric | direct | airlock | airlock/direct |', '| --- | ---: | ---: | ---: |'];
  for (const [key, label] of rows) {
    const d = median(results.direct?.[key] ?? []);
    const a = median(results.airlock?.[key] ?? []);
    lines.push(`| ${label} | ${d.toFixed(1)} | ${a.toFixed(1)} | ${(a / d).toFixed(2)}x |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`bench:ssh failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
