/**
 * Command facts: what policy rules match on, read off libpg_query's parse tree (never the text).
 * Per statement: a class, the command tags it runs, the relations and functions it names, and
 * boolean facts such as `delete_without_where` or `copy_to_program`.
 *
 * Statements that run others are judged by what they run: `PREPARE p AS DELETE …` has the
 * DELETE's class, tags and facts; `WITH d AS (DELETE …) SELECT …` is a write; `EXPLAIN ANALYZE`
 * (which executes) takes its statement's. Bodies that are only defined, not run (a function's
 * `BEGIN ATOMIC` body, a rule's actions, a view's query, plain `EXPLAIN`), add no facts.
 */
import type { SqlAnalysis, StatementInfo, TableAccess } from '../sql/analyze.ts';
import { describeStatement } from '../sql/statement-walker.ts';
import { constant, deepFreeze, isAnalyze, isObject, type Node, unwrap } from './ast.ts';
import { classOf, type StatementClass } from './statement-class.ts';

export { STATEMENT_CLASSES, type StatementClass } from './statement-class.ts';

export const FACT_NAMES = [
  'delete_without_where',
  'update_without_where',
  'truncate',
  'drop',
  'alter',
  'grant',
  'copy_to_program',
  'copy_from_program',
  'copy_to_file',
  'copy_from_file',
  'do_block',
  'set_role',
  'changes_parsing',
  'prepare',
  'execute_prepared',
  'writes_in_cte',
  'create_function',
  'lock',
  'vacuum',
  'call',
] as const;
export type FactName = (typeof FACT_NAMES)[number];
export type FactSet = Readonly<Record<FactName, boolean>>;

/** A relation the statement names. */
export interface TableFact {
  /** `schema.name` when the statement wrote a schema, else the bare `name`. */
  readonly name: string;
  readonly schema: string | null;
  readonly table: string;
  readonly access: TableAccess;
}

/** A function the statement calls. */
export interface FunctionFact {
  /** As written: `pg_catalog.pg_terminate_backend` or `pg_terminate_backend`. */
  readonly name: string;
  readonly schema: string | null;
  readonly function: string;
}

export interface StatementFacts {
  readonly class: StatementClass;
  /** The statement's own command tag, e.g. `SELECT`, `DROP TABLE`, `PREPARE`. */
  readonly tag: string;
  /** `tag`, then the tags of statements it runs (a PREPARE's statement, DML in CTEs), each once. */
  readonly tags: readonly string[];
  readonly tables: readonly TableFact[];
  readonly functions: readonly FunctionFact[];
  readonly facts: FactSet;
}

const cache = new WeakMap<SqlAnalysis, readonly StatementFacts[]>();

/**
 * The facts of every statement of an analysis, or undefined when the SQL did not parse. Cached
 * per analysis object (analyses are themselves cached by text), and deeply frozen.
 *
 * @example
 * await initSqlParser();
 * const [f] = commandFacts(analyzeSql('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d'))!;
 * // f.class === 'write'; f.facts.writes_in_cte === true; f.facts.delete_without_where === true
 * // f.tags: ['SELECT', 'DELETE']
 */
export function commandFacts(analysis: SqlAnalysis): readonly StatementFacts[] | undefined {
  if (!analysis.ok) return undefined;
  const hit = cache.get(analysis);
  if (hit !== undefined) return hit;
  const facts = Object.freeze(analysis.statements.map(statementFacts));
  cache.set(analysis, facts);
  return facts;
}

/**
 * The facts of one analysed statement.
 *
 * @example
 * statementFacts(analyzeSql('COPY t TO PROGRAM $$curl x$$').statements[0]).facts.copy_to_program; // true
 */
export function statementFacts(info: StatementInfo): StatementFacts {
  const scan = new Scan();
  scan.run(info.ast);
  const top = unwrap(info.ast);
  let cls = top === undefined ? 'utility' : classOf(top[0], top[1]);
  if (scan.nestedWrite && (cls === 'read' || cls === 'utility')) cls = 'write';
  // `SELECT set_config('role', …)` changes the session: no mere read.
  if ((scan.facts.set_role || scan.facts.changes_parsing) && cls === 'read') cls = 'utility';
  const inner = top === undefined ? undefined : runsTag(top[0], top[1]);
  const tags = new Set([info.kind, ...(inner === undefined ? [] : [inner]), ...scan.tags]);
  return deepFreeze({
    class: cls,
    tag: info.kind,
    tags: [...tags],
    tables: info.tables.map(tableFact),
    functions: info.functions.map(functionFact),
    facts: scan.facts,
  });
}

/**
 * The names of the facts that hold, in {@link FACT_NAMES} order.
 *
 * @example
 * trueFacts(statementFacts(info).facts); // ['drop']
 */
export function trueFacts(facts: FactSet): FactName[] {
  return FACT_NAMES.filter((f) => facts[f]);
}

