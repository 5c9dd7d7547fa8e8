/**
 * Which JWK may verify a token signed with `alg`, and importing it as a public key only.
 */
import { importJWK, type JWK } from 'jose';
import type { OidcAlgorithm } from './config.ts';

const EC_CURVES: Readonly<Record<string, string>> = {
  ES256: 'P-256',
  ES384: 'P-384',
  ES512: 'P-521',
};

/** The JWK `kty` (and `crv`) fits the algorithm family (RFC 7518 §3.1, RFC 8037 §3.1). */
export function ktyFits(jwk: JWK, alg: OidcAlgorithm): boolean {
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg.startsWith('ES')) return jwk.kty === 'EC' && jwk.crv === EC_CURVES[alg];
  return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
}

/** Why `jwk` may not verify a token with `alg`, or undefined when it may. */
export function keyMismatch(jwk: JWK, alg: OidcAlgorithm): string | undefined {
  if (jwk.alg !== undefined && jwk.alg !== alg) return 'alg';
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'use';
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return 'key_ops';
  if (!ktyFits(jwk, alg)) return 'kty';
  return undefined;
}

export type KeyChoice =
  | { readonly ok: true; readonly jwk: JWK }
  | { readonly ok: false; readonly reason: 'unknown key' | 'key mismatch' };

/**
 * By `kid` when the token names one; otherwise the only key that fits `alg`.
 *
 * @example
 * selectKey(jwks, 'RS256', 'k1'); // { ok: true, jwk } | { ok: false, reason: 'unknown key' }
 */
export function selectKey(
  keys: readonly JWK[],
  alg: OidcAlgorithm,
  kid: string | undefined,
): KeyChoice {
  if (kid === undefined) {
    const fitting = keys.filter((k) => keyMismatch(k, alg) === undefined);
    return fitting.length === 1 && fitting[0]
      ? { ok: true, jwk: fitting[0] }
      : { ok: false, reason: 'unknown key' };
  }
  const named = keys.filter((k) => k.kid === kid);
  if (named.length === 0) return { ok: false, reason: 'unknown key' };
  const jwk = named.find((k) => keyMismatch(k, alg) === undefined);
  return jwk ? { ok: true, jwk } : { ok: false, reason: 'key mismatch' };
}

const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};

/** Only the public members: a JWKS that leaks a private key must not make us import it. */
export function publicJwk(jwk: JWK): JWK {
  const out: Record<string, unknown> = { kty: jwk.kty };
  for (const name of PUBLIC_MEMBERS[jwk.kty ?? ''] ?? []) {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out as JWK;
}

type VerifyKey = Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>;

const imported = new WeakMap<JWK, Map<string, Promise<VerifyKey>>>();

/** Imports (and caches per JWK object and alg) the public key; rejects on an unusable JWK. */
export function importVerifyKey(jwk: JWK, alg: OidcAlgorithm): Promise<VerifyKey> {
  let byAlg = imported.get(jwk);
  if (!byAlg) {
    byAlg = new Map();
    imported.set(jwk, byAlg);
  }
  let key = byAlg.get(alg);
  if (!key) {
    key = importJWK(publicJwk(jwk), alg).then((k) => {
      if (k instanceof Uint8Array) throw new TypeError('symmetric key');
      return k;
    });
    byAlg.set(alg, key);
  }
  return key;
}
