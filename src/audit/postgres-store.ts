/**
 * The ledger on PostgreSQL, for deployments that run several gateways against one shared,
 * replicated store. Tables live in the schema `airlock_ledger`, with the same shape as the embedded
 * store. Every write transaction locks the single `head` row first (`SELECT ... FOR UPDATE`), so
 * any number of gateway processes produce one log: one writer per sequence, no gaps, no forks.
 * An append is durable when PostgreSQL's COMMIT returns (the store's `synchronous_commit` applies).
 */

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Checkpoint, SigningKey } from './checkpoint.ts';
import { type EventRow, eventOfRow, prepareEvent } from './event-codec.ts';
import { writeLatestCheckpoint } from './latest-checkpoint.ts';
import { MerkleFrontier } from './merkle.ts';
import {
  emptyHead,
  headFromStored,
  headToStored,
  type LedgerHead,
  type SealItem,
  sealBatch,
  toSealItems,
} from './sealer.ts';
import {
  type BuiltQuery,
  buildEventQuery,
  commandRecords,
  EVENT_COLUMNS,
  type LedgerInfo,
  type LedgerItem,
  type LedgerReader,
  type LedgerWriterPort,
  type PrunedState,
  postgresPlaceholder,
  prunedFromJson,
  prunedToJson,
  type RuleHit,
  relatedQuery,
  rowValues,
  ruleHitsQuery,
  type SqlEventRow,
  toEventRow,
  toRuleHits,
  type WriteResults,
} from './store.ts';
import type { AuditEvent, AuditFilter, CommandRecord } from './types.ts';

export const PG_SCHEMA = 'airlock_ledger';
const PG_SCHEMA_VERSION = '2';

const COLUMN_TYPES = [
  'bigint',
  'bigint',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
];

const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS ${PG_SCHEMA};
SET LOCAL search_path = ${PG_SCHEMA};
CREATE TABLE IF NOT EXISTS meta(key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS head(id int PRIMARY KEY CHECK (id = 1), size bigint NOT NULL,
  last_hash text NOT NULL, checkpoint_seq bigint NOT NULL, frontier text NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  seq bigint PRIMARY KEY, time_ms bigint NOT NULL, type text NOT NULL,
  session_id text, connection text, identity text, owner text, command_id text,
  decision text, tables text, body text NOT NULL, leaf text NOT NULL,
  prev_hash text NOT NULL, hash text NOT NULL);
CREATE INDEX IF NOT EXISTS events_time_ms ON events(time_ms);
CREATE INDEX IF NOT EXISTS events_session_id ON events(session_id);
CREATE INDEX IF NOT EXISTS events_command_id ON events(command_id);
CREATE OR REPLACE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('airlock.pruning', true) = 'on' THEN RETURN OLD; END IF;
  RAISE EXCEPTION 'the audit ledger is append-only';
END $$;
DROP TRIGGER IF EXISTS events_append_only ON events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION append_only();
INSERT INTO meta VALUES ('schema_version', '${PG_SCHEMA_VERSION}') ON CONFLICT DO NOTHING;
`;

export interface PostgresStoreOptions {
  /** A libpq-style URL, e.g. `postgres://airlock@db/airlock?sslmode=verify-full`. */
  readonly url: string;
  readonly signer?: SigningKey | undefined;
  readonly latestCheckpointFile?: string | undefined;
  /** Statement timeout for ledger queries. Default 15000. */
  readonly timeoutMs?: number;
}

function clientConfig(o: PostgresStoreOptions): pg.ClientConfig {
  return {
    connectionString: o.url,
    options: `-c search_path=${PG_SCHEMA}`,
    query_timeout: o.timeoutMs ?? 15_000,
    application_name: 'airlock-ledger',
  };
}

/**
 * The PostgreSQL store: a writer port and a reader over one pool.
 *
 * @example
 * const store = await PostgresStore.open({ url: 'postgres://airlock@127.0.0.1/audit' });
 * const ledger = new Ledger({ port: store, reader: store });
 */
export class PostgresStore implements LedgerWriterPort, LedgerReader {
  readonly #options: PostgresStoreOptions;
  readonly #pool: pg.Pool;
  readonly #origin: string;
  #writer: pg.Client | undefined;
  #cached: LedgerHead | undefined;

  private constructor(options: PostgresStoreOptions, pool: pg.Pool, origin: string) {
    this.#options = options;
    this.#pool = pool;
    this.#origin = origin;
  }

