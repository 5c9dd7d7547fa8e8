/**
 * The estimated impact of a held statement, for the approver: PostgreSQL's own row estimate from
 * `EXPLAIN (FORMAT JSON)`, on the connection the statement targets.
 *
 * The statement is planned, never executed: no ANALYZE, a read-only transaction that is rolled
 * back, a statement timeout, and only for one INSERT, UPDATE, DELETE, MERGE or SELECT (a WITH
 * reports the tag of its main statement).
 * https://www.postgresql.org/docs/current/sql-explain.html: "Keep in mind that the statement is
 * actually executed when the ANALYZE option is used."
 */
import { Socket } from 'node:net';
import pg from 'pg';
import type { PostgresConnectionConfig } from '../config/schema.ts';
import { lookupClientConfig, withDeadline } from '../protocols/postgres/lookup-client.ts';
import { analyzeSql, initSqlParser, type StatementInfo } from '../sql/analyze.ts';

export type Impact =
  | { ok: true; estimatedRows: number; plan: string; tables: string[] }
  | { ok: false; reason: string };

export interface EstimateOptions {
  /** Budget for connecting and planning together (default 3000 ms). */
  timeoutMs?: number;
}

const ESTIMABLE = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'SELECT']);
const MAX_REASON = 200;
const DEFAULT_TIMEOUT_MS = 3000;

/** One node of EXPLAIN's JSON plan (only the keys we read). */
interface PlanNode {
  'Node Type'?: string;
  Operation?: string;
  'Relation Name'?: string;
  'Plan Rows'?: number;
  Plans?: PlanNode[];
}

/**
 * Plans `statement` on `conn` and reports how many rows it would touch. Never throws.
 *
 * @example
 * const impact = await estimateImpact(conn, { text: 'DELETE FROM patients WHERE id < $1',
 *   params: ['100'] });
 * // { ok: true, estimatedRows: 99, plan: 'Delete on patients', tables: ['patients'] }
 */
export async function estimateImpact(
  conn: PostgresConnectionConfig,
  statement: { text: string; params: readonly (string | null)[] | null },
  opts: EstimateOptions = {},
): Promise<Impact> {
  const info = await estimable(statement.text);
  if (!info) return { ok: false, reason: 'not estimable' };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const root = await explain(conn, statement, timeoutMs).catch((err: unknown) => {
      // sslmode=prefer: a server without TLS is still acceptable.
      if (conn.ssl !== 'prefer' || !/does not support SSL/i.test(String(err))) throw err;
      return explain({ ...conn, ssl: 'disable' }, statement, timeoutMs);
    });
    return { ok: true, ...summarize(root), tables: info.tables.map(qualified) };
  } catch (err) {
    return { ok: false, reason: cleanReason(err, conn) };
  }
}

/** The statement's analysis when it is exactly one statement of an estimable kind. */
async function estimable(text: string): Promise<StatementInfo | undefined> {
  try {
    await initSqlParser();
    const a = analyzeSql(text);
    if (!a.ok || a.statements.length !== 1) return undefined;
    const s = a.statements[0];
    return s && ESTIMABLE.has(s.kind) ? s : undefined;
  } catch {
    return undefined;
  }
}

function qualified(t: { schema: string | null; name: string }): string {
  return t.schema ? `${t.schema}.${t.name}` : t.name;
}

/** Connects, plans inside a rolled-back read-only transaction, and always disconnects. */
async function explain(
  conn: PostgresConnectionConfig,
  statement: { text: string; params: readonly (string | null)[] | null },
  timeoutMs: number,
): Promise<PlanNode> {
  const deadline = withDeadline(timeoutMs);
  let socket: Socket | undefined;
  const client = new pg.Client({
    ...clientConfig(conn, timeoutMs),
    stream: () => {
      socket = new Socket();
      return socket;
    },
  });
  client.on('error', () => undefined);
  try {
    return await deadline.race(runExplain(client, statement, timeoutMs));
  } finally {
    deadline.clear();
    await closeQuietly(client, () => socket?.destroy());
  }
}

async function runExplain(
  client: pg.Client,
  statement: { text: string; params: readonly (string | null)[] | null },
  timeoutMs: number,
): Promise<PlanNode> {
  await client.connect();
  // READ ONLY also stops a planner-folded function from writing; EXPLAIN alone is exempt.
  await client.query('BEGIN READ ONLY');
  await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
  const text = `EXPLAIN (FORMAT JSON) ${statement.text}`;
  const res = statement.params
    ? await client.query(text, [...statement.params])
    : await client.query(text);
  await client.query('ROLLBACK');
  return planRoot(res.rows[0]);
}

function planRoot(row: unknown): PlanNode {
  const raw = (row as Record<string, unknown> | undefined)?.['QUERY PLAN'];
  const doc = typeof raw === 'string' ? JSON.parse(raw) : raw;
  const plan = (doc as { Plan?: PlanNode }[] | undefined)?.[0]?.Plan;
  if (!plan || typeof plan !== 'object') throw new Error('EXPLAIN returned no plan');
  return plan;
}

/**
 * The rows the statement touches: for a ModifyTable (anywhere, e.g. under a WITH) the rows its
 * first child feeds it; otherwise the top node's estimate.
 */
function summarize(root: PlanNode): { estimatedRows: number; plan: string } {
  const modify = findModify(root);
  if (modify) {
    const child = modify.Plans?.[0];
    return {
      estimatedRows: rows(child ?? modify),
      plan: nodeLabel(modify, modify.Operation),
    };
  }
  return { estimatedRows: rows(root), plan: nodeLabel(root, root['Node Type']) };
}

function findModify(node: PlanNode): PlanNode | undefined {
  if (node['Node Type'] === 'ModifyTable') return node;
  for (const child of node.Plans ?? []) {
    const found = findModify(child);
    if (found) return found;
  }
  return undefined;
}

function rows(node: PlanNode): number {
  const n = node['Plan Rows'];
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

function nodeLabel(node: PlanNode, name: string | undefined): string {
  const label = name ?? 'Unknown';
  return node['Relation Name'] ? `${label} on ${node['Relation Name']}` : label;
}

function clientConfig(conn: PostgresConnectionConfig, timeoutMs: number): pg.ClientConfig {
  return { ...lookupClientConfig(conn, timeoutMs, 'airlock-impact'), query_timeout: timeoutMs };
}

/** Ends the session politely, or cuts the socket if that does not finish promptly. */
async function closeQuietly(client: pg.Client, destroy: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      destroy();
      resolve();
    }, 250);
  });
  await Promise.race([client.end().catch(() => destroy()), cut]);
  clearTimeout(timer);
}

/** The driver's message, clipped, with the password (should it appear) masked. */
function cleanReason(err: unknown, conn: PostgresConnectionConfig): string {
  const message = err instanceof Error && err.message ? err.message : String(err);
  const password = conn.password.reveal();
  const masked = password ? message.split(password).join('[redacted]') : message;
  return masked.length <= MAX_REASON ? masked : `${masked.slice(0, MAX_REASON - 1)}…`;
}
