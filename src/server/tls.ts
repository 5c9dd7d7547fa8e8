/**
 * The client-facing TLS context: configured certificate files, or a self-signed certificate
 * generated once into the data folder (for the demo and first runs).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { AirlockConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';

export interface TlsMaterial {
  readonly context: SecureContext;
  readonly certFile: string;
  /** PEM, for servers (HTTPS) that take the pair rather than a context. */
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * @example
 * const tls = loadTls(config); // undefined when TLS is off
 */
export function loadTls(config: AirlockConfig): TlsMaterial | undefined {
  const { cert_file, key_file, self_signed } = config.tls;
  if (cert_file && key_file) return material(cert_file, key_file);
  if (!self_signed) return undefined;
  const dir = join(config.data_dir, 'tls');
  const cert = join(dir, 'gateway.crt');
  const key = join(dir, 'gateway.key');
  if (!existsSync(cert) || !existsSync(key)) generateOnce(config.data_dir, dir);
  return material(cert, key);
}

/**
 * Two gateways sharing a data folder may start at once: each generates into a private folder and
 * renames it into place; the loser's rename fails and it uses the winner's pair.
 */
function generateOnce(dataDir: string, dir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tmp = mkdtempSync(join(dataDir, '.tls-'));
  try {
    generateSelfSigned(tmp, join(tmp, 'gateway.crt'), join(tmp, 'gateway.key'));
    renameSync(tmp, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function material(certFile: string, keyFile: string): TlsMaterial {
  try {
    const cert = readFileSync(certFile);
    const key = readFileSync(keyFile);
    const context = createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    return { context, certFile, cert, key };
  } catch (err) {
    throw new GatewayError('GW_CONFIG_INVALID', `tls: cannot load certificate ${certFile}`, {
      cause: err,
    });
  }
}

/** A P-256 self-signed certificate for localhost, valid one year, key readable by us only. */
function generateSelfSigned(dir: string, cert: string, key: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const args = [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-days', '365', '-subj', '/CN=airlock-gateway'],
    ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'],
    ...['-keyout', key, '-out', cert],
  ];
  try {
    execFileSync('openssl', args, { stdio: 'ignore' });
  } catch (err) {
    throw new GatewayError(
      'GW_CONFIG_INVALID',
      'tls: no certificate configured and `openssl` could not generate a self-signed one',
      { cause: err },
    );
  }
}
