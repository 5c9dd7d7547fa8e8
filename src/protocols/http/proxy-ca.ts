/**
 * HTTPS proxy mode (`HTTPS_PROXY`): tools that only know a proxy open a CONNECT tunnel to the
 * provider's host; Airlock answers the TLS handshake itself, with a certificate for that host
 * signed by its own proxy CA (`<data_dir>/tls/proxy-ca.crt`, which those clients must trust), so
 * the requests inside go through the same engine as any other. Only hosts of configured
 * connections get a certificate: Airlock is not an open proxy.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * @example
 * const ca = new ProxyCa(join(dataDir, 'tls'));
 * const ctx = await ca.contextFor('api.openai.com');
 */
export class ProxyCa {
  readonly #dir: string;
  readonly #contexts = new Map<string, Promise<SecureContext>>();
  #ca: Promise<void> | undefined;

  constructor(tlsDir: string) {
    this.#dir = tlsDir;
  }

  /** The CA certificate clients must trust. */
  get certFile(): string {
    return join(this.#dir, 'proxy-ca.crt');
  }

  /** Creates the CA now (clients need its certificate before their first tunnel). */
  prepare(): Promise<void> {
    return this.#ensureCa();
  }

  /** A TLS context for `host`, minted once (and kept on disk) with the proxy CA. */
  contextFor(host: string): Promise<SecureContext> {
    const h = host.toLowerCase();
    let ctx = this.#contexts.get(h);
    if (!ctx) {
      ctx = this.#mint(h);
      ctx.catch(() => this.#contexts.delete(h));
      this.#contexts.set(h, ctx);
    }
    return ctx;
  }

  async #mint(host: string): Promise<SecureContext> {
    await this.#ensureCa();
    const dir = join(this.#dir, 'proxy-hosts');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const base = join(dir, host.replace(/[^a-z0-9.-]/g, '_'));
    const [crt, key, csr, ext] = ['.crt', '.key', '.csr', '.ext'].map((x) => base + x) as [
      string,
      string,
      string,
      string,
    ];
    if (!existsSync(crt) || !existsSync(key)) {
      const san = isIP(host) ? `IP:${host}` : `DNS:${host}`;
      await openssl([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        `/CN=${host}`,
        '-keyout',
        key,
        '-out',
        csr,
      ]);
      writeFileSync(
        ext,
        `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
      );
      await openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        this.certFile,
        '-CAkey',
        join(this.#dir, 'proxy-ca.key'),
        '-CAcreateserial',
        '-days',
        '365',
        '-extfile',
        ext,
        '-out',
        crt,
      ]);
    }
    return createSecureContext({
      cert: readFileSync(crt),
      key: readFileSync(key),
      minVersion: 'TLSv1.2',
    });
  }

  #ensureCa(): Promise<void> {
    this.#ca ??= (async () => {
      if (existsSync(this.certFile)) return;
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      await openssl([
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-days', '825', '-subj', '/CN=Airlock proxy CA'],
        ...[
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
        ...['-keyout', join(this.#dir, 'proxy-ca.key'), '-out', this.certFile],
      ]);
    })();
    return this.#ca;
  }
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { timeout: 20_000 });
}
