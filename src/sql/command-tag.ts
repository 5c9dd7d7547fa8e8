/**
 * Command tags for utility statements, following PostgreSQL's `CreateCommandTag`
 * (src/backend/tcop/utility.c). Statements with their own analysis (SELECT, DML, COPY, EXPLAIN …)
 * set their tag where they are analysed.
 */

type Node = Readonly<Record<string, unknown>>;

const FIXED: Readonly<Record<string, string>> = {
  AlterCollationStmt: 'ALTER COLLATION',
  AlterDatabaseRefreshCollStmt: 'ALTER DATABASE',
  AlterDatabaseSetStmt: 'ALTER DATABASE',
  AlterDatabaseStmt: 'ALTER DATABASE',
  AlterDefaultPrivilegesStmt: 'ALTER DEFAULT PRIVILEGES',
  AlterDomainStmt: 'ALTER DOMAIN',
  AlterEnumStmt: 'ALTER TYPE',
  AlterEventTrigStmt: 'ALTER EVENT TRIGGER',
  AlterExtensionContentsStmt: 'ALTER EXTENSION',
  AlterExtensionStmt: 'ALTER EXTENSION',
  AlterFdwStmt: 'ALTER FOREIGN DATA WRAPPER',
  AlterForeignServerStmt: 'ALTER SERVER',
  AlterOpFamilyStmt: 'ALTER OPERATOR FAMILY',
  AlterOperatorStmt: 'ALTER OPERATOR',
  AlterPolicyStmt: 'ALTER POLICY',
  AlterPublicationStmt: 'ALTER PUBLICATION',
  AlterRoleSetStmt: 'ALTER ROLE',
  AlterRoleStmt: 'ALTER ROLE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  AlterStatsStmt: 'ALTER STATISTICS',
  AlterSubscriptionStmt: 'ALTER SUBSCRIPTION',
  AlterSystemStmt: 'ALTER SYSTEM',
  AlterTSConfigurationStmt: 'ALTER TEXT SEARCH CONFIGURATION',
  AlterTSDictionaryStmt: 'ALTER TEXT SEARCH DICTIONARY',
  AlterTableSpaceOptionsStmt: 'ALTER TABLESPACE',
  AlterTypeStmt: 'ALTER TYPE',
  AlterUserMappingStmt: 'ALTER USER MAPPING',
  CheckPointStmt: 'CHECKPOINT',
  ClusterStmt: 'CLUSTER',
  CompositeTypeStmt: 'CREATE TYPE',
  CreateAmStmt: 'CREATE ACCESS METHOD',
  CreateCastStmt: 'CREATE CAST',
  CreateConversionStmt: 'CREATE CONVERSION',
  CreateDomainStmt: 'CREATE DOMAIN',
  CreateEnumStmt: 'CREATE TYPE',
  CreateEventTrigStmt: 'CREATE EVENT TRIGGER',
  CreateExtensionStmt: 'CREATE EXTENSION',
  CreateFdwStmt: 'CREATE FOREIGN DATA WRAPPER',
  CreateForeignServerStmt: 'CREATE SERVER',
  CreateForeignTableStmt: 'CREATE FOREIGN TABLE',
  CreateOpClassStmt: 'CREATE OPERATOR CLASS',
  CreateOpFamilyStmt: 'CREATE OPERATOR FAMILY',
  CreatePLangStmt: 'CREATE LANGUAGE',
  CreatePolicyStmt: 'CREATE POLICY',
  CreatePublicationStmt: 'CREATE PUBLICATION',
  CreateRangeStmt: 'CREATE TYPE',
  CreateRoleStmt: 'CREATE ROLE',
  CreateSchemaStmt: 'CREATE SCHEMA',
  CreateSeqStmt: 'CREATE SEQUENCE',
  CreateStatsStmt: 'CREATE STATISTICS',
  CreateStmt: 'CREATE TABLE',
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  CreateTransformStmt: 'CREATE TRANSFORM',
  CreateTrigStmt: 'CREATE TRIGGER',
  CreateUserMappingStmt: 'CREATE USER MAPPING',
  CreatedbStmt: 'CREATE DATABASE',
  DropOwnedStmt: 'DROP OWNED',
  DropRoleStmt: 'DROP ROLE',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  DropUserMappingStmt: 'DROP USER MAPPING',
  DropdbStmt: 'DROP DATABASE',
  ImportForeignSchemaStmt: 'IMPORT FOREIGN SCHEMA',
  IndexStmt: 'CREATE INDEX',
  LoadStmt: 'LOAD',
  NotifyStmt: 'NOTIFY',
  ReassignOwnedStmt: 'REASSIGN OWNED',
  ReindexStmt: 'REINDEX',
  RuleStmt: 'CREATE RULE',
  ViewStmt: 'CREATE VIEW',
};

