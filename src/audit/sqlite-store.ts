/**
 * The embedded store: an append-only journal (sqlite-journal.ts) that makes each group commit
 * durable with one write and one fdatasync, and one SQLite file in WAL mode that holds the same
 * events indexed for queries (sqlite-reader.ts reads it). Events reach the tables in bulk
 * (`fold`), a few times a second, or when a reader asks. `SqliteStoreWriter` is synchronous; it
 * runs in the ledger's worker thread (sqlite-worker.ts) so that fsync never blocks the event loop.
 *
 * Several processes may write one ledger (the gateway and `airlock token create`). SQLite's write
 * lock (`BEGIN IMMEDIATE`) is the ledger's lock: every append and fold takes it, and only then
 * looks at what others did (`PRAGMA data_version` tells whether another connection committed; the
 * journal's size whether another process appended), so the chain never forks.
 */

import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
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
import { encodeJournal, JournalFile, journalPathOf, parseJournal } from './sqlite-journal.ts';
import { metaValue, readPruned } from './sqlite-meta.ts';
import { forgetSessions, initSessions, migrateSessions, SessionIndex } from './sqlite-sessions.ts';
import { EVENT_COLUMNS, type PrunedState, prunedToJson } from './store.ts';

/**
 * 3: sessions indexed behind the log (sqlite-sessions.ts). 4: the journal is the durable record
 * (sqlite-journal.ts); an older writer would fork the chain past events still in the journal, so it
 * must refuse the file. Versions 2 and 3 are migrated.
 */
export const LEDGER_SCHEMA_VERSION = 4;
export const LEDGER_FILE_NAME = 'ledger.db';

export interface SqliteWriterOptions {
  readonly sync: 'full' | 'normal';
  readonly busyTimeoutMs: number;
  /** Signs checkpoint requests; without it they are refused. */
  readonly signer?: SigningKey | undefined;
  /** Where the newest checkpoint is also written, apart from the log. */
  readonly latestCheckpointFile?: string | undefined;
  /** Test hook, called in each append with its 1-based number, before the journal is written. */
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
  readonly #stmt: Record<
    'begin' | 'commit' | 'head' | 'setHead' | 'insert' | 'dataVersion' | 'setMeta',
    StatementSync
  >;
  readonly #sessions: SessionIndex;
  readonly #journal: JournalFile;
  /** What this writer last saw under the lock; undefined: read everything again. */
  #seen: { dataVersion: number; journalBytes: number } | undefined;
  /** The head of the log: the tables' head plus the journal's rows after it. */
  #logHead: LedgerHead = emptyHead();
  /** The tables' head as last read or written (its frontier is reused when unchanged). */
  #storedHead: LedgerHead | undefined;
  /** Rows in the journal and not yet in the tables, in seq order. */
  #pending: EventRow[] = [];
  #transactions = 0;

