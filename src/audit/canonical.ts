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
/** Strings up to this length are scanned here; longer ones go to JSON.stringify. */
const SCAN_MAX = 32;

/**
 * The canonical JSON of deeply frozen plain values (and their height in objects), by identity. A
 * deeply frozen value cannot change, so neither can its JSON; the data path hands the same frozen
 * actor and statement analysis to the ledger for every statement of a session.
 */
const frozenJson = new WeakMap<object, { readonly json: string; readonly height: number }>();

function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quoteJson(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      // JSON.stringify writes a finite number as Number::toString does (-0 as "0").
      return String(value);
    case 'object':
      return value === null ? 'null' : writeObject(value, depth + 1);
    default:
      throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`);
  }
}

function writeObject(value: object, depth: number): string {
  if (depth > MAX_DEPTH) throw new TypeError('canonicalJson: cyclic or too deeply nested');
  const frozen = Object.isFrozen(value);
  if (frozen) {
    const hit = frozenJson.get(value);
    if (hit !== undefined && depth + hit.height - 1 <= MAX_DEPTH) return hit.json;
  }
  let json: string;
  if (Array.isArray(value)) {
    json = writeArray(value, depth);
  } else {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return write(toJSON.call(value), depth);
    if (!isPlainObject(value)) {
      throw new TypeError('canonicalJson: only plain objects and arrays can be serialised');
    }
    json = writeMembers(value as Record<string, unknown>, depth);
  }
  if (frozen) rememberFrozen(value, json);
  return json;
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

/**
 * `JSON.stringify(s)`. A short string without a character JSON escapes (quote, backslash, control
 * characters, lone surrogates) is quoted here, which costs less than a call into the runtime.
 *
 * @example
 * quoteJson('a"b'); // '"a\\"b"'
 */
export function quoteJson(s: string): string {
  if (s.length > SCAN_MAX) return JSON.stringify(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) {
      return JSON.stringify(s);
    }
  }
  return `"${s}"`;
}

/**
 * Whether `value` is a deeply frozen plain value that canonicalJson has written (and cached).
 *
 * @example
 * const v = Object.freeze({ a: 1 });
 * canonicalJson(v);
 * isKnownFrozen(v); // true
 */
export function isKnownFrozen(value: object): boolean {
  return frozenJson.has(value);
}

/**
 * Caches `json` for a frozen object whose own properties are all data properties holding
 * primitives or objects already cached (so deeply frozen themselves: children are written, and
 * cached, before their parent).
 */
function rememberFrozen(value: object, json: string): void {
  let height = 1;
  const descriptors = Object.getOwnPropertyDescriptors(value) as Record<string, PropertyDescriptor>;
  for (const key in descriptors) {
    const d = descriptors[key] as PropertyDescriptor;
    if (!('value' in d)) return;
    const member: unknown = d.value;
    if (typeof member !== 'object' || member === null) continue;
    const cached = frozenJson.get(member);
    if (cached === undefined) return;
    if (cached.height + 1 > height) height = cached.height + 1;
  }
  frozenJson.set(value, { json, height });
}

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `${quoteJson(key)}:`;
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
