/**
 * The ledger's writer: one SQLite connection that appends events to the hash chain in group
 * commits. It runs in a worker thread (see `SqliteLedger`) so that `fsync` never blocks the
 * gateway's event loop, and on the main thread for short-lived CLI processes (`appendSync`).
 *
 * Several processes may append to the same file (the gateway and `airlock token create`), so each
 * transaction takes the write lock first (`BEGIN IMMEDIATE`) and only then reads the tail of the
 * chain; no tail is cached across transactions.
 */

import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';
import { canonicalJson, chainHash, GENESIS_HASH } from './canonical.ts';
import { AUDIT_EVENT_TYPES, type AuditEventInput } from './types.ts';

export const LEDGER_SCHEMA_VERSION = 1;
export const LEDGER_FILE_NAME = 'ledger.db';

/** An event as the main thread hands it over: `time` is always filled in. */
export type WireEvent = AuditEventInput & { readonly time: number };

export interface WriterOptions {
  readonly sync: 'full' | 'normal';
  readonly busyTimeoutMs: number;
  /** Test hook, called inside each transaction just before COMMIT with its 1-based number. */
  readonly beforeCommit?: (transaction: number) => void;
}

/** Main thread to worker. */
export type ToWorker =
  | { readonly t: 'batch'; readonly id: number; readonly events: readonly WireEvent[] }
  | { readonly t: 'close' };

/** One batch's outcome: a seq per event, or the reason the event was refused (never its content). */
export interface BatchResult {
  readonly id: number;
  readonly seqs: readonly (number | string)[];
}

/** Worker to main thread. `failed` is the worker's last message: it closes and exits after it. */
export type FromWorker =
  | { readonly t: 'ack'; readonly results: readonly BatchResult[]; readonly events: number }
  | { readonly t: 'failed'; readonly reason: string };

export interface WorkerInit {
  readonly airlockLedgerWorker: true;
  readonly path: string;
  readonly options: Omit<WriterOptions, 'beforeCommit'>;
  /** Fault injection for tests: the worker dies inside this transaction, before COMMIT. */
  readonly crashOnTransaction?: number;
}

/** An event validated and serialised outside the write lock; only `seq` is missing. */
export interface PreparedEvent {
  readonly ts: string;
  readonly time: number;
  readonly type: string;
  readonly sessionId: string | null;
  readonly connection: string | null;
  readonly identity: string | null;
  readonly owner: string | null;
  readonly commandId: string | null;
  /** The canonical body up to `"seq":`, and what follows the number. */
  readonly head: string;
  readonly tail: string;
}

const TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, time_ms INTEGER NOT NULL, type TEXT NOT NULL,
  session_id TEXT, connection TEXT, identity TEXT, owner TEXT, command_id TEXT,
  body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_time_ms ON events(time_ms);
