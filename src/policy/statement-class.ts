/**
 * The class of a statement (`read`, `write`, `ddl`, `dcl`, `transaction`, `utility`), looking
 * through the statements that run another (PREPARE, DECLARE, EXPLAIN ANALYZE).
 */
import { isAnalyze, type Node, unwrap } from './ast.ts';

export const STATEMENT_CLASSES = ['read', 'write', 'ddl', 'dcl', 'transaction', 'utility'] as const;
export type StatementClass = (typeof STATEMENT_CLASSES)[number];

const DCL = new Set([
  'GrantStmt',
  'GrantRoleStmt',
  'CreateRoleStmt',
  'AlterRoleStmt',
  'AlterRoleSetStmt',
  'DropRoleStmt',
  'AlterDefaultPrivilegesStmt',
  'ReassignOwnedStmt',
  'DropOwnedStmt',
]);

const UTILITY = new Set([
  'VariableSetStmt',
  'DiscardStmt',
  'ListenStmt',
  'UnlistenStmt',
  'NotifyStmt',
  'ClosePortalStmt',
  'DeallocateStmt',
  'LockStmt',
  'VacuumStmt',
  'CheckPointStmt',
  'ClusterStmt',
  'ReindexStmt',
  'LoadStmt',
  'ConstraintsSetStmt',
  'DoStmt',
  'CallStmt',
  'ExecuteStmt',
]);

const WRITES = new Set([
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'TruncateStmt',
  'RefreshMatViewStmt',
]);

const READS = new Set(['VariableShowStmt', 'FetchStmt']);

/**
 * The class of a statement node, looking through PREPARE, DECLARE and EXPLAIN ANALYZE. Nested
 * writes (DML in a CTE) are the caller's to add.
 *
 * @example
 * classOf('TransactionStmt', { kind: 'TRANS_STMT_BEGIN' }); // 'transaction'
 */
export function classOf(type: string, node: Node): StatementClass {
  if (type === 'SelectStmt') return node.intoClause === undefined ? 'read' : 'ddl';
  if (type === 'CopyStmt') return copyClass(node);
  if (type === 'PrepareStmt' || type === 'DeclareCursorStmt') return innerClass(node.query);
  if (type === 'ExplainStmt') return isAnalyze(node.options) ? innerClass(node.query) : 'read';
  if (type === 'TransactionStmt') return 'transaction';
  if (WRITES.has(type)) return 'write';
  if (READS.has(type)) return 'read';
  if (DCL.has(type)) return 'dcl';
  if (UTILITY.has(type)) return 'utility';
  return 'ddl';
}

function innerClass(query: unknown): StatementClass {
  const inner = unwrap(query);
  return inner === undefined ? 'utility' : classOf(inner[0], inner[1]);
}

/** COPY FROM writes the table; COPY TO a server file or program is no mere read. */
function copyClass(node: Node): StatementClass {
  if (node.is_from === true) return 'write';
  return node.is_program === true || node.filename !== undefined ? 'utility' : 'read';
}
