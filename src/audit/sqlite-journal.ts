/**
 * The embedded store's durable record: an append-only journal beside the SQLite file. A group
 * commit appends its sealed events as lines and fdatasyncs once; a folder (sqlite-folder.ts) copies
 * them into SQLite's tables, the index every reader queries, in bulk and on a lock of its own. An
 * append therefore costs one write and one flush, not a B-tree transaction with a WAL frame for
 * every page it touched, and never waits for the index.
 *
 * Two journal files take turns (`ledger.db-log0`, `ledger.db-log1`): appends go to the current one;
 * once it is large the writer switches to the other, and empties the old one when the folder has
 * copied all of it. A small SQLite file (`ledger.db-lock`) is the appenders' lock (its
 * `BEGIN IMMEDIATE`) and holds which file is current and how often each was emptied, so that every
 * process sees the others' switches.
 *
 * A line is `<seq>\t<hash>\t<leaf>\t<columns>\t<body>\n`: the body is the canonical JSON the chain
 * hashes (so a line proves itself against the one before it), the columns a JSON array of the
 * indexed columns. A line cut short by a crash can only be the last one, and is dropped (it was
 * never acknowledged). Anything else that does not continue the chain stops the writer:
 * acknowledged events are never discarded to make room.
 */

import { hash as digest } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { quoteJson } from './canonical.ts';
import { COLUMN_KEYS, chainLink, type EventRow } from './event-codec.ts';
import { rollbackQuietly } from './sqlite-meta.ts';

/** The two journal files of the ledger at `dbPath`. */
export function journalPathsOf(dbPath: string): readonly [string, string] {
  return [`${dbPath}-log0`, `${dbPath}-log1`];
}

/** The appenders' lock and the journals' state. */
export function journalLockPathOf(dbPath: string): string {
  return `${dbPath}-lock`;
}

const NEWLINE = 0x0a;

/** The chain state a journal's lines continue from. */
export interface ChainPoint {
  readonly size: number;
  readonly lastHash: string;
}

/** One whole line of a journal, not yet trusted. */
export interface JournalLine {
  readonly seq: number;
  readonly hash: string;
  readonly leaf: string;
  readonly columns: string;
  readonly body: string;
  /** Byte offset just past the line's newline. */
  readonly end: number;
}

const col = (v: string | null): string => (v === null ? 'null' : quoteJson(v));

/** Where `encodeJournal` writes its lines; grown as needed, reused so no batch allocates. */
let scratch = Buffer.allocUnsafeSlow(1 << 18);

/**
 * Encodes sealed rows as journal lines. The bytes are valid until the next call: write them out
 * before encoding again.
 *
 * Each line is written straight into a reused buffer rather than concatenated into one string
 * for `Buffer.from`, which flattened and encoded the whole batch anew (4 µs against 1 µs per
 * event on the development VM).
 *
 * @example
 * journal.append(encodeJournal(sealed.rows), at, true);
 */
export function encodeJournal(rows: readonly EventRow[]): Buffer {
  let at = 0;
  for (const r of rows) {
    // JSON.stringify of the columns in COLUMN_KEYS order, spelled out: this runs for every event.
    const line = `${r.seq}\t${r.hash}\t${r.leaf}\t[${r.time},${col(r.type)},${col(r.sessionId)},${col(r.connection)},${col(r.identity)},${col(r.owner)},${col(r.commandId)},${col(r.decision)},${col(r.tables)}]\t${r.body}\n`;
    // A UTF-16 code unit takes at most three bytes in UTF-8.
    if (scratch.length - at < line.length * 3) {
      const grown = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, at + line.length * 3));
      scratch.copy(grown, 0, 0, at);
      scratch = grown;
    }
    at += scratch.write(line, at, 'utf8');
  }
  return scratch.subarray(0, at);
}

/**
 * The whole lines in `bytes` from `at`, stopping at the first that is not well formed. `rest` is
 * where the unread bytes start: a torn last line, or a malformed one.
 */
export function readLines(bytes: Buffer, at = 0): { lines: JournalLine[]; rest: number } {
  const lines: JournalLine[] = [];
  let pos = at;
  while (pos < bytes.length) {
    const end = bytes.indexOf(NEWLINE, pos);
    if (end === -1) break;
    const line = lineOf(bytes.toString('utf8', pos, end), end + 1);
    if (line === undefined) break;
    lines.push(line);
    pos = end + 1;
  }
  return { lines, rest: pos };
}

function lineOf(text: string, end: number): JournalLine | undefined {
  const t1 = text.indexOf('\t');
  const t2 = text.indexOf('\t', t1 + 1);
  const t3 = text.indexOf('\t', t2 + 1);
  const t4 = text.indexOf('\t', t3 + 1);
  if (t1 <= 0 || t2 < 0 || t3 < 0 || t4 < 0) return undefined;
  const seq = Number(text.slice(0, t1));
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  return {
    seq,
    hash: text.slice(t1 + 1, t2),
    leaf: text.slice(t2 + 1, t3),
    columns: text.slice(t3 + 1, t4),
    body: text.slice(t4 + 1),
    end,
  };
}

/** Whether `line` is the event after `prev`: its leaf is its body's, its hash chains to prev. */
export function continues(line: JournalLine, prev: ChainPoint): boolean {
  return (
    line.seq === prev.size + 1 &&
    digest('sha256', `\0${line.body}`, 'hex') === line.leaf &&
    chainLink(prev.lastHash, line.leaf) === line.hash
  );
}

