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
 * indexed columns. Lines never contain a NUL byte; a journal's lines end at its first NUL (or its
 * end). A busy gateway's folder keeps a zero-filled spare ready (`prepareSpareJournal`), which a
 * writer moves into an emptied journal's place: an append then overwrites zeros in blocks the file
 * already has, and its fdatasync flushes data without a filesystem journal commit (on ext4 that
 * commit also waits for the folder's writes to the tables; preallocated, a group commit's flush
 * took about half as long in bench:ledger).
 *
 * A line cut short by a crash can only be in the last write, and is dropped (it was never
 * acknowledged), with anything after it: a crash may keep a later page of that write and not an
 * earlier one, so a writer that opens the journal zeroes everything after the first NUL again.
 * A whole line that does not continue the chain stops the writer: acknowledged events are never
 * discarded to make room.
 */

import { hash as digest } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { threadId } from 'node:worker_threads';
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

/** Appends move to the other journal once the current one holds this much. */
export const JOURNAL_SWITCH_BYTES = 8 << 20;

/** How long a preallocated journal is: room for a switch's worth of lines and the group after. */
export const JOURNAL_PREALLOC_BYTES = 12 << 20;

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

/**
 * Encodes sealed rows as journal lines.
 *
 * @example
 * journal.append(encodeJournal(sealed.rows), at, true);
 */
