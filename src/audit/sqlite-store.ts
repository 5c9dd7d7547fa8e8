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
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Checkpoint, SigningKey } from './checkpoint.ts';
import { prepareEvent } from './event-codec.ts';
import { writeLatestCheckpoint } from './latest-checkpoint.ts';
import { MerkleFrontier } from './merkle.ts';
import { emptyHead, headToStored, type LedgerHead, type SealItem, sealBatch } from './sealer.ts';
import {
  DURABLE_KEY,
  durableSize,
  insertRow,
  JournalFolder,
  readStoredHead,
  type TableStatements,
  tableStatements,
} from './sqlite-folder.ts';
import {
  continues,
  encodeJournal,
  JournalFile,
  type JournalLine,
  JournalLock,
  type JournalState,
  journalLockPathOf,
  journalPathsOf,
  readLines,
  rowOfLine,
} from './sqlite-journal.ts';
import { metaValue, readPruned, rollbackQuietly } from './sqlite-meta.ts';
import { forgetSessions, initSessions, migrateSessions } from './sqlite-sessions.ts';
import { type PrunedState, prunedToJson } from './store.ts';

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
  /** Appends move to the other journal once the current one is this large (tests set it low). */
  readonly journalSwitchBytes?: number;
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

/**
 * @example
 * const w = new SqliteStoreWriter('/var/lib/airlock/ledger.db', { sync: 'full', busyTimeoutMs: 5000 });
 * const [seq] = w.write([prepareEvent({ type: 'token.created', time: Date.now() })]);
 * w.close();
 */
export class SqliteStoreWriter {
  readonly #db: DatabaseSync;
  readonly #options: SqliteWriterOptions;
  readonly #origin: string;
  readonly #stmt: TableStatements;
  readonly #lock: JournalLock;
  readonly #files: readonly [JournalFile, JournalFile];
  readonly #folder: JournalFolder;
  /** What this writer knows of the journals, valid while the lock's data_version is unchanged. */
  #seen: Seen | undefined;
  /** The head of the log: the tables' head plus the journals' lines after it. */
  #logHead: LedgerHead = emptyHead();
  #transactions = 0;