/** The row a line holds, chained after `prevHash`. Throws on columns that are not the nine. */
export function rowOfLine(line: JournalLine, prevHash: string): EventRow {
  const c = JSON.parse(line.columns) as unknown[];
  if (!Array.isArray(c) || c.length !== COLUMN_KEYS.length) {
    throw new Error(`the ledger journal line of event ${line.seq} has no columns`);
  }
  // In COLUMN_KEYS order, as encodeJournal wrote them (sqlite-journal.test.ts round-trips a row).
  return {
    time: c[0] as number,
    type: c[1] as string,
    sessionId: c[2] as string | null,
    connection: c[3] as string | null,
    identity: c[4] as string | null,
    owner: c[5] as string | null,
    commandId: c[6] as string | null,
    decision: c[7] as string | null,
    tables: c[8] as string | null,
    seq: line.seq,
    body: line.body,
    leaf: line.leaf,
    prevHash,
    hash: line.hash,
  };
}

/**
 * One open journal file. Appends and truncations happen under the appenders' lock.
 *
 * @example
 * const journal = new JournalFile(journalPathsOf(dbPath)[0]);
 * journal.append(encodeJournal(rows), journal.size(), true);
 */
export class JournalFile {
  readonly path: string;
  #fd: number;
  readonly #identity: { dev: number; ino: number };

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'a+', 0o600);
    const st = fstatSync(this.#fd);
    this.#identity = { dev: st.dev, ino: st.ino };
  }

  /**
   * Its size, after checking it is still the file at its path: writes through a descriptor of a
   * deleted or renamed journal would be lost while reporting success.
   */
  size(): number {
    const open = fstatSync(this.#fd);
    const named = statSync(this.path, { throwIfNoEntry: false });
    if (
      open.nlink === 0 ||
      named === undefined ||
      named.dev !== this.#identity.dev ||
      named.ino !== this.#identity.ino
    ) {
      throw new Error('the ledger journal was moved or deleted while open');
    }
    return open.size;
  }

  read(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe(Math.max(0, to - from));
    let got = 0;
    while (got < out.length) {
      const n = readSync(this.#fd, out, got, out.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return got === out.length ? out : out.subarray(0, got);
  }

  /**
   * Appends (the caller saw the file `at` bytes long under the lock) and, when `durable`, flushes
   * the data to disk before returning. On failure the file is cut back to `at`, so that nothing of
   * a refused batch is folded into the log later.
   */
  append(bytes: Buffer, at: number, durable: boolean): void {
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
      if (durable) fdatasyncSync(this.#fd);
    } catch (err) {
      try {
        ftruncateSync(this.#fd, at);
      } catch {
        // The write failed already; the torn tail is dropped by the next reader of the journal.
      }
      throw err;
    }
  }

  truncate(size: number): void {
    ftruncateSync(this.#fd, size);
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** Which journal takes appends, and how many times each was emptied. */
export interface JournalState {
  readonly current: 0 | 1;
  readonly epochs: readonly [number, number];
}

/**
 * The appenders' lock (`BEGIN IMMEDIATE` on `ledger.db-lock`) and the journals' state in it. Its
 * `data_version` changes when another process switched or emptied a journal.
 *
 * @example
 * const lock = new JournalLock(journalLockPathOf(dbPath), 5000);
 * lock.hold(() => { ... append ... });
 */
export class JournalLock {
  readonly #db: DatabaseSync;
  readonly #stmt: Record<'begin' | 'commit' | 'version' | 'state' | 'setState', StatementSync>;

  constructor(path: string, busyTimeoutMs: number) {
    this.#db = new DatabaseSync(path, { timeout: busyTimeoutMs });
    try {
      this.#db.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
      this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL');
      const made = this.#db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'journal'").get();
      if (made === undefined) {
        this.#db.exec(`CREATE TABLE IF NOT EXISTS journal(id INTEGER PRIMARY KEY CHECK (id = 1),
          current INTEGER NOT NULL, epoch0 INTEGER NOT NULL, epoch1 INTEGER NOT NULL);
          INSERT INTO journal VALUES (1, 0, 0, 0) ON CONFLICT(id) DO NOTHING;`);
      }
      this.#stmt = {
        begin: this.#db.prepare('BEGIN IMMEDIATE'),
        commit: this.#db.prepare('COMMIT'),
        version: this.#db.prepare('PRAGMA data_version'),
        state: this.#db.prepare('SELECT current, epoch0, epoch1 FROM journal WHERE id = 1'),
        setState: this.#db.prepare(
          'UPDATE journal SET current = ?, epoch0 = ?, epoch1 = ? WHERE id = 1',
        ),
      };
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  /** Runs `body` holding the lock. */
  hold<T>(body: () => T): T {
    this.#stmt.begin.run();
    try {
      const out = body();
      this.#stmt.commit.run();
      return out;
    } catch (err) {
      rollbackQuietly(this.#db);
      throw err;
    }
  }

  /** Changes when another connection committed a state change. */
  version(): number {
    return Number((this.#stmt.version.get() as { data_version: number }).data_version);
  }

  state(): JournalState {
    const r = this.#stmt.state.get() as { current: number; epoch0: number; epoch1: number };
    return { current: r.current === 1 ? 1 : 0, epochs: [r.epoch0, r.epoch1] };
  }

  /** Inside `hold`. */
  setState(s: JournalState): void {
    this.#stmt.setState.run(s.current, s.epochs[0], s.epochs[1]);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
