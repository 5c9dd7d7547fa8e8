/**
 * A real OpenSSH server for tests: `sshd -D -f <generated config> -p <port>` as a child process
 * on loopback, with its own host key and an authorized key for Airlock in a temp folder (no
 * system service, no system keys). Logs in as the user running the tests. Also: running the
 * OpenSSH clients (`ssh`, `scp`, `sftp`) against the gateway with a token given by SSH_ASKPASS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ensureOpenSsh } from '../../scripts/ensure-openssh.ts';
import { type RunResult, run } from './stack.ts';

export interface Sshd {
  readonly port: number;
  readonly dir: string;
  /** The account tests log in as (the current user). */
  readonly user: string;
  readonly home: string;
  /** `SHA256:...` of sshd's host key. */
  readonly hostKeyFingerprint: string;
  /** The private key Airlock logs in with (authorized by this sshd only). */
  readonly clientKeyFile: string;
  /** What sshd has written to stderr. */
  log(): string;
  close(): Promise<void>;
}

/**
 * A `connections:` list item (two-space indent, ending in a newline) for Airlock to reach this
 * sshd: key login, and the host key pinned (sshd's own unless `hostKey` is given).
 *
 * @example
 * const yaml = `connections:\n${sshConnectionYaml(sshd, 'box')}`;
 */
export function sshConnectionYaml(
  sshd: Sshd,
  name: string,
  hostKey = sshd.hostKeyFingerprint,
): string {
  return `  - name: ${name}
    type: ssh
    host: 127.0.0.1
    port: ${sshd.port}
    user: ${sshd.user}
    private_key: ${sshd.clientKeyFile}
    host_key: ${hostKey}
`;
}

/** A free loopback port (there is a small race until the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function keygen(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** `SHA256:...` of a public key file, as ssh-keygen prints it. */
export function keyFingerprint(pubFile: string): string {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], {
    encoding: 'utf8',
  });
  return out.split(/\s+/)[1] as string;
}

/**
 * @example
 * await using sshd = await startSshd();
 * // connections: [{ type: ssh, host: 127.0.0.1, port: sshd.port, user: sshd.user, private_key: sshd.clientKeyFile }]
 */
export async function startSshd(opts: { extraConfig?: string } = {}): Promise<Sshd> {
  const { sshd, sftpServer } = ensureOpenSsh();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-sshd-'));
  chmodSync(dir, 0o755);
  keygen(join(dir, 'host_ed25519_key'), 'test-sshd-host');
  keygen(join(dir, 'airlock_key'), 'airlock-upstream');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'airlock_key.pub')));
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'AcceptEnv LANG LC_*',
      'PrintMotd no',
      'PrintLastLog no',
      'MaxSessions 30',
      'MaxStartups 100',
      'LogLevel ERROR',
      `Subsystem sftp ${sftpServer}`,
      opts.extraConfig ?? '',
    ].join('\n'),
  );
  const child = spawn(sshd, ['-D', '-e', '-f', config, '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitForPort(port, child, () => stderr);
  const user = userInfo().username;
  return {
    port,
    dir,
    user,
    home: userInfo().homedir,
    hostKeyFingerprint: keyFingerprint(join(dir, 'host_ed25519_key.pub')),
    clientKeyFile: join(dir, 'airlock_key'),
    log: () => stderr,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(
  port: number,
  child: ReturnType<typeof spawn>,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** OpenSSH client options against the gateway: its host key pinned, no user config, no agent. */
export interface ClientSetup {
  readonly dir: string;
  readonly port: number;
  readonly knownHosts: string;
  readonly askpass: string;
}

/**
 * Files for the OpenSSH clients: known_hosts with the gateway's key, and an askpass script that
 * answers the password prompt with $AIRLOCK_TEST_SECRET (so the token never is an argument).
 */
export function clientSetup(port: number, gatewayHostKeyLine: string): ClientSetup {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-sshc-'));
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${gatewayHostKeyLine}\n`);
  const askpass = join(dir, 'askpass.sh');
  writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$AIRLOCK_TEST_SECRET"\n', { mode: 0o700 });
  return { dir, port, knownHosts, askpass };
}

/** Options shared by ssh, scp and sftp. */
export function clientOptions(c: ClientSetup, auth: { key?: string } = {}): string[] {
  const common = [
    '-F',
    '/dev/null',
    '-o',
    `UserKnownHostsFile=${c.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'LogLevel=ERROR',
  ];
  if (auth.key !== undefined) {
    return [
      ...common,
      '-i',
      auth.key,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'PreferredAuthentications=publickey',
      '-o',
      'BatchMode=yes',
    ];
  }
  return [
    ...common,
    '-o',
    'PubkeyAuthentication=no',
    '-o',
    'PreferredAuthentications=password,keyboard-interactive',
    '-o',
    'NumberOfPasswordPrompts=1',
  ];
}

/** The environment that makes the clients answer the password prompt with `secret`. */
export function askpassEnv(c: ClientSetup, secret: string): Record<string, string> {
  return {
    SSH_ASKPASS: c.askpass,
    SSH_ASKPASS_REQUIRE: 'force',
    DISPLAY: ':0',
    AIRLOCK_TEST_SECRET: secret,
  };
}

/** Runs `ssh -p PORT [opts] CONNECTION@127.0.0.1 ...args`. */
export function ssh(
  c: ClientSetup,
  connection: string,
  args: string[],
  opts: {
    secret?: string;
    key?: string;
    input?: string;
    timeoutMs?: number;
    extra?: string[];
  } = {},
): Promise<RunResult> {
  const auth = opts.key !== undefined ? { key: opts.key } : {};
  return run(
    'ssh',
    [
      '-p',
      String(c.port),
      ...clientOptions(c, auth),
      ...(opts.extra ?? []),
      `${connection}@127.0.0.1`,
      ...args,
    ],
    {
      env: opts.secret !== undefined ? askpassEnv(c, opts.secret) : {},
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      timeoutMs: opts.timeoutMs ?? 60_000,
    },
  );
}
