/**
 * A small open-addressing map from a count signature (two non-negative int32 words) to a
 * non-negative int32, in typed arrays: one multiply-hash and a compare or two per lookup, where a
 * `Map` costs a builtin call and cannot key on more than 31 bits without boxing. When it is half
 * full it starts over (the values are memoised decisions, so nothing is lost but their cost).
 */

const BITS = 8;
const SIZE = 1 << BITS;
const MASK = SIZE - 1;
const MAX_ENTRIES = SIZE >>> 1;
/** Words per slot: first key word, second key word, value (and one unused, for alignment). */
const STRIDE = 4;
/** What `get` returns for a signature not in the table. */
export const ABSENT = -1;

/**
 * @example
 * const t = new SignatureTable();
 * t.set(5, 7, 42);
 * t.get(5, 7); // 42
 * t.get(5, 8); // ABSENT
 */
export class SignatureTable {
  /** A slot's words side by side (one cache line per probe); -1 first marks an empty slot. */
  readonly #slots = new Int32Array(SIZE * STRIDE).fill(-1);
  #entries = 0;

  get(first: number, second: number): number {
    const slots = this.#slots;
    for (let i = slotOf(first, second); ; i = (i + STRIDE) & (MASK * STRIDE)) {
      const k = slots[i]!;
      if (k === first && slots[i + 1] === second) return slots[i + 2]!;
      if (k === -1) return ABSENT;
    }
  }

  /** `value` (non-negative) under the signature, which must not be in the table yet. */
  set(first: number, second: number, value: number): void {
    if (this.#entries >= MAX_ENTRIES) this.clear();
    const slots = this.#slots;
    let i = slotOf(first, second);
    while (slots[i] !== -1) i = (i + STRIDE) & (MASK * STRIDE);
    slots[i] = first;
    slots[i + 1] = second;
    slots[i + 2] = value;
    this.#entries++;
  }

  /** Whether the next `set` starts over (a caller holding values by index drops them then). */
  get full(): boolean {
    return this.#entries >= MAX_ENTRIES;
  }

  clear(): void {
    this.#slots.fill(-1);
    this.#entries = 0;
  }
}

/** The slot's first word: the hash's top bits, times the stride. */
function slotOf(first: number, second: number): number {
  return (Math.imul(first ^ Math.imul(second, 0x9e3779b1), 0x85ebca6b) >>> (32 - BITS)) * STRIDE;
}
