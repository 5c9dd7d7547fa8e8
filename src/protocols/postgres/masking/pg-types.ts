/**
 * What the masking code can do with a value of a PostgreSQL type in a given wire format: rewrite
 * it as a string (text-like types, and every type's text format for in-place findings), decode it
 * for scanning only (binary numbers, dates, timestamps, uuid), or nothing (other binary formats:
 * these fail closed). https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-FORMAT-CODES
 */

export const OID = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
  nameArray: 1003,
  textArray: 1009,
  bpcharArray: 1014,
  varcharArray: 1015,
} as const;

/** Types whose text and binary forms are the same UTF-8 string (`textsend` and friends). */
const TEXT_LIKE: ReadonlySet<number> = new Set([
  OID.text,
  OID.varchar,
  OID.bpchar,
  OID.name,
  OID.unknown,
  OID.xml,
]);
/** Arrays of text-like types: findings may be replaced in place in the text format. */
const TEXT_ARRAYS: ReadonlySet<number> = new Set([
  OID.textArray,
  OID.varcharArray,
  OID.bpcharArray,
  OID.nameArray,
]);
/** Send functions of string types outside the built-in OID table (citext, domains over text). */
const TEXT_SEND: ReadonlySet<string> = new Set([
  'textsend',
  'varcharsend',
  'bpcharsend',
  'namesend',
  'citextsend',
]);

/** The first OID a user-defined type can have (FirstNormalObjectId). */
export const FIRST_USER_OID = 16384;

/** A type as the catalog describes it (for OIDs outside the built-in table). */
export interface TypeInfo {
  /** The base type of a domain, else the type itself. */
  readonly base: number;
  /** `pg_type.typcategory`, e.g. `S` for strings. */
  readonly category: string;
  /** `pg_type.typsend` of the base type. */
  readonly send: string;
}

export interface ValueKind {
  /** A styled string is a valid value of the type. */
  readonly wholeOk: boolean;
  /** Findings can be replaced in place. */
  readonly scanOk: boolean;
  /** JSON text: mask token by token so it stays valid. */
  readonly json: boolean;
  /** Binary jsonb: a 1-byte version prefix before the text. */
  readonly jsonbPrefix: boolean;
  /** Binary values of scalar types, decoded to text for scanning only. */
  readonly decode: ((v: Uint8Array) => string) | null;
  /** Binary values the gateway cannot read. */
  readonly opaque: boolean;
  readonly typeName: string;
}

const kind = (typeName: string, k: Partial<ValueKind>): ValueKind => ({
  wholeOk: false,
  scanOk: false,
  json: false,
  jsonbPrefix: false,
  decode: null,
  opaque: false,
  typeName,
  ...k,
});

const TEXT = kind('text', { wholeOk: true, scanOk: true });
const JSON_TEXT = kind('json', { wholeOk: true, scanOk: true, json: true });
const JSONB_BINARY = kind('jsonb', { wholeOk: true, scanOk: true, json: true, jsonbPrefix: true });
const TEXT_ARRAY = kind('array', { scanOk: true });

/** Whether the catalog must be asked about a type before its values can be handled. */
export function needsTypeInfo(typeOid: number): boolean {
  return typeOid >= FIRST_USER_OID;
}

/**
 * @example
 * valueKind(25, 1).wholeOk; // true: binary text is UTF-8
 * valueKind(17, 1).opaque; // true: binary bytea is not inspected
 */
export function valueKind(typeOid: number, format: number, info?: TypeInfo): ValueKind {
  const oid = info && info.base < FIRST_USER_OID ? info.base : typeOid;
  if (format === 0) return textFormatKind(oid, info);
  if (TEXT_LIKE.has(oid) || oid === OID.json) return oid === OID.json ? JSON_TEXT : TEXT;
  if (oid === OID.jsonb) return JSONB_BINARY;
  if (info && info.category === 'S' && TEXT_SEND.has(info.send)) return TEXT;
  const decode = BINARY_DECODERS[oid];
  if (decode) return kind(`oid ${oid}`, { decode });
  return kind(`oid ${typeOid}`, { opaque: true });
}

