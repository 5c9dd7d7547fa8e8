/**
 * The masked form of one upstream batch, built in one buffer: unchanged frames are copied from
 * the batch as byte ranges (a run of them at a time), and replaced frames are written in place,
 * so a masked row costs no allocation of its own and is copied once. A batch in which nothing
 * changed is passed on as the batch itself, without a copy.
 */

/** Room for values that grow (`tok_…` for a short value) before the first reallocation. */
const SLACK = 4096;

/**
 * @example
 * const w = new ChunkWriter();
 * w.begin(batch, 0);
 * const at = w.reserve(frame.start, size); // then write `size` bytes at w.buffer[at]
 * w.skip(frame.end);
 * socket.write(w.finish(batchEnd));
 */
export class ChunkWriter {
  #src: Uint8Array = new Uint8Array(0);
  /** Start of the source bytes not yet copied (or skipped). */
  #from = 0;
  #out: Buffer | undefined;
  #len = 0;

  /** Starts a batch: `src` from `from` on. */
  begin(src: Uint8Array, from: number): void {
    this.#src = src;
    this.#from = from;
    this.#out = undefined;
    this.#len = 0;
  }

  /** The output buffer; valid until the next `reserve` or `insert`. */
  get buffer(): Buffer {
    return this.#out as Buffer;
  }

  /** Copies the source up to `to`, then reserves `n` bytes; returns where they start. */
  reserve(to: number, n: number): number {
    const pending = to - this.#from;
    this.#ensure(pending + n);
    const out = this.#out as Buffer;
    if (pending > 0) out.set(this.#src.subarray(this.#from, to), this.#len);
    this.#from = to;
    const at = this.#len + pending;
    this.#len = at + n;
    return at;
  }

  /** Gives back what the last `reserve` (which returned `at`) reserved, unwritten. */
  unreserve(at: number): void {
    this.#len = at;
  }

  /** Copies the source up to `to`, then `bytes`. */
  insert(to: number, bytes: Uint8Array): void {
    const at = this.reserve(to, bytes.length);
    (this.#out as Buffer).set(bytes, at);
  }

  /** Leaves the source out up to `to` (the frame just replaced). */
  skip(to: number): void {
    this.#from = to;
  }

  /** The batch's output up to `end` of the source; the writer is empty afterwards. */
  finish(end: number): Uint8Array {
    if (this.#out === undefined) {
      const rest = this.#src.subarray(this.#from, end);
      this.#from = end;
      return rest;
    }
    this.reserve(end, 0);
    const done = this.#out.subarray(0, this.#len);
    this.#out = undefined;
    this.#len = 0;
    return done;
  }

  #ensure(more: number): void {
    const need = this.#len + more;
    const out = this.#out;
    if (out !== undefined && need <= out.length) return;
    const size = Math.max(
      need,
      this.#src.length - this.#from + this.#len + SLACK,
      out ? out.length * 2 : 0,
    );
    const next = Buffer.allocUnsafe(size);
    if (out !== undefined) out.copy(next, 0, 0, this.#len);
    this.#out = next;
  }
}
