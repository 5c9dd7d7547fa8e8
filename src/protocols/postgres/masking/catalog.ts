/**
 * Names result columns through the catalog, so that aliases cannot hide them: RowDescription
 * carries each column's table OID and attribute number, and `pg_attribute`/`pg_class`/
 * `pg_namespace` turn those into `schema.table.column`. One side connection per configured
 * connection (the brokered credential, the same TLS mode), an LRU cache with a time-to-live,
 * emptied when a session runs DDL. A lookup that fails or times out rejects: callers fail closed.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ROWDESCRIPTION
 */
import { Socket } from 'node:net';
import pg from 'pg';
import type { PostgresConnectionConfig } from '../../../config/schema.ts';
import type { ColumnName } from '../../../masking/rules.ts';
import type { Logger } from '../../../telemetry/logger.ts';
import { lookupClientConfig, withDeadline } from '../lookup-client.ts';
import type { TypeInfo } from './pg-types.ts';

/** A table's columns in attribute order (what `COPY table TO` writes). */
export interface TableInfo {
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly { readonly name: string; readonly typeOid: number }[];
}

export interface CatalogRequest {
  readonly columns?: readonly (readonly [tableOid: number, attnum: number])[];
  readonly types?: readonly number[];
  /** Relation names as written (`schema` null: resolved by the side connection's search_path). */
  readonly tables?: readonly { readonly schema: string | null; readonly name: string }[];
}

/** What a lookup found; a requested key missing here was not found (dropped, or invisible). */
export interface CatalogAnswer {
  readonly columns: ReadonlyMap<string, ColumnName>;
  readonly types: ReadonlyMap<number, TypeInfo>;
  readonly tables: ReadonlyMap<string, TableInfo>;
}

/** What a session's masker needs from the catalog (a PgCatalog, or a fake in tests). */
export interface CatalogPort {
  peekColumn(tableOid: number, attnum: number): ColumnName | undefined;
  peekType(oid: number): TypeInfo | undefined;
  peekTable(t: { schema: string | null; name: string }): TableInfo | undefined;
  load(req: CatalogRequest): Promise<CatalogAnswer>;
  invalidate(): void;
}

export interface CatalogOptions {
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Entries kept per connection (default 10 000). */
  readonly maxEntries?: number;
  /** Entries older than this are looked up again (default 60 s). */
  readonly ttlMs?: number;
  readonly clock?: () => number;
}

type Entry =
  | { readonly kind: 'column'; readonly value: ColumnName; readonly at: number }
  | { readonly kind: 'type'; readonly value: TypeInfo; readonly at: number }
  | { readonly kind: 'table'; readonly value: TableInfo; readonly at: number };

export const columnKey = (tableOid: number, attnum: number): string => `c${tableOid}.${attnum}`;
export const tableKey = (t: { schema: string | null; name: string }): string =>
  `r${qualifiedName(t)}`;
