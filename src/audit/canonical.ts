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
  return write(value, new Set());
}

function write(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return JSON.stringify(value);
    case 'object':
      return value === null ? 'null' : writeObject(value, seen);
    default:
      throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`);
  }
}

function writeObject(value: object, seen: Set<object>): string {
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return write(toJSON.call(value), seen);
  if (!Array.isArray(value) && !isPlainObject(value)) {
    throw new TypeError('canonicalJson: only plain objects and arrays can be serialised');
  }
  if (seen.has(value)) throw new TypeError('canonicalJson: cyclic structure');
  seen.add(value);
  const out = Array.isArray(value) ? writeArray(value, seen) : writeMembers(value, seen);
  seen.delete(value);
  return out;
}

function writeArray(items: readonly unknown[], seen: Set<object>): string {
  const parts: string[] = [];
  for (const item of items) {
    if (item === undefined) throw new TypeError('canonicalJson: undefined array element');
    parts.push(write(item, seen));
  }
  return `[${parts.join(',')}]`;
}

function writeMembers(obj: object, seen: Set<object>): string {
  const record = obj as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${write(member, seen)}`);
  }
  return `{${parts.join(',')}}`;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