CREATE INDEX IF NOT EXISTS events_session_id ON events(session_id);
CREATE INDEX IF NOT EXISTS events_command_id ON events(command_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
INSERT INTO meta(key, value) VALUES ('schema_version', '${LEDGER_SCHEMA_VERSION}')
  ON CONFLICT(key) DO NOTHING;
`;

const INSERT = `INSERT INTO events(seq, ts, time_ms, type, session_id, connection, identity, owner,
  command_id, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/**
 * Validates an event and serialises everything but its seq, so that the work done while holding
 * the write lock is string concatenation and one SHA-256. Throws a TypeError naming the problem,
 * never the event's content.
 *
 * @example
 * const p = prepareEvent({ type: 'session.started', time: Date.now(), sessionId: 's-1' });
 */
export function prepareEvent(e: WireEvent): PreparedEvent {
  if (typeof e !== 'object' || e === null) throw new TypeError('event is not an object');
  if (!TYPES.has(e.type)) throw new TypeError('unknown audit event type');
  if (!Number.isSafeInteger(e.time)) throw new TypeError('event time is not an integer');
  const ts = new Date(e.time).toISOString();
  const identity = actorField(e.actor, 'identity');
  const owner = actorField(e.actor, 'owner');
  const sessionId = optionalString(e.sessionId, 'sessionId');
  const connection = optionalString(e.connection, 'connection');
  const clientAddr = optionalString(e.clientAddr, 'clientAddr');
  const commandId = optionalString(e.commandId, 'commandId');
  const data = e.data ?? {};
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new TypeError('event data is not an object');
  }
  // Keys in canonical (sorted) order; canonical.test.ts checks this equals canonicalJson(body).
  const head =
    `{"actor":${e.actor === undefined ? 'null' : canonicalJson(e.actor)}` +
    `,"clientAddr":${canonicalJson(clientAddr)},"commandId":${canonicalJson(commandId)}` +
    `,"connection":${canonicalJson(connection)},"data":${canonicalJson(data)},"seq":`;
  const tail = `,"sessionId":${canonicalJson(sessionId)},"ts":"${ts}","type":${JSON.stringify(e.type)},"v":1}`;
  return {
    ts,
    time: e.time,
    type: e.type,
    sessionId,
    connection,
    identity,
    owner,
    commandId,
    head,
    tail,
  };
}

function optionalString(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new TypeError(`event ${name} is not a string`);
  return v;
}

function actorField(actor: unknown, field: 'identity' | 'owner'): string | null {
  if (actor === undefined || actor === null) return null;
  if (typeof actor !== 'object') throw new TypeError('event actor is not an object');
  const v = (actor as Record<string, unknown>)[field];
  if (field === 'identity' && typeof v !== 'string') {
    throw new TypeError('event actor has no identity');
  }
  return optionalString(v, `actor.${field}`);
}

/**
 * One writing connection to `<dataDir>/ledger.db`. Opening creates the directory, switches to WAL,
 * and creates the schema.
 *
 * @example
 * const w = new LedgerWriter('/var/lib/airlock/ledger.db', { sync: 'full', busyTimeoutMs: 5000 });
 * const [seq] = w.write([prepareEvent({ type: 'token.created', time: Date.now() })]);
 * w.close();
 */
export class LedgerWriter {
  readonly #path: string;
  readonly #db: DatabaseSync;
  readonly #file: { dev: bigint; ino: bigint };
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #lastRow: StatementSync;
  readonly #insert: StatementSync;
  readonly #beforeCommit: ((transaction: number) => void) | undefined;
  #transactions = 0;

  constructor(path: string, options: WriterOptions) {
    this.#path = path;
    this.#beforeCommit = options.beforeCommit;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(path, { timeout: options.busyTimeoutMs });
    try {
      restrictMode(path);
      this.#db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
      const mode = this.#db.prepare('PRAGMA journal_mode = WAL').get();
      if (mode?.journal_mode !== 'wal') throw new Error('the ledger could not switch to WAL mode');
      this.#db.exec(`PRAGMA synchronous = ${options.sync === 'normal' ? 'NORMAL' : 'FULL'}`);
      // Fewer, larger checkpoints: the WAL is the hot write path (one append per group commit).
      this.#db.exec('PRAGMA wal_autocheckpoint = 1000; PRAGMA cache_size = -32768');
      this.#createSchema();
      this.#file = fileIdentity(path);
      this.#begin = this.#db.prepare('BEGIN IMMEDIATE');
      this.#commit = this.#db.prepare('COMMIT');
      this.#lastRow = this.#db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1');
      this.#insert = this.#db.prepare(INSERT);
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  /** Transactions committed by this writer. */
  get transactions(): number {
    return this.#transactions;
  }

  /** Appends the events in one transaction and returns their seqs, in order. */
  write(events: readonly PreparedEvent[]): number[] {
    if (events.length === 0) return [];
    this.#begin.run();
    try {
      const seqs = this.#appendRows(events);
      this.#beforeCommit?.(this.#transactions + 1);
      this.#commit.run();
      this.#transactions++;
      return seqs;
    } catch (err) {
      this.#rollback();
      throw err;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #appendRows(events: readonly PreparedEvent[]): number[] {
    this.#checkFileUnmoved();
    const last = this.#lastRow.get() as { seq: number; hash: string } | undefined;
    let seq = last?.seq ?? 0;
    let prev = last?.hash ?? GENESIS_HASH;
    const seqs: number[] = [];
    for (const e of events) {
      seq++;
      const body = e.head + seq + e.tail;
      const hash = chainHash(prev, body);
      this.#insert.run(
        seq,
        e.ts,
        e.time,
        e.type,
        e.sessionId,
        e.connection,
        e.identity,
        e.owner,
        e.commandId,
        body,
        prev,
        hash,
      );
      seqs.push(seq);
      prev = hash;
    }
    return seqs;
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

  #createSchema(): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db.exec(SCHEMA);
      const row = this.#db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
      if (row?.value !== String(LEDGER_SCHEMA_VERSION)) {
        throw new Error(`unsupported ledger schema version ${String(row?.value)}`);
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#rollback();
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

function fileIdentity(path: string): { dev: bigint; ino: bigint } {
  const st = statSync(path, { bigint: true });
  return { dev: st.dev, ino: st.ino };
}

/** A one-line reason for the main thread: SQLite's code and text, never event content. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const sqlite = err as Error & { errcode?: number; errstr?: string };
    return sqlite.errcode === undefined
      ? err.message
      : `sqlite error ${sqlite.errcode} (${sqlite.errstr ?? 'unknown'}): ${err.message}`;
  }
  return String(err);
}

/** Prepares each event, writes the valid ones in one transaction, and reports per batch. */
function writeBatches(writer: LedgerWriter, batches: readonly ToWorkerBatch[]): FromWorker {
  const prepared: PreparedEvent[] = [];
  const slots = batches.map((b) =>
    b.events.map((e): number | string => {
      try {
        prepared.push(prepareEvent(e));
        return prepared.length - 1;
      } catch (err) {
        return `invalid audit event: ${describeError(err)}`;
      }
    }),
  );
  const seqs = writer.write(prepared);
  const results = batches.map((b, i) => ({
    id: b.id,
    seqs: (slots[i] ?? []).map((s) => (typeof s === 'number' ? (seqs[s] ?? 'lost') : s)),
  }));
  return { t: 'ack', results, events: seqs.length };
}

type ToWorkerBatch = Extract<ToWorker, { t: 'batch' }>;

/**
 * The worker loop. Batches that arrive while a transaction is committing wait in the port's queue;
 * the next flush drains them all and writes them in one transaction (group commit).
 */
function runWorker(init: WorkerInit, port: MessagePort): void {
  const writer = openWriter(init, port);
  if (writer === undefined) return;
  const queue: ToWorkerBatch[] = [];
  let closing = false;
  let scheduled = false;
  const receive = (m: ToWorker): void => {
    if (m.t === 'batch') queue.push(m);
    else closing = true;
  };
  const flush = (): void => {
    scheduled = false;
    for (let r = receiveMessageOnPort(port); r; r = receiveMessageOnPort(port)) {
      receive(r.message as ToWorker);
    }
    try {
      if (queue.length > 0) port.postMessage(writeBatches(writer, queue.splice(0)));
    } catch (err) {
      port.postMessage({ t: 'failed', reason: describeError(err) } satisfies FromWorker);
      closing = true;
    }
    if (closing) {
      writer.close();
      port.close();
    }
  };
  port.on('message', (m: ToWorker) => {
    receive(m);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}

function openWriter(init: WorkerInit, port: MessagePort): LedgerWriter | undefined {
  const beforeCommit = (n: number): void => {
    if (n === init.crashOnTransaction) process.exit(70);
  };
  try {
    return new LedgerWriter(init.path, { ...init.options, beforeCommit });
  } catch (err) {
    port.postMessage({ t: 'failed', reason: describeError(err) } satisfies FromWorker);
    port.close();
    return undefined;
  }
}

const init = workerData as Partial<WorkerInit> | null;
if (parentPort !== null && init?.airlockLedgerWorker === true) {
  runWorker(init as WorkerInit, parentPort);
}
