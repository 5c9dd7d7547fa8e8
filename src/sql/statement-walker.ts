/**
 * Walks one libpg_query raw parse tree and reports the relations it names (and how), the
 * functions it calls, its command tag and whether it is read-only.
 *
 * The JSON tree wraps `Node *` fields as `{ TypeName: {...} }` but writes typed struct fields
 * (`InsertStmt.relation`, `SelectStmt.larg`, `IntoClause.rel` …) bare, so a bare object with a
 * string `relname` is a RangeVar. Statements that need it get their own handler; everything else
 * is walked generically, where a RangeVar counts as a `read` inside a query and as `ddl` inside a
 * utility statement. False members are omitted from the JSON (`{ ival: {} }` is 0).
 */

import { objectWords, utilityTag } from './command-tag.ts';
import type { TableAccess, TableRef } from './types.ts';

type Node = Readonly<Record<string, unknown>>;

/** Kind and read-only verdict of one (possibly nested) statement. */
interface Verdict {
  readonly kind: string;
  readonly readOnly: boolean;
}

/** What {@link describeStatement} reports for one statement. */
export interface StatementFacts extends Verdict {
  readonly tables: TableRef[];
  readonly functions: string[];
}

type Handler = (node: Node, c: Collector) => Verdict;

interface Seen {
  schema: string | null;
  name: string;
  access: TableAccess;
  pos: number;
}

const RANK: Readonly<Record<TableAccess, number>> = { read: 0, write: 1, ddl: 2 };
const NO_POSITION = Number.MAX_SAFE_INTEGER;

/** Accumulates the facts of one top-level statement. */
class Collector {
  /** How a RangeVar met by the generic walk is accessed. */
  access: TableAccess = 'read';
  /** Count of write or ddl accesses recorded, to tell whether a sub-statement changed anything. */
  changes = 0;
  readonly functions = new Set<string>();
  readonly #tables = new Map<string, Seen>();
  readonly #ctes: Set<string>[] = [];

  /** A relation met by the walk: skipped when it names a visible CTE. */
  reference(rv: Node): void {
    const name = text(rv.relname);
    const schema = text(rv.schemaname);
    if (this.access === 'read' && schema === undefined && this.#isCte(name)) return;
    this.target(rv, this.access);
  }

  /** A relation a statement acts on; CTEs never shadow these. */
  target(rv: unknown, access: TableAccess): void {
    if (!isObject(rv)) return;
    const name = text(rv.relname);
    if (name === undefined) return;
    const location = typeof rv.location === 'number' && rv.location >= 0 ? rv.location : undefined;
    this.add(text(rv.schemaname) ?? null, name, access, location ?? NO_POSITION);
  }

  add(schema: string | null, name: string, access: TableAccess, pos: number): void {
    if (access !== 'read') this.changes += 1;
    const key = `${schema ?? ''}\u0000${name}`;
    const seen = this.#tables.get(key);
    if (seen === undefined) {
      this.#tables.set(key, { schema, name, access, pos });
      return;
    }
    if (RANK[access] > RANK[seen.access]) seen.access = access;
    seen.pos = Math.min(seen.pos, pos);
  }

  /** Runs `body` with `access` as the access of generically walked RangeVars. */
  as(access: TableAccess, body: () => void): void {
    const saved = this.access;
    this.access = access;
    try {
      body();
    } finally {
      this.access = saved;
    }
  }

  /** Runs `body` with `scope` (CTE names, filled in as they become visible) in scope. */
  withCtes(scope: Set<string>, body: () => void): void {
    this.#ctes.push(scope);
    try {
      body();
    } finally {
      this.#ctes.pop();
    }
  }

  tables(): TableRef[] {
    const seen = [...this.#tables.values()].sort((a, b) => a.pos - b.pos);
    return seen.map(({ schema, name, access }) => ({ schema, name, access }));
  }

  #isCte(name: string | undefined): boolean {
    return name !== undefined && this.#ctes.some((scope) => scope.has(name));
  }
}

/**
 * Describes one statement node (`RawStmt.stmt`, e.g. `{ SelectStmt: {...} }`). Deeply nested
 * trees can exhaust the stack: callers must be ready for a RangeError.
 *
 * @example
 * describeStatement({ TruncateStmt: { relations: [{ RangeVar: { relname: 't' } }] } });
 * // { kind: 'TRUNCATE', readOnly: false, tables: [{ schema: null, name: 't', access: 'write' }], functions: [] }
 */
export function describeStatement(stmt: unknown): StatementFacts {
  const c = new Collector();
  const verdict = statement(stmt, c);
  return { ...verdict, tables: c.tables(), functions: [...c.functions] };
}

function statement(node: unknown, c: Collector): Verdict {
  const wrapped = unwrap(node);
  if (wrapped === undefined) return { kind: 'UNKNOWN', readOnly: false };
  const [type, inner] = wrapped;
  return (STATEMENTS[type] ?? utility(type))(inner, c);
}

function utility(type: string): Handler {
  return (node, c) => {
    c.as('ddl', () => visitFields(node, c));
    return { kind: utilityTag(type, node), readOnly: false };
  };
}

// ---- generic walk ----------------------------------------------------------------------------

function visit(value: unknown, c: Collector): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item, c);
    return;
  }
  if (!isObject(value)) return;
  const wrapped = unwrap(value);
  if (wrapped !== undefined) visitNode(wrapped[0], wrapped[1], c);
  else if (typeof value.relname === 'string') c.reference(value);
  else visitFields(value, c);
}

