/**
 * Console sessions: a random id in an HttpOnly cookie, kept server-side only as its SHA-256, so a
 * lookup is by hash (no timing on the secret) and a memory dump holds no usable cookie. Each
 * session carries the identity it signed in as, an absolute expiry and a CSRF token that
 * state-changing calls must echo in a header.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../identity/types.ts';

export const SESSION_COOKIE = 'airlock_session';
export const CSRF_HEADER = 'x-airlock-csrf';

export interface ConsoleSession {
  readonly identity: Identity;
  readonly csrf: string;
  readonly expiresAt: number;
}

const MAX_SESSIONS = 10_000;

/**
 * @example
 * const store = new ConsoleSessionStore({ clock: Date.now, ttlMs: 8 * 3_600_000 });
 * const { id } = store.create(identity); // id goes into the cookie, never into a log
 * store.get(id)?.identity.name;
 */
export class ConsoleSessionStore {
  readonly #byHash = new Map<string, ConsoleSession>();
  readonly #clock: () => number;
  readonly #ttlMs: number;

  constructor(opts: { clock: () => number; ttlMs: number }) {
    this.#clock = opts.clock;
    this.#ttlMs = opts.ttlMs;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  create(identity: Identity): { id: string; session: ConsoleSession } {
    this.#prune();
    const id = randomBytes(32).toString('base64url');
    const expiresAt = this.#clock() + this.#ttlMs;
    // The identity lives as long as the console session, not as long as the ID token.
    const session = {
      identity: { ...identity, expiresAt },
      csrf: randomBytes(24).toString('base64url'),
      expiresAt,
    };
    this.#byHash.set(hashOf(id), session);
    return { id, session };
  }

  get(id: string): ConsoleSession | undefined {
    const key = hashOf(id);
    const s = this.#byHash.get(key);
    if (!s) return undefined;
    if (this.#clock() >= s.expiresAt) {
      this.#byHash.delete(key);
      return undefined;
    }
    return s;
  }

  delete(id: string): void {
    this.#byHash.delete(hashOf(id));
  }

  get size(): number {
    return this.#byHash.size;
  }

  #prune(): void {
    const now = this.#clock();
    for (const [k, s] of this.#byHash) if (now >= s.expiresAt) this.#byHash.delete(k);
    // Bounded memory: the oldest sessions go first (Map keeps insertion order).
    while (this.#byHash.size >= MAX_SESSIONS) {
      const first = this.#byHash.keys().next().value;
      if (first === undefined) break;
      this.#byHash.delete(first);
    }
  }
}

function hashOf(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** Constant-time comparison of two header or cookie values. */
export function sameValue(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value; every console cookie is HttpOnly and Secure. */
export function cookie(
  name: string,
  value: string,
  opts: { maxAgeS: number; path?: string; sameSite?: 'Strict' | 'Lax' },
): string {
  return [
    `${name}=${value}`,
    `Path=${opts.path ?? '/'}`,
    `Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`,
    'HttpOnly',
    'Secure',
    `SameSite=${opts.sameSite ?? 'Strict'}`,
  ].join('; ');
}
