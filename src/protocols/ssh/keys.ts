/**
 * SSH keys: OpenSSH fingerprints, public key lines, the gateway's own host key (generated once
 * into the data folder), and the private keys connections log in upstream with.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
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

/**
 * A new ed25519 key pair: the private key in OpenSSH format, the public key as an OpenSSH line.
 * (Not ssh2's keygen: it drops a leading zero byte of the public key, so about 1 key in 256 does
 * not parse back.)
 *
 * https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.key
 *
 * @example
 * const { private: pem, public: line } = generateEd25519('airlock-gateway');
 */
export function generateEd25519(comment: string): { private: string; public: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d as string, 'base64url');
  const pub = Buffer.from(jwk.x as string, 'base64url');
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.concat([sshString(type), sshString(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([
    check,
    check,
    sshString(type),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(Buffer.from(comment)),
  ]);
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString(Buffer.from('none')),
    sshString(Buffer.from('none')),
    sshString(Buffer.alloc(0)),
    uint32(1),
    sshString(blob),
    sshString(secret),
  ]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  return {
    private: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`,
    public: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
  };
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function sshString(data: Buffer): Buffer {
  return Buffer.concat([uint32(data.length), data]);
}

function generateHostKey(path: string): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pair = generateEd25519('airlock-gateway');
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
