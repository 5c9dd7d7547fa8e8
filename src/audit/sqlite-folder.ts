/**
 * Copies the journals' events (sqlite-journal.ts) into the embedded store's tables, in bulk, under
 * the tables' own write lock (`BEGIN IMMEDIATE` on ledger.db) and not the appenders' lock, so that
 * appends never wait for it. The gateway runs one in a thread of its own (sqlite-folder-worker.ts);
 * a writer folds inline when it closes, and a reader in another process before it reads.
 *
 * The folder trusts the lines' hashes and columns as the tables trust their rows: `verify` checks
 * both. It only takes events in seq order from the tables' head on, so a line is folded once.
 */

import { statSync } from 'node:fs';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { DatabaseSync as Database } from 'node:sqlite';
import type { EventRow } from './event-codec.ts';
import { headFromStored, headToStored, type LedgerHead } from './sealer.ts';
import {
  JournalFile,
  type JournalLine,
  JournalLock,
  journalLockPathOf,
  journalPathsOf,
  readLines,
  rowOfLine,
} from './sqlite-journal.ts';
import { rollbackQuietly } from './sqlite-meta.ts';
import { SessionIndex } from './sqlite-sessions.ts';
import { EVENT_COLUMNS } from './store.ts';

/** The embedded store's row insert; `insertRow` binds it. */
export const INSERT_EVENT = `INSERT INTO events(${EVENT_COLUMNS}) VALUES (${EVENT_COLUMNS.split(',')
  .map(() => '?')
  .join(', ')})`;

