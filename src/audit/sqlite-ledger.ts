/**
 * The embedded audit ledger: an append-only, hash-chained SQLite file at `<dataDir>/ledger.db`.
 * Appends go to a worker thread that group-commits them (see ledger-worker.ts); reads run on the
 * calling thread over a separate read-only connection.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { GatewayError } from '../errors.ts';
import { canonicalJson, chainHash, GENESIS_HASH } from './canonical.ts';
import {
  describeError,
  type FromWorker,
  LEDGER_FILE_NAME,
  LedgerWriter,
  prepareEvent,
  type ToWorker,
  type WireEvent,
  type WorkerInit,
} from './ledger-worker.ts';
import {
  AUDIT_EVENT_TYPES,
  type AuditEvent,
  type AuditEventInput,
  type AuditFilter,
  type AuditLedger,
  type CommandRecord,
} from './types.ts';

/** How long a closing record may wait for a durable append to ride along with. */
const LAZY_FLUSH_MS = 5;

export interface SqliteLedgerOptions {
  /** The ledger lives at `<dataDir>/ledger.db`; the directory is created (mode 0700) if missing. */
  readonly dataDir: string;
  /** `full` (default) fsyncs every commit; `normal` may lose the last commits on power loss. */
  readonly sync?: 'full' | 'normal';
  /** How long a commit waits for another process's write lock. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Appends not acknowledged within this time are rejected and the worker restarted. */
  readonly writeTimeoutMs?: number;
  /** Wait before restarting a failed writer: doubles from `initial` up to `max`. */
  readonly restartBackoffMs?: { readonly initial: number; readonly max: number };
  /** Receives `appendLater` failures. Default: one line on stderr, without the event content. */
  readonly onError?: (err: GatewayError) => void;
  /** Event time for inputs without `time`. Default `Date.now`. */
  readonly clock?: () => number;
  /** Tests only: the first worker dies inside its Nth transaction, before COMMIT. */
  readonly faultInjector?: { readonly crashOnTransaction?: number };
}

export interface LedgerStats {
  /** Transactions the writers acknowledged. */
  readonly transactions: number;
  /** Events the writers acknowledged. */
  readonly events: number;
  /** Batches posted to a writer (one per tick with appends). */
  readonly batches: number;
  /** Writers started, including the first. */
  readonly workerStarts: number;
  /** Writer failures (open errors, failed transactions, crashes, timeouts). */
  readonly failures: number;
}

export type ChainVerification =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly seq: number; readonly reason: string };

const UNAVAILABLE = 'audit ledger unavailable: statement not executed';
const KNOWN_TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

interface Waiter {
  readonly resolve: (seq: number) => void;
  readonly reject: (err: GatewayError) => void;
}

interface InFlight {
  readonly waiters: readonly Waiter[];
  readonly sentAt: number;
}

interface WriterHandle {
  readonly worker: Worker;
  readonly inflight: Map<number, InFlight>;
  readonly exited: Promise<void>;
  timer: NodeJS.Timeout | undefined;
  dead: boolean;
  closing: boolean;
}

interface EventRow {
  seq: number;
  ts: string;
  time_ms: number;
  type: string;
  session_id: string | null;
  connection: string | null;
  identity: string | null;
  owner: string | null;
  command_id: string | null;
  body: string;
  prev_hash: string;
  hash: string;
}

/** The canonical body stored per event: the event without its chain hashes, plus a version. */
type StoredBody = Omit<AuditEvent, 'prevHash' | 'hash'> & { readonly v: number };

function unavailable(cause: unknown): GatewayError {
  return new GatewayError('GW_AUDIT_UNAVAILABLE', UNAVAILABLE, { cause });
}

/**
 * Workers inherit the parent's execArgv, and an inherited `--input-type` (as in
 * `node --input-type=module -e ...`) makes a worker started from a file fail. An explicit list is
 * not a fix: it is validated against worker-safe flags, and under `node --test` the inherited
 * flags include some that `new Worker` then refuses. So start that worker with no flags at all.
 */