  constructor(path: string, options: SqliteWriterOptions) {
    this.#path = path;
    this.#options = options;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fresh = !existsSync(path);
    this.#db = new DatabaseSync(path, { timeout: options.busyTimeoutMs });
    let journal: JournalFile | undefined;
    try {
      restrictMode(path);
      this.#configure(options, fresh);
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
        dataVersion: this.#db.prepare('PRAGMA data_version'),
        setMeta: this.#db.prepare(
          'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
        ),
      };
      this.#sessions = new SessionIndex(this.#db);
      journal = new JournalFile(journalPathOf(path));
      this.#journal = journal;
      // Recovery: whatever a crashed writer left in the journal goes into the tables now.
      this.fold();
    } catch (err) {
      journal?.close();
      this.#db.close();
      throw err;
    }
  }

  get origin(): string {
    return this.#origin;
  }

  /** Appends (group commits) made durable by this writer. */
  get transactions(): number {
    return this.#transactions;
  }

  /** Events in the journal that are not in the tables yet. */
  get unfolded(): number {
    return this.#pending.length;
  }

  /**
   * Appends the items as one group commit: sealed, written to the journal and flushed (with
   * `sync: 'full'`) before it returns. Per item its seq, 0 or the reason it was refused.
   */
  write(items: readonly SealItem[]): (number | string)[] {
    if (items.length === 0) return [];
    let checkpoints: Checkpoint[] = [];
    const results = this.#locked(() => {
      this.#catchUp();
      const sealed = sealBatch(this.#logHead, items, {
        origin: this.#origin,
        signer: this.#options.signer,
      });
      this.#options.beforeCommit?.(this.#transactions + 1);
      if (sealed.rows.length > 0) {
        const seen = this.#seen as { dataVersion: number; journalBytes: number };
        const bytes = encodeJournal(sealed.rows);
        this.#journal.append(bytes, seen.journalBytes, this.#options.sync === 'full');
        seen.journalBytes += bytes.length;
        for (const row of sealed.rows) this.#pending.push(row);
        this.#logHead = sealed.head;
      }
      this.#transactions++;
      checkpoints = sealed.checkpoints;
      return sealed.results;
    });
    this.#publish(checkpoints);
    return results;
  }

  /**
   * Copies the journal's events into the tables in one transaction, then empties the journal.
   * Readers see an event in queries once it is folded.
   */
  fold(): void {
    this.#locked(() => {
      this.#catchUp();
      this.#foldPending();
    });
    // Emptied in a transaction of its own, once the rows above are durable in the tables. It
    // changes `meta`, so that every other writer sees a commit and reads the journal afresh.
    this.#locked(() => {
      this.#catchUp();
      const seen = this.#seen as { dataVersion: number; journalBytes: number };
      if (this.#pending.length > 0 || seen.journalBytes === 0) return;
      this.#stmt.setMeta.run('journal_emptied', String(this.#logHead.size));
      this.#journal.truncate(0);
      seen.journalBytes = 0;
    });
  }

  /** See `LedgerWriterPort.prune`. Returns the new `throughSeq` (0 when nothing was pruned). */
  prune(beforeMs: number, time: number): number {
    return this.#locked(() => {
      this.#catchUp();
      this.#foldPending();
      const plan = this.#prunePlan(beforeMs);
      if (plan === undefined) return 0;
      this.#db.exec('DROP TRIGGER events_no_delete');
      forgetSessions(this.#db, plan.throughSeq);
      this.#db.prepare('DELETE FROM events WHERE seq <= ?').run(plan.throughSeq);
      this.#db.exec(NO_DELETE_TRIGGER);
      this.#stmt.setMeta.run('pruned', prunedToJson(plan));
      const data = { throughSeq: plan.throughSeq, rootHash: plan.checkpoint.rootHash };
      const sealed = sealBatch(
        this.#logHead,
        [prepareEvent({ type: 'ledger.pruned', time, data })],
        { origin: this.#origin },
      );
      for (const row of sealed.rows) insertRow(this.#stmt.insert, row);
      this.#setStoredHead(sealed.head);
      return plan.throughSeq;
    });
  }

  /** Folds what is left in the journal (best effort: the next writer folds it otherwise). */
  close(): void {
    if (!this.#db.isOpen) return;
    try {
      this.fold();
    } catch {
      // The events stay in the journal, durable; the next writer or reader folds them.
    }
    this.#journal.close();
    this.#db.close();
  }

  #configure(options: SqliteWriterOptions, fresh: boolean): void {
    this.#db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
    // Folds write many rows at once: larger pages take fewer frames and B-tree splits per event.
    if (fresh) this.#db.exec('PRAGMA page_size = 16384');
    const mode = this.#db.prepare('PRAGMA journal_mode = WAL').get();
    if (mode?.journal_mode !== 'wal') throw new Error('the ledger could not switch to WAL mode');
    // A fold commits before the journal that holds its rows is emptied: always synchronous.
    this.#db.exec('PRAGMA synchronous = FULL');
    this.#db.exec('PRAGMA wal_autocheckpoint = 1000; PRAGMA cache_size = -32768');
  }

  /** Runs `body` holding the ledger's write lock; commits what it changed in the tables. */
  #locked<T>(body: () => T): T {
    this.#stmt.begin.run();
    try {
      this.#checkFileUnmoved();
      const out = body();
      this.#stmt.commit.run();
      return out;
    } catch (err) {
      this.#seen = undefined;
      this.#rollback();
      throw err;
    }
  }

  /**
   * Brings this writer up to date with what other writers did since it last held the lock: a
   * commit by another connection (a fold, a prune, an emptied journal) means reading the head and
   * the journal again; a longer journal, reading the lines another process appended.
   */
  #catchUp(): void {
    const dataVersion = Number(
      (this.#stmt.dataVersion.get() as { data_version: number }).data_version,
    );
    const bytes = this.#journal.size();
    const seen = this.#seen;
    if (seen !== undefined && seen.dataVersion === dataVersion) {
      if (seen.journalBytes === bytes) return;
      if (bytes > seen.journalBytes) {
        this.#readJournal(seen.journalBytes, bytes, this.#storedSize());
        return;
      }
    }
    this.#storedHead = this.#readStoredHead();
    this.#logHead = { ...this.#storedHead, frontier: this.#storedHead.frontier.clone() };
    this.#pending = [];
    this.#seen = { dataVersion, journalBytes: 0 };
    this.#readJournal(0, bytes, this.#storedHead.size);
  }

  /** Reads journal lines in [from, to) after the log head; a torn last line is cut off. */
  #readJournal(from: number, to: number, storedSize: number): void {
    const seen = this.#seen as { dataVersion: number; journalBytes: number };
    const head = this.#logHead;
    const frontier = head.frontier.clone();
    const parsed = parseJournal(this.#journal.read(from, to), head, storedSize, frontier);
    let checkpointSeq = head.checkpointSeq;
    for (const row of parsed.rows) {
      this.#pending.push(row);
      if (row.type === 'ledger.checkpointed') checkpointSeq = row.seq;
    }
    const { size, lastHash } = parsed.last;
    this.#logHead = { size, lastHash, checkpointSeq, frontier };
    seen.journalBytes = from + parsed.validBytes;
    if (seen.journalBytes < to) this.#journal.truncate(seen.journalBytes);
  }

  #storedSize(): number {
    return this.#storedHead?.size ?? 0;
  }

  /** Inserts the pending rows and moves the tables' head to the log head (inside the lock). */
  #foldPending(): void {
    if (this.#pending.length === 0) return;
    for (const row of this.#pending) insertRow(this.#stmt.insert, row);
    this.#pending = [];
    this.#sessions.catchUp(this.#logHead.size);
    this.#setStoredHead(this.#logHead);
  }

  #readStoredHead(): LedgerHead {
    const row = this.#stmt.head.get() as
      | { size: number; last_hash: string; checkpoint_seq: number; frontier: string }
      | undefined;
    if (row === undefined) throw new Error('the ledger head row is missing');
    return headFromStored(
      {
        size: row.size,
        lastHash: row.last_hash,
        checkpointSeq: row.checkpoint_seq,
        frontier: row.frontier,
      },
      this.#storedHead,
    );
  }

  #setStoredHead(head: LedgerHead): void {
    const s = headToStored(head);
    this.#stmt.setHead.run(s.size, s.lastHash, s.checkpointSeq, s.frontier);
    this.#storedHead = head;
    this.#logHead = head;
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
      if (version === '2' || version === '3') {
        // 3 to 4 changes no table: the journal file is created beside it.
        if (version === '2') migrateSessions(this.#db);
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