export function encodeJournal(rows: readonly EventRow[]): Buffer {
  let text = '';
  for (const r of rows) {
    const columns = JSON.stringify(COLUMN_KEYS.map((k) => r[k]));
    text += `${r.seq}\t${r.hash}\t${r.leaf}\t${columns}\t${r.body}\n`;
  }
  // JSON escapes control characters; a NUL would end the journal's lines early (see above).
  if (text.includes('\0')) throw new Error('a ledger journal line may not contain a NUL byte');
  return Buffer.from(text, 'utf8');
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
 * One open journal file. Its lines run from byte 0 to the first NUL byte (or its end): a journal
 * may be preallocated, filled with zeros ahead of its lines (`prepareSpareJournal`), so that an
 * append overwrites blocks the file already has and its fdatasync flushes data only, with no
 * filesystem metadata commit to wait for (and no waiting behind the folder's writes to the
 * tables). Lines never contain NUL. Appends and truncations happen under the appenders' lock.
 */
export class JournalFile {
  readonly path: string;
  #fd: number;
  #identity: { dev: number; ino: number };
  /** The file's length (lines and zeros) as of the last open, append or cut. */
  #length: number;
  readonly #probe = Buffer.alloc(1);

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    const st = fstatSync(this.#fd);
    this.#identity = { dev: st.dev, ino: st.ino };
    this.#length = st.size;
  }

  /** Its length (lines and zeros) as of the last check, append or cut. */
  get length(): number {
    return this.#length;
  }

  /** Whether the file has zeros ready for at least `bytes` of lines (see `prepareSpareJournal`). */
  preallocated(bytes: number): boolean {
    return this.#length >= bytes;
  }

  /**
   * Checks the file is still the one at its path: writes through a descriptor of a deleted or
   * renamed journal would be lost while reporting success.
   */
  checkIdentity(): void {
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
    this.#length = open.size;
  }

  /**
   * Opens the file at its path again if it is another file now (a writer installed a fresh
   * journal and bumped the epoch); throws if there is none.
   */
  refresh(): void {
    const named = statSync(this.path, { throwIfNoEntry: false });
    if (named === undefined) throw new Error('the ledger journal was moved or deleted while open');
    if (named.dev === this.#identity.dev && named.ino === this.#identity.ino) {
      this.#length = fstatSync(this.#fd).size;
      return;
    }
    this.#reopen();
  }

  /** Whether a line starts at `at` (cheap: one byte read). */
  hasLineAt(at: number): boolean {
    const one = this.#probe;
    return readSync(this.#fd, one, 0, 1, at) === 1 && one[0] !== 0;
  }

  /** The bytes from `from` up to the first NUL byte or the end of the file. */
  contentFrom(from: number): Buffer {
    const chunks: Buffer[] = [];
    let at = from;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = readSync(this.#fd, chunk, 0, CHUNK, at);
      const zero = chunk.subarray(0, n).indexOf(0);
      if (zero !== -1 || n < CHUNK) {
        chunks.push(chunk.subarray(0, zero === -1 ? n : zero));
        return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      }
      chunks.push(chunk);
      at += n;
    }
  }

  /**
   * Writes `bytes` at `at`, where the caller's lines end, and when `durable` flushes the data to
   * disk before returning. On failure the bytes are zeroed again (best effort), so that nothing
   * of a refused batch is folded into the log later.
   */
  append(bytes: Buffer, at: number, durable: boolean): void {
    let done = 0;
    try {
      while (done < bytes.length)
        done += writeSync(this.#fd, bytes, done, bytes.length - done, at + done);
      if (durable) fdatasyncSync(this.#fd);
      if (at + bytes.length > this.#length) this.#length = at + bytes.length;
    } catch (err) {
      try {
        this.cutFrom(at);
      } catch {
        // The write failed already; the next writer to open the journal cuts the tail.
      }
      throw err;
    }
  }

  /**
   * Makes every byte from `at` on zero (the unacknowledged rest of a write cut short, possibly
   * with holes: a crash may persist a later page of a write and not an earlier one) and flushes
   * that. Returns whether anything had to change. Reads the whole tail: writers call it when
   * they open the journal, not per append.
   */
  cutFrom(at: number): boolean {
    const length = fstatSync(this.#fd).size;
    this.#length = length;
    const chunk = Buffer.allocUnsafe(CHUNK);
    let changed = false;
    for (let pos = at; pos < length; pos += CHUNK) {
      const n = readSync(this.#fd, chunk, 0, Math.min(CHUNK, length - pos), pos);
      if (n === 0) break;
      if (isZero(chunk, n)) continue;
      writeSync(this.#fd, zeros(), 0, n, pos);
      changed = true;
    }
    if (changed) fdatasyncSync(this.#fd);
    return changed;
  }

  /**
   * Empties the file, whose lines end at `used`: by moving the preallocated `spare` into its
   * place when there is one; else, if it is preallocated itself (`keepZeros`), by zeroing its
   * lines so that it stays so; else by truncating it.
   */
  empty(used: number, spare: string | undefined, keepZeros: boolean): void {
    if (spare !== undefined && installSpare(spare, this.path)) {
      this.#reopen();
      return;
    }
    if (!keepZeros) {
      ftruncateSync(this.#fd, 0);
      this.#length = 0;
      return;
    }
    for (let pos = 0; pos < used; pos += CHUNK) {
      writeSync(this.#fd, zeros(), 0, Math.min(CHUNK, used - pos), pos);
    }
    fdatasyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }

  #reopen(): void {
    const fd = openSync(this.path, constants.O_RDWR);
    closeSync(this.#fd);
    this.#fd = fd;
    const st = fstatSync(fd);
    this.#identity = { dev: st.dev, ino: st.ino };
    this.#length = st.size;
  }
}

/** Reads and zero-fills go a MiB at a time. */
const CHUNK = 1 << 20;
let zeroChunk: Buffer | undefined;
const zeros = (): Buffer => {
  zeroChunk ??= Buffer.alloc(CHUNK);
  return zeroChunk;
};
const isZero = (b: Buffer, n: number): boolean => zeros().compare(b, 0, n, 0, n) === 0;

/** Where the folder leaves a preallocated journal for the writer to take. */
export function spareJournalPathOf(dbPath: string): string {
  return `${dbPath}-spare`;
}

/**
 * Writes a zero-filled journal of `bytes` at `spareJournalPathOf(dbPath)`, flushed, unless one is
 * there already; returns whether it wrote one. Outside any lock: it is built under a name of its
 * own and renamed into place, and a writer only ever renames a whole one away.
 *
 * @example
 * prepareSpareJournal('/var/lib/airlock/ledger.db', 12 << 20);
 */
export function prepareSpareJournal(dbPath: string, bytes: number): boolean {
  const spare = spareJournalPathOf(dbPath);
  if (existsSync(spare)) return false;
  const temp = `${spare}.${process.pid}.${threadId}`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    for (let pos = 0; pos < bytes; pos += CHUNK) {
      writeSync(fd, zeros(), 0, Math.min(CHUNK, bytes - pos), pos);
    }
    fdatasyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(temp, spare);
  syncDirectoryOf(spare);
  return true;
}

/**
 * Moves a spare journal into `path`'s place, durably (the directory is flushed: appends to the
 * new file must not outlive its name in a crash). False when there is no spare.
 */
function installSpare(spare: string, path: string): boolean {
  try {
    renameSync(spare, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  syncDirectoryOf(path);
  return true;
}

function syncDirectoryOf(path: string): void {
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether either journal of the ledger at `dbPath` holds lines (folded or not): a reader folds
 * before it reads only then.
 */
export function journalsHoldLines(dbPath: string): boolean {
  for (const p of journalPathsOf(dbPath)) {
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch {
      continue;
    }
    try {
      const one = Buffer.alloc(1);
      if (readSync(fd, one, 0, 1, 0) === 1 && one[0] !== 0) return true;
    } finally {
      closeSync(fd);
    }
  }
  return false;
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
