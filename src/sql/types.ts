/**
 * What the statement analyser reports: per statement, its command tag, the relations it names and
 * how, the functions it calls, and whether it can change anything.
 */

/**
 * How a statement touches a relation: `read` (SELECT, COPY TO, a source of INSERT … SELECT),
 * `write` (INSERT, UPDATE, DELETE, MERGE, COPY FROM, TRUNCATE, REFRESH, LOCK stronger than ACCESS
 * SHARE) or `ddl` (created, altered, dropped, granted on, indexed, vacuumed, or otherwise changed
 * in definition).
 */
export type TableAccess = 'read' | 'write' | 'ddl';

/** A relation named by a statement. Names are as PostgreSQL folds them: unquoted lowercased. */
export interface TableRef {
  /** The schema when the statement wrote one, else null (resolved by `search_path`). */
  readonly schema: string | null;
  readonly name: string;
  /** The strongest access in the statement: `ddl` over `write` over `read`. */
  readonly access: TableAccess;
}

/** One statement of the input. */
export interface StatementInfo {
  /** The command tag PostgreSQL would report, e.g. `SELECT`, `CREATE TABLE`, `DROP VIEW`. */
  readonly kind: string;
  /** Relations in order of first appearance, each once. CTE names are not relations. */
  readonly tables: readonly TableRef[];
  /** Called functions, as written (schema-qualified when written so), each once. */
  readonly functions: readonly string[];
  /**
   * True only when the statement cannot change data or session authority. A SELECT calling an
   * arbitrary function is still reported read-only: check `functions`.
   */
  readonly readOnly: boolean;
  /**
   * The raw parse node from libpg_query, e.g. `{ SelectStmt: {…} }`. Frozen. Read its structure,
   * not its constants: plain DML is shared between texts of one literal shape, so its literal
   * values may be another text's.
   */
  readonly ast: unknown;
}

/** The result of analysing a string that may hold several statements. */
export type SqlAnalysis =
  | { readonly ok: true; readonly statements: readonly StatementInfo[] }
  | {
      readonly ok: false;
      /** PostgreSQL's message (long quoted input clipped) or our own limit message. */
      readonly error: string;
      /** 0-based UTF-16 index into the input where PostgreSQL located the error. */
      readonly position?: number;
    };
