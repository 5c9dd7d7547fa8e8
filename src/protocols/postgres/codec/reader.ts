/**
 * Bounds-checked reader over one message payload. Every read past the end, and every string
 * without its NUL terminator, throws `GW_PROTOCOL_MALFORMED`.
 */
import { GatewayError } from '../../../errors.ts';

const decoder = new TextDecoder('utf-8', { fatal: false });
/** Strings up to this many bytes (command tags, names) are decoded here when they are ASCII. */
const SHORT_ASCII = 32;

/**
 * `buf[start, end)` decoded as UTF-8 (malformed sequences become U+FFFD). A short ASCII string is
 * built here, which costs less than a view and a call into the decoder.
 *
 * @example
 * utf8(new TextEncoder().encode('SELECT 1'), 0, 8); // 'SELECT 1'
 */
export function utf8(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= SHORT_ASCII) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i] as number;
      if (c >= 0x80) return decoder.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(buf.subarray(start, end));
}

export class Reader {
  readonly #buf: Uint8Array;
  readonly #end: number;
  #pos: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #need(n: number): void {
    if (n < 0 || this.#pos + n > this.#end) {
      throw new GatewayError('GW_PROTOCOL_MALFORMED', 'message shorter than its contents');
    }
  }

  byte(): number {
    this.#need(1);
    return this.#buf[this.#pos++] as number;
  }

  int16(): number {
    this.#need(2);
    const b = this.#buf;
    const p = this.#pos;
    this.#pos += 2;
    return ((((b[p] as number) << 8) | (b[p + 1] as number)) << 16) >> 16;
  }

  uint16(): number {
    return this.int16() & 0xffff;
  }

  int32(): number {
    this.#need(4);
    const b = this.#buf;
    const p = this.#pos;
    this.#pos += 4;
    return (
      ((b[p] as number) << 24) |
      ((b[p + 1] as number) << 16) |
      ((b[p + 2] as number) << 8) |
      (b[p + 3] as number) |
      0
    );
  }

  /** A NUL-terminated string (PostgreSQL `String`). */
  cstring(): string {
    const nul = this.#buf.indexOf(0, this.#pos);
    if (nul < 0 || nul >= this.#end) {
      throw new GatewayError('GW_PROTOCOL_MALFORMED', 'string without terminator');
    }
    const s = utf8(this.#buf, this.#pos, nul);
    this.#pos = nul + 1;
    return s;
  }

  /** `n` raw bytes as a view (no copy). */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  /**
   * `Int16 n` then n × (`Int32 len`, `Byte[len]`), where len -1 means NULL: the value lists of
   * Bind and DataRow. `what` names the values in the error.
   */
  nullableValues(what: string): (Uint8Array | null)[] {
    const n = this.uint16();
    const values: (Uint8Array | null)[] = [];
    for (let i = 0; i < n; i++) {
      const len = this.int32();
      if (len < -1) throw new GatewayError('GW_PROTOCOL_MALFORMED', `invalid ${what} length`);
      values.push(len === -1 ? null : this.bytes(len));
    }
    return values;
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** Asserts that the payload has been consumed exactly. */
  end(): void {
    if (this.#pos !== this.#end) {
      throw new GatewayError('GW_PROTOCOL_MALFORMED', 'trailing bytes in message');
    }
  }
}
