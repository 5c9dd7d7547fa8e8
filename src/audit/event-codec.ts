/**
 * How an event becomes a stored row, and how a verifier checks that a row is what it claims.
 * Shared by every store (SQLite, PostgreSQL), the verifier and the exporter, so that the hashed
 * bytes are defined in exactly one place.
 *
 * - `body` is the canonical JSON of the event (keys sorted, see canonical.ts) including its seq.
 * - `leaf` is the RFC 9162 leaf hash SHA-256(0x00 || body).
 * - `hash` chains the events: SHA-256(prevHash || leaf), over the raw 32-byte values.
 */

import { hash as digest } from 'node:crypto';
import { canonicalJson, isKnownFrozen, quoteJson } from './canonical.ts';
import { dataJson } from './event-data-json.ts';
import { AUDIT_EVENT_TYPES, type AuditEvent, type AuditEventInput } from './types.ts';

/** Version of the body layout; bumped when the hashed bytes change meaning. */
export const EVENT_BODY_VERSION = 2;

/** An event as the data path hands it over: `time` is always filled in. */
export type WireEvent = AuditEventInput & { readonly time: number };

/** The columns a store indexes, all derived from the body (the verifier checks they agree). */
export interface EventColumns {
  readonly time: number;
  readonly type: string;
  readonly sessionId: string | null;
  readonly connection: string | null;
  readonly identity: string | null;
  readonly owner: string | null;
  readonly commandId: string | null;
  /** `data.decision` when it is a string (allow, deny, mask, hold). */
  readonly decision: string | null;
  /** `,name:access,` list of the tables a SQL command touches, or null. */
  readonly tables: string | null;
}

/** An event validated and serialised outside the write lock; only its seq is missing. */
export interface PreparedEvent extends EventColumns {
  /** The canonical body up to `"seq":`, and what follows the number. */
  readonly head: string;
  readonly tail: string;
}

