/**
 * One store interface for the ledger, implemented by embedded SQLite (the default) and by
 * PostgreSQL. Both keep the same table shape, so the query SQL is built here once, with the
 * placeholder style as the only difference. A conformance suite (store.conformance.ts) runs the
 * same tests against both.
 */

import type { Checkpoint } from './checkpoint.ts';
import {
  type EventRow,
  eventOfRow,
  type PreparedEvent,
  type StoredBody,
  type WireEvent,
} from './event-codec.ts';
import { MerkleFrontier } from './merkle.ts';
import type { CheckpointRequest, LedgerHead } from './sealer.ts';
import type { AuditEvent, AuditFilter, CommandRecord } from './types.ts';

/** What pruning leaves behind so that the rest of the log still verifies. */
export interface PrunedState {
  /** Events 1..throughSeq were deleted. */
  readonly throughSeq: number;
  /** The chain hash of event `throughSeq`. */
  readonly lastHash: string;
  /** The Merkle frontier over leaves 1..throughSeq. */
  readonly frontier: MerkleFrontier;
  /** The signed checkpoint whose tree size is `throughSeq`. */
  readonly checkpoint: Checkpoint;
}

/** The pruned state as stored in the `meta` table of either store. */
export function prunedToJson(p: PrunedState): string {
  return JSON.stringify({ ...p, frontier: p.frontier.toJSON() });
}

export function prunedFromJson(text: string | undefined): PrunedState | null {
  if (text === undefined) return null;
  const raw = JSON.parse(text) as PrunedState & { frontier: unknown };
  return { ...raw, frontier: MerkleFrontier.fromJSON(raw.frontier) };
}

export interface LedgerInfo {
  /** The ledger's id (signed into every checkpoint). */
  readonly origin: string;
  readonly head: LedgerHead;
  readonly pruned: PrunedState | null;
}

/** Reads, for the CLI, the verifier, the exporter and the sinks. */
export interface LedgerReader {
  info(): Promise<LedgerInfo | null>;
  query(filter: AuditFilter): Promise<AuditEvent[]>;
  commands(filter: AuditFilter): Promise<CommandRecord[]>;
  /** Up to `limit` events with seq > `afterSeq`, in seq order. */
  readAfter(afterSeq: number, limit: number): Promise<AuditEvent[]>;
  /** Rows with `fromSeq <= seq <= toSeq`, in stored seq order, fetched in pages. */
  rows(fromSeq: number, toSeq?: number): AsyncIterable<EventRow>;
  /** The seq of the first event at or after `timeMs` (or of the last event before `timeMs`). */
  seqAt(timeMs: number, edge: 'first-at-or-after' | 'last-before'): Promise<number | null>;
  /** How often each policy rule decided a command or LLM call, counted in the store. */
  ruleHits(): Promise<RuleHit[]>;
  close(): Promise<void>;
}

/** One policy rule's decisions in the ledger. */
export interface RuleHit {
  readonly rule: string;
  readonly hits: number;
  /** Time of the newest decision, ms since the epoch. */
  readonly lastMs: number;
}

/** The requests whose `data.rule` names the rule that decided them. */
export const DECIDED_TYPES = ['command.requested', 'llm.requested'] as const;

/**
 * Rule hits grouped in the store, by the JSON path expression of its dialect for `data.rule`
 * (bodies are canonical JSON text in both stores).
 */
export function ruleHitsQuery(ruleOfBody: string, ph: Placeholder): BuiltQuery {
  const types = DECIDED_TYPES.map((_, i) => ph(i + 1)).join(', ');
  return {
    sql: `SELECT ${ruleOfBody} AS rule, COUNT(*) AS hits, MAX(time_ms) AS last_ms FROM events
      WHERE type IN (${types}) AND ${ruleOfBody} IS NOT NULL GROUP BY 1`,
    params: [...DECIDED_TYPES],
  };
}

/** Rows of {@link ruleHitsQuery} as both drivers return them (PostgreSQL counts are strings). */
export function toRuleHits(rows: readonly Record<string, unknown>[]): RuleHit[] {
  return rows
    .filter((r) => typeof r.rule === 'string')
    .map((r) => ({ rule: String(r.rule), hits: Number(r.hits), lastMs: Number(r.last_ms) }));
}

/** One group commit's outcome per item: seq, 0 for an empty checkpoint, or a refusal reason. */
export type WriteResults = readonly (number | string)[];

