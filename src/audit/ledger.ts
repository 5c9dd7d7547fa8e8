/**
 * The audit ledger as the gateway uses it, over any store: group commit (one batch in flight, the
 * next one grows while it commits), fail-closed appends, signed checkpoints on an interval and at
 * shutdown, retention, and a record of every outage once the store is back.
 */

import { performance } from 'node:perf_hooks';
import { GatewayError } from '../errors.ts';
import type { LedgerItem, LedgerReader, LedgerWriterPort } from './store.ts';
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
/**
 * With a port that takes several writes in flight, a queue this long is posted at once instead of
 * at the end of the tick, so that the store commits it while the rest of the tick's appends are
 * still being prepared.
 */
const EAGER_FLUSH_ITEMS = 64;
const UNAVAILABLE = 'audit ledger unavailable: statement not executed';
const KNOWN_TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

export interface LedgerOptions {
  readonly port: LedgerWriterPort;
  readonly reader: LedgerReader;
  /** Receives `appendLater` failures. Default: one line on stderr, without the event content. */
  readonly onError?: (err: GatewayError) => void;
  /** Event time for inputs without `time`. Default `Date.now`. */
  readonly clock?: () => number;
  /** Wait before retrying a failed store: doubles from `initial` up to `max`. */
  readonly restartBackoffMs?: { readonly initial: number; readonly max: number };
  /** Sign a checkpoint this often when there are new events; 0 turns the timer off. */
  readonly checkpointIntervalMs?: number;
  /** Prune events older than this many ms (checked hourly and at start); undefined keeps all. */
  readonly retentionMs?: number | undefined;
  /** Called after each commit (for sinks that forward committed events). */
  readonly onCommit?: () => void;
}

export interface LedgerStats {
  readonly transactions: number;
  readonly events: number;
  readonly failures: number;
  /** Appends refused because the store was failing. */
  readonly refused: number;
}

interface Waiter {
  readonly resolve: (seq: number) => void;
  readonly reject: (err: GatewayError) => void;
}

/** A write in flight: its waiters, and the failure count when it was sent. */
interface Sent {
  readonly waiters: readonly Waiter[];
  readonly failuresBefore: number;
}

function unavailable(cause: unknown): GatewayError {
  if (cause instanceof GatewayError && cause.code === 'GW_AUDIT_UNAVAILABLE') return cause;
  return new GatewayError('GW_AUDIT_UNAVAILABLE', UNAVAILABLE, { cause });
}

function defaultOnError(err: GatewayError): void {
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  process.stderr.write(`airlock: audit appendLater failed (${err.code})${cause}\n`);
}

/**
 * @example
 * const ledger = new Ledger({ port, reader, checkpointIntervalMs: 60_000 });
 * const seq = await ledger.append({ type: 'command.requested', sessionId: 's-1', commandId: 'c-1' });
 * await ledger.close(); // signs a final checkpoint
 */
export class Ledger implements AuditLedger {
  readonly #port: LedgerWriterPort;
  readonly #reader: LedgerReader;
  readonly #onError: (err: GatewayError) => void;
  readonly #clock: () => number;
  readonly #backoff: { readonly initial: number; readonly max: number };
  readonly #onCommit: (() => void) | undefined;
  readonly #maxInFlight: number;
  #queue: LedgerItem[] = [];
  #waiters: Waiter[] = [];
  #inFlight = 0;
  #flushScheduled = false;
  #lazyTimer: NodeJS.Timeout | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  #lastFailure: unknown;
  #retryAt = 0;
  #nextBackoff: number;
  #failing = false;
  #outage: { since: number; refused: number } | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #stats = { transactions: 0, events: 0, failures: 0, refused: 0 };

  constructor(options: LedgerOptions) {
    this.#port = options.port;
    this.#reader = options.reader;
    this.#onError = options.onError ?? defaultOnError;
    this.#clock = options.clock ?? Date.now;
    this.#backoff = options.restartBackoffMs ?? { initial: 100, max: 5000 };
    this.#nextBackoff = this.#backoff.initial;
    this.#onCommit = options.onCommit;
    this.#maxInFlight = Math.max(1, options.port.maxInFlight ?? 1);
    this.#startTimers(options);
  }

  get reader(): LedgerReader {
    return this.#reader;
  }

  /**
   * Resolves with the event's seq once the transaction holding it has committed; rejects with
   * `GW_AUDIT_UNAVAILABLE` otherwise. Do not mutate the event after the call.
   */
  append(event: AuditEventInput): Promise<number> {
    const promise = this.#enqueueEvent(event);
    this.#scheduleFlush();
    return promise;
  }