const OBJECT_WORDS: Readonly<Record<string, string>> = {
  OBJECT_ATTRIBUTE: 'TYPE',
  OBJECT_COLUMN: 'TABLE',
  OBJECT_DOMCONSTRAINT: 'DOMAIN',
  OBJECT_FDW: 'FOREIGN DATA WRAPPER',
  OBJECT_FOREIGN_SERVER: 'SERVER',
  OBJECT_LARGEOBJECT: 'LARGE OBJECT',
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_OPCLASS: 'OPERATOR CLASS',
  OBJECT_OPFAMILY: 'OPERATOR FAMILY',
  OBJECT_STATISTIC_EXT: 'STATISTICS',
  OBJECT_TABCONSTRAINT: 'TABLE',
  OBJECT_TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION',
  OBJECT_TSDICTIONARY: 'TEXT SEARCH DICTIONARY',
  OBJECT_TSPARSER: 'TEXT SEARCH PARSER',
  OBJECT_TSTEMPLATE: 'TEXT SEARCH TEMPLATE',
};

type TagOf = (node: Node) => string;

const DYNAMIC: Readonly<Record<string, TagOf>> = {
  AlterFunctionStmt: (n) => `ALTER ${objectWords(n.objtype)}`,
  AlterObjectDependsStmt: (n) => `ALTER ${objectWords(n.objectType)}`,
  AlterObjectSchemaStmt: (n) => `ALTER ${objectWords(n.objectType)}`,
  AlterOwnerStmt: (n) => `ALTER ${objectWords(n.objectType)}`,
  AlterTableMoveAllStmt: (n) => `ALTER ${objectWords(n.objtype)}`,
  AlterTableStmt: (n) => `ALTER ${objectWords(n.objtype)}`,
  CreateFunctionStmt: (n) => (n.is_procedure === true ? 'CREATE PROCEDURE' : 'CREATE FUNCTION'),
  CreateTableAsStmt: createTableAsTag,
  DefineStmt: (n) => `CREATE ${objectWords(n.kind)}`,
  DiscardStmt: (n) => `DISCARD ${String(n.target ?? 'DISCARD_ALL').replace('DISCARD_', '')}`,
  GrantRoleStmt: (n) => (n.is_grant === true ? 'GRANT ROLE' : 'REVOKE ROLE'),
  GrantStmt: (n) => (n.is_grant === true ? 'GRANT' : 'REVOKE'),
  RenameStmt: (n) => `ALTER ${objectWords(n.renameType)}`,
  VacuumStmt: (n) => (n.is_vacuumcmd === true ? 'VACUUM' : 'ANALYZE'),
};

/**
 * The command tag for a utility statement node of type `type` (e.g. `CreateStmt`).
 * Unknown types get their name without `Stmt`, split into upper-case words.
 *
 * @example
 * utilityTag('AlterTableStmt', { objtype: 'OBJECT_MATVIEW' }); // 'ALTER MATERIALIZED VIEW'
 */
export function utilityTag(type: string, node: Node): string {
  const dynamic = DYNAMIC[type];
  if (dynamic !== undefined) return dynamic(node);
  return FIXED[type] ?? fromTypeName(type);
}

/**
 * The SQL words for an `ObjectType` enum value, e.g. `OBJECT_FOREIGN_TABLE` → `FOREIGN TABLE`.
 *
 * @example
 * objectWords('OBJECT_MATVIEW'); // 'MATERIALIZED VIEW'
 */
export function objectWords(objectType: unknown): string {
  if (typeof objectType !== 'string') return 'OBJECT';
  return OBJECT_WORDS[objectType] ?? objectType.replace(/^OBJECT_/, '').replaceAll('_', ' ');
}

function createTableAsTag(node: Node): string {
  if (node.objtype === 'OBJECT_MATVIEW') return 'CREATE MATERIALIZED VIEW';
  return node.is_select_into === true ? 'SELECT INTO' : 'CREATE TABLE AS';
}

function fromTypeName(type: string): string {
  return type
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();
}
