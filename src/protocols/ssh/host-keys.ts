/**
 * Checks upstream SSH host keys: against the fingerprints or keys a connection configures, or,
 * with `host_key: pin`, against the key first seen for that connection, host and port, kept in
 * `<data_dir>/ssh/pinned-host-keys.json` (written atomically, 0600). Changing the connection's
 * host or port starts a new pin; `airlock ssh-host-key forget NAME` removes one.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SshConnectionConfig } from '../../config/schema.ts';
import { fingerprint, parsePublicKey, sameFingerprint } from './keys.ts';

export interface Pin {
  readonly connection: string;
  readonly host: string;
  readonly port: number;
  readonly fingerprint: string;
  readonly pinnedAt: string;
}

export type HostKeyCheck =
  | { readonly ok: true; readonly fingerprint: string; readonly pinned: boolean }
  | { readonly ok: false; readonly fingerprint: string; readonly expected: readonly string[] };

/**
 * @example
 * const pins = new HostKeyPins(dataDir);
 * const r = pins.check(conn, hostKeyBlob); // { ok: true, fingerprint, pinned: true } the first time
 */
export class HostKeyPins {
  readonly #file: string;

  constructor(dataDir: string) {
    this.#file = join(dataDir, 'ssh', 'pinned-host-keys.json');
  }

  /** Checks (and, for `pin`, records on first sight) the key an upstream presented. */
  check(conn: SshConnectionConfig, blob: Uint8Array): HostKeyCheck {
    const presented = fingerprint(blob);
    if (conn.host_key !== 'pin') {
      const expected = expectedFingerprints(conn.host_key);
      const ok = expected.some((e) => sameFingerprint(e, presented));
      return ok
        ? { ok, fingerprint: presented, pinned: false }
        : { ok, fingerprint: presented, expected };
    }
    const pins = this.list();
    const key = pinKey(conn);
    const pin = pins.find((p) => pinKey(p) === key);
    if (pin !== undefined) {
      return sameFingerprint(pin.fingerprint, presented)
        ? { ok: true, fingerprint: presented, pinned: false }
        : { ok: false, fingerprint: presented, expected: [pin.fingerprint] };
    }
    const added: Pin = {
      connection: conn.name,
      host: conn.host,
      port: conn.port,
      fingerprint: presented,
      pinnedAt: new Date().toISOString(),
    };
    this.#save([...pins, added]);
    return { ok: true, fingerprint: presented, pinned: true };
  }

  list(): Pin[] {
    try {
      const parsed = JSON.parse(readFileSync(this.#file, 'utf8')) as { pins?: Pin[] };
      return Array.isArray(parsed.pins) ? parsed.pins : [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read ${this.#file}: ${(err as Error).message}`);
    }
  }

  /** Removes the pins of a connection; returns how many. */
  forget(connection: string): number {
    const pins = this.list();
    const kept = pins.filter((p) => p.connection !== connection);
    if (kept.length !== pins.length) this.#save(kept);
    return pins.length - kept.length;
  }

  #save(pins: readonly Pin[]): void {
    mkdirSync(join(this.#file, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ pins }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.#file);
  }
}

function pinKey(p: { connection?: string; name?: string; host: string; port: number }): string {
  return `${p.connection ?? p.name}\0${p.host.toLowerCase()}\0${p.port}`;
}

/** Configured entries as fingerprints (public key lines are hashed). */
function expectedFingerprints(entries: string | readonly string[]): string[] {
  const list = typeof entries === 'string' ? [entries] : entries;
  return list.map((e) => (e.startsWith('SHA256:') ? e : parsePublicKey(e).fingerprint));
}
