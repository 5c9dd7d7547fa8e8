/**
 * The embedded store's durable record: an append-only journal beside the SQLite file
 * (`ledger.db-log`). A group commit appends its sealed events as lines and fdatasyncs the file
 * once; the events are copied into SQLite's tables (the index every reader queries) later, in bulk
 * (`SqliteStoreWriter.fold`). An append therefore costs one write and one flush, not a B-tree
 * transaction with a WAL frame per page it touched.
 *
 * A line is `<seq>\t<hash>\t<body>\n`: the body is the canonical JSON the chain hashes, so every
 * line proves itself against the line before it (the leaf hash is recomputed from the body). Lines
 * are only ever appended, under SQLite's write lock; a line cut short by a crash can only be the
 * last one, and is dropped (it was never acknowledged). Anything else that does not continue the
 * chain stops the writer: acknowledged events are never discarded to make room.
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
import { chainLink, columnsOfBody, type EventRow, type StoredBody } from './event-codec.ts';
import type { MerkleFrontier } from './merkle.ts';

/** The journal of the ledger at `dbPath`. */
export function journalPathOf(dbPath: string): string {
  return `${dbPath}-log`;
}

const NEWLINE = 0x0a;

/** The chain state a journal's lines continue from. */
export interface ChainPoint {
  readonly size: number;
  readonly lastHash: string;
}

/** What {@link parseJournal} found after `from`. */
export interface ParsedJournal {
  /** Rows with seq above `storedSize`, in order, each continuing the chain. */
  readonly rows: EventRow[];
  /** The chain after the last row (or `from` when there are none). */
  readonly last: ChainPoint;
  /** Bytes of whole, valid lines; anything after them is a torn last line. */
  readonly validBytes: number;
}

/**
 * Encodes sealed rows as journal lines.
 *
 * @example
 * journal.append(encodeJournal(sealed.rows), true);
 */
export function encodeJournal(rows: readonly EventRow[]): Buffer {
  let text = '';
  for (const r of rows) text += `${r.seq}\t${r.hash}\t${r.body}\n`;
  return Buffer.from(text, 'utf8');
}

/**
 * Reads the lines in `bytes` that continue the chain at `from`, skipping those already stored
 * (seq at or below `storedSize`), and pushes each new row's leaf onto `frontier`. A malformed or
 * non-continuing line throws unless it is the last line without its newline or the last line of
 * all (a torn write): then `validBytes` stops before it.
 */
export function parseJournal(
  bytes: Buffer,
  from: ChainPoint,
  storedSize: number,
  frontier: MerkleFrontier,
): ParsedJournal {
  const rows: EventRow[] = [];
  let last = from;
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf(NEWLINE, at);
    if (end === -1) break; // torn: no newline yet
    const line = bytes.toString('utf8', at, end);
    const tab1 = line.indexOf('\t');
    const tab2 = line.indexOf('\t', tab1 + 1);
    const seq = Number(line.slice(0, tab1));
    if (tab1 > 0 && tab2 > tab1 && Number.isSafeInteger(seq) && seq <= storedSize) {
      at = end + 1; // already in the tables (a fold whose truncation did not happen yet)
      continue;
    }
    const row = tab2 > tab1 && tab1 > 0 ? rowOfLine(line, tab1, tab2, seq, last) : undefined;
    if (row === undefined) {
      if (end + 1 === bytes.length) break; // torn: the last line, never acknowledged
      throw new Error(`the ledger journal is damaged at byte ${at}: it does not continue the log`);
    }
    rows.push(row);
    frontier.pushHex(row.leaf);
    last = { size: row.seq, lastHash: row.hash };
    at = end + 1;
  }
  return { rows, last, validBytes: at };
}

function rowOfLine(
  line: string,
  tab1: number,
  tab2: number,
  seq: number,
  prev: ChainPoint,
): EventRow | undefined {
  if (seq !== prev.size + 1) return undefined;
  const hash = line.slice(tab1 + 1, tab2);
  const body = line.slice(tab2 + 1);
  const leaf = digest('sha256', `\0${body}`, 'hex');
  if (chainLink(prev.lastHash, leaf) !== hash) return undefined;
  let parsed: StoredBody;
  try {
    parsed = JSON.parse(body) as StoredBody;
  } catch {
    return undefined;
  }
  if (parsed?.seq !== seq) return undefined;
  return { ...columnsOfBody(parsed), seq, body, leaf, prevHash: prev.lastHash, hash };
}

/**
 * The open journal file. Every method is called with SQLite's write lock held, so one process at
 * a time appends, truncates or decides what the file holds.
 *
 * @example
 * const journal = new JournalFile(journalPathOf(dbPath));
 * journal.append(encodeJournal(rows), true);
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
    const out = Buffer.allocUnsafe(to - from);
    let got = 0;
    while (got < out.length) {
      const n = readSync(this.#fd, out, got, out.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return got === out.length ? out : out.subarray(0, got);
  }

  /**
   * Appends at `at` (the size the caller saw under the lock) and, when `durable`, flushes the data
   * to disk before returning. On failure the file is cut back to `at`, so that nothing of a refused
   * batch can be folded into the log later.
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
