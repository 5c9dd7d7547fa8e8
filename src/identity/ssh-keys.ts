/**
 * SSH public keys registered to an identity, in `<dataDir>/airlock.db` next to tokens and users.
 * A key belongs either to an agent token (it authenticates as that token, and stops working when
 * the token is revoked or expires) or to a human (it authenticates as them with the groups they
 * held when they registered it, until it expires or they are disabled). Keys are stored by their
 * SHA-256 fingerprint; nothing secret is stored.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { OwnerProof } from './types.ts';

export const MAX_SSH_KEY_TTL_MS = 366 * 24 * 3_600_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schema_meta(component TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT;
INSERT INTO schema_meta(component, version) VALUES ('ssh_keys', 1)
  ON CONFLICT(component) DO NOTHING;
CREATE TABLE IF NOT EXISTS ssh_keys(
  fingerprint TEXT PRIMARY KEY, key_type TEXT NOT NULL, public_key TEXT NOT NULL,
  comment TEXT NOT NULL, token_id TEXT, owner TEXT NOT NULL, groups TEXT NOT NULL,
  owner_proof TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  removed_at INTEGER, last_used_at INTEGER) STRICT;
CREATE INDEX IF NOT EXISTS ssh_keys_owner ON ssh_keys(owner COLLATE NOCASE);
`;

export interface SshKeyRecord {
  readonly fingerprint: string;
  readonly type: string;
  /** `<type> <base64>`. */
  readonly publicKey: string;
  readonly comment: string;
  /** The agent token the key authenticates as; null for a human's key. */
  readonly tokenId: string | null;
  /** The accountable human (the token's owner, or the human themself). */
  readonly owner: string;
  /** A human's groups when the key was registered (agent keys use the token's groups). */
  readonly groups: readonly string[];
  readonly ownerProof: OwnerProof;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly removedAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface AddSshKeyInput {
  readonly fingerprint: string;
  readonly type: string;
  readonly publicKey: string;
  readonly comment: string;
  readonly tokenId?: string;
  readonly owner: string;
  readonly groups?: readonly string[];
  readonly ownerProof: OwnerProof;
  readonly ttlMs: number;
  readonly now?: number;
}

interface Row {
  fingerprint: string;
  key_type: string;
  public_key: string;
  comment: string;
  token_id: string | null;
  owner: string;
  groups: string;
  owner_proof: string;
  created_at: number;
  expires_at: number;
  removed_at: number | null;
  last_used_at: number | null;
}

/**
 * @example
 * const keys = new SshKeyStore({ dataDir: '.airlock' });
 * keys.add({ fingerprint, type, publicKey, comment, tokenId, owner, ownerProof: 'operator', ttlMs });
 * keys.invalidity(fingerprint); // undefined while usable
 */
export class SshKeyStore {
  readonly #db: DatabaseSync;
  readonly #clock: () => number;
  readonly #get: StatementSync;
  readonly #all: StatementSync;
  readonly #insert: StatementSync;
  readonly #remove: StatementSync;
  readonly #touch: StatementSync;

  constructor(options: { dataDir: string; clock?: () => number }) {
    this.#clock = options.clock ?? Date.now;
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(options.dataDir, 'airlock.db'), { timeout: 5000 });
    try {
      this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL');
      this.#db.exec('BEGIN IMMEDIATE');
      this.#db.exec(SCHEMA);
      this.#db.exec('COMMIT');
      this.#get = this.#db.prepare('SELECT * FROM ssh_keys WHERE fingerprint = ?');
      this.#all = this.#db.prepare('SELECT * FROM ssh_keys ORDER BY created_at, fingerprint');
      this.#insert = this.#db.prepare(`INSERT INTO ssh_keys(fingerprint, key_type, public_key,
        comment, token_id, owner, groups, owner_proof, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(fingerprint) DO UPDATE SET key_type = excluded.key_type,
          public_key = excluded.public_key, comment = excluded.comment,
          token_id = excluded.token_id, owner = excluded.owner, groups = excluded.groups,
          owner_proof = excluded.owner_proof, created_at = excluded.created_at,
          expires_at = excluded.expires_at, removed_at = NULL, last_used_at = NULL
        WHERE ssh_keys.removed_at IS NOT NULL OR ssh_keys.expires_at <= excluded.created_at`);
      this.#remove = this.#db.prepare(
        'UPDATE ssh_keys SET removed_at = ? WHERE fingerprint = ? AND removed_at IS NULL',
      );
      this.#touch = this.#db.prepare('UPDATE ssh_keys SET last_used_at = ? WHERE fingerprint = ?');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      this.#db.close();
      throw err;
    }
  }

  /**
   * Registers a key. A fingerprint already registered (and neither removed nor expired) is
   * refused: one key, one identity.
   */
  add(input: AddSshKeyInput): SshKeyRecord {
    const now = input.now ?? this.#clock();
    if (!(input.ttlMs > 0 && input.ttlMs <= MAX_SSH_KEY_TTL_MS)) {
      throw new Error('ssh key ttl must be more than 0 and at most 366 days');
    }
    const changes = this.#insert.run(
      input.fingerprint,
      input.type,
      input.publicKey,
      input.comment,
      input.tokenId ?? null,
      input.owner,
      JSON.stringify(input.groups ?? []),
      input.ownerProof,
      now,
      now + input.ttlMs,
    ).changes;
    if (Number(changes) === 0) {
      throw new Error(`ssh key ${input.fingerprint} is already registered (remove it first)`);
    }
    return this.get(input.fingerprint) as SshKeyRecord;
  }

  get(fingerprint: string): SshKeyRecord | undefined {
    if (typeof fingerprint !== 'string' || fingerprint.length > 128) return undefined;
    const row = this.#get.get(fingerprint) as unknown as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  list(): SshKeyRecord[] {
    return (this.#all.all() as unknown as Row[]).map(toRecord);
  }

  /** False when there is no such key or it was already removed. */
  remove(fingerprint: string, now: number = this.#clock()): boolean {
    return Number(this.#remove.run(now, fingerprint).changes) > 0;
  }

  /** Why a key cannot be used (`unknown`, `removed`, `expired`), or undefined. */
  invalidity(fingerprint: string, now: number = this.#clock()): string | undefined {
    const k = this.get(fingerprint);
    if (k === undefined) return 'unknown';
    if (k.removedAt !== null) return 'removed';
    if (now >= k.expiresAt) return 'expired';
    return undefined;
  }

  /** Advisory; never waits for a lock. */
  touch(fingerprint: string, now: number = this.#clock()): void {
    try {
      this.#db.exec('PRAGMA busy_timeout = 0');
      this.#touch.run(now, fingerprint);
    } catch {
      // last_used_at is best effort
    } finally {
      this.#db.exec('PRAGMA busy_timeout = 5000');
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

function toRecord(r: Row): SshKeyRecord {
  return {
    fingerprint: r.fingerprint,
    type: r.key_type,
    publicKey: r.public_key,
    comment: r.comment,
    tokenId: r.token_id,
    owner: r.owner,
    groups: JSON.parse(r.groups) as string[],
    ownerProof: r.owner_proof === 'oidc' ? 'oidc' : 'operator',
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    removedAt: r.removed_at,
    lastUsedAt: r.last_used_at,
  };
}
