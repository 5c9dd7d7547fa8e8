// OpenSSH for the SSH tests and `npm run bench:ssh`: the `ssh`, `scp` and `sftp` clients and an
// `sshd` (with `sftp-server`) that the harness starts on loopback with its own configuration and
// host keys. Missing pieces are installed from Debian/Ubuntu packages when running as root (a
// fresh CI machine); elsewhere the error says what to install. No system sshd service is used.
//
//   node scripts/ensure-openssh.ts    prints where sshd and sftp-server are
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface OpenSsh {
  readonly sshd: string;
  readonly sftpServer: string;
  readonly ssh: string;
}

const SSHD = ['/usr/sbin/sshd', '/usr/local/sbin/sshd'];
const SFTP_SERVER = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/lib/ssh/sftp-server',
  '/usr/libexec/sftp-server',
];
const SSH = ['/usr/bin/ssh', '/usr/local/bin/ssh'];

function find(paths: readonly string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

function located(): Partial<OpenSsh> {
  const sshd = find(SSHD);
  const sftpServer = find(SFTP_SERVER);
  const ssh = find(SSH);
  return {
    ...(sshd ? { sshd } : {}),
    ...(sftpServer ? { sftpServer } : {}),
    ...(ssh ? { ssh } : {}),
  };
}

/** apt-get, retried while another apt holds the lock, with an index refresh when needed. */
function aptInstall(packages: readonly string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      timeout: 300_000,
    });
  for (let attempt = 0; attempt < 6; attempt += 1) {
    let r = install();
    if (r.status === 0) return;
    if (/Unable to locate package|has no installation candidate|404/.test(r.stderr ?? '')) {
      spawnSync('apt-get', ['update'], { env, stdio: 'ignore', timeout: 300_000 });
      r = install();
      if (r.status === 0) return;
    }
    if (!/lock/i.test(r.stderr ?? '')) {
      throw new Error(
        `apt-get install ${packages.join(' ')} failed: ${(r.stderr ?? '').trim().slice(-400)}`,
      );
    }
    execFileSync('sleep', ['5']);
  }
  throw new Error(`apt-get install ${packages.join(' ')}: the package lock stayed busy`);
}

/**
 * Where OpenSSH is, installing it first when it is missing and we may.
 *
 * @example
 * const { sshd, sftpServer } = ensureOpenSsh();
 */
export function ensureOpenSsh(): OpenSsh {
  let found = located();
  if (found.sshd && found.sftpServer && found.ssh) return found as OpenSsh;
  const root = process.getuid?.() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!root || !apt) {
    throw new Error(
      'OpenSSH server and clients are needed (sshd, sftp-server, ssh): install openssh-server ' +
        'and openssh-client, e.g. `sudo apt-get install -y openssh-server openssh-client`',
    );
  }
  process.stderr.write(
    'airlock: installing openssh-server and openssh-client for the SSH tests...\n',
  );
  aptInstall(['openssh-server', 'openssh-client', 'openssh-sftp-server']);
  found = located();
  if (!found.sshd || !found.sftpServer || !found.ssh) {
    throw new Error('OpenSSH was installed but sshd, sftp-server or ssh is still missing');
  }
  return found as OpenSsh;
}

if (process.argv[1]?.endsWith('ensure-openssh.ts')) {
  const found = ensureOpenSsh();
  process.stdout.write(`${JSON.stringify(found)}\n`);
}
