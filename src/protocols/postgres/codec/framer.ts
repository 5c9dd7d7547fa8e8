/**
 * Sans-I/O framing of the PostgreSQL wire protocol: bytes in, complete frames out.
 *
 * https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 * "all messages that are sent to or received from the server start with a message type byte
 *  followed by a four-byte message length; the length includes itself but not the type byte.
 *  For historical reasons, the very first message sent by the client (the startup message) has
 *  no initial message-type byte."
 */
import { GatewayError } from '../../../errors.ts';

/** One complete frame inside `FrameBatch.buf`: `[start, end)` covers the whole message. */
export interface Frame {
  /** The type byte, or `UNTYPED` for startup-phase messages. */
  readonly code: number;
  readonly start: number;
  readonly end: number;
  /** Offset of the payload (after type byte and length). */
  readonly body: number;
}

/** The complete frames of one push, and the buffer they live in (valid until the next push). */
export interface FrameBatch {
  readonly buf: Uint8Array;
  readonly frames: readonly Frame[];
  /** Bytes of `buf` covered by complete frames: `buf.subarray(0, complete)`. */
  readonly complete: number;
}

export const UNTYPED = -1;
const EMPTY = new Uint8Array(0);

/**
 * Splits a byte stream into frames. Starts in `untyped` mode on the client side (startup phase)
 * and switches with `expectTyped()`. Frames larger than `maxFrame` throw
 * `GW_PROTOCOL_FRAME_TOO_LARGE`; lengths below the minimum throw `GW_PROTOCOL_MALFORMED`.
 *
 * @example
 * const f = new Framer({ maxFrame: 1 << 20, typed: true });
 * const { frames } = f.push(bytes);
 */
export class Framer {
  #pending: Uint8Array = EMPTY;
  #typed: boolean;
  readonly #maxFrame: number;

  constructor(opts: { maxFrame: number; typed: boolean }) {
    this.#maxFrame = opts.maxFrame;
    this.#typed = opts.typed;
  }

  /** After the startup phase every message carries a type byte. */
  expectTyped(): void {
    this.#typed = true;
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.#pending.length;
  }

  /** Returns and clears buffered bytes (used when a stream is handed to TLS). */
  drain(): Uint8Array {
    const rest = this.#pending;
    this.#pending = EMPTY;
    return rest;
  }

  push(chunk: Uint8Array): FrameBatch {
    const buf = this.#pending.length === 0 ? chunk : concat(this.#pending, chunk);
    const frames: Frame[] = [];
    let pos = 0;
    for (;;) {
      const frame = this.#next(buf, pos);
      if (frame === undefined) break;
      frames.push(frame);
      pos = frame.end;
      // A startup-phase frame may switch the mode; the caller decides, so stop after one.
      if (!this.#typed) break;
    }
    this.#pending = pos === buf.length ? EMPTY : buf.subarray(pos);
    return { buf, frames, complete: pos };
  }

  #next(buf: Uint8Array, pos: number): Frame | undefined {
    const header = this.#typed ? 5 : 4;
    if (buf.length - pos < header) return undefined;
    const lenAt = this.#typed ? pos + 1 : pos;
    const len = readInt32(buf, lenAt);
    const min = this.#typed ? 4 : 8;
    if (len < min) {
      throw new GatewayError('GW_PROTOCOL_MALFORMED', `invalid message length ${len}`);
    }
    if (len > this.#maxFrame) {
      throw new GatewayError(
        'GW_PROTOCOL_FRAME_TOO_LARGE',
        `message of ${len} bytes exceeds the ${this.#maxFrame}-byte limit`,
      );
    }
    const end = lenAt + len;
    if (end > buf.length) return undefined;
    const code = this.#typed ? (buf[pos] as number) : UNTYPED;
    return { code, start: pos, end, body: lenAt + 4 };
  }
}

export function readInt32(buf: Uint8Array, at: number): number {
  return (
    ((buf[at] as number) << 24) |
    ((buf[at + 1] as number) << 16) |
    ((buf[at + 2] as number) << 8) |
    (buf[at + 3] as number) |
    0
  );
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
