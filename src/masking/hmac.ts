/**
 * HMAC-SHA256 for many short messages under one key. `createHmac` costs about 2.5 µs per call in
 * Node, almost all of it per-call setup; masking a large result hashes one value per cell. Here
 * the key's inner and outer pad blocks are compressed once (RFC 2104 midstates), so a short value
 * costs two SHA-256 compressions in plain JavaScript (an ASCII value of up to 55 bytes, with
 * its prefix, is written straight into the message schedule). The output is byte-identical to
 * `createHmac('sha256', key)` (checked by the tests).
 * https://www.rfc-editor.org/rfc/rfc2104 and https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.180-4.pdf
 */
import { createHash } from 'node:crypto';

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const BLOCK = 64;
const W = new Int32Array(64);
/** The longest message (bytes) whose padding fits in the same block. */
const SHORT = BLOCK - 9;

/** One SHA-256 compression of `block[off, off + 64)` into `h`. */
function compress(h: Int32Array, block: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) W[i] = wordAt(block, off + i * 4);
  compressWords(h);
}

function wordAt(block: Uint8Array, p: number): number {
  return (
    ((block[p] as number) << 24) |
    ((block[p + 1] as number) << 16) |
    ((block[p + 2] as number) << 8) |
    (block[p + 3] as number)
  );
}

/** One SHA-256 compression of the block whose 16 big-endian words are in `W[0, 16)`. */
function compressWords(h: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15] as number;
    const b = W[i - 2] as number;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) | 0;
  }
  let a = h[0] as number;
  let b = h[1] as number;
  let c = h[2] as number;
  let d = h[3] as number;
  let e = h[4] as number;
  let f = h[5] as number;
  let g = h[6] as number;
  let k = h[7] as number;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (k + S1 + ch + (K[i] as number) + (W[i] as number)) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    k = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = ((h[0] as number) + a) | 0;
  h[1] = ((h[1] as number) + b) | 0;
  h[2] = ((h[2] as number) + c) | 0;
  h[3] = ((h[3] as number) + d) | 0;
  h[4] = ((h[4] as number) + e) | 0;
  h[5] = ((h[5] as number) + f) | 0;
  h[6] = ((h[6] as number) + g) | 0;
  h[7] = ((h[7] as number) + k) | 0;
}

/**
 * @example
 * const mac = new HmacSha256(Buffer.from('salt'));
 * mac.digest('hash\0amelia@example.com'); // same 32 bytes as createHmac('sha256', 'salt').update(...).digest()
 */
export class HmacSha256 {
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);
  readonly #state = new Int32Array(8);
  readonly #block = new Uint8Array(BLOCK);
  #scratch = Buffer.alloc(256);

  constructor(key: Uint8Array) {
    const k = new Uint8Array(BLOCK);
    k.set(key.length > BLOCK ? createHash('sha256').update(key).digest() : key);
    const pad = new Uint8Array(BLOCK);
    this.#inner.set(IV);
    for (let i = 0; i < BLOCK; i++) pad[i] = (k[i] as number) ^ 0x36;
    compress(this.#inner, pad, 0);
    this.#outer.set(IV);
    for (let i = 0; i < BLOCK; i++) pad[i] = (k[i] as number) ^ 0x5c;
    compress(this.#outer, pad, 0);
  }

  /** HMAC-SHA256 of the UTF-8 encoding of `message`, into `out` (32 bytes, returned). */
  digest(message: string, out: Uint8Array = new Uint8Array(32)): Uint8Array {
    return this.digestOf('', message, out);
  }

  /**
   * HMAC-SHA256 of `prefix` then `value` (UTF-8), without joining them. The common case, ASCII
   * and at most 55 bytes in all, is one block: its words go straight into the schedule.
   */
  digestOf(prefix: string, value: string, out: Uint8Array = new Uint8Array(32)): Uint8Array {
    const n = prefix.length + value.length;
    if (n > SHORT || !this.#shortBlock(prefix, value, n))
      return this.#digestLong(prefix + value, out);
    const state = this.#state;
    copy8(this.#inner, state);
    for (let i = 0; i < 16; i++) W[i] = wordAt(this.#block, i * 4);
    compressWords(state);
    // The outer message: the inner hash, then its padding (one block of 64 + 32 bytes in all).
    for (let i = 0; i < 8; i++) W[i] = state[i] as number;
    W[8] = 0x80000000 | 0;
    W.fill(0, 9, 15);
    W[15] = (BLOCK + 32) * 8;
    copy8(this.#outer, state);
    compressWords(state);
    writeState(state, out, 0);
    return out;
  }

  /** The padded block of a short ASCII message in `#block`; false when it is not ASCII. */
  #shortBlock(prefix: string, value: string, n: number): boolean {
    const blk = this.#block;
    const p = prefix.length;
    for (let i = 0; i < p; i++) {
      const c = prefix.charCodeAt(i);
      if (c >= 128) return false;
      blk[i] = c;
    }
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 128) return false;
      blk[p + i] = c;
    }
    blk[n] = 0x80;
    for (let i = n + 1; i < BLOCK - 4; i++) blk[i] = 0;
    const bits = (BLOCK + n) * 8;
    blk[BLOCK - 4] = bits >>> 24;
    blk[BLOCK - 3] = bits >>> 16;
    blk[BLOCK - 2] = bits >>> 8;
    blk[BLOCK - 1] = bits;
    return true;
  }

  #digestLong(message: string, out: Uint8Array): Uint8Array {
    const max = message.length * 3 + BLOCK + 9;
    if (this.#scratch.length < max) this.#scratch = Buffer.alloc(max * 2);
    const buf = this.#scratch;
    const n = buf.write(message, 0, 'utf8');
    this.#state.set(this.#inner);
    this.#finish(buf, n, BLOCK + n);
    writeState(this.#state, buf, 0);
    this.#state.set(this.#outer);
    this.#finish(buf, 32, BLOCK + 32);
    writeState(this.#state, out, 0);
    return out;
  }

  /** Compresses `buf[0, n)` plus the padding for a message of `total` bytes into the state. */
  #finish(buf: Uint8Array, n: number, total: number): void {
    const blocks = Math.floor((n + 9 + BLOCK - 1) / BLOCK);
    const end = blocks * BLOCK;
    buf[n] = 0x80;
    buf.fill(0, n + 1, end - 4);
    const bits = total * 8;
    buf[end - 4] = bits >>> 24;
    buf[end - 3] = bits >>> 16;
    buf[end - 2] = bits >>> 8;
    buf[end - 1] = bits;
    buf[end - 5] = Math.floor(bits / 2 ** 32);
    for (let off = 0; off < end; off += BLOCK) compress(this.#state, buf, off);
  }
}

function copy8(from: Int32Array, to: Int32Array): void {
  for (let i = 0; i < 8; i++) to[i] = from[i] as number;
}

function writeState(h: Int32Array, out: Uint8Array, at: number): void {
  for (let i = 0; i < 8; i++) {
    const v = h[i] as number;
    out[at + i * 4] = v >>> 24;
    out[at + i * 4 + 1] = v >>> 16;
    out[at + i * 4 + 2] = v >>> 8;
    out[at + i * 4 + 3] = v;
  }
}
