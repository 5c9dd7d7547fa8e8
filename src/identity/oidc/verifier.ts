/**
 * Verifies OIDC ID tokens (JWS compact, RFC 7515) presented as a password. Order matters: the size
 * cap comes before any decoding, the header is checked before a key is looked up, and the
 * unverified `iss` only chooses which issuer's keys to try. Every claim is checked by claims.ts
 * after the signature. A rejection carries a short stable reason, never a part of the token.
 */
import { compactVerify, errors as joseErrors } from 'jose';
import { checkClaims } from './claims.ts';
import { OIDC_ALGORITHMS, type OidcAlgorithm, type OidcIssuerConfig } from './config.ts';
import { DEFAULT_FETCH_TIMEOUT_MS, isObject } from './fetch-json.ts';
import { JwksCache } from './jwks-cache.ts';
import { importVerifyKey, type KeyChoice, selectKey } from './keys.ts';

export interface VerifiedClaims {
  readonly issuer: string;
  readonly subject: string;
  readonly username: string;
  readonly groups: string[];
  readonly audience: string[];
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  readonly jwtId?: string;
  /** OIDC Core §2 `nonce`, for the CLI login to compare with the one it sent. */
  readonly nonce?: string;
}

export type OidcVerifyResult =
  | { readonly ok: true; readonly claims: VerifiedClaims }
  | { readonly ok: false; readonly reason: string; readonly issuer?: string };

export interface OidcVerifierOptions {
  readonly clock?: () => number;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * A cheap shape check (three base64url segments, a JSON object header), with no decoding: tells an
 * ID token from an Airlock token (`alk_...`) before choosing how to verify.
 *
 * @example
 * looksLikeJwt('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'); // true
 * looksLikeJwt('alk_abcdefghijkl_...'); // false
 */
export function looksLikeJwt(s: string): boolean {
  return s.length <= 65_536 && JWT_SHAPE.test(s);
}

const ALLOWED = new Set<string>(OIDC_ALGORITHMS);

/**
 * @example
 * const verifier = new OidcVerifier([cfg]);
 * const r = await verifier.verify(password);
 * if (r.ok) r.claims.username; else r.reason; // e.g. 'expired'
 */
export class OidcVerifier {
  readonly #issuers: ReadonlyMap<string, OidcIssuerConfig>;
  readonly #caches = new Map<string, JwksCache>();
  readonly #clock: () => number;
  readonly #maxTokenBytes: number;

  constructor(issuers: readonly OidcIssuerConfig[], opts: OidcVerifierOptions = {}) {
    this.#issuers = new Map(issuers.map((c) => [c.issuer, c]));
    this.#clock = opts.clock ?? Date.now;
    // the cap before decoding is the largest of any issuer; the issuer's own one is checked later
    this.#maxTokenBytes = Math.max(...issuers.map((c) => c.maxTokenBytes), 1024);
    const fetchOptions = {
      timeoutMs: opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
      ...(opts.fetch && { fetch: opts.fetch }),
    };
    for (const cfg of issuers) {
      const cache = new JwksCache(cfg.issuer, {
        clock: this.#clock,
        fetchOptions,
        minRefreshMs: cfg.jwksMinRefreshMs,
        maxAgeMs: cfg.jwksMaxAgeMs,
      });
      this.#caches.set(cfg.issuer, cache);
    }
  }

  /** JWKS fetches started for `issuer` so far (tests, metrics). */
  jwksFetches(issuer: string): number {
    return this.#caches.get(issuer)?.fetches ?? 0;
  }

  async verify(token: string): Promise<OidcVerifyResult> {
    if (typeof token !== 'string') return reject('malformed');
    if (token.length > this.#maxTokenBytes) return reject('too large');
    const parts = decode(token);
    if (typeof parts === 'string') return reject(parts);
    const cfg = this.#issuers.get(String(parts.payload.iss));
    if (typeof parts.payload.iss !== 'string' || !cfg) return reject('unknown issuer');
    const result = await this.#verifyFor(cfg, token, parts);
    return result.ok ? result : reject(result.reason, cfg.issuer);
  }

  async #verifyFor(
    cfg: OidcIssuerConfig,
    token: string,
    parts: Decoded,
  ): Promise<OidcVerifyResult> {
    if (Buffer.byteLength(token) > cfg.maxTokenBytes) return reject('too large');
    const alg = parts.header.alg as OidcAlgorithm;
    if (!cfg.algorithms.includes(alg)) return reject('alg not allowed');
    const kid = parts.header.kid;
    if (kid !== undefined && typeof kid !== 'string') return reject('malformed');
    const choice = await this.#chooseKey(cfg.issuer, alg, kid);
    if (!choice.ok) return choice;
    const payload = await verifySignature(token, choice.jwk, alg);
    if (typeof payload === 'string') return reject(payload);
    return checkClaims(payload, cfg, this.#clock());
  }

  async #chooseKey(
    issuer: string,
    alg: OidcAlgorithm,
    kid: string | undefined,
  ): Promise<KeyChoice | { ok: false; reason: string }> {
    const cache = this.#caches.get(issuer)!;
    const keys = await cache.keys();
    if (!keys) return reject('issuer unavailable');
    const first = selectKey(keys, alg, kid);
    if (first.ok || first.reason !== 'unknown key') return first;
    return selectKey(await cache.refreshForUnknownKey(), alg, kid);
  }
}

function reject(reason: string, issuer?: string): OidcVerifyResult & { ok: false } {
  return issuer === undefined ? { ok: false, reason } : { ok: false, reason, issuer };
}

interface Decoded {
  readonly header: Readonly<Record<string, unknown>> & { readonly alg: string };
  readonly payload: Readonly<Record<string, unknown>>;
}

/** Header and (unverified) payload, or why the token is refused before any key is touched. */
function decode(token: string): Decoded | string {
  const segments = token.split('.');
  if (segments.length !== 3) return 'malformed';
  const header = decodeSegment(segments[0]!);
  if (!header || typeof header.alg !== 'string') return 'malformed';
  if (header.alg.toLowerCase() === 'none') return 'alg none';
  // RFC 7515 §4.1.11: recipients MUST reject a JWS whose `crit` names extensions they do not
  // understand; we understand none.
  if (header.crit !== undefined) return 'crit unsupported';
  if (!ALLOWED.has(header.alg)) return 'alg not allowed';
  if (segments[2] === '') return 'bad signature';
  const payload = decodeSegment(segments[1]!);
  if (!payload) return 'malformed';
  return { header: header as Decoded['header'], payload };
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return undefined;
  return parseObject(Buffer.from(segment, 'base64url').toString('utf8'));
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function verifySignature(
  token: string,
  jwk: Parameters<typeof importVerifyKey>[0],
  alg: OidcAlgorithm,
): Promise<Record<string, unknown> | string> {
  let key: Awaited<ReturnType<typeof importVerifyKey>>;
  try {
    key = await importVerifyKey(jwk, alg);
  } catch {
    return 'key mismatch';
  }
  try {
    const { payload } = await compactVerify(token, key, { algorithms: [alg] });
    return parseObject(Buffer.from(payload).toString('utf8')) ?? 'malformed';
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
    // jose throws a TypeError when the key does not suit the alg (e.g. RSA under 2048 bits)
    return err instanceof joseErrors.JOSEError ? 'malformed' : 'key mismatch';
  }
}
