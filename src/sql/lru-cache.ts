/**
 * A small LRU cache bounded both by entry count and by the summed weight of its keys, built on
 * `Map`'s insertion order (a hit moves the entry to the back; eviction takes from the front).
 */

/** Limits for {@link LruCache}. */
export interface LruLimits {
  /** Most entries kept. */
  readonly maxEntries: number;
  /** Most total key weight kept. */
  readonly maxWeight: number;
  /** Keys heavier than this are never stored. */
  readonly maxEntryWeight: number;
}

/**
 * String-keyed LRU cache. The weight of a key is its UTF-8 byte length.
 *
 * @example
 * const cache = new LruCache<number>({ maxEntries: 2, maxWeight: 1024, maxEntryWeight: 256 });
 * cache.set('a', 1);
 * cache.get('a'); // 1
 */
export class LruCache<V> {
  readonly #limits: LruLimits;
  readonly #entries = new Map<string, { value: V; weight: number }>();
  #weight = 0;
  /** The most recently used key: a hit on it needs no reordering (a steady workload repeats one). */
  #newest: string | undefined;

  constructor(limits: LruLimits) {
    this.#limits = limits;
  }

  /** Entries currently stored. */
  get size(): number {
    return this.#entries.size;
  }

  /** Summed weight of the stored keys. */
  get weight(): number {
    return this.#weight;
  }

  /** The value for `key`, marking it most recently used. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      this.#newest = key;
    }
    return entry.value;
  }

  /** Stores `value` unless `key` is too heavy, evicting the least recently used entries. */
  set(key: string, value: V): void {
    const weight = Buffer.byteLength(key, 'utf8');
    if (weight > this.#limits.maxEntryWeight) return;
    this.delete(key);
    this.#entries.set(key, { value, weight });
    this.#newest = key;
    this.#weight += weight;
    this.#evict();
  }

  /** Removes `key` if present. */
  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#weight -= entry.weight;
    if (key === this.#newest) this.#newest = undefined;
  }

  /** Removes everything. */
  clear(): void {
    this.#entries.clear();
    this.#weight = 0;
    this.#newest = undefined;
  }

  #evict(): void {
    const { maxEntries, maxWeight } = this.#limits;
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= maxEntries && this.#weight <= maxWeight) return;
      this.delete(key);
    }
  }
}
