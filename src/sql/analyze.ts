/**
 * Statement analysis with PostgreSQL's own grammar: which relations a SQL string touches and how,
 * which functions it calls, its command tags, and the raw parse trees for the policy engine.
 *
 * Results are deeply frozen and cached by exact text (bounded LRU), so a workload that repeats
 * its statements parses each text once; plain DML without function calls is also cached by its
 * literal shape (literal-shape.ts), so one that sends a statement with different constants, as
 * `pgbench -S` does, parses it once too.
 */

import { literalShape } from './literal-shape.ts';
import { LruCache } from './lru-cache.ts';
import { initPgParser, isPgParserLoaded, type PgParseOutcome, parsePg } from './pg-parser.ts';
import { describeStatement } from './statement-walker.ts';
import type { SqlAnalysis, StatementInfo } from './types.ts';

export type { SqlAnalysis, StatementInfo, TableAccess, TableRef } from './types.ts';

/** Size limits of the analyser and its cache. */
export const SQL_ANALYSIS_LIMITS = Object.freeze({
  /** Longer inputs (UTF-8 bytes) are refused without parsing. */
  maxInputBytes: 1024 * 1024,
  /** Most cached texts. */
  cacheEntries: 2000,
  /** Most UTF-8 bytes of cached text in total. */
  cacheBytes: 2 * 1024 * 1024,
  /** Texts longer than this (UTF-8 bytes) are analysed but not cached. */
  maxCachedTextBytes: 16 * 1024,
});

/** Longest slice of the input quoted back in an error message. */
const MAX_QUOTED = 40;
const MAX_MESSAGE = 240;

const cache = new LruCache<SqlAnalysis>({
  maxEntries: SQL_ANALYSIS_LIMITS.cacheEntries,
  maxWeight: SQL_ANALYSIS_LIMITS.cacheBytes,
  maxEntryWeight: SQL_ANALYSIS_LIMITS.maxCachedTextBytes,
});

const byShape = new LruCache<SqlAnalysis>({
  maxEntries: SQL_ANALYSIS_LIMITS.cacheEntries,
  maxWeight: SQL_ANALYSIS_LIMITS.cacheBytes,
  maxEntryWeight: SQL_ANALYSIS_LIMITS.maxCachedTextBytes,
});

/**
 * Statement kinds whose analysis reads only the tree's structure: no literal value can change
 * their tables, functions or policy facts (constants matter only to SET and `set_config`).
 */
const SHAPE_KINDS: ReadonlySet<string> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE']);

const EMPTY: SqlAnalysis = Object.freeze({ ok: true, statements: Object.freeze([]) });

/**
 * Loads the PostgreSQL parser (WebAssembly). Idempotent; await it once before {@link analyzeSql}.
 *
 * @example
 * await initSqlParser();
 */
export async function initSqlParser(): Promise<void> {
  await initPgParser();
}

/**
 * Analyses a SQL string (one or more statements) synchronously. Never throws once
 * {@link initSqlParser} has resolved: syntax errors, oversized input and statements too deep to
 * analyse come back as `ok: false`. The result is deeply frozen and may be shared.
 *
 * @example
 * await initSqlParser();
 * const r = analyzeSql('INSERT INTO audit.log SELECT * FROM events');
 * // r.ok === true
 * // r.statements[0].kind === 'INSERT'
 * // r.statements[0].tables: [{ schema: 'audit', name: 'log', access: 'write' },
 * //                          { schema: null, name: 'events', access: 'read' }]
 */
export function analyzeSql(text: string): SqlAnalysis {
  if (!isPgParserLoaded()) {
    throw new Error('analyzeSql: the SQL parser is not loaded; await initSqlParser() first');
  }
  if (typeof text !== 'string') return failure('SQL text must be a string');
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const shape =
    text.length <= SQL_ANALYSIS_LIMITS.maxCachedTextBytes ? literalShape(text) : undefined;
  const shared = shape === undefined ? undefined : byShape.get(shape);
  if (shared !== undefined) return shared;
  const { analysis, cacheable } = analyzeUncached(text);
  if (cacheable) cache.set(text, analysis);
  if (shape !== undefined && shapeIndependent(analysis)) byShape.set(shape, analysis);
  return analysis;
}