function visitNode(type: string, node: Node, c: Collector): void {
  const handler = STATEMENTS[type] ?? NODES[type];
  if (handler !== undefined) handler(node, c);
  else visitFields(node, c);
}

function visitFields(node: Node, c: Collector, skip?: ReadonlySet<string>): void {
  for (const key in node) {
    const value = node[key];
    if (typeof value === 'object' && value !== null && skip?.has(key) !== true) visit(value, c);
  }
}

const NODES: Readonly<Record<string, (node: Node, c: Collector) => void>> = {
  RangeVar: (node, c) => c.reference(node),
  FuncCall: (node, c) => {
    const name = qualifiedName(node.funcname);
    if (name !== undefined) c.functions.add(name);
    visitFields(node, c);
  },
  // `FOR UPDATE OF a` names FROM items (often aliases), not relations.
  LockingClause: () => {},
  // `CREATE TABLE t (LIKE u)` copies u's definition: u is only read.
  TableLikeClause: (node, c) => c.as('read', () => visitFields(node, c)),
};

// ---- queries and DML -------------------------------------------------------------------------

const SELECT_SKIP = new Set(['withClause', 'intoClause', 'larg', 'rarg']);
const DML_SKIP = new Set(['withClause', 'relation']);

function selectStmt(node: Node, c: Collector): Verdict {
  const before = c.changes;
  c.as('read', () => selectBody(node, c));
  return { kind: hasInto(node) ? 'SELECT INTO' : 'SELECT', readOnly: c.changes === before };
}

function selectBody(node: Node, c: Collector): void {
  withClause(node.withClause, c, () => {
    if (isObject(node.intoClause)) c.target(node.intoClause.rel, 'ddl');
    if (isObject(node.larg)) selectBody(node.larg, c);
    if (isObject(node.rarg)) selectBody(node.rarg, c);
    visitFields(node, c, SELECT_SKIP);
  });
}

/** `SELECT … INTO` sits on the leftmost SELECT of a set operation and applies to all of it. */
function hasInto(node: Node): boolean {
  if (node.intoClause !== undefined) return true;
  return isObject(node.larg) && hasInto(node.larg);
}

function dml(kind: string): Handler {
  return (node, c) => {
    withClause(node.withClause, c, () => {
      c.target(node.relation, 'write');
      c.as('read', () => visitFields(node, c, DML_SKIP));
    });
    return { kind, readOnly: false };
  };
}

/**
 * Walks the CTEs of a WITH clause, then `body`. A CTE name hides a relation of the same name
 * from later CTEs and the body (and, under RECURSIVE, from every CTE).
 */
function withClause(clause: unknown, c: Collector, body: () => void): void {
  const ctes = isObject(clause) && Array.isArray(clause.ctes) ? clause.ctes : [];
  if (ctes.length === 0) {
    body();
    return;
  }
  const names = ctes.map((cte) => text(unwrap(cte)?.[1].ctename));
  const scope = new Set<string>();
  if (isObject(clause) && clause.recursive === true) addNames(scope, names);
  c.withCtes(scope, () => {
    ctes.forEach((cte, i) => {
      visit(unwrap(cte)?.[1].ctequery, c);
      addNames(scope, [names[i]]);
    });
    body();
  });
}