  constructor(path: string, options: SqliteWriterOptions) {
    this.#options = options;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fresh = !existsSync(path);
    this.#db = new DatabaseSync(path, { timeout: options.busyTimeoutMs });
    const opened: { close(): void }[] = [];
    try {
      restrictMode(path);
      this.#configure(options, fresh);
      this.#origin = this.#createSchema();
      this.#stmt = tableStatements(this.#db);
      this.#lock = new JournalLock(journalLockPathOf(path), options.busyTimeoutMs);
      opened.push(this.#lock);
      const [a, b] = journalPathsOf(path);
      this.#files = [new JournalFile(a), new JournalFile(b)];
      opened.push(...this.#files);
      for (const p of [journalLockPathOf(path), a, b]) restrictMode(p);
      this.#folder = new JournalFolder(path, {
        busyTimeoutMs: options.busyTimeoutMs,
        shared: { db: this.#db, stmt: this.#stmt, files: this.#files, lock: this.#lock },
      });
      // Recovery: the journals are checked (a torn last line is dropped), then folded.
      this.#lock.hold(() => this.#catchUp());
      this.fold();
    } catch (err) {
      for (const o of opened) o.close();
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

  /** Events appended and not folded into the tables by this process, as far as it knows. */
  get unfolded(): number {
    return Math.max(0, this.#logHead.size - this.#folder.storedSize);
  }

  /**
   * Appends the items as one group commit: sealed, written to the current journal and flushed
   * (with `sync: 'full'`) before it returns. Per item its seq, 0 or the reason it was refused.
   */
  write(items: readonly SealItem[]): (number | string)[] {
    if (items.length === 0) return [];
    let checkpoints: Checkpoint[] = [];
    const results = this.#lock.hold(() => {
      const seen = this.#catchUp();
      const sealed = sealBatch(this.#logHead, items, {
        origin: this.#origin,
        signer: this.#options.signer,
      });
      this.#options.beforeCommit?.(this.#transactions + 1);
      if (sealed.rows.length > 0) {
        const f = seen.state.current;
        const bytes = encodeJournal(sealed.rows);
        (this.#files[f] as JournalFile).append(bytes, seen.bytes[f], this.#options.sync === 'full');
        seen.bytes[f] += bytes.length;
        seen.lastSeq[f] = sealed.head.size;
        this.#logHead = sealed.head;
      }
      this.#transactions++;
      try {
        this.#rotate(seen);
      } catch {
        // The batch is durable and stays acknowledged; switching journals waits for the next
        // append, which reads the journals afresh.
        this.#seen = undefined;
      }
      checkpoints = sealed.checkpoints;
      return sealed.results;
    });
    this.#publish(checkpoints);
    return results;
  }

  /**
   * Copies the journals' events into the tables (readers see an event once it is folded), then
   * empties a journal that is all folded. Returns how many events were folded.
   */
  fold(): number {
    const n = this.#folder.fold();
    this.#lock.hold(() => {
      const seen = this.#catchUp();
      const durable = durableSize(this.#stmt);
      for (const f of [0, 1] as const) if (seen.lastSeq[f] <= durable) this.#empty(seen, f);
    });
    return n;
  }

  /** See `LedgerWriterPort.prune`. Returns the new `throughSeq` (0 when nothing was pruned). */
  prune(beforeMs: number, time: number): number {
    return this.#lock.hold(() => {
      const seen = this.#catchUp();
      // Holding the appenders' lock, nothing is appended meanwhile: this folds the whole log.
      this.#folder.fold();
      if (this.#folder.storedSize !== this.#logHead.size) {
        throw new Error('the ledger journal could not be folded before pruning');
      }
      const through = this.#pruneTables(beforeMs, time);
      // The pruned event went into the tables, not a journal: other writers must read the head
      // again, so the state changes even when both journals are empty already.
      this.#empty(seen, 0, true);
      this.#empty(seen, 1);
      return through;
    });
  }

  /** Folds what is left in the journals (best effort: the next writer or reader folds it). */
  close(): void {
    if (!this.#db.isOpen) return;
    try {
      this.fold();
    } catch {
      // The events stay in the journal, durable.
    }
    this.#folder.close();
    for (const f of this.#files) f.close();
    this.#lock.close();
    this.#db.close();
  }

  #pruneTables(beforeMs: number, time: number): number {
    this.#stmt.begin.run();
    try {
      this.#folder.checkUnmoved();
      const plan = this.#prunePlan(beforeMs);
      if (plan === undefined) {
        this.#stmt.commit.run();
        return 0;
      }
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
        this.#logHead,
        [prepareEvent({ type: 'ledger.pruned', time, data })],
        { origin: this.#origin },
      );
      for (const row of sealed.rows) insertRow(this.#stmt.insert, row);
      const s = headToStored(sealed.head);
      this.#stmt.setHead.run(s.size, s.lastHash, s.checkpointSeq, s.frontier);
      this.#stmt.setDurable.run(String(s.size));
      this.#stmt.commit.run();
      this.#logHead = sealed.head;
      return plan.throughSeq;
    } catch (err) {
      rollbackQuietly(this.#db);
      throw err;
    }
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

  /**
   * Inside the lock: brings this writer up to date with what other writers did since it last held
   * it. Another process's switch or emptied journal (the lock's data_version changed) means reading
   * the tables' head and both journals again; a longer current journal, reading the lines another
   * process appended.
   */
  #catchUp(): Seen {
    // A ledger whose tables were moved away is not written to at all (fail closed), even though
    // the journal alone would keep the events.
    this.#folder.checkUnmoved();
    const version = this.#lock.version();
    const seen = this.#seen;
    if (seen !== undefined && seen.version === version) {
      const f = seen.state.current;
      const size = (this.#files[f] as JournalFile).size();
      if (size === seen.bytes[f]) return seen;
      if (size > seen.bytes[f]) {
        const lines = this.#linesOf(f, seen.bytes[f], size);
        this.#continueWith(lines);
        seen.bytes[f] = (this.#files[f] as JournalFile).size();
        if (lines.length > 0) seen.lastSeq[f] = this.#logHead.size;
        return seen;
      }
    }
    return this.#reload(version);
  }

  /** Everything again: the tables' head, then every line after it in both journals. */
  #reload(version: number): Seen {
    this.#seen = undefined;
    const state = this.#lock.state();
    const stored = readStoredHead(this.#stmt.head);
    this.#logHead = { ...stored, frontier: stored.frontier.clone() };
    const bytes: [number, number] = [0, 0];
    const lastSeq: [number, number] = [0, 0];
    const waiting: Located[] = [];
    for (const f of [0, 1] as const) {
      const size = (this.#files[f] as JournalFile).size();
      const lines = this.#linesOf(f, 0, size);
      bytes[f] = size;
      lastSeq[f] = lines.reduce((max, l) => Math.max(max, l.line.seq), 0);
      for (const l of lines) if (l.line.seq > stored.size) waiting.push(l);
    }
    waiting.sort((x, y) => x.line.seq - y.line.seq);
    this.#continueWith(waiting);
    for (const f of [0, 1] as const) bytes[f] = (this.#files[f] as JournalFile).size();
    this.#seen = { version, state, bytes, lastSeq };
    return this.#seen;
  }

  /**
   * The whole lines of a journal in [from, to). A last line without its newline (a write cut short,
   * never acknowledged) is cut off the file; a malformed whole line means the journal is damaged.
   */
  #linesOf(f: 0 | 1, from: number, to: number): Located[] {
    const file = this.#files[f] as JournalFile;
    const bytes = file.read(from, to);
    const { lines, rest } = readLines(bytes);
    if (rest < bytes.length) {
      // Only a last line without its newline is a write cut short; a malformed whole line is damage.
      if (bytes.indexOf(0x0a, rest) !== -1) throw damaged(file.path, from + rest);
      file.truncate(from + rest);
    }
    let start = from;
    return lines.map((line) => {
      const out: Located = { line, file: f, start, end: from + line.end };
      start = out.end;
      return out;
    });
  }

  /**
   * Extends the log head with lines (seq order) that must each continue it. A whole line that does
   * not cannot come from a write cut short (that leaves a line without its newline, which
   * `#linesOf` drops): the journal is damaged, and the writer stops rather than lose events.
   */
  #continueWith(lines: readonly Located[]): void {
    let { size, lastHash, checkpointSeq } = this.#logHead;
    const frontier = this.#logHead.frontier.clone();
    for (const { line, file, start } of lines) {
      if (!continues(line, { size, lastHash })) {
        throw damaged((this.#files[file] as JournalFile).path, start);
      }
      frontier.pushHex(line.leaf);
      size = line.seq;
      lastHash = line.hash;
      if (rowOfLine(line, '').type === 'ledger.checkpointed') checkpointSeq = line.seq;
    }
    this.#logHead = { size, lastHash, checkpointSeq, frontier };
  }

  /**
   * Inside the lock: empties the other journal once the tables hold all of it, and makes it the
   * current one when the current one has grown large.
   */
  #rotate(seen: Seen): void {
    const current = seen.state.current;
    const other = current === 0 ? 1 : 0;
    if (seen.bytes[other] > 0 && seen.lastSeq[other] <= durableSize(this.#stmt)) {
      this.#empty(seen, other);
    }
    const switchAt = this.#options.journalSwitchBytes ?? JOURNAL_SWITCH_BYTES;
    if (seen.bytes[other] === 0 && seen.bytes[current] >= switchAt) {
      seen.state = { current: other, epochs: seen.state.epochs };
      this.#lock.setState(seen.state);
    }
  }

  /** Inside the lock, once the tables hold all of a journal: truncates it. */
  #empty(seen: Seen, f: 0 | 1, always = false): void {
    if (seen.bytes[f] === 0 && !always) return;
    (this.#files[f] as JournalFile).truncate(0);
    const epochs: [number, number] = [seen.state.epochs[0], seen.state.epochs[1]];
    epochs[f]++;
    seen.state = { current: seen.state.current, epochs };
    this.#lock.setState(seen.state);
    seen.bytes[f] = 0;
    seen.lastSeq[f] = 0;
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
      // Every fold before the durable size was recorded was synced: the tables' size is durable.
      this.#db
        .prepare(
          `INSERT INTO meta(key, value) SELECT '${DURABLE_KEY}', size FROM head WHERE id = 1 ON CONFLICT(key) DO NOTHING`,
        )
        .run();
      const origin = metaValue(this.#db, 'origin');
      this.#db.exec('COMMIT');
      return origin ?? '';
    } catch (err) {
      rollbackQuietly(this.#db);
      throw err;
    }
  }
}

/** Audit records are private to the gateway's user (best effort: the directory is 0700 too). */
function restrictMode(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch {
    // A ledger we cannot chmod (not our file) is still writable; permissions are not our check.
  }
}

/** Switch appends to the other journal once the current one is this large. */
const JOURNAL_SWITCH_BYTES = 8 << 20;

/** What a writer knows of the journals (see `#catchUp`). */
interface Seen {
  /** The lock's data_version when this was read. */
  readonly version: number;
  state: JournalState;
  /** Bytes of whole lines in each journal. */
  readonly bytes: [number, number];
  /** The newest seq in each journal, 0 when empty. */
  readonly lastSeq: [number, number];
}

/** A journal line and where it is. */
interface Located {
  readonly line: JournalLine;
  readonly file: 0 | 1;
  readonly start: number;
  readonly end: number;
}

function damaged(path: string, at: number): Error {
  return new Error(
    `the ledger journal ${basename(path)} is damaged at byte ${at}: it does not continue the log`,
  );
}
