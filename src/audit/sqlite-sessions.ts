/**
 * The embedded store's index of events by session, kept behind the log (schema version 3).
 *
 * A B-tree index on `events(session_id)` costs every commit one page per active session: each
 * session's newest entries sit at the end of its own run of the index, so a commit of 250 events
 * from 64 sessions rewrote 64 index pages into the WAL, as many as the events themselves took.
 * Instead, `session_events` is filled in bulk, every `SESSION_INDEX_BATCH` events, in the same
 * transaction as the batch that crosses the mark; each session's run then takes one page per bulk
 * insert. Queries read the indexed part and scan the short tail after it by seq.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';

/** Events appended between two bulk inserts into `session_events`. */
export const SESSION_INDEX_BATCH = 4096;

/** `meta` key: every event up to this seq is in `session_events`. */
const INDEXED_KEY = 'sessions_indexed_through';

export const SESSIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS session_events(session_id TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (session_id, seq)) WITHOUT ROWID;`;

/**
 * The filter for one session's events (two placeholders, both the session id): the indexed ones
 * and the tail not indexed yet. SQLite looks the seqs up by rowid, so neither part scans the log.
 */
export const SESSION_FILTER = `seq IN (SELECT seq FROM session_events WHERE session_id = ?
  UNION ALL SELECT seq FROM events WHERE seq > (SELECT CAST(value AS INTEGER) FROM meta
  WHERE key = '${INDEXED_KEY}') AND session_id = ?)`;

/**
 * Keeps `session_events` up to date; every method runs inside the writer's transaction.
 *
 * @example
 * const sessions = new SessionIndex(db);
 * sessions.catchUp(head.size); // after inserting a batch
 */
export class SessionIndex {
  readonly #through: StatementSync;
  readonly #setThrough: StatementSync;
  readonly #insert: StatementSync;

  constructor(db: DatabaseSync) {
    this.#through = db.prepare(`SELECT CAST(value AS INTEGER) AS seq FROM meta WHERE key = ?`);
    this.#setThrough = db.prepare(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    // Sorted, so that each session's entries go in as one run at the end of its part of the tree.
    this.#insert = db.prepare(`INSERT INTO session_events(session_id, seq)
      SELECT session_id, seq FROM events WHERE seq > ? AND seq <= ? AND session_id IS NOT NULL
      ORDER BY session_id, seq`);
  }

  /** Indexes the events after the last bulk insert once there are enough of them. */
  catchUp(size: number): void {
    const row = this.#through.get(INDEXED_KEY) as { seq: number } | undefined;
    const through = row?.seq ?? 0;
    if (size - through < SESSION_INDEX_BATCH) return;
    this.#insert.run(through, size);
    this.#setThrough.run(INDEXED_KEY, String(size));
  }
}

/**
 * Removes the entries of events about to be pruned (call before deleting them).
 *
 * @example
 * forgetSessions(db, plan.throughSeq);
 * db.prepare('DELETE FROM events WHERE seq <= ?').run(plan.throughSeq);
 */
export function forgetSessions(db: DatabaseSync, throughSeq: number): void {
  db.prepare(`DELETE FROM session_events WHERE (session_id, seq) IN
    (SELECT session_id, seq FROM events WHERE seq <= ? AND session_id IS NOT NULL)`).run(
    throughSeq,
  );
}

/**
 * Schema version 2 to 3: moves the session index of an existing ledger into `session_events`
 * (one pass over the log, inside the caller's transaction) and drops `events_session_id`.
 *
 * @example
 * if (metaValue(db, 'schema_version') === '2') migrateSessions(db);
 */
export function migrateSessions(db: DatabaseSync): void {
  db.exec(SESSIONS_SCHEMA);
  db.exec(`INSERT INTO session_events(session_id, seq)
    SELECT session_id, seq FROM events WHERE session_id IS NOT NULL ORDER BY session_id, seq`);
  db.prepare(
    `INSERT INTO meta(key, value) VALUES ('${INDEXED_KEY}', (SELECT COALESCE(MAX(seq), 0) FROM events))
     ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
  ).run();
  db.exec('DROP INDEX IF EXISTS events_session_id');
}

/**
 * Creates `session_events` for a new ledger; version 3 starts with nothing indexed.
 *
 * @example
 * initSessions(db); // inside the schema transaction
 */
export function initSessions(db: DatabaseSync): void {
  db.exec(SESSIONS_SCHEMA);
  db.prepare(
    `INSERT INTO meta(key, value) VALUES ('${INDEXED_KEY}', '0') ON CONFLICT(key) DO NOTHING`,
  ).run();
}