/** Binds `EVENT_COLUMNS` in order (no array per row: this runs for every event). */
export function insertRow(insert: StatementSync, r: EventRow): void {
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

/** The statements a writer of the tables uses. */
export type TableStatements = Record<
  'begin' | 'commit' | 'head' | 'setHead' | 'insert' | 'durable' | 'setDurable',
  StatementSync
>;

/**
 * The meta key of the tables' durable size: a journal may be emptied once the tables hold all of
 * its events durably (see `JournalFolder`'s `lazySync`).
 */
export const DURABLE_KEY = 'durable_size';

export function tableStatements(db: DatabaseSync): TableStatements {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    head: db.prepare('SELECT * FROM head WHERE id = 1'),
    setHead: db.prepare(
      'UPDATE head SET size = ?, last_hash = ?, checkpoint_seq = ?, frontier = ? WHERE id = 1',
    ),
    insert: db.prepare(INSERT_EVENT),
    // The tables' size, or less while a lazily synced folder has not flushed its last folds. A
    // ledger written before the key existed was always synced: its size is durable.
    durable: db.prepare(
      `SELECT MIN(size, COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = '${DURABLE_KEY}'), size)) AS n FROM head WHERE id = 1`,
    ),
    setDurable: db.prepare(
      `INSERT INTO meta(key, value) VALUES ('${DURABLE_KEY}', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    ),
  };
}

/** How many events the tables hold durably (one query: it runs on every append). */
export function durableSize(stmt: TableStatements): number {
  return (stmt.durable.get() as { n: number } | undefined)?.n ?? 0;
}

/** The tables' head row, reusing `cached` when it describes the same state. */
export function readStoredHead(head: StatementSync, cached?: LedgerHead): LedgerHead {
  const row = head.get() as
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
    cached,
  );
}

/** What a writer lends its folder (see `JournalFolder`). */
export interface FolderShared {
  readonly db: DatabaseSync;
  readonly stmt: TableStatements;
  readonly files: readonly [JournalFile, JournalFile];
  readonly lock: JournalLock;
}

/** Where a file's lines not known to be folded start, valid while its epoch is unchanged. */
interface Offset {
  epoch: number;
  at: number;
}

/**
 * @example
 * const folder = new JournalFolder('/var/lib/airlock/ledger.db', { busyTimeoutMs: 5000 });
 * folder.fold(); // events copied
 * folder.close();
 */
export class JournalFolder {
  readonly #db: DatabaseSync;
  /** Whether the connection, journals and lock are this folder's own to close. */
  readonly #owns: boolean;
  readonly #files: readonly [JournalFile, JournalFile];
  readonly #lock: JournalLock;
  readonly #stmt: TableStatements;
  readonly #sessions: SessionIndex;
  readonly #offsets: [Offset, Offset] = [
    { epoch: -1, at: 0 },
    { epoch: -1, at: 0 },
  ];
  #stored: LedgerHead | undefined;
  readonly #dbPath: string;
  readonly #identity: { dev: bigint; ino: bigint };
  /** The journals' sizes when last folded (-1: unknown). */
  readonly #sizes: [number, number] = [-1, -1];
  /** See the constructor's `lazySync`. */
  readonly #lazySync: boolean;
  /** The newest seq seen in each journal since it was last emptied (0: none). */
  readonly #lastSeq: [number, number] = [0, 0];

  /**
   * `shared`: the writer's own connection, statements, journals and lock, which it keeps and
   * closes; otherwise the folder opens its own.
   *
   * `lazySync` (the gateway's folder thread): folds commit without an fsync
   * (`synchronous = NORMAL`: the tables cannot be corrupted, a crash may only undo the last folds,
   * whose events are still in the journals), and a synced commit moves the durable size forward
   * once a journal that takes no more appends is folded, so a writer may empty it. An append's
   * fdatasync then no longer waits behind the folder's flushes.
   */
  constructor(
    dbPath: string,
    options: { busyTimeoutMs: number; shared?: FolderShared; lazySync?: boolean },
  ) {
    this.#dbPath = dbPath;
    this.#lazySync = options.lazySync === true && options.shared === undefined;
    const st = statSync(dbPath, { bigint: true });
    this.#identity = { dev: st.dev, ino: st.ino };
    const shared = options.shared;
    this.#owns = shared === undefined;
    if (shared !== undefined) {
      ({ db: this.#db, files: this.#files, lock: this.#lock, stmt: this.#stmt } = shared);
      this.#sessions = new SessionIndex(this.#db);
      return;
    }
    this.#db = new Database(dbPath, { timeout: options.busyTimeoutMs });
    const opened: { close(): void }[] = [];
    try {
      this.#db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
      this.#db.exec(
        `PRAGMA synchronous = ${this.#lazySync ? 'NORMAL' : 'FULL'}; PRAGMA cache_size = -32768`,
      );
      const [a, b] = journalPathsOf(dbPath);
      const files = [new JournalFile(a), new JournalFile(b)] as const;
      opened.push(...files);
      this.#files = files;
      this.#lock = new JournalLock(journalLockPathOf(dbPath), options.busyTimeoutMs);
      opened.push(this.#lock);
      this.#stmt = tableStatements(this.#db);
      this.#sessions = new SessionIndex(this.#db);
    } catch (err) {
      for (const o of opened) o.close();
      this.#db.close();
      throw err;
    }
  }

  /** Whether a journal changed size since the last fold (cheap: two fstat calls). */
  hasNew(): boolean {
    return this.#files.some((f, i) => f.size() !== this.#sizes[i]);
  }

  /** The tables' size as of this folder's last fold (0 before the first). */
  get storedSize(): number {
    return this.#stored?.size ?? 0;
  }

  /**
   * Copies every event after the tables' head that the journals hold, in one transaction.
   * Returns how many.
   */
  fold(): number {
    const state = this.#lock.state();
    this.#stmt.begin.run();
    try {
      this.checkUnmoved();
      const stored = this.#readHead();
      const waiting: JournalLine[] = [];
      const seen: JournalLine[][] = [[], []];
      // The current journal last: a switch between the two reads then only delays its new lines to
      // the next fold, instead of showing them before the old journal's last ones.
      const order = state.current === 0 ? ([1, 0] as const) : ([0, 1] as const);
      for (const f of order) {
        const offset = this.#offsets[f];
        if (offset.epoch !== state.epochs[f]) {
          offset.epoch = state.epochs[f];
          offset.at = 0;
          this.#lastSeq[f] = 0;
        }
        const size = this.#files[f].size();
        this.#sizes[f] = size;
        if (size < offset.at) offset.at = 0;
        const { lines } = readLines(this.#files[f].read(offset.at, size));
        seen[f] = lines;
        const last = lines.at(-1)?.seq ?? 0;
        if (last > this.#lastSeq[f]) this.#lastSeq[f] = last;
        for (const line of lines) if (line.seq > stored.size) waiting.push(line);
      }
      waiting.sort((x, y) => x.seq - y.seq);
      const head = this.#insert(stored, waiting);
      const stuck = waiting.find((l) => l.seq > head.size);
      if (head !== stored) {
        this.#sessions.catchUp(head.size);
        const s = headToStored(head);
        this.#stmt.setHead.run(s.size, s.lastHash, s.checkpointSeq, s.frontier);
      }
      // A synced commit makes what it folded, and what a lazily synced folder left, durable.
      if (!this.#lazySync && durableSize(this.#stmt) < head.size) {
        this.#stmt.setDurable.run(String(head.size));
      }
      this.#stmt.commit.run();
      this.#stored = head;
      const done = state.current === 0 ? 1 : 0;
      if (this.#lazySync && this.#lastSeq[done] > 0 && this.#lastSeq[done] <= head.size) {
        this.#syncThrough(this.#lastSeq[done]);
      }
      for (const f of [0, 1] as const) this.#advance(f, seen[f] ?? [], head.size);
      if (stuck !== undefined) {
        // Events after a gap: they wait until a writer, checking every line, refuses the log.
        throw new Error(
          `the ledger journals do not continue the tables at seq ${head.size + 1} (next: ${stuck.seq})`,
        );
      }
      return head.size - stored.size;
    } catch (err) {
      this.#stored = undefined;
      for (const o of this.#offsets) o.epoch = -1;
      this.#sizes.fill(-1);
      rollbackQuietly(this.#db);
      throw err;
    }
  }

  /**
   * SQLite keeps writing through its open descriptors after the file or its directory has been
   * deleted or renamed, and reports success: without this check, events appended or folded then
   * would be lost from the ledger. The writer checks through its folder too.
   */
  checkUnmoved(): void {
    const now = statSync(this.#dbPath, { bigint: true, throwIfNoEntry: false });
    if (now === undefined || now.dev !== this.#identity.dev || now.ino !== this.#identity.ino) {
      throw new Error('the ledger file was moved or deleted while open');
    }
  }

  close(): void {
    if (!this.#owns) return;
    if (this.#lazySync && this.#stored !== undefined && this.#db.isOpen) {
      try {
        this.#syncThrough(this.#stored.size);
      } catch {
        // The events stay in the journals until a synced fold.
      }
    }
    for (const f of this.#files) f.close();
    this.#lock.close();
    if (this.#db.isOpen) this.#db.close();
  }

  /**
   * Unless the tables are durable through `needed` already: a synced commit that records them as
   * durable through everything folded so far (its fsync covers the whole WAL).
   */
  #syncThrough(needed: number): void {
    if (durableSize(this.#stmt) >= needed) return;
    const through = this.#stored?.size ?? needed;
    this.#db.exec('PRAGMA synchronous = FULL');
    try {
      this.#stmt.begin.run();
      try {
        this.#stmt.setDurable.run(String(through));
        this.#stmt.commit.run();
      } catch (err) {
        rollbackQuietly(this.#db);
        throw err;
      }
    } finally {
      this.#db.exec('PRAGMA synchronous = NORMAL');
    }
  }

  /** Inserts the run of lines that continues `stored` (seq order); the new head. */
  #insert(stored: LedgerHead, lines: readonly JournalLine[]): LedgerHead {
    let size = stored.size;
    let lastHash = stored.lastHash;
    let checkpointSeq = stored.checkpointSeq;
    let frontier = stored.frontier;
    for (const line of lines) {
      if (line.seq <= size) continue; // the same event in both files: a switch lost in a crash
      if (line.seq !== size + 1) break; // a gap: the rest waits (the writer refuses a damaged log)
      const row = rowOfLine(line, lastHash);
      if (frontier === stored.frontier) frontier = stored.frontier.clone();
      insertRow(this.#stmt.insert, row);
      frontier.pushHex(row.leaf);
      size = row.seq;
      lastHash = row.hash;
      if (row.type === 'ledger.checkpointed') checkpointSeq = row.seq;
    }
    return size === stored.size ? stored : { size, lastHash, checkpointSeq, frontier };
  }

  /** Moves a file's offset past its lines that are all in the tables now. */
  #advance(f: 0 | 1, lines: readonly JournalLine[], size: number): void {
    const offset = this.#offsets[f];
    let at = offset.at;
    for (const line of lines) {
      if (line.seq > size) break;
      at = offset.at + line.end;
    }
    offset.at = at;
  }

  #readHead(): LedgerHead {
    this.#stored = readStoredHead(this.#stmt.head, this.#stored);
    return this.#stored;
  }
}
