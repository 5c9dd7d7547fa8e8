/**
 * Reviews (just-in-time approvals) in `<dataDir>/airlock.db`, next to tokens and users, so they
 * survive a restart. A review is either a held command (bound to its exact statement, parameters,
 * identity, session and connection by a fingerprint) or an access grant request. Every approver's
 * vote is its own row; the rules for what a vote may do live in service.ts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { ApproverRule } from '../policy/policy.ts';

export type ReviewStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
export type ReviewKind = 'command' | 'grant';

export interface Requester {
  readonly kind: 'token' | 'oidc';
  readonly identity: string;
  readonly owner: string;
  readonly groups: readonly string[];
  readonly tokenId?: string;
  readonly subject?: string;
}

export interface Vote {
  readonly approver: string;
  readonly approverGroups: readonly string[];
  readonly decision: 'approve' | 'deny';
  readonly reason: string;
  readonly at: number;
}

export interface Review {
  readonly id: string;
  readonly kind: ReviewKind;
  readonly status: ReviewStatus;
  readonly connection: string;
  readonly sessionId: string | null;
  readonly commandId: string | null;
  readonly requester: Requester;
  /** The statement as shown to approvers (clipped), or the grant's reason. */
  readonly statement: string;
  /** SHA-256 over the full statement, the parameters, identity, session and connection. */
  readonly fingerprint: string;
  readonly tables: readonly string[];
  readonly rule: string | null;
  readonly message: string | null;
  readonly approvers: readonly ApproverRule[];
  readonly impact: Readonly<Record<string, unknown>> | null;
  readonly createdAt: number;
  /** A pending review past this time is expired. */
  readonly expiresAt: number;
  readonly decidedAt: number | null;
  readonly reason: string | null;
  /** For grants: how long the access lasts once approved, and until when it lasts. */
  readonly grantMs: number | null;
  readonly grantUntil: number | null;
  readonly votes: readonly Vote[];
}

export type NewReview = Omit<
  Review,
  'status' | 'decidedAt' | 'reason' | 'grantUntil' | 'votes' | 'impact'
>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS reviews(
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, connection TEXT NOT NULL,
  session_id TEXT, command_id TEXT, requester TEXT NOT NULL, statement TEXT NOT NULL,
  fingerprint TEXT NOT NULL, tables TEXT NOT NULL, rule TEXT, message TEXT, approvers TEXT NOT NULL,
  impact TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, decided_at INTEGER,
  reason TEXT, grant_ms INTEGER, grant_until INTEGER) STRICT;
CREATE INDEX IF NOT EXISTS reviews_status ON reviews(status, created_at);
CREATE TABLE IF NOT EXISTS review_votes(
  review_id TEXT NOT NULL REFERENCES reviews(id), approver TEXT NOT NULL COLLATE NOCASE,
  approver_groups TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (review_id, approver)) STRICT;