/** What one write carries: events, checkpoint requests, or events refused before sending. */
export type LedgerItem =
  | WireEvent
  | PreparedEvent
  | CheckpointRequest
  | { readonly refused: string };

/** Writes, always under the store's single-writer lock. */
export interface LedgerWriterPort {
  write(items: readonly LedgerItem[]): Promise<WriteResults>;
  /**
   * How many writes may be in flight at once (default 1). A port that takes more applies them in
   * order and may commit several in one transaction.
   */
  readonly maxInFlight?: number;
  /** Transactions committed, when the port merges writes (else one per write is assumed). */
  readonly commits?: number;
  /**
   * Optional: serialise an event as soon as it is appended, so that the work overlaps the commit
   * of the batch in flight instead of delaying the next one.
   */
  prepare?(item: LedgerItem): LedgerItem;
  /**
   * Deletes events 1..P where P is the newest checkpointed tree size whose events are all older
   * than `beforeMs`, keeping what the verifier needs; appends a `ledger.pruned` event.
   */
  prune(beforeMs: number, time: number): Promise<number>;
  close(): Promise<void>;
}

/** The columns both stores share (names in snake_case, hashes hex). */
export const EVENT_COLUMNS =
  'seq, time_ms, type, session_id, connection, identity, owner, command_id, decision, tables, body, leaf, prev_hash, hash';

/** A row exactly as both stores return it. */
export interface SqlEventRow {
  seq: number | string;
  time_ms: number | string;
  type: string;
  session_id: string | null;
  connection: string | null;
  identity: string | null;
  owner: string | null;
  command_id: string | null;
  decision: string | null;
  tables: string | null;
  body: string;
  leaf: string;
  prev_hash: string;
  hash: string;
}