function addNames(scope: Set<string>, names: readonly (string | undefined)[]): void {
  for (const name of names) if (name !== undefined) scope.add(name);
}

function copyStmt(node: Node, c: Collector): Verdict {
  const before = c.changes;
  const from = node.is_from === true;
  c.target(node.relation, from ? 'write' : 'read');
  c.as('read', () => visitFields(node, c, new Set(['relation'])));
  const external = node.is_program === true || node.filename !== undefined;
  return { kind: 'COPY', readOnly: !from && !external && c.changes === before };
}

// ---- statements wrapping another statement ---------------------------------------------------

function explainStmt(node: Node, c: Collector): Verdict {
  const inner = statement(node.query, c);
  return { kind: 'EXPLAIN', readOnly: isAnalyze(node.options) ? inner.readOnly : true };
}

function isAnalyze(options: unknown): boolean {
  if (!Array.isArray(options)) return false;
  return options.some((option) => {
    const def = unwrap(option)?.[1];
    return def !== undefined && def.defname === 'analyze' && defIsTrue(def.arg);
  });
}

/** PostgreSQL's `defGetBoolean`, leaning to true for anything it would not read as false. */
function defIsTrue(arg: unknown): boolean {
  const wrapped = unwrap(arg);
  if (wrapped === undefined) return true;
  const [type, value] = wrapped;
  if (type === 'Boolean') return value.boolval === true;
  if (type === 'Integer') return value.ival !== undefined && value.ival !== 0;
  if (type !== 'String') return true;
  const word = String(value.sval ?? '').toLowerCase();
  return !(word === '0' || word === 'off' || word === 'of' || isPrefixOf(word, 'false', 'no'));
}

function isPrefixOf(word: string, ...targets: string[]): boolean {
  return word.length > 0 && targets.some((t) => t.startsWith(word));
}

function wrapping(kind: string): Handler {
  return (node, c) => ({ kind, readOnly: statement(node.query, c).readOnly });
}

// ---- utility statements with their own rules ------------------------------------------------

/** Relation kinds whose names `DROP` and `COMMENT` take as plain name lists. */
const RELATION_OBJECTS = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
  'OBJECT_INDEX',
]);
/** Objects named `… ON table` whose name list ends in the object's own name. */
const TABLE_CHILD_OBJECTS = new Set([
  'OBJECT_COLUMN',
  'OBJECT_TRIGGER',
  'OBJECT_RULE',
  'OBJECT_POLICY',
  'OBJECT_TABCONSTRAINT',
]);

function dropStmt(node: Node, c: Collector): Verdict {
  const objects = Array.isArray(node.objects) ? node.objects : [];
  for (const object of objects) nameList(object, node.removeType, c);
  return { kind: `DROP ${objectWords(node.removeType)}`, readOnly: false };
}

/** `COMMENT ON` and `SECURITY LABEL ON` name their object as a plain name list. */
function labelStmt(kind: string): Handler {
  return (node, c) => {
    nameList(node.object, node.objtype, c);
    return { kind, readOnly: false };
  };
}

function nameList(object: unknown, objectType: unknown, c: Collector): void {
  const names = stringList(object);
  if (names === undefined || typeof objectType !== 'string') return;
  if (TABLE_CHILD_OBJECTS.has(objectType)) names.pop();
  else if (!RELATION_OBJECTS.has(objectType)) return;
  const name = names.pop();
  if (name !== undefined) c.add(names.pop() ?? null, name, 'ddl', NO_POSITION);
}

function relationsStmt(kind: string, access: (node: Node) => TableAccess): Handler {
  return (node, c) => {
    const mode = access(node);
    const relations = Array.isArray(node.relations) ? node.relations : [];
    for (const rel of relations) c.target(unwrap(rel)?.[1], mode);
    return { kind, readOnly: mode === 'read' };
  };
}

/** `LOCK … IN ACCESS SHARE MODE` (mode 1) needs SELECT; every stronger mode needs write rights. */
const lockAccess = (node: Node): TableAccess => (node.mode === 1 ? 'read' : 'write');

function callStmt(node: Node, c: Collector): Verdict {
  if (isObject(node.funccall)) NODES.FuncCall?.(node.funccall, c);
  return { kind: 'CALL', readOnly: false };
}

function executeStmt(node: Node, c: Collector): Verdict {
  visit(node.params, c);
  return { kind: 'EXECUTE', readOnly: false };
}