/** A row as every store keeps it. */
export interface EventRow extends EventColumns {
  readonly seq: number;
  readonly body: string;
  readonly leaf: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The body as stored (what `JSON.parse(row.body)` yields). */
export interface StoredBody {
  readonly v: number;
  readonly seq: number;
  readonly ts: string;
  readonly type: AuditEvent['type'];
  readonly sessionId: string | null;
  readonly connection: string | null;
  readonly actor: AuditEvent['actor'];
  readonly clientAddr: string | null;
  readonly commandId: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

const TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

/**
 * Validates an event and serialises everything but its seq, so that the work done while holding
 * the write lock is string concatenation and two SHA-256s. Throws a TypeError naming the problem,
 * never the event's content.
 *
 * @example
 * const p = prepareEvent({ type: 'session.started', time: Date.now(), sessionId: 's-1' });
 */
export function prepareEvent(e: WireEvent): PreparedEvent {
  if (typeof e !== 'object' || e === null) throw new TypeError('event is not an object');
  if (!TYPES.has(e.type)) throw new TypeError('unknown audit event type');
  if (!Number.isSafeInteger(e.time) || e.time < 0) throw new TypeError('event time is invalid');
  const ts = isoTime(e.time);
  const sessionId = optionalString(e.sessionId, 'sessionId');
  const connection = optionalString(e.connection, 'connection');
  const clientAddr = optionalString(e.clientAddr, 'clientAddr');
  const commandId = optionalString(e.commandId, 'commandId');
  const data = e.data ?? {};
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new TypeError('event data is not an object');
  }
  // Keys in canonical (sorted) order; event-codec.test.ts checks this equals canonicalJson(body).
  const head =
    `{"actor":${e.actor === undefined ? 'null' : canonicalJson(e.actor)}` +
    `,"clientAddr":${quotedOrNull(clientAddr)},"commandId":${commandId === null ? 'null' : quoteJson(commandId)}` +
    `,"connection":${quotedOrNull(connection)},"data":${dataJson(data)},"seq":`;
  const tail = `,"sessionId":${quotedOrNull(sessionId)},"ts":"${ts}","type":${QUOTED_TYPES.get(e.type)},"v":${EVENT_BODY_VERSION}}`;
  const c = columnsOf(e.time, e.type, sessionId, connection, e.actor, commandId, data);
  return {
    time: c.time,
    type: c.type,
    sessionId: c.sessionId,
    connection: c.connection,
    identity: c.identity,
    owner: c.owner,
    commandId: c.commandId,
    decision: c.decision,
    tables: c.tables,
    head,
    tail,
  };
}

const QUOTED_TYPES: ReadonlyMap<string, string> = new Map(
  AUDIT_EVENT_TYPES.map((t) => [t, JSON.stringify(t)]),
);

/**
 * Quoted session ids, client addresses and connection names: each session repeats its own in
 * every event. Bounded (emptied when full).
 */
const quotedFields = new Map<string, string>();
const QUOTED_FIELDS_MAX = 4096;

function quotedOrNull(v: string | null): string {
  if (v === null) return 'null';
  let quoted = quotedFields.get(v);
  if (quoted === undefined) {
    quoted = quoteJson(v);
    if (quotedFields.size >= QUOTED_FIELDS_MAX) quotedFields.clear();
    quotedFields.set(v, quoted);
  }
  return quoted;
}

/** `new Date(ms).toISOString()`, with the part up to the seconds kept from the previous call. */
let isoSecond = Number.NaN;
let isoPrefix = '';
const MILLIS = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, '0')}Z`);

function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(ms).toISOString();
    isoPrefix = iso.slice(0, -4);
    isoSecond = second;
    return iso;
  }
  return isoPrefix + MILLIS[ms - second * 1000];
}

/**
 * Gives a prepared event its seq and its place in the chain.
 *
 * @example
 * const row = sealEvent(prepareEvent(e), 1, GENESIS_HASH);
 */
export function sealEvent(e: PreparedEvent, seq: number, prevHash: string): EventRow {
  // The leaf hash input (0x00 || body) is built once: hashing flattens it, and the body is then a
  // slice of that flat string, so binding it to the INSERT does not copy the pieces again.
  const prefixed = `\0${e.head}${seq}${e.tail}`;
  const leaf = digest('sha256', prefixed, 'hex');
  const body = prefixed.slice(1);
  return {
    time: e.time,
    type: e.type,
    sessionId: e.sessionId,
    connection: e.connection,
    identity: e.identity,
    owner: e.owner,
    commandId: e.commandId,
    decision: e.decision,
    tables: e.tables,
    seq,
    body,
    leaf,
    prevHash,
    hash: chainLink(prevHash, leaf),
  };
}

/** prevHash then leaf, for chainLink; hashing is synchronous, so sharing it is safe. */
const linkScratch = Buffer.alloc(64);

/** The chain link over the raw hash bytes: SHA-256(prevHash || leaf). */
export function chainLink(prevHash: string, leaf: string): string {
  if (
    prevHash.length === 64 &&
    leaf.length === 64 &&
    linkScratch.write(prevHash, 0, 32, 'hex') === 32 &&
    linkScratch.write(leaf, 32, 32, 'hex') === 32
  ) {
    return digest('sha256', linkScratch, 'hex');
  }
  // Not two hashes (a tampered row): hash whatever the hex decodes to, as always.
  return digest('sha256', Buffer.from(prevHash + leaf, 'hex'), 'hex');
}

/** The indexed columns an event's body implies. */
export function columnsOfBody(b: StoredBody): EventColumns {
  return columnsOf(
    Date.parse(b.ts),
    b.type,
    b.sessionId,
    b.connection,
    b.actor ?? undefined,
    b.commandId,
    b.data,
  );
}

function columnsOf(
  time: number,
  type: string,
  sessionId: string | null,
  connection: string | null,
  actor: unknown,
  commandId: string | null,
  data: Readonly<Record<string, unknown>>,
): EventColumns {
  const decision = typeof data.decision === 'string' ? data.decision : null;
  return {
    time,
    type,
    sessionId,
    connection,
    identity: actorField(actor, 'identity'),
    owner: actorField(actor, 'owner'),
    commandId,
    decision,
    tables: tablesColumn(data),
  };
}

/**
 * `,patients:write,public.visits:read,` from `data.statements[].tables[]`, so that a filter on a
 * table is a LIKE on one column in every store.
 */
function tablesColumn(data: Readonly<Record<string, unknown>>): string | null {
  const statements = data.statements;
  if (!Array.isArray(statements)) return null;
  // A statements list canonicalJson cached is deeply frozen: its column cannot change either.
  const cached = tablesOfFrozen.get(statements);
  if (cached !== undefined) return cached;
  const column = tablesOf(statements);
  if (isKnownFrozen(statements)) {
    tablesOfFrozen.set(statements, column);
  }
  return column;
}

const tablesOfFrozen = new WeakMap<readonly unknown[], string | null>();

function tablesOf(statements: readonly unknown[]): string | null {
  const seen = new Set<string>();
  for (const s of statements) {
    const tables = (s as { tables?: unknown } | null)?.tables;
    if (!Array.isArray(tables)) continue;
    for (const t of tables) {
      const { schema, name, access } = (t ?? {}) as Record<string, unknown>;
      if (typeof name !== 'string' || typeof access !== 'string') continue;
      seen.add(`${typeof schema === 'string' ? `${schema}.` : ''}${name}:${access}`);
    }
  }
  return seen.size === 0 ? null : `,${[...seen].join(',')},`;
}

function optionalString(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new TypeError(`event ${name} is not a string`);
  return v;
}

function actorField(actor: unknown, field: 'identity' | 'owner'): string | null {
  if (actor === undefined || actor === null) return null;
  if (typeof actor !== 'object') throw new TypeError('event actor is not an object');
  const v = (actor as Record<string, unknown>)[field];
  if (field === 'identity' && typeof v !== 'string') {
    throw new TypeError('event actor has no identity');
  }
  return optionalString(v, `actor.${field}`);
}

/** The event a row holds, for readers. Throws on a body that is not JSON. */
export function eventOfRow(row: Pick<EventRow, 'seq' | 'body' | 'leaf' | 'prevHash' | 'hash'>) {
  const b = JSON.parse(row.body) as StoredBody;
  const event: AuditEvent = {
    seq: row.seq,
    ts: b.ts,
    type: b.type,
    sessionId: b.sessionId,
    connection: b.connection,
    actor: b.actor,
    clientAddr: b.clientAddr,
    commandId: b.commandId,
    data: b.data,
    body: row.body,
    leafHash: row.leaf,
    prevHash: row.prevHash,
    hash: row.hash,
  };
  return event;
}

/**
 * Why a row's indexed columns disagree with its body, or undefined when they agree.
 *
 * @example
 * const why = columnMismatch(row, JSON.parse(row.body));
 */
export function columnMismatch(row: EventColumns, body: StoredBody): string | undefined {
  const expected = columnsOfBody(body);
  for (const key of COLUMN_KEYS) {
    if (row[key] !== expected[key]) return `column ${key} does not match the body`;
  }
  return undefined;
}

/** The keys of {@link EventColumns} in the order `columnsOf` writes them (checked by a test). */
export const COLUMN_KEYS = [
  'time',
  'type',
  'sessionId',
  'connection',
  'identity',
  'owner',
  'commandId',
  'decision',
  'tables',
] as const satisfies readonly (keyof EventColumns)[];
