/**
 * Read access to the embedded store: `SqliteStoreReader` for the CLI, the API, the exporter, the
 * sinks and the verifier, over a read-only connection of its own; and `readRows`, the paged read
 * of the log that the verifier's worker threads use directly.
 */

import { existsSync, statSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { type EventRow, eventOfRow } from './event-codec.ts';
import { headFromStored } from './sealer.ts';
import { JournalFolder } from './sqlite-folder.ts';
import { journalPathsOf } from './sqlite-journal.ts';
import { metaValue, readPruned } from './sqlite-meta.ts';
import { SESSION_FILTER } from './sqlite-sessions.ts';
import {
  type BuiltQuery,
  buildEventQuery,
  commandRecords,
  EVENT_COLUMNS,
  type LedgerInfo,
  type LedgerReader,
  type QueryOptions,
  type RuleHit,
  relatedQuery,
  ruleHitsQuery,
  type SqlEventRow,
  sqlitePlaceholder,
  toEventRow,
  toRuleHits,
} from './store.ts';
import type { AuditEvent, AuditFilter, CommandRecord } from './types.ts';

/** Rows per read when streaming the log (verify, export). */
const ROWS_PAGE = 8192;

const rowStatements = new WeakMap<DatabaseSync, StatementSync>();

/**
 * Up to `limit` rows with `fromSeq <= seq <= toSeq` in seq order. Read as arrays: node:sqlite
 * builds an object per row with a property per column, which costs more than the row itself.
 *
 * @example
 * const page = readRows(db, 1, 8192, 8192);
 */
export function readRows(
  db: DatabaseSync,
  fromSeq: number,
  toSeq: number,
  limit: number,
): EventRow[] {
  let stmt = rowStatements.get(db);
  if (stmt === undefined) {
    stmt = db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`,
    );
    stmt.setReturnArrays(true);
    rowStatements.set(db, stmt);
  }
  const rows = stmt.all(fromSeq, toSeq, limit) as unknown as SqlRowValues[];
  return rows.map(eventRowOf);
}

/** A row of `EVENT_COLUMNS` as an array. */
type SqlRowValues = [
  number,
  number,
  string,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string,
  string,
  string,
  string,
];

function eventRowOf(v: SqlRowValues): EventRow {
  return {
    seq: v[0],
    time: v[1],
    type: v[2],
    sessionId: v[3],
    connection: v[4],
    identity: v[5],
    owner: v[6],
    commandId: v[7],
    decision: v[8],
    tables: v[9],
    body: v[10],
    leaf: v[11],
    prevHash: v[12],
    hash: v[13],
  };
}

/**
 * Read-only access over a lazily opened connection of its own. Every method is synchronous
 * underneath; the promises keep the interface the PostgreSQL store shares.
 *
 * @example
 * const reader = new SqliteStoreReader('.airlock/ledger.db');
 * const writes = await reader.commands({ table: 'patients', access: 'write' });
 */
export class SqliteStoreReader implements LedgerReader {
  readonly #path: string;
  readonly #timeoutMs: number;
  readonly #fold: () => void | Promise<void>;
  #db: DatabaseSync | undefined;
  #sessionFilter: string | undefined;
  readonly #statements = new Map<string, StatementSync>();

  /**
   * `fold` moves events from the journal into the tables before a read (see sqlite-journal.ts);
   * the default opens a writer on the file for a moment. The gateway passes its own writer
   * thread's fold instead, so that its event loop never waits for the write lock.
   */
  constructor(path: string, timeoutMs = 5000, fold?: () => void | Promise<void>) {
    this.#path = path;
    this.#timeoutMs = timeoutMs;
    this.#fold = fold ?? (() => foldJournal(path, timeoutMs));
  }

  async info(): Promise<LedgerInfo | null> {
    await this.#catchUp();
    const db = this.#open();
    if (db === undefined) return null;
    const head = this.#all('SELECT * FROM head WHERE id = 1', [])[0] as
      | { size: number; last_hash: string; checkpoint_seq: number; frontier: string }
      | undefined;
    if (head === undefined) return null;
    return {
      origin: metaValue(db, 'origin') ?? '',
      head: headFromStored({
        size: head.size,
        lastHash: head.last_hash,
        checkpointSeq: head.checkpoint_seq,
        frontier: head.frontier,
      }),
      pruned: readPruned(db),
    };
  }

  async query(filter: AuditFilter): Promise<AuditEvent[]> {
    await this.#catchUp();
    const rows = this.#rows(buildEventQuery(filter, sqlitePlaceholder, this.#queryOptions()));
    if (filter.limit !== undefined) rows.reverse();
    return rows.map((r) => eventOfRow(toEventRow(r)));
  }

  async commands(filter: AuditFilter): Promise<CommandRecord[]> {
    await this.#catchUp();
    return commandRecords(
      filter,
      sqlitePlaceholder,
      async (q) => this.#rows(q),
      async (ids) => this.#rows(relatedQuery(ids, sqlitePlaceholder)),
      this.#queryOptions(),
    );
  }

  async readAfter(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    await this.#catchUp();
    const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`;
    return this.#rows({ sql, params: [afterSeq, limit] }).map((r) => eventOfRow(toEventRow(r)));
  }

  async *rows(fromSeq: number, toSeq = Number.MAX_SAFE_INTEGER): AsyncIterable<EventRow> {
    await this.#catchUp();
    let next = fromSeq;
    for (;;) {
      const page = this.#guard((db) => readRows(db, next, toSeq, ROWS_PAGE));
      for (const r of page) yield r;
      if (page.length < ROWS_PAGE) return;
      next = (page.at(-1)?.seq ?? toSeq) + 1;
    }
  }

  /** The newest stored seq, 0 when there is none. */
  async lastSeq(): Promise<number> {
    await this.#catchUp();
    const row = this.#all('SELECT MAX(seq) AS seq FROM events', [])[0] as
      | { seq: number | null }
      | undefined;
    return row?.seq ?? 0;
  }

  async seqAt(timeMs: number, edge: 'first-at-or-after' | 'last-before'): Promise<number | null> {
    await this.#catchUp();
    const sql =
      edge === 'first-at-or-after'
        ? 'SELECT MIN(seq) AS seq FROM events WHERE time_ms >= ?'
        : 'SELECT MAX(seq) AS seq FROM events WHERE time_ms < ?';
    const row = this.#all(sql, [timeMs])[0] as { seq: number | null } | undefined;
    return row?.seq ?? null;
  }

  async ruleHits(): Promise<RuleHit[]> {
    await this.#catchUp();
    const q = ruleHitsQuery("json_extract(body, '$.data.rule')", sqlitePlaceholder);
    return toRuleHits(this.#all(q.sql, q.params));
  }

  async close(): Promise<void> {
    this.#statements.clear();
    this.#db?.close();
    this.#db = undefined;
  }

  /** Events still in the journal are folded first, so that a read sees every durable event. */
  async #catchUp(): Promise<void> {
    if (journalBytes(this.#path) === 0) return;
    try {
      await this.#fold();
    } catch (err) {
      // A reader that cannot write (a read-only copy) reads the tables as they are; anything else
      // would hide acknowledged events from the answer, so the read fails.
      if (!isReadOnly(err)) throw err;
    }
  }

  #rows(q: BuiltQuery): SqlEventRow[] {
    return this.#all(q.sql, q.params) as unknown as SqlEventRow[];
  }

  #all(sql: string, params: SQLInputValue[]): Record<string, unknown>[] {
    return this.#guard((db) => {
      let stmt = this.#statements.get(sql);
      if (stmt === undefined) {
        stmt = db.prepare(sql);
        this.#statements.set(sql, stmt);
      }
      return stmt.all(...params);
    });
  }

  /** Runs a read on the open database (none: empty); a failure closes it for the next try. */
  #guard<T>(read: (db: DatabaseSync) => T[]): T[] {
    try {
      const db = this.#open();
      return db === undefined ? [] : read(db);
    } catch (err) {
      void this.close();
      throw err;
    }
  }

  /** Undefined until a writer has created the ledger and its schema. */
  #open(): DatabaseSync | undefined {
    if (this.#db !== undefined) return this.#db;
    if (!existsSync(this.#path)) return undefined;
    const db = new DatabaseSync(this.#path, { readOnly: true, timeout: this.#timeoutMs });
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'head'").get();
    if (hasTable === undefined) {
      db.close();
      return undefined;
    }
    db.exec('PRAGMA case_sensitive_like = ON');
    // Until a writer has migrated it, a version 2 ledger still has its index on session_id.
    this.#sessionFilter = metaValue(db, 'schema_version') === '2' ? undefined : SESSION_FILTER;
    this.#db = db;
    return db;
  }

  #queryOptions(): QueryOptions {
    this.#open();
    return { sessionFilter: this.#sessionFilter };
  }
}

function isReadOnly(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') return true;
  return /readonly|read-only|unable to open/i.test(err instanceof Error ? err.message : '');
}

function journalBytes(dbPath: string): number {
  let bytes = 0;
  for (const p of journalPathsOf(dbPath))
    bytes += statSync(p, { throwIfNoEntry: false })?.size ?? 0;
  return bytes;
}

/**
 * Folds the journals of the ledger at `dbPath` into its tables (see sqlite-folder.ts). It takes
 * the tables' write lock, never the appenders'. Nothing to do when there is no ledger yet.
 *
 * @example
 * foldJournal('.airlock/ledger.db', 5000);
 */
export function foldJournal(dbPath: string, busyTimeoutMs: number): void {
  if (!existsSync(dbPath)) return;
  const folder = new JournalFolder(dbPath, { busyTimeoutMs });
  try {
    folder.fold();
  } finally {
    folder.close();
  }
}
