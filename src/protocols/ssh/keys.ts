/**
 * SSH keys: OpenSSH fingerprints, public key lines, the gateway's own host key (generated once
 * into the data folder), and the private keys connections log in upstream with.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { SshConnectionConfig } from '../../config/schema.ts';
import { GatewayError } from '../../errors.ts';
import { fingerprint, firstKey } from '../../identity/ssh-public-key.ts';

export {
  fingerprint,
  type PublicKey,
  parsePublicKey,
  sameFingerprint,
} from '../../identity/ssh-public-key.ts';

const { utils } = ssh2;

export interface HostKey {
  /** The private key in OpenSSH format, for ssh2's `hostKeys`. */
  readonly private: Buffer;
  /** `ssh-ed25519 AAAA...`, for clients' known_hosts. */
  readonly publicLine: string;
  readonly fingerprint: string;
}

/**
 * The gateway's host key: the configured file, or `<dataDir>/ssh/host_ed25519_key` generated on
 * first start (0600). Two gateways starting at once on one folder end up with one key.
 *
 * @example
 * const key = loadOrCreateHostKey(undefined, '.airlock');
 * console.log(key.fingerprint);
 */
export function loadOrCreateHostKey(file: string | undefined, dataDir: string): HostKey {
  const path = file ?? join(dataDir, 'ssh', 'host_ed25519_key');
  if (file === undefined && !existsSync(path)) generateHostKey(path);
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (err) {
    throw new GatewayError('GW_CONFIG_INVALID', `ssh.host_key_file: cannot read ${path}`, {
      cause: err,
    });
  }
  const key = firstKey(utils.parseKey(text));
  if (key === undefined || !key.isPrivateKey()) {
    throw new GatewayError(
      'GW_CONFIG_INVALID',
      `ssh.host_key_file: ${path} is not an unencrypted private key`,
    );
  }
  const blob = key.getPublicSSH();
  return {
    private: text,
    publicLine: `${key.type} ${blob.toString('base64')}`,
    fingerprint: fingerprint(blob),
  };
}

function generateHostKey(path: string): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pair = utils.generateKeyPairSync('ed25519', { comment: 'airlock-gateway' });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, pair.private, { mode: 0o600 });
  try {
    linkSync(tmp, path); // fails if another gateway got there first: theirs wins
    writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** What Airlock logs in upstream with. */
export interface UpstreamCredential {
  readonly privateKey?: Buffer;
  readonly passphrase?: string;
  readonly password?: string;
}

/**
 * Resolves a connection's credential: `private_key` is the key text itself (OpenSSH or PEM) or a
 * path to it; it must parse (with `passphrase`). Problems name the key, never its value.
 *
 * @example
 * const cred = upstreamCredential(conn, 'connections[2]');
 */
export function upstreamCredential(conn: SshConnectionConfig, where: string): UpstreamCredential {
  const passphrase = conn.passphrase?.reveal();
  const password = conn.password?.reveal();
  const raw = conn.private_key?.reveal();
  if (raw === undefined) return { ...(password !== undefined ? { password } : {}) };
  const text = raw.includes('-----BEGIN') ? Buffer.from(raw) : readKeyFile(raw, where);
  const parsed = utils.parseKey(text, passphrase);
  const key = firstKey(parsed);
  if (key === undefined || !key.isPrivateKey()) {
    const why =
      parsed instanceof Error && /passphrase|decrypt|encrypted/i.test(parsed.message)
        ? ' (wrong or missing passphrase?)'
        : '';
    throw new GatewayError(
      'GW_CONFIG_INVALID',
      `${where}.private_key: not a usable private key${why}`,
    );
  }
  return {
    privateKey: text,
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

function readKeyFile(path: string, where: string): Buffer {
  try {
    return readFileSync(path.trim());
  } catch (err) {
    throw new GatewayError(
      'GW_CONFIG_INVALID',
      `${where}.private_key: cannot read key file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: err },
    );
  }
}
