/**
 * Discovery and signing keys of one issuer, fetched lazily and cached. Keys are refreshed when
 * older than `jwksMaxAgeMs` (stale keys keep working if that fails) and after an unknown `kid`,
 * at most once per `jwksMinRefreshMs`. Concurrent callers share one in-flight fetch.
 */
import type { JWK } from 'jose';
import { discover, type ProviderMetadata } from './discovery.ts';
import { FetchJsonError, type FetchOptions, fetchJsonObject, isObject } from './fetch-json.ts';

/** A failed discovery or first JWKS fetch is not retried sooner than this. */
export const RETRY_AFTER_FAILURE_MS = 1000;
/** Keys beyond this many in one JWKS are ignored. */
export const MAX_JWKS_KEYS = 100;

export interface JwksCacheOptions {
  readonly clock: () => number;
  readonly fetchOptions: FetchOptions;
  readonly minRefreshMs: number;
  readonly maxAgeMs: number;
}

export class JwksCache {
  readonly issuer: string;
  readonly #opts: JwksCacheOptions;
  #meta: ProviderMetadata | undefined;
  #metaFailedAt = Number.NEGATIVE_INFINITY;
  #metaInflight: Promise<ProviderMetadata | undefined> | undefined;
  #keys: readonly JWK[] = [];
  #fetchedAt: number | undefined;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #failedAt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<boolean> | undefined;
  #fetches = 0;

  constructor(issuer: string, opts: JwksCacheOptions) {
    this.issuer = issuer;
    this.#opts = opts;
  }

  /** How many JWKS fetches were started (for tests and metrics). */
  get fetches(): number {
    return this.#fetches;
  }

  /**
   * The current keys: fetched on first use and when stale. `undefined` when the issuer has never
   * answered (discovery or JWKS), which the verifier reports as `issuer unavailable`.
   */
  async keys(): Promise<readonly JWK[] | undefined> {
    const now = this.#opts.clock();
    if (this.#fetchedAt === undefined) {
      if (this.#inflight) return (await this.#inflight) ? this.#keys : undefined;
      if (now - this.#failedAt < RETRY_AFTER_FAILURE_MS) return undefined;
      return (await this.#refresh()) ? this.#keys : undefined;
    }
    const stale = now - this.#fetchedAt >= this.#opts.maxAgeMs;
    if (stale && now - this.#failedAt >= RETRY_AFTER_FAILURE_MS) await this.#refresh();
    return this.#keys;
  }

  /** After an unknown `kid`: fetch again unless a fetch started within `minRefreshMs`. */
  async refreshForUnknownKey(): Promise<readonly JWK[]> {
    if (this.#inflight) await this.#inflight;
    else if (this.#opts.clock() - this.#attemptedAt >= this.#opts.minRefreshMs) {
      await this.#refresh();
    }
    return this.#keys;
  }

  #refresh(): Promise<boolean> {
    this.#inflight ??= this.#fetchKeys().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #fetchKeys(): Promise<boolean> {
    const meta = await this.#metadata();
    if (!meta) return false;
    this.#attemptedAt = this.#opts.clock();
    this.#fetches += 1;
    try {
      this.#keys = parseJwks(await fetchJsonObject(meta.jwksUri, this.#opts.fetchOptions));
      this.#fetchedAt = this.#opts.clock();
      return true;
    } catch {
      this.#failedAt = this.#opts.clock();
      return false;
    }
  }

  /** Discovery, cached once it succeeds; a failure is retried at most once per second. */
  async #metadata(): Promise<ProviderMetadata | undefined> {
    if (this.#meta) return this.#meta;
    if (this.#metaInflight) return this.#metaInflight;
    if (this.#opts.clock() - this.#metaFailedAt < RETRY_AFTER_FAILURE_MS) return undefined;
    this.#metaInflight = discover(this.issuer, this.#opts.fetchOptions)
      .then((meta) => {
        this.#meta = meta;
        return meta;
      })
      .catch(() => {
        this.#metaFailedAt = this.#opts.clock();
        this.#failedAt = this.#metaFailedAt;
        return undefined;
      })
      .finally(() => {
        this.#metaInflight = undefined;
      });
    return this.#metaInflight;
  }
}

/** RFC 7517 §5: a JWK Set is an object with a `keys` array; members that are not JWKs are skipped. */
export function parseJwks(doc: Record<string, unknown>): readonly JWK[] {
  if (!Array.isArray(doc.keys)) throw new FetchJsonError('JWKS has no keys array');
  return doc.keys
    .filter((k): k is JWK => isObject(k) && typeof k.kty === 'string')
    .slice(0, MAX_JWKS_KEYS);
}
