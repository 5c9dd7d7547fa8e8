/**
 * A small open-addressing map from a count signature (two non-negative int32 words) to a
 * non-negative int32, in typed arrays: one multiply-hash and a compare or two per lookup, where a
 * `Map` costs a builtin call and cannot key on more than 31 bits without boxing. When it is half
 * full it starts over (the values are memoised decisions, so nothing is lost but their cost).
 */

const BITS = 10;
const SIZE = 1 << BITS;
const MASK = SIZE - 1;
const MAX_ENTRIES = SIZE >>> 1;
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
  /** First key word per slot; -1 marks an empty slot (keys are non-negative). */
  readonly #first = new Int32Array(SIZE).fill(-1);
  readonly #second = new Int32Array(SIZE);
  readonly #values = new Int32Array(SIZE);
  #entries = 0;

  get(first: number, second: number): number {
    for (let i = slotOf(first, second); ; i = (i + 1) & MASK) {
      const k = this.#first[i]!;
      if (k === first && this.#second[i] === second) return this.#values[i]!;
      if (k === -1) return ABSENT;
    }
  }

  /** `value` (non-negative) under the signature, which must not be in the table yet. */
  set(first: number, second: number, value: number): void {
    if (this.#entries >= MAX_ENTRIES) this.clear();
    let i = slotOf(first, second);
    while (this.#first[i] !== -1) i = (i + 1) & MASK;
    this.#first[i] = first;
    this.#second[i] = second;
    this.#values[i] = value;
    this.#entries++;
  }

  /** Whether the next `set` starts over (a caller holding values by index drops them then). */
  get full(): boolean {
    return this.#entries >= MAX_ENTRIES;
  }

  clear(): void {
    this.#first.fill(-1);
    this.#entries = 0;
  }
}

function slotOf(first: number, second: number): number {
  return Math.imul(first ^ Math.imul(second, 0x9e3779b1), 0x85ebca6b) >>> (32 - BITS);
}
