/**
 * Matches the upstream's responses to the client messages that caused them, so that each
 * command gets its outcome (tags, rows, bytes, error) and the gateway can insert its own
 * ErrorResponse at exactly the right place in the stream.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 * "When an error is detected while processing any extended-query message, the backend issues
 *  ErrorResponse, then reads and discards messages until a Sync is reached"
 */

import type { MaskTally } from '../../masking/tally.ts';
import type { CommandResult } from '../../session/command.ts';
import { decodeBackend } from './codec/backend-parser.ts';
import type { Frame } from './codec/framer.ts';
import { BACKEND } from './codec/messages.ts';
import { utf8 } from './codec/reader.ts';
import type { DescribeRef, PortalRef, QueryRef } from './masking/result-masker.ts';

/** A forwarded command waiting for its outcome. */
export interface CommandRun {
  readonly commandId: string;
  readonly startedAt: number;
  tags: string[];
  rows: number;
  bytes: number;
  error: { code: string; message: string } | undefined;
  /** What masking changed in this command's results (masked sessions only). */
  masked?: MaskTally | undefined;
}

/** `ref`: the masking state of the response (masked sessions only). */
export type Pending =
  | { readonly kind: 'parse' | 'bind' | 'close' }
  | { readonly kind: 'describe'; readonly ref?: DescribeRef | undefined }
  | { readonly kind: 'execute'; readonly run: CommandRun; readonly ref?: PortalRef | undefined }
  | { readonly kind: 'query'; readonly run: CommandRun; readonly ref?: QueryRef | undefined }
  | { kind: 'sync'; inject: Uint8Array | null };

export type Completion = (run: CommandRun, outcome: CommandResult['outcome']) => void;

/**
 * FIFO of what the upstream still owes. `onFrame` is called for every backend frame and returns
 * bytes to insert before that frame (or null).
 *
 * @example
 * tracker.expect({ kind: 'sync', inject: null });
 * const before = tracker.onFrame(batch.buf, frame);
 */
export class ResponseTracker {
  #queue: Pending[] = [];
  #head = 0;
  readonly #complete: Completion;
  txStatus: 'I' | 'T' | 'E' = 'I';
  /**
   * Set when the upstream reported an extended-protocol error before the Sync of that batch was
   * forwarded: until that Sync, the upstream discards messages without answering them.
   */
  #discardError: { code: string; message: string } | null = null;
  #discardAttributed = false;

  constructor(complete: Completion) {
    this.#complete = complete;
  }

  expect(p: Pending): void {
    if (this.#discardError) {
      if (p.kind === 'execute') {
        this.#failDiscarded(p.run);
        return;
      }
      if (p.kind !== 'sync' && p.kind !== 'query') return; // discarded: no response will come
      this.#discardError = null;
      if (p.kind === 'sync') p.inject = null; // the batch already failed upstream
    }
    this.#queue.push(p);
  }