function tableFact(t: StatementInfo['tables'][number]): TableFact {
  const name = t.schema === null ? t.name : `${t.schema}.${t.name}`;
  return { name, schema: t.schema, table: t.name, access: t.access };
}

function functionFact(name: string): FunctionFact {
  const parts = name.split('.');
  const fn = parts.pop() ?? name;
  return { name, schema: parts.pop() ?? null, function: fn };
}

// ---- the walk --------------------------------------------------------------------------------

/** Fields holding something defined for later, not run now. */
const DEFINITIONS: Readonly<Record<string, ReadonlySet<string>>> = {
  CreateFunctionStmt: new Set(['sql_body']),
  RuleStmt: new Set(['actions']),
  ViewStmt: new Set(['query']),
};

const DML_TAGS: Readonly<Record<string, string>> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
};

/** Settings that change who the session acts as. */
const ROLE_SETTINGS = new Set(['role', 'session_authorization']);

/**
 * Settings under which the server reads later statements differently from our parser, with the
 * values that keep them in step: with `standard_conforming_strings` off, `'\''; DROP …; --'` is a
 * string to the parser but a DROP to the server; a client encoding such as SJIS hides a quote
 * behind a multi-byte character.
 */
const PARSING_SETTINGS: Readonly<Record<string, ReadonlySet<string>>> = {
  standard_conforming_strings: new Set(['on', 'true', 'yes', '1']),
  client_encoding: new Set(['utf8', 'utf-8', 'unicode']),
};

interface Frame {
  readonly value: unknown;
  /** Inside a WITH clause's CTE. */
  readonly cte: boolean;
  /** The top-level statement itself. */
  readonly top: boolean;
}

/** Walks one statement tree without recursion (trees can be deep), collecting facts. */
class Scan {
  readonly facts: Record<FactName, boolean> = Object.fromEntries(
    FACT_NAMES.map((f) => [f, false]),
  ) as Record<FactName, boolean>;
  readonly tags = new Set<string>();
  nestedWrite = false;
  readonly #stack: Frame[] = [];

  run(ast: unknown): void {
    this.#stack.push({ value: ast, cte: false, top: true });
    for (let frame = this.#stack.pop(); frame !== undefined; frame = this.#stack.pop()) {
      this.#visit(frame);
    }
  }

  #visit({ value, cte, top }: Frame): void {
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i -= 1) this.#push(value[i], cte);
      return;
    }
    if (!isObject(value)) return;
    const wrapped = unwrap(value);
    if (wrapped === undefined) this.#fields(value, cte);
    else this.#node(wrapped[0], wrapped[1], cte, top);
  }

  #push(value: unknown, cte: boolean): void {
    if (typeof value === 'object' && value !== null) this.#stack.push({ value, cte, top: false });
  }

  /** Pushes the fields last to first, so they are visited in the order written. */
  #fields(node: Node, cte: boolean, skip?: ReadonlySet<string>): void {
    const keys = Object.keys(node);
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const key = keys[i] as string;
      if (skip?.has(key) === true) continue;
      // `ALTER ROLE … SET role = x` holds its VariableSetStmt bare.
      if (key === 'setstmt' && isObject(node[key])) this.variableSet(node[key]);
      else this.#push(node[key], cte);
    }
  }

  #node(type: string, node: Node, cte: boolean, top: boolean): void {
    this.#statementFacts(type, node, top, cte);
    if (type === 'CommonTableExpr') {
      this.#push(node.ctequery, true);
      this.#fields(node, cte, CTE_QUERY);
    } else if (type === 'ExplainStmt' && !isAnalyze(node.options)) {
      this.#fields(node, cte, EXPLAIN_QUERY);
    } else if (type === 'CallStmt' && isObject(node.funccall)) {
      this.#fields(node.funccall, cte);
    } else {
      this.#fields(node, cte, DEFINITIONS[type]);
    }
  }

  #statementFacts(type: string, node: Node, top: boolean, cte: boolean): void {
    const dml = DML_TAGS[type];
    if (dml !== undefined && !top) {
      this.tags.add(dml);
      this.nestedWrite = true;
      if (cte) this.facts.writes_in_cte = true;
    }
    const handler = FACT_HANDLERS[type];
    if (handler !== undefined) handler(node, this);
    else if (!type.endsWith('Stmt')) return;
    else if (type.startsWith('Drop')) this.facts.drop = true;
    else if (type.startsWith('Alter')) this.facts.alter = true;
  }

  /** A VariableSetStmt, wrapped or (under `ALTER ROLE … SET`) bare. */
  variableSet(node: Node): void {
    const name = String(node.name).toLowerCase();
    if (ROLE_SETTINGS.has(name)) this.facts.set_role = true;
    const args = Array.isArray(node.args) ? node.args : [];
    const value =
      node.kind === 'VAR_SET_VALUE' && args.length === 1 ? constant(args[0]) : undefined;
    if (changesParsing(name, value)) this.facts.changes_parsing = true;
  }
}