function textFormatKind(oid: number, info: TypeInfo | undefined): ValueKind {
  if (TEXT_LIKE.has(oid)) return TEXT;
  if (oid === OID.json || oid === OID.jsonb) return JSON_TEXT;
  if (TEXT_ARRAYS.has(oid)) return TEXT_ARRAY;
  if (info && info.category === 'S') return TEXT;
  return kind(`oid ${oid}`, {});
}

// ---- binary decoders (scanning only) ----

const view = (v: Uint8Array) => new DataView(v.buffer, v.byteOffset, v.byteLength);
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;

function exact(n: number, f: (d: DataView) => string): (v: Uint8Array) => string {
  return (v) => {
    if (v.length !== n) throw new Error(`expected ${n} bytes, got ${v.length}`);
    return f(view(v));
  };
}

function isoDate(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : 'infinity';
}

function timestamp(d: DataView): string {
  const us = d.getBigInt64(0);
  return isoDate(PG_EPOCH_MS + Number(us / 1000n))
    .replace('T', ' ')
    .replace('Z', '');
}

function time(d: DataView): string {
  const us = d.getBigInt64(0);
  return new Date(Number(us / 1000n)).toISOString().slice(11, 23);
}

const BINARY_DECODERS: Record<number, (v: Uint8Array) => string> = {
  [OID.bool]: exact(1, (d) => (d.getUint8(0) ? 't' : 'f')),
  [OID.int2]: exact(2, (d) => String(d.getInt16(0))),
  [OID.int4]: exact(4, (d) => String(d.getInt32(0))),
  [OID.oid]: exact(4, (d) => String(d.getUint32(0))),
  [OID.int8]: exact(8, (d) => String(d.getBigInt64(0))),
  [OID.float4]: exact(4, (d) => String(d.getFloat32(0))),
  [OID.float8]: exact(8, (d) => String(d.getFloat64(0))),
  [OID.date]: exact(4, (d) => isoDate(PG_EPOCH_MS + d.getInt32(0) * DAY_MS).slice(0, 10)),
  [OID.time]: exact(8, time),
  [OID.timestamp]: exact(8, timestamp),
  [OID.timestamptz]: exact(8, timestamp),
  [OID.uuid]: exact(16, (d) => {
    const hex = Buffer.from(d.buffer, d.byteOffset, 16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }),
  [OID.numeric]: decodeNumeric,
};

/**
 * numeric_send: Int16 ndigits, Int16 weight, Int16 sign, Int16 dscale, then ndigits base-10000
 * digits. https://github.com/postgres/postgres/blob/master/src/backend/utils/adt/numeric.c
 */
export function decodeNumeric(v: Uint8Array): string {
  const d = view(v);
  const ndigits = d.getInt16(0);
  const weight = d.getInt16(2);
  const sign = d.getUint16(4);
  const dscale = d.getInt16(6);
  if (v.length !== 8 + ndigits * 2) throw new Error('bad numeric');
  if (sign === 0xc000) return 'NaN';
  if (sign === 0xd000) return 'Infinity';
  if (sign === 0xf000) return '-Infinity';
  let int = '';
  let frac = '';
  for (let i = 0; i < ndigits; i++) {
    const group = String(d.getInt16(8 + i * 2)).padStart(4, '0');
    if (i <= weight) int += group;
    else frac += group;
  }
  for (let i = ndigits; i <= weight; i++) int += '0000';
  if (weight < -1) frac = '0000'.repeat(-weight - 1) + frac;
  int = int.replace(/^0+(?=\d)/, '') || '0';
  frac = frac.padEnd(dscale, '0').slice(0, dscale);
  return `${sign === 0x4000 ? '-' : ''}${int}${dscale > 0 ? `.${frac}` : ''}`;
}