export function toEventRow(r: SqlEventRow): EventRow {
  return {
    seq: Number(r.seq),
    time: Number(r.time_ms),
    type: r.type,
    sessionId: r.session_id,
    connection: r.connection,
    identity: r.identity,
    owner: r.owner,
    commandId: r.command_id,
    decision: r.decision,
    tables: r.tables,
    body: r.body,
    leaf: r.leaf,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** The values of `EVENT_COLUMNS` for one row, in order. */
export function rowValues(r: EventRow): (string | number | null)[] {
  return [
    r.seq,
    r.time,
    r.type,
    r.sessionId,
    r.connection,
    r.identity,
    r.owner,
    r.commandId,
    r.decision,
    r.tables,
    r.body,
    r.leaf,
    r.prevHash,
    r.hash,
  ];
}

export type Placeholder = (index: number) => string;
export const sqlitePlaceholder: Placeholder = () => '?';
export const postgresPlaceholder: Placeholder = (i) => `$${i}`;

export interface BuiltQuery {
  readonly sql: string;
  readonly params: (string | number)[];
}

/** How a store finds one session's events, when not by `session_id = ?` (one `?` per use). */
export interface QueryOptions {
  readonly sessionFilter?: string | undefined;
}

/**
 * `SELECT` over the events table for a filter; with `limit`, the newest `limit` rows (the caller
 * reverses them into seq order).
 *
 * @example
 * const { sql, params } = buildEventQuery({ table: 'patients', access: 'write' }, sqlitePlaceholder);
 */
export function buildEventQuery(
  f: AuditFilter,
  ph: Placeholder,
  options: QueryOptions = {},
): BuiltQuery {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (sql: string, ...values: (string | number)[]): void => {
    let text = sql;
    for (const v of values) {
      params.push(v);
      text = text.replace('?', ph(params.length));
    }
    where.push(text);
  };
  if (f.connection !== undefined) add('connection = ?', f.connection);
  if (f.identity !== undefined) add('(identity = ? OR owner = ?)', f.identity, f.identity);
  if (f.owner !== undefined) add('owner = ?', f.owner);
  if (f.sessionId !== undefined) {
    const sql = options.sessionFilter ?? 'session_id = ?';
    add(
      sql,
      ...sql
        .split('?')
        .slice(1)
        .map(() => f.sessionId as string),
    );
  }
  if (f.commandId !== undefined) add('command_id = ?', f.commandId);
  if (f.causedBy !== undefined) {
    // Canonical JSON: `"causedBy":"c_…"` can only be the key itself (quotes inside strings are
    // escaped), and ids are checked to be `c_` and hex by the CLI.
    const esc = f.causedBy.replace(/[\\%_]/g, (c) => `\\${c}`);
    add("body LIKE ? ESCAPE '\\'", `%"causedBy":"${esc}"%`);
  }
  if (f.types !== undefined && f.types.length > 0) {
    add(`type IN (${f.types.map(() => '?').join(', ')})`, ...f.types);
  }
  if (f.decision !== undefined) add('decision = ?', f.decision);
  if (f.table !== undefined) addTable(add, f.table, f.access);
  if (f.since !== undefined) add('time_ms >= ?', f.since);
  if (f.until !== undefined) add('time_ms < ?', f.until);
  const clause = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
  const base = `SELECT ${EVENT_COLUMNS} FROM events${clause}`;
  if (f.limit === undefined || !Number.isFinite(f.limit)) {
    return { sql: `${base} ORDER BY seq`, params };
  }
  params.push(Math.max(0, Math.floor(f.limit)));
  return { sql: `${base} ORDER BY seq DESC LIMIT ${ph(params.length)}`, params };
}

/** `patients` matches `patients` and `any_schema.patients`; `s.patients` matches exactly. */
function addTable(
  add: (sql: string, ...v: string[]) => void,
  name: string,
  access: string | undefined,
): void {
  const esc = name.replace(/[\\%_]/g, (c) => `\\${c}`);
  const suffix = access === undefined ? ':%' : `:${access}`;
  if (name.includes('.')) {
    add("tables LIKE ? ESCAPE '\\'", `%,${esc}${suffix},%`);
  } else {
    add(
      "(tables LIKE ? ESCAPE '\\' OR tables LIKE ? ESCAPE '\\')",
      `%,${esc}${suffix},%`,
      `%.${esc}${suffix},%`,
    );
  }
}

/** `command.requested` rows of a filter joined with their outcome and approval events. */
export async function commandRecords(
  f: AuditFilter,
  ph: Placeholder,
  run: (q: BuiltQuery) => Promise<SqlEventRow[]>,
  related: (commandIds: string[]) => Promise<SqlEventRow[]>,
  options: QueryOptions = {},
): Promise<CommandRecord[]> {
  const q = buildEventQuery({ ...f, types: ['command.requested', 'llm.requested'] }, ph, options);
  const requests = await run(q);
  if (f.limit !== undefined) requests.reverse();
  const ids = requests.map((r) => r.command_id).filter((id): id is string => id !== null);
  const byId = new Map<string, SqlEventRow[]>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const r of await related(ids.slice(i, i + 500))) {
      const list = byId.get(r.command_id ?? '') ?? [];
      list.push(r);
      byId.set(r.command_id ?? '', list);
    }
  }
  return requests.map((r) => toCommandRecord(r, byId.get(r.command_id ?? '') ?? []));
}

function toCommandRecord(r: SqlEventRow, related: SqlEventRow[]): CommandRecord {
  const e = eventOfRow(toEventRow(r));
  let outcome: CommandRecord['outcome'] = null;
  let approval: CommandRecord['approval'] = null;
  for (const x of related) {
    const b = JSON.parse(x.body) as StoredBody;
    if ((b.type === 'command.completed' || b.type === 'llm.responded') && outcome === null) {
      outcome = b.data;
    }
    if (b.type === 'command.approved' || b.type === 'command.rejected') {
      approval = { type: b.type, ts: b.ts, data: b.data };
    }
  }
  return {
    commandId: e.commandId ?? '',
    type: e.type === 'llm.requested' ? 'llm.requested' : 'command.requested',
    seq: e.seq,
    ts: e.ts,
    sessionId: e.sessionId,
    connection: e.connection,
    actor: e.actor,
    clientAddr: e.clientAddr,
    request: e.data,
    outcome,
    approval,
  };
}

/** SQL for the events related to a set of command ids (outcome and approvals). */
export function relatedQuery(ids: readonly string[], ph: Placeholder): BuiltQuery {
  const list = ids.map((_, i) => ph(i + 1)).join(', ');
  return {
    sql: `SELECT ${EVENT_COLUMNS} FROM events WHERE command_id IN (${list})
      AND type IN ('command.completed', 'llm.responded', 'command.approved', 'command.rejected')
      ORDER BY seq`,
    params: [...ids],
  };
}
