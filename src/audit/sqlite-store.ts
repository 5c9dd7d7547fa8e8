/**
 * The embedded store: one SQLite file in WAL mode (sqlite-reader.ts reads it). `SqliteStoreWriter`
 * is synchronous; it runs in
 * the ledger's worker thread (sqlite-worker.ts) so that fsync never blocks the event loop, and on
 * the main thread for short-lived CLI processes. Several processes may write the same file (the
 * gateway and `airlock token create`): each transaction takes the write lock (`BEGIN IMMEDIATE`)
 * and only then reads the head of the log.
 */

import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Checkpoint, SigningKey } from './checkpoint.ts';
import { type EventRow, prepareEvent } from './event-codec.ts';
import { writeLatestCheckpoint } from './latest-checkpoint.ts';
import { MerkleFrontier } from './merkle.ts';
import {
  emptyHead,
  headFromStored,
  headToStored,
  type LedgerHead,
  type SealItem,
  sealBatch,
} from './sealer.ts';
import { metaValue, readPruned } from './sqlite-reader.ts';
import { forgetSessions, initSessions, migrateSessions, SessionIndex } from './sqlite-sessions.ts';
import { EVENT_COLUMNS, type PrunedState, prunedToJson } from './store.ts';

/** 3: sessions indexed behind the log (sqlite-sessions.ts); a version 2 ledger is migrated. */
export const LEDGER_SCHEMA_VERSION = 3;
export const LEDGER_FILE_NAME = 'ledger.db';