`;

interface ReviewRow {
  id: string;
  kind: string;
  status: string;
  connection: string;
  session_id: string | null;
  command_id: string | null;
  requester: string;
  statement: string;
  fingerprint: string;
  tables: string;
  rule: string | null;
  message: string | null;
  approvers: string;
  impact: string | null;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  reason: string | null;
  grant_ms: number | null;
  grant_until: number | null;
}

interface VoteRow {
  approver: string;
  approver_groups: string;
  decision: string;
  reason: string;
  at: number;
}

/**
 * @example
 * using store = new ReviewStore({ dataDir: '.airlock' });
 * store.insert(review); store.vote(id, vote); store.finish(id, 'approved', now, null);
 */
export class ReviewStore {
  readonly #db: DatabaseSync;
  readonly #byId: StatementSync;
  readonly #votes: StatementSync;
  readonly #insert: StatementSync;
  readonly #vote: StatementSync;
  readonly #finish: StatementSync;

  constructor(opts: { readonly dataDir: string; readonly busyTimeoutMs?: number }) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(opts.dataDir, 'airlock.db'), {
      timeout: opts.busyTimeoutMs ?? 5000,
    });
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL');
    this.#db.exec(SCHEMA);
    this.#byId = this.#db.prepare('SELECT * FROM reviews WHERE id = ?');
    this.#votes = this.#db.prepare('SELECT * FROM review_votes WHERE review_id = ? ORDER BY at');
    this.#insert = this.#db.prepare(`INSERT INTO reviews(id, kind, status, connection, session_id,
      command_id, requester, statement, fingerprint, tables, rule, message, approvers, created_at,
      expires_at, grant_ms) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#vote = this.#db.prepare(`INSERT INTO review_votes(review_id, approver, approver_groups,
      decision, reason, at) VALUES (?, ?, ?, ?, ?, ?)`);
    this.#finish = this.#db.prepare(`UPDATE reviews SET status = ?, decided_at = ?, reason = ?,
      grant_until = CASE WHEN ? = 'approved' AND grant_ms IS NOT NULL THEN ? + grant_ms END
      WHERE id = ? AND status = 'pending'`);
  }

  insert(r: NewReview): void {
    this.#insert.run(
      r.id,
      r.kind,
      r.connection,
      r.sessionId,
      r.commandId,
      JSON.stringify(r.requester),
      r.statement,
      r.fingerprint,
      JSON.stringify(r.tables),
      r.rule,
      r.message,
      JSON.stringify(r.approvers),
      r.createdAt,
      r.expiresAt,
      r.grantMs,
    );
  }

  get(id: string): Review | undefined {
    if (typeof id !== 'string' || id.length > 64) return undefined;
    const row = this.#byId.get(id) as unknown as ReviewRow | undefined;
    return row ? this.#toReview(row) : undefined;
  }

  list(filter: { status?: ReviewStatus; limit?: number } = {}): Review[] {
    const limit = Math.min(filter.limit ?? 100, 1000);
    const rows = (filter.status
      ? this.#db
          .prepare('SELECT * FROM reviews WHERE status = ? ORDER BY created_at DESC LIMIT ?')
          .all(filter.status, limit)
      : this.#db
          .prepare('SELECT * FROM reviews ORDER BY created_at DESC LIMIT ?')
          .all(limit)) as unknown as ReviewRow[];
    return rows.map((r) => this.#toReview(r));
  }

  /** Records one approver's vote; false if they already voted on this review. */
  vote(id: string, v: Vote): boolean {
    try {
      this.#vote.run(id, v.approver, JSON.stringify(v.approverGroups), v.decision, v.reason, v.at);
      return true;
    } catch (err) {
      if (/UNIQUE|PRIMARY KEY/.test(String(err))) return false;
      throw err;
    }
  }

  /** Moves a pending review to its final status; false when it was no longer pending. */
  finish(id: string, status: Exclude<ReviewStatus, 'pending'>, at: number, reason: string | null) {
    return Number(this.#finish.run(status, at, reason, status, at, id).changes) > 0;
  }

  setImpact(id: string, impact: Record<string, unknown>): void {
    this.#db.prepare('UPDATE reviews SET impact = ? WHERE id = ?').run(JSON.stringify(impact), id);
  }

  /** Pending reviews of a kind (for restart recovery). */
  pending(kind: ReviewKind): Review[] {
    const rows = this.#db
      .prepare("SELECT * FROM reviews WHERE status = 'pending' AND kind = ?")
      .all(kind) as unknown as ReviewRow[];
    return rows.map((r) => this.#toReview(r));
  }

  /** Approved grants still in force. */
  activeGrants(now: number): Review[] {
    const rows = this.#db
      .prepare(
        "SELECT * FROM reviews WHERE kind = 'grant' AND status = 'approved' AND grant_until > ?",
      )
      .all(now) as unknown as ReviewRow[];
    return rows.map((r) => this.#toReview(r));
  }

  /** Runs `fn` in one IMMEDIATE transaction (vote, count, finish happen atomically). */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #toReview(row: ReviewRow): Review {
    const votes = (this.#votes.all(row.id) as unknown as VoteRow[]).map((v) => ({
      approver: v.approver,
      approverGroups: JSON.parse(v.approver_groups) as string[],
      decision: v.decision === 'deny' ? ('deny' as const) : ('approve' as const),
      reason: v.reason,
      at: v.at,
    }));
    return {
      id: row.id,
      kind: row.kind === 'grant' ? 'grant' : 'command',
      status: row.status as ReviewStatus,
      connection: row.connection,
      sessionId: row.session_id,
      commandId: row.command_id,
      requester: JSON.parse(row.requester) as Requester,
      statement: row.statement,
      fingerprint: row.fingerprint,
      tables: JSON.parse(row.tables) as string[],
      rule: row.rule,
      message: row.message,
      approvers: JSON.parse(row.approvers) as ApproverRule[],
      impact: row.impact ? (JSON.parse(row.impact) as Record<string, unknown>) : null,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      decidedAt: row.decided_at,
      reason: row.reason,
      grantMs: row.grant_ms,
      grantUntil: row.grant_until,
      votes,
    };
  }
}