  /** Connects, creates the schema if needed (under an advisory lock) and reads the origin. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({ ...clientConfig(options), max: 4 });
    pool.on('error', () => undefined);
    try {
      const origin = await createSchema(pool);
      return new PostgresStore(options, pool, origin);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  get origin(): string {
    return this.#origin;
  }

  async write(items: readonly LedgerItem[]): Promise<WriteResults> {
    const sealItems = toSealItems(items);
    let checkpoints: Checkpoint[] = [];
    const results = await this.#transaction(async (c) => {
      const sealed = sealBatch(await this.#head(c), sealItems, {
        origin: this.#origin,
        signer: this.#options.signer,
      });
      await insertRows(c, sealed.rows);
      await this.#setHead(c, sealed.head);
      checkpoints = sealed.checkpoints;
      return sealed.results;
    });
    const latest = checkpoints.at(-1);
    const file = this.#options.latestCheckpointFile;
    if (latest !== undefined && file !== undefined) writeLatestCheckpoint(file, latest);
    return results;
  }

  async prune(beforeMs: number, time: number): Promise<number> {
    return this.#transaction(async (c) => {
      const plan = await prunePlan(c, beforeMs);
      if (plan === undefined) return 0;
      await c.query("SET LOCAL airlock.pruning = 'on'");
      await c.query('DELETE FROM events WHERE seq <= $1', [plan.throughSeq]);
      await c.query("SET LOCAL airlock.pruning = 'off'");
      await c.query(
        "INSERT INTO meta VALUES ('pruned', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [prunedToJson(plan)],
      );
      const data = { throughSeq: plan.throughSeq, rootHash: plan.checkpoint.rootHash };
      const items: SealItem[] = [prepareEvent({ type: 'ledger.pruned', time, data })];
      const sealed = sealBatch(await this.#head(c), items, { origin: this.#origin });
      await insertRows(c, sealed.rows);
      await this.#setHead(c, sealed.head);
      return plan.throughSeq;
    });
  }

  async info(): Promise<LedgerInfo | null> {
    const { rows } = await this.#pool.query(
      `SELECT h.*, (SELECT value FROM meta WHERE key = 'pruned') AS pruned FROM head h`,
    );
    const h = rows[0] as HeadRow & { pruned: string | null };
    if (h === undefined) return null;
    return {
      origin: this.#origin,
      head: headFromStored(storedHead(h)),
      pruned: prunedFromJson(h.pruned ?? undefined),
    };
  }

  async query(filter: AuditFilter): Promise<AuditEvent[]> {
    const rows = await this.#rows(buildEventQuery(filter, postgresPlaceholder));
    if (filter.limit !== undefined) rows.reverse();
    return rows.map((r) => eventOfRow(toEventRow(r)));
  }

  commands(filter: AuditFilter): Promise<CommandRecord[]> {
    return commandRecords(
      filter,
      postgresPlaceholder,
      (q) => this.#rows(q),
      (ids) => this.#rows(relatedQuery(ids, postgresPlaceholder)),
    );
  }

  async readAfter(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`;
    const rows = await this.#rows({ sql, params: [afterSeq, limit] });
    return rows.map((r) => eventOfRow(toEventRow(r)));
  }

  async *rows(fromSeq: number, toSeq = Number.MAX_SAFE_INTEGER): AsyncIterable<EventRow> {
    const page = 5000;
    const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT ${page}`;
    let next = fromSeq;
    for (;;) {
      const rows = await this.#rows({ sql, params: [next, toSeq] });
      for (const r of rows) yield toEventRow(r);
      if (rows.length < page) return;
      next = Number(rows.at(-1)?.seq) + 1;
    }
  }

  async seqAt(timeMs: number, edge: 'first-at-or-after' | 'last-before'): Promise<number | null> {
    const sql =
      edge === 'first-at-or-after'
        ? 'SELECT MIN(seq) AS seq FROM events WHERE time_ms >= $1'
        : 'SELECT MAX(seq) AS seq FROM events WHERE time_ms < $1';
    const { rows } = await this.#pool.query(sql, [timeMs]);
    const seq = (rows[0] as { seq: string | null } | undefined)?.seq;
    return seq === null || seq === undefined ? null : Number(seq);
  }

  async close(): Promise<void> {
    const w = this.#writer;
    this.#writer = undefined;
    await w?.end().catch(() => undefined);
    await this.#pool.end().catch(() => undefined);
  }

  async ruleHits(): Promise<RuleHit[]> {
    const q = ruleHitsQuery("(body::jsonb #>> '{data,rule}')", postgresPlaceholder);
    const { rows } = await this.#pool.query(q.sql, q.params);
    return toRuleHits(rows as Record<string, unknown>[]);
  }

  async #rows(q: BuiltQuery): Promise<SqlEventRow[]> {
    const { rows } = await this.#pool.query(q.sql, q.params);
    return rows as SqlEventRow[];
  }

  /** Runs `body` in a transaction on the writer connection; a failure discards the connection. */
  async #transaction<T>(body: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = await this.#connection();
    try {
      await c.query('BEGIN');
      const out = await body(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      this.#cached = undefined;
      this.#writer = undefined;
      c.end().catch(() => undefined);
      throw err;
    }
  }

