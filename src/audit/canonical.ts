/**
 * Canonical JSON for the audit hash chain: object keys sorted by UTF-16 code units (as
 * `Array.prototype.sort` orders them), recursively, no whitespace, strings and numbers written as
 * `JSON.stringify` writes them. For the JSON-safe values the ledger stores (strings, finite numbers,
 * booleans, null, plain objects, arrays) this matches RFC 8785 (JCS). Anything that cannot be
 * written losslessly (NaN, Infinity, bigint, symbols, functions, cycles, and Map, Set, typed arrays
 * or class instances without `toJSON`) is rejected rather than silently altered, because a hash
 * over an altered value would attest to something that was never stored.
 */

/** `prevHash` of the first event in a ledger. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Serialises `value` as canonical JSON. `undefined` object members are omitted (as in JSON);
 * `undefined` array elements are rejected. Objects with `toJSON` (such as Date) are converted first.
 *
 * @example
 * canonicalJson({ b: [1, { d: true, c: null }], a: 'x' }); // '{"a":"x","b":[1,{"c":null,"d":true}]}'
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

/** Deeper than this is refused; it also stops cycles without tracking every object seen. */
const MAX_DEPTH = 64;
/** Objects with at most this many keys are sorted in place by insertion (no sort call). */
const INSERTION_SORT_MAX = 16;
/**
 * `"key":` for keys seen before. Events reuse a small set of keys, and quoting one costs more than
 * a lookup. Bounded, so that keys from untrusted payloads cannot grow it without limit.
 */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_MAX = 4096;
const QUOTED_KEY_MAX_LENGTH = 64;

function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return JSON.stringify(value);
    case 'object':
      return value === null ? 'null' : writeObject(value, depth + 1);
    default:
      throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`);
  }
}

function writeObject(value: object, depth: number): string {
  if (depth > MAX_DEPTH) throw new TypeError('canonicalJson: cyclic or too deeply nested');
  if (Array.isArray(value)) return writeArray(value, depth);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return write(toJSON.call(value), depth);
  if (!isPlainObject(value)) {
    throw new TypeError('canonicalJson: only plain objects and arrays can be serialised');
  }
  return writeMembers(value as Record<string, unknown>, depth);
}

function writeArray(items: readonly unknown[], depth: number): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === undefined) throw new TypeError('canonicalJson: undefined array element');
    if (i > 0) out += ',';
    out += write(item, depth);
  }
  return `${out}]`;
}

function writeMembers(record: Record<string, unknown>, depth: number): string {
  const keys = sortKeys(Object.keys(record));
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const member = record[key];
    if (member === undefined) continue;
    if (out.length > 1) out += ',';
    out += quotedKey(key) + write(member, depth);
  }
  return `${out}}`;
}

/** Sorts by UTF-16 code units (what `Array.prototype.sort` does with strings), in place. */
function sortKeys(keys: string[]): string[] {
  if (keys.length > INSERTION_SORT_MAX) {
    if (!isSorted(keys)) keys.sort();
    return keys;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}:`;
    if (key.length <= QUOTED_KEY_MAX_LENGTH && quotedKeys.size < QUOTED_KEYS_MAX) {
      quotedKeys.set(key, quoted);
    }
  }
  return quoted;
}

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++)
    if ((keys[i - 1] as string) > (keys[i] as string)) return false;
  return true;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
