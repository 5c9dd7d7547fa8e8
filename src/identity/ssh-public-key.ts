/**
 * OpenSSH public keys as credentials: parsing a `.pub` line and the SHA-256 fingerprint that
 * names a key everywhere (the key store, the ledger, `ssh-keygen -lf`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';

/**
 * The OpenSSH SHA-256 fingerprint of a public key blob, as `ssh-keygen -lf` prints it.
 *
 * @example
 * fingerprint(blob); // 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8'
 */
export function fingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Equal fingerprints, compared in constant time.
 *
 * @example
 * sameFingerprint('SHA256:abc', 'SHA256:abc='); // true
 */
export function sameFingerprint(a: string, b: string): boolean {
  const x = Buffer.from(a.replace(/=+$/, ''));
  const y = Buffer.from(b.replace(/=+$/, ''));
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface PublicKey {
  /** `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, ... */
  readonly type: string;
  /** The wire blob (what fingerprints hash). */
  readonly blob: Buffer;
  readonly fingerprint: string;
  readonly comment: string;
  /** `<type> <base64>` without the comment. */
  readonly line: string;
}

/**
 * Parses an OpenSSH public key line (`ssh-ed25519 AAAA... comment`); throws with a reason.
 *
 * @example
 * parsePublicKey(readFileSync('id_ed25519.pub', 'utf8')).fingerprint;
 */
export function parsePublicKey(text: string): PublicKey {
  const trimmed = text.trim();
  if (trimmed.includes('PRIVATE KEY'))
    throw new Error('this is a private key; give the public key (.pub)');
  const key = firstKey(ssh2.utils.parseKey(trimmed));
  if (key === undefined) throw new Error('not an OpenSSH public key line');
  if (key.isPrivateKey()) throw new Error('this is a private key; give the public key (.pub)');
  const blob = key.getPublicSSH();
  return {
    type: key.type,
    blob,
    fingerprint: fingerprint(blob),
    comment: trimmed.split(/\s+/).slice(2).join(' ').slice(0, 200),
    line: `${key.type} ${blob.toString('base64')}`,
  };
}

/** ssh2's parseKey returns a key, a list of keys (OpenSSH files), or an Error. */
export function firstKey(parsed: unknown): ssh2.ParsedKey | undefined {
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key === null || key instanceof Error) return undefined;
  return key as ssh2.ParsedKey;
}
