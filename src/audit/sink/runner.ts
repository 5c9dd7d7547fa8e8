/**
 * Forwards committed ledger events to a SIEM. The ledger is the durable queue: a sink never sits
 * on the write path. It pulls events after its persisted cursor, hands them to a transport, and
 * advances the cursor only once the transport has acknowledged them, so a sink outage can
 * neither block nor lose ledger events. Delivery is at-least-once and in seq order.
 */
import type { Logger } from '../../telemetry/logger.ts';
import type { AuditEvent } from '../types.ts';
import { readCursorFile, writeCursorFile } from './cursor-file.ts';

/** Where a sink reads committed events from (the ledger, or a test's array). */
export interface EventSource {
  /** Up to `limit` events with seq > `afterSeq`, in seq order. */
  readAfter(afterSeq: number, limit: number): Promise<readonly AuditEvent[]>;
  /** The seq of the newest committed event (0 when empty). */
  headSeq(): Promise<number>;
}

/** Carries batches to a receiver. `send` resolves only once the receiver has them. */
export interface SinkTransport {
  readonly name: string;
  send(events: readonly AuditEvent[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A failed delivery. `retryable: false` marks a receiver that refused the batch itself (an HTTP
 * 4xx, say): the runner still retries, since skipping would lose events, but logs it as an error.
 * Messages never include event content.
 *
 * @example
 * throw new SinkError('receiver answered 503', { retryable: true, status: 503 });
 */
export class SinkError extends Error {
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** A receiver's Retry-After, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    opts: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SinkError';
    this.retryable = opts.retryable;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export interface SinkRunnerOptions {
  readonly source: EventSource;
  readonly transport: SinkTransport;
  /** Persisted atomically (temp + fsync + rename), mode 0600. */
  readonly cursorFile: string;
  readonly logger: Logger;
  /** Events per `send`. Default 500. */
  readonly batchSize?: number;
  /** How often to look for new events when not notified. Default 1000 ms. */
  readonly pollMs?: number;
  /** Exponential backoff with jitter between failed attempts. Default 200 ms to 30 s. */
  readonly retry?: { readonly initialMs?: number; readonly maxMs?: number };
  /**
   * The most events a sink may lag behind the ledger head. Further behind, it skips ahead to
   * `head - maxBacklogEvents` and reports the skipped count; the ledger still holds them.
   * Default 1,000,000.
   */
  readonly maxBacklogEvents?: number;
  readonly onError?: (err: Error) => void;
}

export interface SinkStats {
  /** Seq of the last event the receiver acknowledged (or skipped past). */
  readonly cursor: number;
  readonly delivered: number;
  readonly failures: number;
  readonly skipped: number;
  readonly lastError?: string;
}

/** How long `close()` waits for an in-flight send, before and after closing the transport. */
const CLOSE_GRACE_MS = 1000;

interface Waiter {
  readonly wake: () => void;
  readonly onNotify: boolean;
}

/**
 * @example
 * const runner = new SinkRunner({ source, transport, cursorFile, logger });
 * await runner.start();
 * ledger.onCommit(() => runner.notify());
 * // ...
 * await runner.close();
 */
export class SinkRunner {
  readonly #source: EventSource;
  readonly #transport: SinkTransport;
  readonly #cursorFile: string;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #pollMs: number;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #maxBacklog: number;
  readonly #onError: ((err: Error) => void) | undefined;
  #cursor = 0;
  #delivered = 0;
  #failures = 0;
  #skipped = 0;
  #attempt = 0;
  #lastError: string | undefined;
  #started = false;
  #closed = false;
  #notified = false;
  #waiter: Waiter | null = null;
  #loop: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;

  constructor(opts: SinkRunnerOptions) {
    this.#source = opts.source;
    this.#transport = opts.transport;
    this.#cursorFile = opts.cursorFile;
    this.#logger = opts.logger;
    this.#batchSize = positive(opts.batchSize, 500);
    this.#pollMs = positive(opts.pollMs, 1000);
    this.#initialMs = positive(opts.retry?.initialMs, 200);
    this.#maxMs = Math.max(this.#initialMs, positive(opts.retry?.maxMs, 30_000));
    this.#maxBacklog = positive(opts.maxBacklogEvents, 1_000_000);
    this.#onError = opts.onError;
  }

  /** Loads the cursor and starts forwarding. Rejects when the cursor file is unreadable. */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#cursor = await readCursorFile(this.#cursorFile);
    this.#loop = this.#run();
  }

  /** Wakes the runner early; the ledger calls this after each commit. Cheap and synchronous. */
  notify(): void {
    this.#notified = true;
    if (this.#waiter?.onNotify) this.#waiter.wake();
  }

  stats(): SinkStats {
    return {
      cursor: this.#cursor,
      delivered: this.#delivered,
      failures: this.#failures,
      skipped: this.#skipped,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  /** Stops at once, even during a backoff; waits a bounded time for an in-flight send. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#waiter?.wake();
      this.#closing = this.#shutdown();
    }
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await settleWithin(this.#loop, CLOSE_GRACE_MS);
    try {
      await this.#transport.close();
    } catch (err) {
      this.#logger.warn('audit sink transport did not close cleanly', {
        error: describe(err),
      });
    }
    await settleWithin(this.#loop, CLOSE_GRACE_MS);
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      try {
        const full = await this.#step();
        if (!full) await this.#pause(this.#pollMs, true);
      } catch (err) {
        this.#recordFailure(err);
        await this.#pause(this.#backoff(err), false);
      }
    }
  }

  /** One read-and-deliver round. True when the batch was full (more may be waiting). */
  async #step(): Promise<boolean> {
    await this.#skipIfBehind();
    this.#notified = false;
    const batch = await this.#source.readAfter(this.#cursor, this.#batchSize);
    if (batch.length === 0 || this.#closed) return false;
    await this.#deliver(batch);
    return batch.length >= this.#batchSize;
  }

  /** Sends one batch until the receiver takes it, the runner closes, or the backlog overflows. */
  async #deliver(batch: readonly AuditEvent[]): Promise<void> {
    const first = batch[0]?.seq ?? 0;
    const last = batch[batch.length - 1]?.seq ?? 0;
    while (!this.#closed) {
      try {
        await this.#transport.send(batch);
        await this.#acknowledged(batch.length, last);
        return;
      } catch (err) {
        if (this.#closed) return; // closing aborted the send; the batch stays unacknowledged
        this.#recordFailure(err, first, last);
        await this.#pause(this.#backoff(err), false);
        if (this.#closed || (await this.#skipIfBehind())) return;
      }
    }
  }

  async #acknowledged(count: number, lastSeq: number): Promise<void> {
    this.#delivered += count;
    if (this.#attempt > 0) {
      this.#logger.info('audit sink delivering again', {
        sink: this.#transport.name,
        afterFailures: this.#attempt,
      });
    }
    this.#attempt = 0;
    await this.#advance(lastSeq);
  }

  /** Skips ahead when the sink lags more than `maxBacklogEvents`. True when it skipped. */
  async #skipIfBehind(): Promise<boolean> {
    const head = await this.#source.headSeq();
    const floor = head - this.#maxBacklog;
    if (floor <= this.#cursor) return false;
    const skipped = floor - this.#cursor;
    this.#skipped += skipped;
    this.#logger.warn('audit sink fell too far behind; skipped events stay in the ledger only', {
      sink: this.#transport.name,
      skipped,
      fromSeq: this.#cursor + 1,
      toSeq: floor,
      headSeq: head,
    });
    await this.#advance(floor);
    return true;
  }

  /**
   * Persists, then moves the cursor. A failed write is logged and the cursor moves anyway (in
   * memory): the next acknowledgement writes it again, and a crash before that re-sends.
   */
  async #advance(seq: number): Promise<void> {
    try {
      await writeCursorFile(this.#cursorFile, seq);
    } catch (err) {
      this.#lastError = describe(err);
      this.#logger.error('audit sink could not persist its cursor', {
        sink: this.#transport.name,
        error: this.#lastError,
      });
    }
    this.#cursor = seq;
  }

  #recordFailure(err: unknown, fromSeq?: number, toSeq?: number): void {
    this.#failures++;
    this.#attempt++;
    this.#lastError = describe(err);
    const fields = {
      sink: this.#transport.name,
      error: this.#lastError,
      attempt: this.#attempt,
      ...(fromSeq !== undefined ? { fromSeq, toSeq } : {}),
    };
    if (err instanceof SinkError && !err.retryable) {
      this.#logger.error('audit sink receiver refused a batch; retrying, check its configuration', {
        ...fields,
        status: err.status,
      });
    } else {
      this.#logger.warn('audit sink delivery failed; retrying', fields);
    }
    this.#report(err);
  }

  #report(err: unknown): void {
    try {
      this.#onError?.(err instanceof Error ? err : new Error(describe(err)));
    } catch {
      // A failing observer must not stop delivery.
    }
  }

  #backoff(err: unknown): number {
    const delay = backoffDelay(this.#attempt, this.#initialMs, this.#maxMs);
    const hinted = err instanceof SinkError ? (err.retryAfterMs ?? 0) : 0;
    return Math.max(delay, Math.min(hinted, this.#maxMs));
  }

  /** Sleeps up to `ms`; `close()` always wakes it, `notify()` only when `onNotify`. */
  #pause(ms: number, onNotify: boolean): Promise<void> {
    if (this.#closed || (onNotify && this.#notified)) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        clearTimeout(timer);
        if (this.#waiter?.wake === wake) this.#waiter = null;
        resolve();
      };
      timer = setTimeout(wake, ms);
      timer.unref();
      this.#waiter = { wake, onNotify };
    });
  }
}

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * min(maxMs, initialMs * 2^(n-1)), so retries spread out without collapsing to zero.
 *
 * @example
 * backoffDelay(1, 200, 30_000); // 100..200
 */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `Name: message` (plus the errno code), cut short; never the error's payload. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown error';
  const code = (err as { code?: unknown }).code;
  const text = `${err.name}: ${err.message}${typeof code === 'string' ? ` (${code})` : ''}`;
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}

async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([p.then(noop, noop), expired]);
  clearTimeout(timer);
}

function noop(): void {}