function workerExecArgv(): { execArgv?: string[] } {
  return process.execArgv.some((a) => a.startsWith('--input-type')) ? { execArgv: [] } : {};
}

function defaultOnError(err: GatewayError): void {
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  process.stderr.write(`airlock: audit appendLater failed (${err.code})${cause}\n`);
}

/**
 * The audit ledger on embedded SQLite. `append` resolves with the event's seq once its group
 * commit has returned; when the store cannot write, every pending and later append rejects with
 * `GW_AUDIT_UNAVAILABLE` until a restarted writer succeeds.
 *
 * @example
 * await using ledger = new SqliteLedger({ dataDir: '.airlock' });
 * const seq = await ledger.append({ type: 'command.requested', sessionId: 's-1', commandId: 'c-1' });
 * const recent = await ledger.commands({ connection: 'prod', limit: 20 });
 */
export class SqliteLedger implements AuditLedger {
  readonly #path: string;
  readonly #init: Omit<WorkerInit, 'crashOnTransaction'>;
  readonly #writeTimeoutMs: number;
  readonly #backoff: { readonly initial: number; readonly max: number };
  readonly #onError: (err: GatewayError) => void;
  readonly #clock: () => number;
  #crashOnTransaction: number | undefined;
  #queue: WireEvent[] = [];
  #waiters: Waiter[] = [];
  #flushScheduled = false;
  #lazyTimer: ReturnType<typeof setTimeout> | undefined;
  #writer: WriterHandle | undefined;
  #lastFailure: unknown;
  #retryAt = 0;
  #nextBackoff: number;
  #failing = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #nextBatchId = 1;
  #stats = { transactions: 0, events: 0, batches: 0, workerStarts: 0, failures: 0 };
  readonly #reader: LedgerReader;