  /**
   * Closing records ride along with the next durable append (group commit), or are flushed after
   * `LAZY_FLUSH_MS` when nothing else comes, so a steady client costs one commit per statement.
   */
  appendLater(event: AuditEventInput): void {
    this.#enqueueEvent(event).catch((err: unknown) => this.#onError(unavailable(err)));
    if (this.#lazyTimer === undefined && this.#queue.length > 0) {
      this.#lazyTimer = setTimeout(() => {
        this.#lazyTimer = undefined;
        if (!this.#flushScheduled) this.#flush();
      }, LAZY_FLUSH_MS);
      this.#lazyTimer.unref();
    }
  }

  /** Signs a checkpoint over every event before it; resolves with its seq, 0 when nothing new. */
  checkpoint(): Promise<number> {
    const promise = this.#enqueue({ checkpoint: true, time: this.#clock() });
    this.#scheduleFlush();
    return promise;
  }

  /** Prunes events older than `beforeMs` (see `LedgerWriterPort.prune`). */
  async prune(beforeMs: number): Promise<number> {
    await this.checkpoint();
    try {
      return await this.#port.prune(beforeMs, this.#clock());
    } catch (err) {
      throw unavailable(err);
    }
  }

  healthy(): boolean {
    return !this.#closed && !this.#failing;
  }

  stats(): LedgerStats {
    return { ...this.#stats, transactions: this.#port.commits ?? this.#stats.transactions };
  }

  query(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.#reader.query(filter);
  }

  commands(filter: AuditFilter): Promise<CommandRecord[]> {
    return this.#reader.commands(filter);
  }

  /** Signs a final checkpoint, waits for pending appends and closes the store. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#lazyTimer);
    await this.checkpoint().catch(() => 0);
    await this.#drain();
    this.#closed = true;
    await this.#port.close().catch(() => undefined);
    await this.#reader.close().catch(() => undefined);
  }

  #startTimers(options: LedgerOptions): void {
    const every = options.checkpointIntervalMs ?? 0;
    if (every > 0) {
      this.#timers.push(setInterval(() => void this.checkpoint().catch(() => 0), every));
    }
    const keep = options.retentionMs;
    if (keep !== undefined) {
      const prune = (): void => {
        this.prune(this.#clock() - keep).catch((err: unknown) => this.#onError(unavailable(err)));
      };
      this.#timers.push(setInterval(prune, 3_600_000));
      setImmediate(prune);
    }
    for (const t of this.#timers) t.unref();
  }

  #enqueueEvent(event: AuditEventInput): Promise<number> {
    if (!KNOWN_TYPES.has(event.type)) {
      return Promise.reject(unavailable(new TypeError('unknown audit event type')));
    }
    return this.#enqueue({ ...event, time: event.time ?? this.#clock() });
  }

  #enqueue(item: LedgerItem): Promise<number> {
    if (this.#closed) return Promise.reject(unavailable(new Error('the ledger is closed')));
    if (this.#failing && performance.now() < this.#retryAt) {
      this.#refused();
      return Promise.reject(unavailable(this.#lastFailure));
    }
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    this.#queue.push(this.#port.prepare ? this.#port.prepare(item) : item);
    this.#waiters.push({ resolve, reject });
    if (this.#queue.length >= EAGER_FLUSH_ITEMS && this.#maxInFlight > 1) this.#send();
    return promise;
  }

  /**
   * Sends the queue once the event loop has run every I/O callback that is ready: the statements
   * of all the sessions that arrived together then share one message to the writer thread and one
   * group commit, instead of one each.
   */
  #scheduleFlush(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        if (this.#flushScheduled) this.#flush();
      });
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    this.#send();
  }

  /** Writes the queue unless the port already has as many writes in flight as it takes. */
  #send(): void {
    if (this.#queue.length === 0 || this.#inFlight >= this.#maxInFlight) return;
    const items = this.#queue;
    const sent: Sent = { waiters: this.#waiters, failuresBefore: this.#stats.failures };
    this.#queue = [];
    this.#waiters = [];
    this.#inFlight++;
    let written: Promise<readonly (number | string)[]>;
    try {
      written = this.#port.write(items);
    } catch (err) {
      written = Promise.reject(err);
    }
    written.then(
      (results) => this.#onWritten(sent.waiters, results),
      (err: unknown) => this.#onFailed(sent, err),
    );
  }

  #onWritten(waiters: readonly Waiter[], results: readonly (number | string)[]): void {
    this.#inFlight--;
    this.#stats.transactions++;
    waiters.forEach((w, i) => {
      const r = results[i];
      if (typeof r === 'number') w.resolve(r);
      else w.reject(unavailable(new Error(r ?? 'no result for the event')));
    });
    this.#stats.events += results.filter((r) => typeof r === 'number' && r > 0).length;
    this.#recovered();
    this.#onCommit?.();
    if (this.#queue.length > 0) this.#flush();
  }

  #onFailed(sent: Sent, cause: unknown): void {
    this.#inFlight--;
    // Writes in flight together fail together: one failure, one step of backoff.
    if (sent.failuresBefore === this.#stats.failures) {
      this.#stats.failures++;
      this.#lastFailure = cause;
      this.#failing = true;
      this.#outage ??= { since: this.#clock(), refused: 0 };
      this.#retryAt = performance.now() + this.#nextBackoff;
      this.#nextBackoff = Math.min(this.#nextBackoff * 2, this.#backoff.max);
    }
    const err = unavailable(cause);
    for (const w of sent.waiters) w.reject(err);
    this.#refused(sent.waiters.length);
    // What was queued meanwhile is refused too: it would only wait for the backoff.
    const queued = this.#waiters;
    this.#queue = [];
    this.#waiters = [];
    for (const w of queued) w.reject(err);
    this.#refused(queued.length);
  }

  #refused(n = 1): void {
    this.#stats.refused += n;
    if (this.#outage !== undefined) this.#outage.refused += n;
  }

  /** After an outage, the first commit records how much was refused and for how long. */
  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#nextBackoff = this.#backoff.initial;
    const outage = this.#outage;
    this.#outage = undefined;
    if (outage === undefined) return;
    this.appendLater({
      type: 'audit.outage.ended',
      data: { refused: outage.refused, since: outage.since, until: this.#clock() },
    });
  }

  /** Resolves once nothing is queued or in flight (bounded). */
  async #drain(): Promise<void> {
    const deadline = performance.now() + 30_000;
    while ((this.#queue.length > 0 || this.#inFlight > 0) && performance.now() < deadline) {
      this.#flush();
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}