  async #connection(): Promise<pg.Client> {
    if (this.#writer !== undefined) return this.#writer;
    const c = new pg.Client(clientConfig(this.#options));
    c.on('error', () => {
      if (this.#writer === c) this.#writer = undefined;
    });
    await c.connect();
    this.#writer = c;
    return c;
  }

  async #head(c: pg.Client): Promise<LedgerHead> {
    const { rows } = await c.query('SELECT * FROM head WHERE id = 1 FOR UPDATE');
    const h = rows[0] as HeadRow | undefined;
    if (h === undefined) throw new Error('the ledger head row is missing');
    this.#cached = headFromStored(storedHead(h), this.#cached);
    return this.#cached;
  }

  async #setHead(c: pg.Client, head: LedgerHead): Promise<void> {
    const s = headToStored(head);
    await c.query(
      'UPDATE head SET size = $1, last_hash = $2, checkpoint_seq = $3, frontier = $4 WHERE id = 1',
      [s.size, s.lastHash, s.checkpointSeq, s.frontier],
    );
    this.#cached = head;
  }
}

interface HeadRow {
  size: string;
  last_hash: string;
  checkpoint_seq: string;
  frontier: string;
}

function storedHead(h: HeadRow) {
  return {
    size: Number(h.size),
    lastHash: h.last_hash,
    checkpointSeq: Number(h.checkpoint_seq),
    frontier: h.frontier,
  };
}

/** One INSERT for the whole batch: a column array per parameter, expanded by `unnest`. */
async function insertRows(c: pg.Client, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  const columns: (string | number | null)[][] = COLUMN_TYPES.map(() => []);
  for (const r of rows) {
    const values = rowValues(r);
    for (let i = 0; i < values.length; i++) columns[i]?.push(values[i] ?? null);
  }
  const params = COLUMN_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  await c.query(`INSERT INTO events(${EVENT_COLUMNS}) SELECT * FROM unnest(${params})`, columns);
}

async function createSchema(pool: pg.Pool): Promise<string> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    // Two gateways starting at once must not race on CREATE ... IF NOT EXISTS.
    await c.query("SELECT pg_advisory_xact_lock(hashtext('airlock_ledger.schema'))");
    await c.query(SCHEMA);
    const h = headToStored(emptyHead());
    await c.query('INSERT INTO head VALUES (1, $1, $2, $3, $4) ON CONFLICT DO NOTHING', [
      h.size,
      h.lastHash,
      h.checkpointSeq,
      h.frontier,
    ]);
    await c.query("INSERT INTO meta VALUES ('origin', $1) ON CONFLICT DO NOTHING", [
      `airlock-ledger-${randomUUID()}`,
    ]);
    const { rows } = await c.query(
      "SELECT key, value FROM meta WHERE key IN ('origin', 'schema_version')",
    );
    await c.query('COMMIT');
    const meta = new Map((rows as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    if (meta.get('schema_version') !== PG_SCHEMA_VERSION) {
      throw new Error(`unsupported ledger schema version ${String(meta.get('schema_version'))}`);
    }
    return meta.get('origin') ?? '';
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** The newest checkpoint event whose tree holds only events older than `beforeMs`. */
async function prunePlan(c: pg.Client, beforeMs: number): Promise<PrunedState | undefined> {
  const first = await c.query('SELECT MIN(seq) AS seq FROM events WHERE time_ms >= $1', [beforeMs]);
  const limit = Number((first.rows[0] as { seq: string | null }).seq ?? Number.MAX_SAFE_INTEGER);
  const { rows } = await c.query(
    `SELECT seq, body FROM events WHERE type = 'ledger.checkpointed' AND seq < $1
     ORDER BY seq DESC LIMIT 1`,
    [limit],
  );
  const cp = rows[0] as { seq: string; body: string } | undefined;
  if (cp === undefined) return undefined;
  const checkpoint = (JSON.parse(cp.body) as { data: Checkpoint }).data;
  if (checkpoint.treeSize !== Number(cp.seq) - 1 || checkpoint.treeSize < 1) return undefined;
  const meta = await c.query("SELECT value FROM meta WHERE key = 'pruned'");
  const prior = prunedFromJson((meta.rows[0] as { value: string } | undefined)?.value);
  const frontier = prior?.frontier.clone() ?? new MerkleFrontier();
  const leaves = await c.query(
    'SELECT leaf, hash FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq',
    [prior?.throughSeq ?? 0, checkpoint.treeSize],
  );
  let lastHash = prior?.lastHash ?? '';
  for (const r of leaves.rows as { leaf: string; hash: string }[]) {
    frontier.push(Buffer.from(r.leaf, 'hex'));
    lastHash = r.hash;
  }
  if (frontier.size !== checkpoint.treeSize) throw new Error('the ledger has gaps; cannot prune');
  return { throughSeq: checkpoint.treeSize, lastHash, frontier, checkpoint };
}
