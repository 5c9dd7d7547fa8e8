/**
 * Airlock tokens in `<dataDir>/airlock.db`. A token reads `alk_<id>_<secret>`: the id is public
 * (it names the token in lists, audit records and SCRAM), the secret is 32 random bytes. Only
 * SHA-256(secret) and a SCRAM-SHA-256 verifier are stored, never the token itself.
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { scramVerifier } from './scram-verifier.ts';
import type {
  InvalidReason,
  OwnerProof,
  ScramVerifier,
  TokenCheck,
  TokenRecord,
  UserRecord,
} from './types.ts';

export const TOKEN_PREFIX = 'alk_';
export const TOKEN_DB_FILE_NAME = 'airlock.db';
/** RFC 7677 recommends at least 4096 iterations for SCRAM-SHA-256. */
export const SCRAM_ITERATIONS = 4096;
export const MAX_TOKEN_TTL_MS = 366 * 24 * 60 * 60 * 1000;
const MAX_LABEL_LENGTH = 128;
const LAST_USED_RESOLUTION_MS = 60_000;
const SCHEMA_VERSION = 2;

/** `alk_` + 12 base32 chars + `_` + 43 base64url chars (32 bytes, canonical final character). */
const TOKEN_SHAPE = /^alk_([a-z2-7]{12})_([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/;
const TOKEN_LENGTH = 60;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schema_meta(component TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT;
INSERT INTO schema_meta(component, version) VALUES ('tokens', 1)
  ON CONFLICT(component) DO NOTHING;
CREATE TABLE IF NOT EXISTS tokens(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL, groups TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL, scram_salt TEXT NOT NULL, scram_iterations INTEGER NOT NULL,
  scram_stored_key TEXT NOT NULL, scram_server_key TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  revoked_at INTEGER, last_used_at INTEGER) STRICT;
`;

/** Version 2: every token names a purpose and how its owner was established; humans can be disabled. */
const MIGRATE_TO_2 = `
ALTER TABLE tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN owner_proof TEXT NOT NULL DEFAULT 'operator';
CREATE INDEX IF NOT EXISTS tokens_owner ON tokens(owner COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS users(
  name TEXT PRIMARY KEY COLLATE NOCASE, disabled_at INTEGER, disabled_by TEXT, reason TEXT,
  updated_at INTEGER NOT NULL) STRICT;
UPDATE schema_meta SET version = 2 WHERE component = 'tokens';
`;

export interface TokenStoreOptions {
  /** The store lives at `<dataDir>/airlock.db`; the directory is created (mode 0700) if missing. */
  readonly dataDir: string;
  /** Default for the `now` arguments. Default `Date.now`. */
  readonly clock?: () => number;
  /** How long writes (create, revoke) wait for another process's lock. Default 5000. */
  readonly busyTimeoutMs?: number;
}

export interface CreateTokenInput {
  /** The accountable human. */
  readonly owner: string;
  /** The agent, e.g. `claude-code` or `nightly-ci`. */
  readonly name: string;
  /** Why the token exists, e.g. `read-only reporting for the finance team`. */
  readonly purpose: string;
  /** `oidc` when the owner proved who they are with their IdP token; `operator` when typed. */
  readonly ownerProof?: OwnerProof;
  readonly groups?: readonly string[];
  readonly ttlMs: number;
  readonly now?: number;
}

interface TokenRow {
  id: string;
  name: string;
  owner: string;
  groups: string;
  secret_sha256: string;
  scram_salt: string;
  scram_iterations: number;
  scram_stored_key: string;
  scram_server_key: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  purpose: string;
  owner_proof: string;
}

interface UserRow {
  name: string;
  disabled_at: number | null;
  disabled_by: string | null;
  reason: string | null;
  updated_at: number;
}

/**
 * The token id of a well-formed token, or undefined. Does not check that the token exists.
 *
 * @example
 * parseTokenId('alk_abcdefghijkl_' + 'A'.repeat(43)); // 'abcdefghijkl'
 */
export function parseTokenId(token: unknown): string | undefined {
  return parseToken(token)?.id;
}

function parseToken(token: unknown): { id: string; secret: string } | undefined {
  if (typeof token !== 'string' || token.length !== TOKEN_LENGTH) return undefined;
  const m = TOKEN_SHAPE.exec(token);
  if (m === null) return undefined;
  return { id: m[1]!, secret: m[2]! };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function newTokenId(): string {
  const n = randomBytes(8).readBigUInt64BE();
  let id = '';
  for (let i = 0; i < 12; i++) id += BASE32[Number((n >> BigInt(59 - 5 * i)) & 31n)];
  return id;
}

function checkLabel(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > MAX_LABEL_LENGTH) {
    throw new Error(`token ${what} must be 1 to ${MAX_LABEL_LENGTH} characters`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new Error(`token ${what} must not contain control characters`);
  }
  return value;
}

function checkInput(input: CreateTokenInput): void {
  checkLabel('owner', input.owner);
  checkLabel('name', input.name);
  checkLabel('purpose', input.purpose);
  if (input.groups !== undefined) {
    if (!Array.isArray(input.groups)) throw new Error('token groups must be a list');
    for (const g of input.groups) checkLabel('group', g);
  }
  const ttl = input.ttlMs;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_TOKEN_TTL_MS) {
    throw new Error('token ttl must be more than 0 and at most 366 days');
  }
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    groups: JSON.parse(row.groups) as string[],
    purpose: row.purpose,
    ownerProof: row.owner_proof === 'oidc' ? 'oidc' : 'operator',
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

function toUser(row: UserRow): UserRecord {
  return {
    name: row.name,
    disabledAt: row.disabled_at,
    disabledBy: row.disabled_by,
    reason: row.reason,
    updatedAt: row.updated_at,
  };
}

/**
 * Creates, verifies, lists and revokes tokens. Synchronous: lookups are by primary key and the
 * gateway calls `verify` at connection time on the main thread.
 *
 * @example
 * using store = new TokenStore({ dataDir: '.airlock' });
 * const { token } = store.create({ owner: 'alice', name: 'claude-code', ttlMs: 8 * 3600_000 });
 * store.verify(token); // { ok: true, token: { id, owner: 'alice', ... } }
 */
export class TokenStore {
  readonly #db: DatabaseSync;
  readonly #clock: () => number;
  readonly #busyTimeoutMs: number;
  readonly #byId: StatementSync;
  readonly #insert: StatementSync;
  readonly #touch: StatementSync;
  readonly #revoke: StatementSync;
  readonly #all: StatementSync;
  readonly #user: StatementSync;
  readonly #users: StatementSync;
  readonly #dataVersion: StatementSync;

  constructor(options: TokenStoreOptions) {
    this.#clock = options.clock ?? Date.now;
    this.#busyTimeoutMs = Math.trunc(options.busyTimeoutMs ?? 5000);
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const path = join(options.dataDir, TOKEN_DB_FILE_NAME);
    this.#db = new DatabaseSync(path, { timeout: this.#busyTimeoutMs });
    try {
      restrictMode(path);
      this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL');
      this.#migrate();
      this.#byId = this.#db.prepare('SELECT * FROM tokens WHERE id = ?');
      this.#insert = this.#db.prepare(`INSERT INTO tokens(id, name, owner, groups, secret_sha256,
        scram_salt, scram_iterations, scram_stored_key, scram_server_key, created_at, expires_at,
        purpose, owner_proof) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      this.#touch = this.#db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?');
      this.#revoke = this.#db.prepare(
        'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
      );
      this.#all = this.#db.prepare('SELECT * FROM tokens ORDER BY created_at, id');
      this.#user = this.#db.prepare('SELECT * FROM users WHERE name = ?');
      this.#users = this.#db.prepare('SELECT * FROM users ORDER BY name');
      this.#dataVersion = this.#db.prepare('PRAGMA data_version');
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  /**
   * Creates a token. The returned `token` is the only copy of the secret: show it once.
   * Throws an Error naming the invalid field (owner, name, group, ttl).
   */
  create(input: CreateTokenInput): { token: string; record: TokenRecord } {
    checkInput(input);
    if (this.isDisabled(input.owner)) {
      throw new Error(`${input.owner} is disabled and cannot own tokens`);
    }
    const now = input.now ?? this.#clock();
    const secret = randomBytes(32).toString('base64url');
    const groups = JSON.stringify(input.groups ?? []);
    for (let attempt = 0; ; attempt++) {
      const id = newTokenId();
      const token = `${TOKEN_PREFIX}${id}_${secret}`;
      const v = scramVerifier(token, SCRAM_ITERATIONS);
      const digest = sha256(secret).toString('hex');
      const expiresAt = now + input.ttlMs;
      try {
        this.#insert.run(
          id,
          input.name,
          input.owner,
          groups,
          digest,
          v.salt,
          v.iterations,
          v.storedKey,
          v.serverKey,
          now,
          expiresAt,
          input.purpose,
          input.ownerProof ?? 'operator',
        );
      } catch (err) {
        if (attempt < 3 && isConstraintError(err)) continue;
        throw new Error('could not store the token', { cause: err });
      }
      return { token, record: this.get(id)! };
    }
  }

  /**
   * Checks a presented token: shape ('malformed', without touching the store), id ('unknown'),
   * secret ('mismatch', constant-time), then 'revoked' and 'expired'. On success records the use
   * (at most once a minute per token).
   */
  verify(token: string, now: number = this.#clock()): TokenCheck {
    const parsed = parseToken(token);
    if (parsed === undefined) return { ok: false, reason: 'malformed' };
    const row = this.#row(parsed.id);
    if (row === undefined) return { ok: false, reason: 'unknown', tokenId: parsed.id };
    const stored = Buffer.from(row.secret_sha256, 'hex');
    const presented = sha256(parsed.secret);
    if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) {
      return { ok: false, reason: 'mismatch', tokenId: row.id };
    }
    const invalid = this.#invalidity(row, now);
    if (invalid) return { ok: false, reason: invalid, tokenId: row.id };
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
      if (this.#recordUse(row.id, now)) row.last_used_at = now;
    }
    return { ok: true, token: toRecord(row) };
  }

  get(id: string): TokenRecord | undefined {
    const row = this.#row(id);
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * Why a known token may no longer be used (revoked, expired, or its owner was disabled), or
   * undefined while it is valid. Checked at every connection and on live sessions.
   */
  invalidity(id: string, now: number = this.#clock()): InvalidReason | 'unknown' | undefined {
    const row = this.#row(id);
    return row === undefined ? 'unknown' : this.#invalidity(row, now);
  }

  /** Whether the human is disabled (case-insensitive name). */
  isDisabled(name: string): boolean {
    const row = this.#user.get(name) as unknown as UserRow | undefined;
    return row?.disabled_at != null;
  }

  user(name: string): UserRecord | undefined {
    const row = this.#user.get(name) as unknown as UserRow | undefined;
    return row ? toUser(row) : undefined;
  }

  /** Every human that was ever disabled or enabled, by name. */
  users(): UserRecord[] {
    return (this.#users.all() as unknown as UserRow[]).map(toUser);
  }

  /**
   * Offboards a human in one transaction: marks them disabled and revokes every token they own.
   * Returns the ids of the tokens revoked now (already revoked ones are not repeated) and
   * whether the human was already disabled.
   */
  disableUser(
    name: string,
    by: string,
    reason: string,
    now: number = this.#clock(),
  ): { revoked: string[]; alreadyDisabled: boolean } {
    checkLabel('user', name);
    return this.#transaction(() => {
      const alreadyDisabled = this.isDisabled(name);
      this.#db
        .prepare(
          `INSERT INTO users(name, disabled_at, disabled_by, reason, updated_at)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET
           disabled_at = COALESCE(users.disabled_at, excluded.disabled_at),
           disabled_by = COALESCE(users.disabled_by, excluded.disabled_by),
           reason = COALESCE(users.reason, excluded.reason), updated_at = excluded.updated_at`,
        )
        .run(name, now, by, reason, now);
      const rows = this.#db
        .prepare(
          `UPDATE tokens SET revoked_at = ? WHERE owner = ? COLLATE NOCASE AND revoked_at IS NULL
           RETURNING id`,
        )
        .all(now, name) as unknown as { id: string }[];
      return { revoked: rows.map((r) => r.id).sort(), alreadyDisabled };
    });
  }

  /** Lets a disabled human back in. Their revoked tokens stay revoked. False if not disabled. */
  enableUser(name: string, now: number = this.#clock()): boolean {
    const r = this.#db
      .prepare(
        `UPDATE users SET disabled_at = NULL, disabled_by = NULL, reason = NULL, updated_at = ?
         WHERE name = ? AND disabled_at IS NOT NULL`,
      )
      .run(now, name);
    return Number(r.changes) > 0;
  }

  /**
   * Changes whenever another connection (another process, e.g. `airlock user disable`) commits
   * to the store. Cheap: the gateway polls it to notice offboarding within seconds.
   */
  dataVersion(): number {
    return Number((this.#dataVersion.get() as { data_version: number }).data_version);
  }

  /** The SCRAM-SHA-256 verifier of a token, whatever its status (check it after the proof). */
  scramVerifier(id: string): ScramVerifier | undefined {
    const row = this.#row(id);
    if (row === undefined) return undefined;
    return {
      salt: row.scram_salt,
      iterations: row.scram_iterations,
      storedKey: row.scram_stored_key,
      serverKey: row.scram_server_key,
    };
  }

  /** Every token, oldest first. */
  list(): TokenRecord[] {
    return (this.#all.all() as unknown as TokenRow[]).map(toRecord);
  }

  /** Revokes a token. False when there is no such token or it was already revoked. */
  revoke(id: string, now: number = this.#clock()): boolean {
    return Number(this.#revoke.run(now, id).changes) > 0;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #row(id: string): TokenRow | undefined {
    if (typeof id !== 'string' || id.length > 64) return undefined;
    return this.#byId.get(id) as unknown as TokenRow | undefined;
  }

  /**
   * `last_used_at` is advisory: it never waits for a lock (that would stall the event loop) and a
   * failure to write it never fails authentication.
   */
  #recordUse(id: string, now: number): boolean {
    try {
      this.#db.exec('PRAGMA busy_timeout = 0');
      this.#touch.run(now, id);
      return true;
    } catch {
      return false;
    } finally {
      this.#db.exec(`PRAGMA busy_timeout = ${this.#busyTimeoutMs}`);
    }
  }

  #invalidity(row: TokenRow, now: number): InvalidReason | undefined {
    if (row.revoked_at !== null) return 'revoked';
    if (now >= row.expires_at) return 'expired';
    if (this.isDisabled(row.owner)) return 'owner disabled';
    return undefined;
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  #migrate(): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db.exec(SCHEMA);
      const version = this.#db.prepare(
        "SELECT version FROM schema_meta WHERE component = 'tokens'",
      );
      // A fresh store is created at version 1 and migrated like an old one: one path to test.
      if (version.get()?.version === 1) this.#db.exec(MIGRATE_TO_2);
      const row = version.get();
      if (row?.version !== SCHEMA_VERSION) {
        throw new Error(`unsupported token store schema version ${String(row?.version)}`);
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }
}

function isConstraintError(err: unknown): boolean {
  return (err as { errcode?: number }).errcode === 1555 || /UNIQUE constraint/.test(String(err));
}

/** The file holds verifiers: keep it private to the gateway's user (best effort). */
function restrictMode(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch {
    // A file we cannot chmod is still usable; the directory is created 0700.
  }
}
