/**
 * The upstream SSH connection: Airlock logs in with the credential only it holds, after checking
 * the server's host key (configured fingerprints, or the pinned first-seen key). ssh2's errors
 * are converted here into GatewayErrors that say what failed and never what the secret was.
 */
import ssh2 from 'ssh2';
import type { SshConnectionConfig } from '../../config/schema.ts';
import { GatewayError } from '../../errors.ts';
import type { HostKeyCheck, HostKeyPins } from './host-keys.ts';
import type { UpstreamCredential } from './keys.ts';

export interface UpstreamOptions {
  readonly pins: HostKeyPins;
  /** Told the outcome of the host key check (recorded in the ledger by the engine). */
  readonly onHostKey: (check: HostKeyCheck) => void;
}

/**
 * @example
 * const client = await connectUpstream(conn, credential, { pins, onHostKey });
 * client.exec('uptime', (err, stream) => ...);
 */
export function connectUpstream(
  conn: SshConnectionConfig,
  cred: UpstreamCredential,
  opts: UpstreamOptions,
): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  let check: HostKeyCheck | undefined;
  return new Promise((resolve, reject) => {
    const fail = (err: Error & { level?: string; code?: string }) => {
      client.removeListener('ready', ready);
      client.end();
      reject(convert(err, check, conn));
    };
    const ready = () => {
      client.removeListener('error', fail);
      resolve(client);
    };
    client.once('ready', ready);
    client.once('error', fail);
    client.connect({
      host: conn.host,
      port: conn.port,
      username: conn.user,
      ...(cred.privateKey ? { privateKey: cred.privateKey } : {}),
      ...(cred.passphrase !== undefined ? { passphrase: cred.passphrase } : {}),
      ...(cred.password !== undefined ? { password: cred.password } : {}),
      readyTimeout: conn.connect_timeout_ms,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      hostVerifier: (key: Buffer) => {
        check = opts.pins.check(conn, key);
        opts.onHostKey(check);
        return check.ok;
      },
    });
    // Interactive traffic and small requests must not wait for Nagle and delayed ACKs.
    client.setNoDelay(true);
  });
}

function convert(
  err: Error & { level?: string; code?: string },
  check: HostKeyCheck | undefined,
  conn: SshConnectionConfig,
): GatewayError {
  const target = `${conn.name} (${conn.host}:${conn.port})`;
  if (check !== undefined && !check.ok) {
    return new GatewayError(
      'GW_UPSTREAM_HOST_KEY_MISMATCH',
      `the host key of ${target} is ${check.fingerprint}, not the expected one: refusing to connect`,
      { cause: err },
    );
  }
  if (err.level === 'client-authentication') {
    return new GatewayError(
      'GW_UPSTREAM_AUTH_FAILED',
      `${target} refused Airlock's credential for user ${conn.user}`,
      { cause: err },
    );
  }
  const why = err.level === 'client-timeout' ? 'timed out' : (err.code ?? 'connection failed');
  return new GatewayError('GW_UPSTREAM_UNAVAILABLE', `cannot reach ${target}: ${why}`, {
    cause: err,
  });
}