const qualifiedName = (t: { schema: string | null; name: string }): string =>
  t.schema === null ? quoteIdent(t.name) : `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
const typeKey = (oid: number): string => `t${oid}`;

const COLUMNS_SQL = `SELECT k.rel::int8 AS rel, k.num AS num, n.nspname, c.relname, a.attname
  FROM unnest($1::int8[], $2::int4[]) AS k(rel, num)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = k.rel::oid AND a.attnum = k.num
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`;
const TYPES_SQL = `SELECT t.oid::int8 AS oid, b.oid::int8 AS base, b.typcategory AS category,
    b.typsend::text AS send
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_type b ON b.oid = coalesce(nullif(t.typbasetype, 0), t.oid)
  WHERE t.oid = ANY($1::int8[]::oid[])`;
const TABLE_SQL = `SELECT n.nspname, c.relname, a.attname, a.atttypid::int8 AS type
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE c.oid = to_regclass($1) ORDER BY a.attnum`;

/**
 * @example
 * const catalog = new PgCatalog(conn, { timeoutMs: 5000, logger });
 * const answer = await catalog.load({ columns: [[16390, 6]] });
 * answer.columns.get(columnKey(16390, 6)); // { schema: 'public', table: 'patients', column: 'ssn' }
 */
export class PgCatalog implements CatalogPort {
  readonly #conn: PostgresConnectionConfig;
  readonly #opts: CatalogOptions;
  readonly #cache = new Map<string, Entry>();
  #client: Promise<pg.Client> | undefined;
  #generation = 0;

  constructor(conn: PostgresConnectionConfig, opts: CatalogOptions) {
    this.#conn = conn;
    this.#opts = opts;
  }

  peekColumn(tableOid: number, attnum: number): ColumnName | undefined {
    const e = this.#peek(columnKey(tableOid, attnum));
    return e?.kind === 'column' ? e.value : undefined;
  }

  peekType(oid: number): TypeInfo | undefined {
    const e = this.#peek(typeKey(oid));
    return e?.kind === 'type' ? e.value : undefined;
  }

  peekTable(t: { schema: string | null; name: string }): TableInfo | undefined {
    const e = this.#peek(tableKey(t));
    return e?.kind === 'table' ? e.value : undefined;
  }

  /** Forgets everything (a session ran DDL: names, types and column lists may have changed). */
  invalidate(): void {
    this.#cache.clear();
    this.#generation++;
  }

  /** Looks the keys up on the side connection, with a deadline. Rejects on any failure. */
  async load(req: CatalogRequest): Promise<CatalogAnswer> {
    const generation = this.#generation;
    const deadline = withDeadline(this.#opts.timeoutMs, 'catalog lookup');
    try {
      const answer = await deadline.race(this.#query(req));
      if (generation === this.#generation) this.#store(answer);
      return answer;
    } catch (err) {
      this.#drop();
      throw err;
    } finally {
      deadline.clear();
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.then((c) => c.end()).catch(() => undefined);
  }

  #peek(key: string): Entry | undefined {
    const e = this.#cache.get(key);
    if (!e) return undefined;
    const now = (this.#opts.clock ?? Date.now)();
    if (now - e.at > (this.#opts.ttlMs ?? 60_000)) {
      this.#cache.delete(key);
      return undefined;
    }
    this.#cache.delete(key);
    this.#cache.set(key, e);
    return e;
  }

  #store(a: CatalogAnswer): void {
    const at = (this.#opts.clock ?? Date.now)();
    for (const [k, value] of a.columns) this.#set(k, { kind: 'column', value, at });
    for (const [oid, value] of a.types) this.#set(typeKey(oid), { kind: 'type', value, at });
    for (const [k, value] of a.tables) this.#set(k, { kind: 'table', value, at });
  }

  #set(key: string, e: Entry): void {
    this.#cache.delete(key);
    this.#cache.set(key, e);
    const max = this.#opts.maxEntries ?? 10_000;
    while (this.#cache.size > max) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
  }

  async #query(req: CatalogRequest): Promise<CatalogAnswer> {
    const client = await this.#connect();
    const columns = new Map<string, ColumnName>();
    const types = new Map<number, TypeInfo>();
    const tables = new Map<string, TableInfo>();
    if (req.columns && req.columns.length > 0) {
      const rels = req.columns.map((c) => c[0]);
      const nums = req.columns.map((c) => c[1]);
      const r = await client.query(COLUMNS_SQL, [rels, nums]);
      for (const row of r.rows) {
        columns.set(columnKey(Number(row.rel), Number(row.num)), {
          schema: String(row.nspname),
          table: String(row.relname),
          column: String(row.attname),
        });
      }
    }
    if (req.types && req.types.length > 0) {
      const r = await client.query(TYPES_SQL, [req.types]);
      for (const row of r.rows) {
        types.set(Number(row.oid), {
          base: Number(row.base),
          category: String(row.category),
          send: String(row.send),
        });
      }
    }
    for (const t of req.tables ?? []) {
      const r = await client.query(TABLE_SQL, [qualifiedName(t)]);
      const first = r.rows[0];
      if (!first) continue;
      tables.set(tableKey(t), {
        schema: String(first.nspname),
        table: String(first.relname),
        columns: r.rows.map((row) => ({ name: String(row.attname), typeOid: Number(row.type) })),
      });
    }
    return { columns, types, tables };
  }

  #connect(): Promise<pg.Client> {
    this.#client ??= this.#open().catch((err: unknown) => {
      this.#client = undefined;
      throw err;
    });
    return this.#client;
  }

  async #open(): Promise<pg.Client> {
    try {
      return await openClient(this.#conn, this.#opts.timeoutMs);
    } catch (err) {
      // sslmode=prefer: a server without TLS is still acceptable.
      if (this.#conn.ssl !== 'prefer' || !/does not support SSL/i.test(String(err))) throw err;
      return openClient({ ...this.#conn, ssl: 'disable' }, this.#opts.timeoutMs);
    }
  }

  /** After a failure or timeout the side connection is replaced on the next lookup. */
  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.then((c) => c.end()).catch(() => undefined);
  }
}

async function openClient(conn: PostgresConnectionConfig, timeoutMs: number): Promise<pg.Client> {
  let socket: Socket | undefined;
  const client = new pg.Client({
    ...lookupClientConfig(conn, timeoutMs, 'airlock-masking-catalog'),
    stream: () => {
      socket = new Socket();
      return socket;
    },
  });
  client.on('error', () => socket?.destroy());
  try {
    await client.connect();
  } catch (err) {
    socket?.destroy();
    throw err;
  }
  return client;
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