/** Whether any text of the same literal shape has this analysis, literal values aside. */
function shapeIndependent(analysis: SqlAnalysis): boolean {
  return (
    analysis.ok &&
    analysis.statements.length > 0 &&
    analysis.statements.every((s) => SHAPE_KINDS.has(s.kind) && s.functions.length === 0)
  );
}

/**
 * Empties the analysis cache (for tests and benchmarks).
 *
 * @example
 * clearSqlAnalysisCache();
 */
export function clearSqlAnalysisCache(): void {
  cache.clear();
  byShape.clear();
}

function analyzeUncached(text: string): { analysis: SqlAnalysis; cacheable: boolean } {
  const refused = refuse(text);
  if (refused !== undefined) return { analysis: failure(refused), cacheable: false };
  if (text === '') return { analysis: EMPTY, cacheable: true };
  const parsed = parsePg(text);
  if (!parsed.ok) return { analysis: parseFailure(text, parsed), cacheable: !parsed.transient };
  try {
    const statements = (parsed.result.stmts ?? []).map((raw) => statementInfo(raw.stmt));
    return { analysis: deepFreeze({ ok: true, statements }), cacheable: true };
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { analysis: failure('statement is too deeply nested to analyse'), cacheable: false };
  }
}

function refuse(text: string): string | undefined {
  const max = SQL_ANALYSIS_LIMITS.maxInputBytes;
  const tooLong = text.length > max || (text.length * 3 > max && Buffer.byteLength(text) > max);
  if (tooLong) return `SQL text exceeds the ${max}-byte analysis limit`;
  // PostgreSQL's wire protocol cannot carry NUL in a query, and the C parser would stop there.
  if (text.includes('\u0000')) return 'SQL text contains a NUL character';
  return undefined;
}

function statementInfo(stmt: unknown): StatementInfo {
  const { kind, tables, functions, readOnly } = describeStatement(stmt);
  return { kind, tables, functions, readOnly, ast: stmt };
}

function failure(error: string, position?: number): SqlAnalysis {
  return Object.freeze(
    position === undefined ? { ok: false, error } : { ok: false, error, position },
  );
}

function parseFailure(text: string, parsed: PgParseOutcome & { ok: false }): SqlAnalysis {
  const position = parsed.position === undefined ? undefined : utf16Index(text, parsed.position);
  return failure(clipMessage(parsed.error), position);
}

/**
 * PostgreSQL quotes the input from the error onwards (`unterminated quoted string at or near
 * "'…"` runs to the end of the text), so long quotes are clipped.
 */
function clipMessage(message: string): string {
  const quoted = /^([\s\S]*? at or near ")([\s\S]*)"$/.exec(message);
  const head = quoted?.[1];
  const token = quoted?.[2];
  const clipped =
    head !== undefined && token !== undefined && token.length > MAX_QUOTED
      ? `${head}${clip(token, MAX_QUOTED)}…"`
      : message;
  return clipped.length > MAX_MESSAGE ? `${clip(clipped, MAX_MESSAGE)}…` : clipped;
}

/** The first `max` UTF-16 units of `s`, not splitting a surrogate pair. */
function clip(s: string, max: number): string {
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** PostgreSQL counts characters (code points); JavaScript indexes UTF-16 units. */
function utf16Index(text: string, codePoints: number): number {
  let index = 0;
  for (let n = 0; n < codePoints && index < text.length; n += 1) {
    index += (text.codePointAt(index) ?? 0) > 0xffff ? 2 : 1;
  }
  return index;
}

/** Freezes `root` and everything reachable from it, without recursion (trees can be deep). */
function deepFreeze<T>(root: T): T {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null || Object.isFrozen(value)) continue;
    Object.freeze(value);
    for (const key in value) stack.push((value as Record<string, unknown>)[key]);
  }
  return root;
}