const CTE_QUERY = new Set(['ctequery']);
const EXPLAIN_QUERY = new Set(['query']);

/** The tag of the statement a PREPARE, DECLARE or EXPLAIN ANALYZE runs, if it runs one. */
function runsTag(type: string, node: Node): string | undefined {
  const runs =
    type === 'PrepareStmt' ||
    type === 'DeclareCursorStmt' ||
    (type === 'ExplainStmt' && isAnalyze(node.options));
  return runs && node.query !== undefined ? describeStatement(node.query).kind : undefined;
}

type FactHandler = (node: Node, scan: Scan) => void;

const MERGE_ACTIONS: Readonly<Record<string, string>> = {
  CMD_INSERT: 'INSERT',
  CMD_UPDATE: 'UPDATE',
  CMD_DELETE: 'DELETE',
};

const FACT_HANDLERS: Readonly<Record<string, FactHandler>> = {
  DeleteStmt: (node, s) => {
    if (!hasWhere(node.whereClause)) s.facts.delete_without_where = true;
  },
  UpdateStmt: (node, s) => {
    if (!hasWhere(node.whereClause)) s.facts.update_without_where = true;
  },
  // `ON CONFLICT DO UPDATE` updates; `MERGE … THEN DELETE` deletes: judged by those tags too.
  InsertStmt: (node, s) => {
    if (isObject(node.onConflictClause) && node.onConflictClause.action === 'ONCONFLICT_UPDATE') {
      s.tags.add('UPDATE');
    }
  },
  MergeWhenClause: (node, s) => {
    const tag = MERGE_ACTIONS[String(node.commandType)];
    if (tag !== undefined) s.tags.add(tag);
  },
  TruncateStmt: (_node, s) => {
    s.facts.truncate = true;
  },
  RenameStmt: (_node, s) => {
    s.facts.alter = true;
  },
  GrantStmt: (_node, s) => {
    s.facts.grant = true;
  },
  GrantRoleStmt: (_node, s) => {
    s.facts.grant = true;
  },
  AlterDefaultPrivilegesStmt: (_node, s) => {
    s.facts.grant = true;
    s.facts.alter = true;
  },
  CopyStmt: copyFacts,
  DoStmt: (_node, s) => {
    s.facts.do_block = true;
  },
  VariableSetStmt: (node, s) => s.variableSet(node),
  FuncCall: setConfigFacts,
  PrepareStmt: (_node, s) => {
    s.facts.prepare = true;
  },
  ExecuteStmt: (_node, s) => {
    s.facts.execute_prepared = true;
  },
  CreateFunctionStmt: (_node, s) => {
    s.facts.create_function = true;
  },
  LockStmt: (_node, s) => {
    s.facts.lock = true;
  },
  VacuumStmt: (_node, s) => {
    s.facts.vacuum = true;
  },
  CallStmt: (node, s) => {
    s.facts.call = true;
    if (isObject(node.funccall)) setConfigFacts(node.funccall, s);
  },
};

function copyFacts(node: Node, s: Scan): void {
  const from = node.is_from === true;
  if (node.is_program === true) {
    s.facts[from ? 'copy_from_program' : 'copy_to_program'] = true;
  } else if (node.filename !== undefined) {
    s.facts[from ? 'copy_from_file' : 'copy_to_file'] = true;
  }
}

/**
 * A WHERE clause that names no column (`WHERE true`, `WHERE 1 = 1`, `WHERE $1`) picks all rows
 * or none, so it counts as no WHERE. `WHERE CURRENT OF cursor` picks one row.
 */
function hasWhere(clause: unknown): boolean {
  if (clause === undefined) return false;
  const stack: unknown[] = [clause];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (!Array.isArray(value) && ('ColumnRef' in value || 'CurrentOfExpr' in value)) return true;
    for (const key in value) stack.push((value as Record<string, unknown>)[key]);
  }
  return false;
}

/**
 * `set_config(name, value, local)`: `set_role` for `role`, `changes_parsing` for a parsing
 * setting; a name that is not a constant could be either.
 */
function setConfigFacts(call: Node, s: Scan): void {
  const names = Array.isArray(call.funcname) ? call.funcname : [];
  const last = unwrap(names[names.length - 1])?.[1].sval;
  if (typeof last !== 'string' || last.toLowerCase() !== 'set_config') return;
  const args = Array.isArray(call.args) ? call.args : [];
  const setting = constant(args[0])?.toLowerCase();
  if (setting === undefined || ROLE_SETTINGS.has(setting)) s.facts.set_role = true;
  if (setting === undefined || changesParsing(setting, constant(args[1]))) {
    s.facts.changes_parsing = true;
  }
}

/** Whether setting `name` to `value` (undefined: unknown, a RESET or DEFAULT) may desync parsing. */
function changesParsing(name: string, value: string | undefined): boolean {
  const safe = PARSING_SETTINGS[name];
  return safe !== undefined && (value === undefined || !safe.has(value.toLowerCase()));
}