function refreshStmt(node: Node, c: Collector): Verdict {
  c.target(node.relation, 'write');
  return { kind: 'REFRESH MATERIALIZED VIEW', readOnly: false };
}

const TRANSACTION_TAGS: Readonly<Record<string, string>> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

function transactionStmt(node: Node): Verdict {
  const kind = TRANSACTION_TAGS[String(node.kind)] ?? 'BEGIN';
  return { kind, readOnly: !kind.includes('PREPARE') };
}

/** Settings whose change alters who the session acts as, or whether it may write. */
const AUTHORITY_SETTINGS = new Set([
  'role',
  'session_authorization',
  'session_replication_role',
  'transaction_read_only',
  'default_transaction_read_only',
]);

function variableSetStmt(node: Node): Verdict {
  const reset = node.kind === 'VAR_RESET' || node.kind === 'VAR_RESET_ALL';
  return { kind: reset ? 'RESET' : 'SET', readOnly: !changesAuthority(node) };
}

function changesAuthority(node: Node): boolean {
  if (node.kind === 'VAR_RESET_ALL') return true;
  if (AUTHORITY_SETTINGS.has(String(node.name).toLowerCase())) return true;
  if (node.kind !== 'VAR_SET_MULTI' || !Array.isArray(node.args)) return false;
  // SET TRANSACTION / SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE
  return node.args.some((arg) => unwrap(arg)?.[1].defname === 'transaction_read_only');
}

const fixed =
  (kind: string, readOnly: boolean): Handler =>
  () => ({ kind, readOnly });

const STATEMENTS: Readonly<Record<string, Handler>> = {
  SelectStmt: selectStmt,
  InsertStmt: dml('INSERT'),
  UpdateStmt: dml('UPDATE'),
  DeleteStmt: dml('DELETE'),
  MergeStmt: dml('MERGE'),
  CopyStmt: copyStmt,
  ExplainStmt: explainStmt,
  PrepareStmt: wrapping('PREPARE'),
  DeclareCursorStmt: wrapping('DECLARE CURSOR'),
  ExecuteStmt: executeStmt,
  TruncateStmt: relationsStmt('TRUNCATE', () => 'write'),
  LockStmt: relationsStmt('LOCK TABLE', lockAccess),
  DropStmt: dropStmt,
  CommentStmt: labelStmt('COMMENT'),
  SecLabelStmt: labelStmt('SECURITY LABEL'),
  RefreshMatViewStmt: refreshStmt,
  CallStmt: callStmt,
  DoStmt: fixed('DO', false),
  TransactionStmt: transactionStmt,
  VariableSetStmt: variableSetStmt,
  VariableShowStmt: fixed('SHOW', true),
  ConstraintsSetStmt: fixed('SET CONSTRAINTS', true),
  FetchStmt: (node) => ({ kind: node.ismove === true ? 'MOVE' : 'FETCH', readOnly: true }),
  ClosePortalStmt: (node) => ({
    kind: node.portalname === undefined ? 'CLOSE CURSOR ALL' : 'CLOSE CURSOR',
    readOnly: true,
  }),
  DeallocateStmt: (node) => ({
    kind: node.isall === true ? 'DEALLOCATE ALL' : 'DEALLOCATE',
    readOnly: true,
  }),
  ListenStmt: fixed('LISTEN', true),
  UnlistenStmt: fixed('UNLISTEN', true),
};

// ---- helpers ---------------------------------------------------------------------------------

function isObject(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{ TypeName: {...} }` → `['TypeName', {...}]`; anything else → undefined. */
function unwrap(value: unknown): [string, Node] | undefined {
  if (!isObject(value)) return undefined;
  let found: [string, Node] | undefined;
  for (const key in value) {
    const inner = value[key];
    if (found !== undefined || !isNodeName(key) || !isObject(inner)) return undefined;
    found = [key, inner];
  }
  return found;
}

function isNodeName(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 65 && first <= 90;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `{ List: { items: [{ String: { sval } }, …] } }` or a bare item array → the strings. */
function stringList(value: unknown): string[] | undefined {
  const items = Array.isArray(value) ? value : unwrap(value)?.[1].items;
  if (!Array.isArray(items)) return undefined;
  const names = items.map((item) => text(unwrap(item)?.[1].sval));
  return names.every((n) => n !== undefined) ? (names as string[]) : undefined;
}

function qualifiedName(value: unknown): string | undefined {
  return stringList(value)?.join('.');
}