  constructor(options: SqliteLedgerOptions) {
    this.#path = join(options.dataDir, LEDGER_FILE_NAME);
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.#init = {
      airlockLedgerWorker: true,
      path: this.#path,
      options: { sync: options.sync ?? 'full', busyTimeoutMs },
    };
    this.#writeTimeoutMs = options.writeTimeoutMs ?? busyTimeoutMs + 10_000;
    this.#backoff = options.restartBackoffMs ?? { initial: 100, max: 5000 };
    this.#nextBackoff = this.#backoff.initial;
    this.#onError = options.onError ?? defaultOnError;
    this.#clock = options.clock ?? Date.now;
    this.#crashOnTransaction = options.faultInjector?.crashOnTransaction;
    this.#reader = new LedgerReader(this.#path, busyTimeoutMs);
  }

  /** Path of the ledger file. */
  get path(): string {
    return this.#path;
  }

  /**
   * Resolves with the event's seq once the transaction holding it has committed; rejects with
   * `GW_AUDIT_UNAVAILABLE` otherwise. The event is handed to the writer at the end of the current
   * tick, so do not mutate it (or its `data`) after the call.
   */
  append(event: AuditEventInput): Promise<number> {
    const promise = this.#enqueue(event);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return promise;
  }

  /**
   * Closing records ride along with the next durable append (group commit), or are flushed after
   * `LAZY_FLUSH_MS` when nothing else comes, so a steady client costs one commit per statement.
   */
  appendLater(event: AuditEventInput): void {
    this.#enqueue(event).catch((err: unknown) => {
      this.#onError(err instanceof GatewayError ? err : unavailable(err));
    });
    if (this.#lazyTimer === undefined && this.#queue.length > 0) {
      this.#lazyTimer = setTimeout(() => {
        this.#lazyTimer = undefined;
        if (!this.#flushScheduled) this.#flush();
      }, LAZY_FLUSH_MS);
      this.#lazyTimer.unref();
    }
  }

  /** Checks and queues one event; the promise settles when its batch commits or fails. */
  #enqueue(event: AuditEventInput): Promise<number> {
    if (this.#closed) return Promise.reject(unavailable(new Error('the ledger is closed')));
    if (!KNOWN_TYPES.has(event.type)) {
      return Promise.reject(unavailable(new TypeError('unknown audit event type')));
    }
    if (this.#failing && performance.now() < this.#retryAt) {
      return Promise.reject(unavailable(this.#lastFailure));
    }
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    this.#queue.push(
      event.time === undefined ? { ...event, time: this.#clock() } : (event as WireEvent),
    );
    this.#waiters.push({ resolve, reject });
    return promise;
  }

  /** Resolves once nothing is queued or in flight (bounded by the write timeout). */
  async #drain(): Promise<void> {
    const deadline = performance.now() + this.#writeTimeoutMs;
    for (;;) {
      if (this.#queue.length > 0 && !this.#flushScheduled) this.#flush();
      const w = this.#writer;
      const busy = this.#queue.length > 0 || (w !== undefined && !w.dead && w.inflight.size > 0);
      if (!busy || performance.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** False while the writer is known to be failing (appends are being refused). */
  healthy(): boolean {
    return !this.#closed && !this.#failing;
  }

  stats(): LedgerStats {
    return { ...this.#stats };
  }

  /** Matching events in seq order; with `limit`, the last `limit` of them. */
  async query(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.#reader.query(filter);
  }

  /** `command.requested` events joined with their `command.completed` payload, newest last. */
  async commands(filter: AuditFilter): Promise<CommandRecord[]> {
    return this.#reader.commands(filter);
  }

  /** Waits for pending appends, stops the writer, and closes the read connection. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    clearTimeout(this.#lazyTimer);
    await this.#drain();
    this.#closed = true;
    const handle = this.#writer;
    if (handle !== undefined && !handle.dead) {
      handle.closing = true;
      handle.worker.ref();
      handle.worker.postMessage({ t: 'close' } satisfies ToWorker);
      const timer = setTimeout(
        () => this.#fail(handle, new Error('close timed out')),
        this.#writeTimeoutMs,
      );
      await handle.exited;
      clearTimeout(timer);
    }
    this.#reader.close();
  }

  #flush(): void {
    this.#flushScheduled = false;
    clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    if (this.#queue.length === 0) return;
    // Group commit: while a batch is being committed, newer events wait and go out together
    // when it is acknowledged, so the batch size grows with the load.
    const current = this.#writer;
    if (current !== undefined && !current.dead && current.inflight.size > 0) return;
    const events = this.#queue;
    const waiters = this.#waiters;
    this.#queue = [];
    this.#waiters = [];
    const handle = this.#ensureWriter();
    if (handle === undefined) {
      for (const w of waiters) w.reject(unavailable(this.#lastFailure));
      return;
    }
    this.#post(handle, events, waiters);
  }

  #post(handle: WriterHandle, events: WireEvent[], waiters: Waiter[]): void {
    const id = this.#nextBatchId++;
    try {
      handle.worker.postMessage({ t: 'batch', id, events } satisfies ToWorker);
    } catch (err) {
      this.#postCloneable(handle, events, waiters, err);
      return;
    }
    this.#stats.batches++;
    if (handle.inflight.size === 0) handle.worker.ref();
    handle.inflight.set(id, { waiters, sentAt: performance.now() });
    this.#armTimer(handle);
  }

  /** A value that cannot cross to the worker fails only its own event, not the whole tick. */
  #postCloneable(handle: WriterHandle, events: WireEvent[], waiters: Waiter[], err: unknown): void {
    const keep: WireEvent[] = [];
    const keepWaiters: Waiter[] = [];
    events.forEach((e, i) => {
      const w = waiters[i]!;
      try {
        structuredClone(e);
        keep.push(e);
        keepWaiters.push(w);
      } catch {
        w.reject(unavailable(new TypeError('audit event is not serialisable', { cause: err })));
      }
    });
    if (keep.length > 0 && keep.length < events.length) this.#post(handle, keep, keepWaiters);
    else for (const w of keepWaiters) w.reject(unavailable(err));
  }

  #ensureWriter(): WriterHandle | undefined {
    if (this.#writer !== undefined) return this.#writer;
    if (this.#closed || (this.#failing && performance.now() < this.#retryAt)) return undefined;
    try {
      this.#writer = this.#spawn();
    } catch (err) {
      // `new Worker` throws synchronously for bad execArgv, resource limits or a missing file.
      this.#recordFailure(err);
    }
    return this.#writer;
  }

  #spawn(): WriterHandle {
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    const init: WorkerInit =
      this.#crashOnTransaction === undefined
        ? this.#init
        : { ...this.#init, crashOnTransaction: this.#crashOnTransaction };
    this.#crashOnTransaction = undefined;
    const worker = new Worker(new URL(`./ledger-worker.${ext}`, import.meta.url), {
      workerData: init,
      ...workerExecArgv(),
    });
    const { promise: exited, resolve } = Promise.withResolvers<void>();
    const handle: WriterHandle = {
      worker,
      inflight: new Map(),
      exited,
      timer: undefined,
      dead: false,
      closing: false,
    };
    worker.on('message', (m: FromWorker) => this.#onMessage(handle, m));
    worker.on('error', (err) => this.#fail(handle, err));
    worker.on('exit', (code) => {
      this.#fail(handle, new Error(`the ledger writer exited with code ${code}`));
      resolve();
    });
    worker.unref();
    this.#stats.workerStarts++;
    return handle;
  }

  #onMessage(handle: WriterHandle, m: FromWorker): void {
    if (m.t === 'failed') {
      this.#fail(handle, new Error(m.reason));
      return;
    }
    if (m.events > 0) this.#stats.transactions++;
    this.#stats.events += m.events;
    this.#failing = false;
    this.#nextBackoff = this.#backoff.initial;
    for (const r of m.results) {
      const batch = handle.inflight.get(r.id);
      handle.inflight.delete(r.id);
      batch?.waiters.forEach((w, i) => {
        const s = r.seqs[i];
        if (typeof s === 'number') w.resolve(s);
        else w.reject(unavailable(new Error(s ?? 'no result for the event')));
      });
    }
    if (handle.inflight.size === 0) this.#idle(handle);
    if (this.#queue.length > 0 && !this.#flushScheduled) this.#flush();
  }

  #idle(handle: WriterHandle): void {
    clearTimeout(handle.timer);
    handle.timer = undefined;
    if (!handle.closing) handle.worker.unref();
  }

  /** Rejects everything the writer holds; the next append after the backoff starts a new one. */
  #fail(handle: WriterHandle, cause: unknown): void {
    if (!handle.dead) {
      handle.dead = true;
      if (this.#writer === handle) this.#writer = undefined;
      if (!handle.closing || handle.inflight.size > 0) this.#recordFailure(cause);
      handle.worker.terminate().catch(() => undefined);
    }
    const err = unavailable(cause);
    for (const batch of handle.inflight.values()) for (const w of batch.waiters) w.reject(err);
    handle.inflight.clear();
    this.#idle(handle);
  }

  #recordFailure(cause: unknown): void {
    this.#stats.failures++;
    this.#lastFailure = cause;
    this.#failing = true;
    this.#retryAt = performance.now() + this.#nextBackoff;
    this.#nextBackoff = Math.min(this.#nextBackoff * 2, this.#backoff.max);
  }

  #armTimer(handle: WriterHandle): void {
    if (handle.timer !== undefined) return;
    const oldest = handle.inflight.values().next().value;
    if (oldest === undefined) return;
    const wait = Math.max(0, oldest.sentAt + this.#writeTimeoutMs - performance.now());
    handle.timer = setTimeout(() => {
      handle.timer = undefined;
      const first = handle.inflight.values().next().value;
      if (first !== undefined && performance.now() - first.sentAt >= this.#writeTimeoutMs) {
        this.#fail(handle, new Error('the ledger writer did not acknowledge in time'));
      } else {
        this.#armTimer(handle);
      }
    }, wait);
    handle.timer.unref();
  }
}

/** Read-only queries over a lazily opened connection of their own. */
class LedgerReader {
  readonly #path: string;
  readonly #timeoutMs: number;
  #db: DatabaseSync | undefined;
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string, timeoutMs: number) {
    this.#path = path;
    this.#timeoutMs = timeoutMs;
  }

  query(filter: AuditFilter): AuditEvent[] {
    const { where, params } = whereClause(filter, '');
    const rows = this.#select('SELECT * FROM events', where, filter.limit, params);
    return rows.map((r) => toAuditEvent(r as unknown as EventRow));
  }

  commands(filter: AuditFilter): CommandRecord[] {
    const { where, params } = whereClause({ ...filter, types: ['command.requested'] }, 'r.');
    where.push('r.command_id IS NOT NULL');
    const sql = `SELECT r.*, (SELECT c.body FROM events c WHERE c.command_id = r.command_id
      AND c.type = 'command.completed' ORDER BY c.seq LIMIT 1) AS outcome FROM events r`;
    const rows = this.#select(sql, where, filter.limit, params);
    return rows.map((r) => toCommandRecord(r as unknown as EventRow & { outcome: string | null }));
  }

  close(): void {
    this.#statements.clear();
    this.#db?.close();
    this.#db = undefined;
  }

  #select(
    base: string,
    where: string[],
    limit: number | undefined,
    params: SQLInputValue[],
  ): Record<string, unknown>[] {
    const clause = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
    if (limit === undefined || !Number.isFinite(limit)) {
      return this.#run(`${base}${clause} ORDER BY seq`, params);
    }
    const n = Math.max(0, Math.floor(limit));
    return this.#run(`${base}${clause} ORDER BY seq DESC LIMIT ?`, [...params, n]).reverse();
  }

  #run(sql: string, params: SQLInputValue[]): Record<string, unknown>[] {
    try {
      const db = this.#open();
      if (db === undefined) return [];
      let stmt = this.#statements.get(sql);
      if (stmt === undefined) {
        stmt = db.prepare(sql);
        this.#statements.set(sql, stmt);
      }
      return stmt.all(...params);
    } catch (err) {
      this.close();
      throw new GatewayError('GW_AUDIT_UNAVAILABLE', 'audit ledger unavailable', { cause: err });
    }
  }

  /** Undefined until a writer has created the ledger and its schema. */
  #open(): DatabaseSync | undefined {
    if (this.#db !== undefined) return this.#db;
    if (!existsSync(this.#path)) return undefined;
    const db = new DatabaseSync(this.#path, { readOnly: true, timeout: this.#timeoutMs });
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'events'").get();
    if (hasTable === undefined) {
      db.close();
      return undefined;
    }
    this.#db = db;
    return db;
  }
}

function whereClause(f: AuditFilter, alias: string): { where: string[]; params: SQLInputValue[] } {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  const add = (sql: string, ...values: SQLInputValue[]): void => {
    where.push(sql);
    params.push(...values);
  };
  if (f.connection !== undefined) add(`${alias}connection = ?`, f.connection);
  if (f.identity !== undefined)
    add(`(${alias}identity = ? OR ${alias}owner = ?)`, f.identity, f.identity);
  if (f.sessionId !== undefined) add(`${alias}session_id = ?`, f.sessionId);
  if (f.types !== undefined && f.types.length > 0) {
    add(`${alias}type IN (${f.types.map(() => '?').join(', ')})`, ...f.types);
  }
  if (f.since !== undefined) add(`${alias}time_ms >= ?`, f.since);
  if (f.until !== undefined) add(`${alias}time_ms < ?`, f.until);
  return { where, params };
}

function toAuditEvent(row: EventRow): AuditEvent {
  const b = JSON.parse(row.body) as StoredBody;
  return {
    seq: row.seq,
    ts: b.ts,
    type: b.type,
    sessionId: b.sessionId,
    connection: b.connection,
    actor: b.actor,
    clientAddr: b.clientAddr,
    commandId: b.commandId,
    data: b.data,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toCommandRecord(row: EventRow & { outcome: string | null }): CommandRecord {
  const b = JSON.parse(row.body) as StoredBody;
  const outcome = row.outcome === null ? null : (JSON.parse(row.outcome) as StoredBody).data;
  return {
    commandId: row.command_id ?? '',
    seq: row.seq,
    ts: b.ts,
    sessionId: b.sessionId,
    connection: b.connection,
    actor: b.actor,
    clientAddr: b.clientAddr,
    request: b.data,
    outcome,
  };
}

/**
 * Appends events from a short-lived process (the CLI) on the calling thread, in one transaction.
 * All or nothing: an invalid event or a store failure throws `GW_AUDIT_UNAVAILABLE`.
 *
 * @example
 * const [seq] = appendSync('.airlock/ledger.db', [{ type: 'token.created', data: { tokenId } }]);
 */
export function appendSync(
  dbPath: string,
  events: readonly AuditEventInput[],
  options: { readonly sync?: 'full' | 'normal'; readonly busyTimeoutMs?: number } = {},
): number[] {
  let writer: LedgerWriter | undefined;
  try {
    const now = Date.now();
    const prepared = events.map((e) => prepareEvent({ ...e, time: e.time ?? now }));
    writer = new LedgerWriter(dbPath, {
      sync: options.sync ?? 'full',
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    });
    return writer.write(prepared);
  } catch (err) {
    throw unavailable(new Error(describeError(err)));
  } finally {
    writer?.close();
  }
}

/**
 * Recomputes the hash chain of a ledger file: seqs contiguous from 1, each `prev_hash` equal to
 * the previous `hash`, each body canonical and hashing to its `hash`, and the indexed columns
 * agreeing with the body. Truncation of the newest events is not detectable here (that needs the
 * signed checkpoints a later issue adds).
 *
 * @example
 * const r = verifyChain('.airlock/ledger.db');
 * if (!r.ok) console.error(`chain broken at seq ${r.seq}: ${r.reason}`);
 */
export function verifyChain(dbPath: string): ChainVerification {
  if (!existsSync(dbPath)) return { ok: false, seq: 0, reason: 'ledger file not found' };
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    let rows: Iterable<unknown>;
    try {
      rows = db.prepare('SELECT * FROM events ORDER BY seq').iterate();
    } catch (err) {
      return { ok: false, seq: 0, reason: `not a ledger: ${describeError(err)}` };
    }
    let prev = GENESIS_HASH;
    let count = 0;
    for (const raw of rows) {
      const row = raw as unknown as EventRow;
      const reason = checkRow(row, count + 1, prev);
      if (reason !== undefined) return { ok: false, seq: row.seq, reason };
      prev = row.hash;
      count++;
    }
    return { ok: true, count };
  } finally {
    db.close();
  }
}

function checkRow(row: EventRow, expectedSeq: number, prev: string): string | undefined {
  if (row.seq !== expectedSeq) return `sequence gap: expected seq ${expectedSeq}`;
  if (row.prev_hash !== prev) return "prev_hash does not match the previous event's hash";
  let body: StoredBody;
  try {
    body = JSON.parse(row.body) as StoredBody;
    if (canonicalJson(body) !== row.body) return 'body is not canonical JSON';
  } catch {
    return 'body is not valid JSON';
  }
  if (chainHash(row.prev_hash, row.body) !== row.hash) return 'hash does not match the body';
  if (body.v !== 1 || body.seq !== row.seq) return 'body version or seq does not match the row';
  return checkColumns(row, body);
}

function checkColumns(row: EventRow, b: StoredBody): string | undefined {
  const expected: Record<string, unknown> = {
    ts: b.ts,
    time_ms: Date.parse(b.ts),
    type: b.type,
    session_id: b.sessionId,
    connection: b.connection,
    identity: b.actor?.identity ?? null,
    owner: b.actor?.owner ?? null,
    command_id: b.commandId,
  };
  for (const [column, value] of Object.entries(expected)) {
    if ((row as unknown as Record<string, unknown>)[column] !== value) {
      return `column ${column} does not match the body`;
    }
  }
  return undefined;
}