  #failDiscarded(run: CommandRun): void {
    if (this.#discardAttributed) {
      this.#complete(run, 'skipped');
      return;
    }
    this.#discardAttributed = true;
    run.error = this.#discardError ?? undefined;
    this.#complete(run, 'error');
  }

  get size(): number {
    return this.#queue.length - this.#head;
  }

  /** The response the next upstream frame belongs to. */
  get head(): Pending | undefined {
    return this.#queue[this.#head];
  }

  #peek(): Pending | undefined {
    return this.#queue[this.#head];
  }

  #pop(): void {
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Observes one backend frame; only the few types that matter are decoded. */
  onFrame(buf: Uint8Array, f: Frame): Uint8Array | null {
    const head = this.#peek();
    const code = f.code;
    switch (code) {
      case BACKEND.DataRow:
      case BACKEND.CopyData:
        if (head && (head.kind === 'execute' || head.kind === 'query')) {
          if (code === BACKEND.DataRow) head.run.rows++;
          head.run.bytes += f.end - f.start;
        }
        return null;
      case BACKEND.CommandComplete:
        return this.#commandComplete(head, tagOf(buf, f));
      case BACKEND.EmptyQueryResponse:
      case BACKEND.PortalSuspended:
        if (head?.kind === 'execute') {
          this.#pop();
          this.#complete(head.run, code === BACKEND.PortalSuspended ? 'suspended' : 'ok');
        }
        return null;
      case BACKEND.ErrorResponse:
        return this.#error(head, errorOf(buf, f));
      case BACKEND.ReadyForQuery:
        return this.#ready(head, txStatusOf(buf, f));
      case BACKEND.ParseComplete:
      case BACKEND.BindComplete:
      case BACKEND.CloseComplete:
        if (head && head.kind !== 'query' && head.kind !== 'sync' && head.kind !== 'execute') {
          this.#pop();
        }
        return null;
      case BACKEND.RowDescription:
      case BACKEND.NoData:
        if (head?.kind === 'describe') this.#pop();
        return null;
      default:
        return null; // ParameterDescription, Notice, Notification, ParameterStatus, Copy*Response
    }
  }

  #commandComplete(head: Pending | undefined, tag: string): null {
    if (head?.kind === 'query') {
      head.run.tags.push(tag);
    } else if (head?.kind === 'execute') {
      head.run.tags.push(tag);
      this.#pop();
      this.#complete(head.run, 'ok');
    }
    return null;
  }

  #error(head: Pending | undefined, error: { code: string; message: string }): null {
    if (!head || head.kind === 'sync') return null;
    if (head.kind === 'query') {
      head.run.error ??= error;
      return null;
    }
    // Extended protocol: the backend now skips everything until Sync.
    let failed = false;
    for (let p = this.#peek(); p && p.kind !== 'sync'; p = this.#peek()) {
      this.#pop();
      if (p.kind !== 'execute') continue;
      if (!failed) {
        p.run.error = error;
        this.#complete(p.run, 'error');
        failed = true;
      } else {
        this.#complete(p.run, 'skipped');
      }
    }
    const sync = this.#peek();
    if (sync?.kind === 'sync') {
      sync.inject = null; // the batch already failed upstream
    } else {
      this.#discardError = error;
      this.#discardAttributed = failed;
    }
    return null;
  }

  #ready(head: Pending | undefined, status: 'I' | 'T' | 'E'): Uint8Array | null {
    this.txStatus = status;
    if (!head) return null;
    // Executes without a response before Sync were skipped (e.g. after a CopyFail).
    for (let p = this.#peek(); p && p.kind !== 'sync' && p.kind !== 'query'; p = this.#peek()) {
      this.#pop();
      if (p.kind === 'execute') this.#complete(p.run, 'skipped');
    }
    const q = this.#peek();
    if (!q) return null;
    this.#pop();
    if (q.kind === 'query') {
      this.#complete(q.run, q.run.error ? 'error' : 'ok');
      return null;
    }
    return q.kind === 'sync' ? q.inject : null;
  }

  /** Completes everything still pending as aborted (the session ended). */
  abortAll(): void {
    for (let p = this.#peek(); p; p = this.#peek()) {
      this.#pop();
      if (p.kind === 'execute' || p.kind === 'query') this.#complete(p.run, 'aborted');
    }
  }
}

/**
 * CommandComplete: `String tag`. The common case (the terminator is the last byte and the only
 * NUL) is read in place; anything else goes through the decoder, which refuses what is malformed.
 */
function tagOf(buf: Uint8Array, f: Frame): string {
  const last = f.end - 1;
  if (last >= f.body && buf[last] === 0 && buf.indexOf(0, f.body) === last) {
    return utf8(buf, f.body, last);
  }
  const m = decodeBackend(buf, f);
  return m.type === 'CommandComplete' ? m.tag : '';
}

function errorOf(buf: Uint8Array, f: Frame): { code: string; message: string } {
  const m = decodeBackend(buf, f);
  return m.type === 'ErrorResponse'
    ? { code: m.fields.C ?? 'XX000', message: (m.fields.M ?? '').slice(0, 500) }
    : { code: 'XX000', message: '' };
}

/** ReadyForQuery: `Byte1 status`, read in place when well formed. */
function txStatusOf(buf: Uint8Array, f: Frame): 'I' | 'T' | 'E' {
  if (f.end - f.body === 1) {
    const b = buf[f.body];
    if (b === 0x49) return 'I';
    if (b === 0x54) return 'T';
    if (b === 0x45) return 'E';
  }
  const m = decodeBackend(buf, f);
  return m.type === 'ReadyForQuery' ? m.status : 'I';
}