export interface SqliteWriterOptions {
  readonly sync: 'full' | 'normal';
  readonly busyTimeoutMs: number;
  /** Signs checkpoint requests; without it they are refused. */
  readonly signer?: SigningKey | undefined;
  /** Where the newest checkpoint is also written, apart from the log. */
  readonly latestCheckpointFile?: string | undefined;
  /** Test hook, called inside each transaction just before COMMIT with its 1-based number. */
  readonly beforeCommit?: (transaction: number) => void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS head(id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL,
  last_hash TEXT NOT NULL, checkpoint_seq INTEGER NOT NULL, frontier TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, type TEXT NOT NULL,
  session_id TEXT, connection TEXT, identity TEXT, owner TEXT, command_id TEXT,
  decision TEXT, tables TEXT, body TEXT NOT NULL, leaf TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_time_ms ON events(time_ms);
CREATE INDEX IF NOT EXISTS events_command_id ON events(command_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
`;

/** Deleting is allowed only inside a prune transaction, which drops and restores this trigger. */
const NO_DELETE_TRIGGER = `CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;`;

const INSERT = `INSERT INTO events(${EVENT_COLUMNS}) VALUES (${EVENT_COLUMNS.split(',')
  .map(() => '?')
  .join(', ')})`;

/**
 * @example
 * const w = new SqliteStoreWriter('/var/lib/airlock/ledger.db', { sync: 'full', busyTimeoutMs: 5000 });
 * const [seq] = w.write([prepareEvent({ type: 'token.created', time: Date.now() })]);
 * w.close();
 */
export class SqliteStoreWriter {
  readonly #path: string;
  readonly #db: DatabaseSync;
  readonly #file: { dev: bigint; ino: bigint };
  readonly #options: SqliteWriterOptions;
  readonly #origin: string;
  readonly #stmt: Record<'begin' | 'commit' | 'head' | 'setHead' | 'insert', StatementSync>;
  readonly #sessions: SessionIndex;
  #cached: LedgerHead | undefined;
  #transactions = 0;

  constructor(path: string, options: SqliteWriterOptions) {
    this.#path = path;
    this.#options = options;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(path, { timeout: options.busyTimeoutMs });
    try {
      restrictMode(path);
      this.#configure(options);
      this.#origin = this.#createSchema();
      this.#file = fileIdentity(path);
      this.#stmt = {
        begin: this.#db.prepare('BEGIN IMMEDIATE'),
        commit: this.#db.prepare('COMMIT'),
        head: this.#db.prepare('SELECT * FROM head WHERE id = 1'),
        setHead: this.#db.prepare(
          'UPDATE head SET size = ?, last_hash = ?, checkpoint_seq = ?, frontier = ? WHERE id = 1',
        ),
        insert: this.#db.prepare(INSERT),
      };
      this.#sessions = new SessionIndex(this.#db);
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  get origin(): string {
    return this.#origin;
  }

  get transactions(): number {
    return this.#transactions;
  }

  /** Appends the items in one transaction; per item its seq, 0 or the reason it was refused. */
  write(items: readonly SealItem[]): (number | string)[] {
    if (items.length === 0) return [];
    let checkpoints: Checkpoint[] = [];
    const results = this.#transaction(() => {
      const sealed = sealBatch(this.#head(), items, {
        origin: this.#origin,
        signer: this.#options.signer,
      });
      for (const row of sealed.rows) insertRow(this.#stmt.insert, row);
      this.#sessions.catchUp(sealed.head.size);
      this.#setHead(sealed.head);
      checkpoints = sealed.checkpoints;
      return sealed.results;
    });
    this.#publish(checkpoints);
    return results;
  }

  /** See `LedgerWriterPort.prune`. Returns the new `throughSeq` (0 when nothing was pruned). */
  prune(beforeMs: number, time: number): number {
    return this.#transaction(() => {
      const plan = this.#prunePlan(beforeMs);
      if (plan === undefined) return 0;
      this.#db.exec('DROP TRIGGER events_no_delete');
      forgetSessions(this.#db, plan.throughSeq);
      this.#db.prepare('DELETE FROM events WHERE seq <= ?').run(plan.throughSeq);
      this.#db.exec(NO_DELETE_TRIGGER);
      this.#db
        .prepare(
          "INSERT INTO meta(key, value) VALUES ('pruned', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .run(prunedToJson(plan));
      const data = { throughSeq: plan.throughSeq, rootHash: plan.checkpoint.rootHash };
      const sealed = sealBatch(
        this.#head(),
        [prepareEvent({ type: 'ledger.pruned', time, data })],
        { origin: this.#origin },
      );
      for (const row of sealed.rows) insertRow(this.#stmt.insert, row);
      this.#setHead(sealed.head);
      return plan.throughSeq;
    });
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #configure(options: SqliteWriterOptions): void {
    this.#db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
    const mode = this.#db.prepare('PRAGMA journal_mode = WAL').get();
    if (mode?.journal_mode !== 'wal') throw new Error('the ledger could not switch to WAL mode');
    this.#db.exec(`PRAGMA synchronous = ${options.sync === 'normal' ? 'NORMAL' : 'FULL'}`);
    // Fewer, larger checkpoints: the WAL is the hot write path (one append per group commit).
    this.#db.exec('PRAGMA wal_autocheckpoint = 1000; PRAGMA cache_size = -32768');
  }

  #transaction<T>(body: () => T): T {
    this.#stmt.begin.run();
    try {
      this.#checkFileUnmoved();
      const out = body();
      this.#options.beforeCommit?.(this.#transactions + 1);
      this.#stmt.commit.run();
      this.#transactions++;
      return out;
    } catch (err) {
      this.#cached = undefined;
      this.#rollback();
      throw err;
    }
  }

  #head(): LedgerHead {
    const row = this.#stmt.head.get() as
      | { size: number; last_hash: string; checkpoint_seq: number; frontier: string }
      | undefined;
    if (row === undefined) throw new Error('the ledger head row is missing');
    this.#cached = headFromStored(
      {
        size: row.size,
        lastHash: row.last_hash,
        checkpointSeq: row.checkpoint_seq,
        frontier: row.frontier,
      },
      this.#cached,
    );
    return this.#cached;
  }

  #setHead(head: LedgerHead): void {
    const s = headToStored(head);
    this.#stmt.setHead.run(s.size, s.lastHash, s.checkpointSeq, s.frontier);
    this.#cached = head;
  }

  #publish(checkpoints: readonly Checkpoint[]): void {
    const latest = checkpoints.at(-1);
    const file = this.#options.latestCheckpointFile;
    if (latest !== undefined && file !== undefined) writeLatestCheckpoint(file, latest);
  }

  /** The newest checkpoint (event) whose tree holds only events older than `beforeMs`. */
  #prunePlan(beforeMs: number): PrunedState | undefined {
    const firstKept = this.#db
      .prepare('SELECT MIN(seq) AS seq FROM events WHERE time_ms >= ?')
      .get(beforeMs) as { seq: number | null };
    const limit = firstKept.seq ?? Number.MAX_SAFE_INTEGER;
    const cps = this.#db
      .prepare(
        "SELECT seq, body, hash FROM events WHERE type = 'ledger.checkpointed' AND seq < ? ORDER BY seq DESC",
      )
      .all(limit) as { seq: number; body: string; hash: string }[];
    for (const cp of cps) {
      const checkpoint = (JSON.parse(cp.body) as { data: Checkpoint }).data;
      // The checkpoint covers seq-1 events: prune exactly those, keeping the checkpoint itself.
      if (checkpoint.treeSize !== cp.seq - 1 || checkpoint.treeSize < 1) continue;
      const prev = this.#db
        .prepare('SELECT hash FROM events WHERE seq = ?')
        .get(checkpoint.treeSize) as { hash: string } | undefined;
      if (prev === undefined) return undefined;
      return {
        throughSeq: checkpoint.treeSize,
        lastHash: prev.hash,
        frontier: this.#frontierThrough(checkpoint.treeSize),
        checkpoint,
      };
    }
    return undefined;
  }

  #frontierThrough(size: number): MerkleFrontier {
    const pruned = readPruned(this.#db);
    const frontier = pruned?.frontier.clone() ?? new MerkleFrontier();
    const from = (pruned?.throughSeq ?? 0) + 1;
    const rows = this.#db
      .prepare('SELECT leaf FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq')
      .iterate(from, size);
    for (const r of rows) frontier.push(Buffer.from((r as { leaf: string }).leaf, 'hex'));
    if (frontier.size !== size) throw new Error('the ledger has gaps; cannot prune');
    return frontier;
  }

  /**
   * SQLite keeps writing through its open descriptors after the file or its directory has been
   * deleted or renamed, and reports success: without this check those events would be lost.
   */
  #checkFileUnmoved(): void {
    const now = statSync(this.#path, { bigint: true, throwIfNoEntry: false });
    if (now === undefined || now.dev !== this.#file.dev || now.ino !== this.#file.ino) {
      throw new Error('the ledger file was moved or deleted while open');
    }
  }

  #rollback(): void {
    try {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
    } catch {
      // Nothing to undo when SQLite has already rolled the transaction back itself.
    }
  }

  /** Creates the schema, the ledger's origin and its head row; returns the origin. */
  #createSchema(): string {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db.exec(SCHEMA);
      this.#db.exec(NO_DELETE_TRIGGER);
      const setDefault = this.#db.prepare(
        'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING',
      );
      setDefault.run('schema_version', String(LEDGER_SCHEMA_VERSION));
      setDefault.run('origin', `airlock-ledger-${randomUUID()}`);
      const version = metaValue(this.#db, 'schema_version');
      if (version === '2') {
        migrateSessions(this.#db);
        this.#db
          .prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'")
          .run(String(LEDGER_SCHEMA_VERSION));
      } else if (version !== String(LEDGER_SCHEMA_VERSION)) {
        throw new Error(`unsupported ledger schema version ${String(version)}`);
      }
      initSessions(this.#db);
      const h = headToStored(emptyHead());
      this.#db
        .prepare('INSERT INTO head VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING')
        .run(h.size, h.lastHash, h.checkpointSeq, h.frontier);
      const origin = metaValue(this.#db, 'origin');
      this.#db.exec('COMMIT');
      return origin ?? '';
    } catch (err) {
      this.#rollback();
      throw err;
    }
  }
}

/** Binds `EVENT_COLUMNS` in order (no array per row: this runs for every event). */
function insertRow(insert: StatementSync, r: EventRow): void {
  insert.run(
    r.seq,
    r.time,
    r.type,
    r.sessionId,
    r.connection,
    r.identity,
    r.owner,
    r.commandId,
    r.decision,
    r.tables,
    r.body,
    r.leaf,
    r.prevHash,
    r.hash,
  );
}

/** Audit records are private to the gateway's user (best effort: the directory is 0700 too). */
function restrictMode(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch {
    // A ledger we cannot chmod (not our file) is still writable; permissions are not our check.
  }
}

function fileIdentity(path: string): { dev: bigint; ino: bigint } {
  const st = statSync(path, { bigint: true });
  return { dev: st.dev, ino: st.ino };
}
