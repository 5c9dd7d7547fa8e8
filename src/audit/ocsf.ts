/**
 * Maps ledger events to OCSF (Open Cybersecurity Schema Framework) events for SIEMs.
 *
 * Schema version 1.3.0 (https://schema.ocsf.io/1.3.0/): the first version with every class used
 * here (Event Log Activity [1008] arrived in 1.3.0, as did the Application Lifecycle `Update`
 * activity and the Entity Management activities beyond CRUD).
 *
 * | Airlock event                        | OCSF class                       | Activity               |
 * | ------------------------------------ | -------------------------------- | ---------------------- |
 * | session.started, auth.*              | Authentication [3002]            | Logon (1)              |
 * | session.ended                        | Authentication [3002]            | Logoff (2)             |
 * | command.requested/completed (SQL)    | Datastore Activity [6005]        | by statement kind      |
 * | command.requested (HTTP)             | API Activity [6003]              | by HTTP method         |
 * | llm.requested / llm.responded        | API Activity [6003]              | by HTTP method / Other |
 * | command.requested/completed (SSH exec) | Process Activity [1007]        | Launch (1) / Terminate (2) |
 * | command.requested/completed (SSH shell, sftp, forward) | SSH Activity [4007] | Open (1) / Close (2) |
 * | file.transferred                     | File Hosting Activity [6006]     | Upload (1) / Download (2) |
 * | file.changed                         | File Hosting Activity [6006]     | Delete (4), Rename (5), Update (3), Other |
 * | session.recorded                     | SSH Activity [4007]              | Other (99, "Record")   |
 * | host_key.pinned / host_key.rejected  | SSH Activity [4007]              | Open (1) / Refuse (5)  |
 * | ssh_key.added / ssh_key.removed      | Account Change [3001]            | Other (99)             |
 * | command.approved/rejected, data.masked | the command's class            | Other (99)             |
 * | token.created / token.revoked        | Account Change [3001]            | Create (1) / Delete (6)|
 * | config.loaded                        | Application Lifecycle [6002]     | Start (3)              |
 * | policy.changed                       | Entity Management [3004]         | Update (3)             |
 * | ledger.checkpointed / ledger.pruned  | Event Log Activity [1008]        | Other (99) / Delete (2)|
 * | audit.outage.ended                   | Event Log Activity [1008]        | Restart (8)            |
 *
 * Nothing from `data.command.params` is copied into an OCSF attribute: bound values reach a SIEM
 * only if the exporter puts them into the `airlock` object, which lands in `unmapped.airlock`.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { type ReviewEnd, reviewEndOf, reviewOutcomeText } from './review-outcome.ts';
import type { Actor, AuditEvent, AuditEventType } from './types.ts';

/** The OCSF schema version every mapped event declares in `metadata.version`. */
export const OCSF_VERSION = '1.3.0';

/** Context an event alone does not carry. */
export interface OcsfOptions {
  /**
   * The session's protocol (`session.started.data.protocol`), used to pick the class of command
   * events whose payload names no command kind (`command.completed`, `command.approved`, ...).
   * Defaults to `postgres`.
   */
  readonly protocol?: string;
}

type OcsfObject = Record<string, unknown>;

interface OcsfClass {
  readonly uid: number;
  readonly name: string;
  readonly categoryUid: number;
  readonly categoryName: string;
}

const IAM = 'Identity & Access Management';
const APP = 'Application Activity';
const CLASSES = {
  eventLog: {
    uid: 1008,
    name: 'Event Log Activity',
    categoryUid: 1,
    categoryName: 'System Activity',
  },
  accountChange: { uid: 3001, name: 'Account Change', categoryUid: 3, categoryName: IAM },
  authentication: { uid: 3002, name: 'Authentication', categoryUid: 3, categoryName: IAM },
  entityManagement: { uid: 3004, name: 'Entity Management', categoryUid: 3, categoryName: IAM },
  appLifecycle: { uid: 6002, name: 'Application Lifecycle', categoryUid: 6, categoryName: APP },
  apiActivity: { uid: 6003, name: 'API Activity', categoryUid: 6, categoryName: APP },
  datastore: { uid: 6005, name: 'Datastore Activity', categoryUid: 6, categoryName: APP },
  fileHosting: { uid: 6006, name: 'File Hosting Activity', categoryUid: 6, categoryName: APP },
  process: { uid: 1007, name: 'Process Activity', categoryUid: 1, categoryName: 'System Activity' },
  ssh: { uid: 4007, name: 'SSH Activity', categoryUid: 4, categoryName: 'Network Activity' },
} as const satisfies Record<string, OcsfClass>;

/** `status_id`: 0 Unknown, 1 Success, 2 Failure, 99 Other (then `status` is ours). */
const STATUS = { success: [1, 'Success'], failure: [2, 'Failure'], other: [99, 'Other'] } as const;
type StatusKey = keyof typeof STATUS;

/** `severity_id` captions (OCSF base event). */
const SEVERITY = { 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High' } as const;
type SeverityId = keyof typeof SEVERITY;

/** What a per-type mapper decides; `toOcsf` adds the attributes every event shares. */
interface Mapped {
  readonly cls: OcsfClass;
  readonly activityId: number;
  readonly activityName: string;
  readonly status?: StatusKey;
  /** Our own status caption when `status` is `other`. */
  readonly statusName?: string | undefined;
  readonly statusDetail?: string | undefined;
  readonly statusCode?: string | undefined;
  readonly severityId?: SeverityId;
  readonly message: string;
  readonly fields?: OcsfObject;
}

type Mapper = (e: AuditEvent, opts: OcsfOptions) => Mapped;

/**
 * Maps one ledger event to an OCSF 1.3.0 event object. `airlock` is placed verbatim in
 * `unmapped.airlock`; the exporter decides what goes there (seq, body, inclusion proof, ...).
 *
 * @example
 * const ocsf = toOcsf(event, { seq: event.seq, hash: event.hash });
 * ocsf.class_uid; // 6005 for a SQL command.requested
 */
export function toOcsf(
  event: AuditEvent,
  airlock: Record<string, unknown>,
  opts: OcsfOptions = {},
): Record<string, unknown> {
  const m = MAPPERS[event.type](event, opts);
  return {
    ...classAttributes(m),
    ...statusAttributes(m),
    severity_id: m.severityId ?? 1,
    severity: SEVERITY[m.severityId ?? 1],
    time: eventTime(event),
    message: m.message,
    metadata: metadataOf(event),
    ...actorAttribute(event),
    ...srcEndpointAttribute(event.clientAddr),
    ...m.fields,
    unmapped: unmappedOf(event, airlock),
  };
}

function classAttributes(m: Mapped): OcsfObject {
  return {
    category_uid: m.cls.categoryUid,
    category_name: m.cls.categoryName,
    class_uid: m.cls.uid,
    class_name: m.cls.name,
    activity_id: m.activityId,
    activity_name: m.activityName,
    type_uid: m.cls.uid * 100 + m.activityId,
    type_name: `${m.cls.name}: ${m.activityName}`,
  };
}

function statusAttributes(m: Mapped): OcsfObject {
  if (m.status === undefined) return {};
  const [id, caption] = STATUS[m.status];
  return {
    status_id: id,
    status: m.status === 'other' ? (m.statusName ?? caption) : caption,
    ...(m.statusCode !== undefined ? { status_code: m.statusCode } : {}),
    ...(m.statusDetail !== undefined ? { status_detail: m.statusDetail } : {}),
  };
}

function eventTime(e: AuditEvent): number {
  const t = Date.parse(e.ts);
  return Number.isFinite(t) ? t : 0;
}

function metadataOf(e: AuditEvent): OcsfObject {
  const correlation = e.commandId ?? e.sessionId;
  return {
    version: OCSF_VERSION,
    product: { name: 'Airlock', vendor_name: 'Airlock' },
    uid: String(e.seq),
    log_name: 'airlock-ledger',
    event_code: e.type,
    original_time: e.ts,
    ...(correlation ? { correlation_uid: correlation } : {}),
  };
}

function unmappedOf(e: AuditEvent, airlock: Record<string, unknown>): OcsfObject {
  // OCSF 1.3.0's user object has no "accountable human"; keep the owner next to the export.
  const owner = e.actor?.owner;
  return { airlock, ...(owner !== undefined ? { owner } : {}) };
}

function actorAttribute(e: AuditEvent): OcsfObject {
  if (!e.actor) return {};
  return {
    actor: { user: userOf(e.actor), ...(e.sessionId ? { session: { uid: e.sessionId } } : {}) },
  };
}

/** `user.type_id`: 0 Unknown, 1 User, 2 Admin, 99 Other. */
const USER_TYPES: Record<Actor['kind'], readonly [number, string]> = {
  token: [99, 'Token'],
  oidc: [1, 'User'],
  cli: [2, 'Admin'],
  anonymous: [0, 'Unknown'],
};

function userOf(a: Actor): OcsfObject {
  const [typeId, type] = USER_TYPES[a.kind] ?? [0, 'Unknown'];
  return {
    name: a.identity,
    uid: a.tokenId ?? a.identity,
    type_id: typeId,
    type,
    ...(a.groups && a.groups.length > 0 ? { groups: a.groups.map((name) => ({ name })) } : {}),
  };
}

function srcEndpointAttribute(clientAddr: string | null): OcsfObject {
  const ep = clientAddr ? parseEndpoint(clientAddr) : null;
  return ep ? { src_endpoint: ep } : {};
}

/**
 * `1.2.3.4:5678`, `[::1]:5678` or a bare IP address to `{ ip, port? }`; null for anything else
 * (a Unix socket path, say).
 *
 * @example
 * parseEndpoint('[::1]:5432'); // { ip: '::1', port: 5432 }
 */
export function parseEndpoint(addr: string): { ip: string; port?: number } | null {
  if (isIP(addr)) return { ip: addr };
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(addr) ?? /^([^:]+):(\d{1,5})$/.exec(addr);
  if (!m?.[1] || !m[2] || !isIP(m[1])) return null;
  const port = Number(m[2]);
  return port <= 65535 ? { ip: m[1], port } : { ip: m[1] };
}

// --- Authentication [3002] --------------------------------------------------------------------

function authFields(e: AuditEvent, userName?: string): OcsfObject {
  const user = e.actor ? userOf(e.actor) : { name: userName ?? 'unknown' };
  return {
    user,
    is_remote: true,
    logon_type_id: 3,
    logon_type: 'Network',
    ...(e.connection ? { service: { name: e.connection } } : {}),
    ...(e.sessionId ? { session: { uid: e.sessionId } } : {}),
  };
}

/** `auth_protocol_id`: 4 OpenID, 99 Other (the method's name goes in `auth_protocol`). */
function authProtocol(method: unknown): OcsfObject {
  if (typeof method !== 'string') return {};
  const id = method === 'oidc' ? 4 : 99;
  return { auth_protocol_id: id, auth_protocol: id === 4 ? 'OpenID' : method };
}

const sessionStarted: Mapper = (e) => ({
  cls: CLASSES.authentication,
  activityId: 1,
  activityName: 'Logon',
  status: 'success',
  message: `session started (${str(e.data.protocol) ?? 'unknown protocol'})`,
  fields: authFields(e),
});

const sessionEnded: Mapper = (e) => {
  const durationMs = num(e.data.durationMs);
  const end = eventTime(e);
  return {
    cls: CLASSES.authentication,
    activityId: 2,
    activityName: 'Logoff',
    status: 'success',
    statusDetail: str(e.data.reason),
    message: `session ended: ${num(e.data.commands) ?? 0} commands, ${num(e.data.denied) ?? 0} denied`,
    fields: {
      ...authFields(e),
      ...(durationMs !== undefined
        ? { duration: durationMs, start_time: end - durationMs, end_time: end }
        : {}),
    },
  };
};

const authSucceeded: Mapper = (e) => ({
  cls: CLASSES.authentication,
  activityId: 1,
  activityName: 'Logon',
  status: 'success',
  message: 'authentication succeeded',
  fields: { ...authFields(e), ...authProtocol(e.data.method) },
});

const authFailed: Mapper = (e) => ({
  cls: CLASSES.authentication,
  activityId: 1,
  activityName: 'Logon',
  status: 'failure',
  statusDetail: str(e.data.reason),
  severityId: 3,
  message: 'authentication failed',
  fields: { ...authFields(e, str(e.data.user)), ...authProtocol(e.data.method) },
});

/** An authenticated caller was refused a connection: a failed Logon with the reason. */
const accessDenied: Mapper = (e) => ({
  cls: CLASSES.authentication,
  activityId: 1,
  activityName: 'Logon',
  status: 'failure',
  statusDetail: str(e.data.reason) ?? 'access denied',
  severityId: 3,
  message: `access to connection ${e.connection ?? 'unknown'} denied`,
  fields: authFields(e),
});

/** The gateway ended a live session (offboarding, revocation, expiry): a forced Logoff. */
const sessionTerminated: Mapper = (e) => ({
  cls: CLASSES.authentication,
  activityId: 2,
  activityName: 'Logoff',
  status: 'other',
  statusDetail: str(e.data.reason),
  severityId: 3,
  message: `session terminated: ${str(e.data.reason) ?? 'unknown reason'}`,
  fields: authFields(e),
});

// --- Commands: Datastore Activity [6005] or API Activity [6003] -----------------------------

interface CommandActivity {
  readonly id: number;
  readonly name: string;
}

/** Datastore `activity_id` by SQL statement kind or command tag verb. Unknown kinds are Other. */
const SQL_ACTIVITIES: Record<string, CommandActivity> = {
  select: { id: 4, name: 'Query' },
  show: { id: 4, name: 'Query' },
  explain: { id: 4, name: 'Query' },
  fetch: { id: 1, name: 'Read' },
  copy: { id: 1, name: 'Read' },
  insert: { id: 6, name: 'Create' },
  create: { id: 6, name: 'Create' },
  update: { id: 2, name: 'Update' },
  merge: { id: 2, name: 'Update' },
  alter: { id: 2, name: 'Update' },
  delete: { id: 7, name: 'Delete' },
  truncate: { id: 7, name: 'Delete' },
  drop: { id: 7, name: 'Delete' },
};

/** When one command holds several statements, report the one that changes most. */
const IMPACT: Record<number, number> = { 4: 1, 1: 1, 99: 2, 6: 3, 2: 4, 7: 5 };
const QUERY: CommandActivity = { id: 4, name: 'Query' };

function sqlActivity(kinds: readonly string[]): CommandActivity {
  let best: CommandActivity | undefined;
  for (const raw of kinds) {
    const kind = raw.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const a = SQL_ACTIVITIES[kind] ?? { id: 99, name: 'Other' };
    if (!best || (IMPACT[a.id] ?? 0) > (IMPACT[best.id] ?? 0)) best = a;
  }
  return best ?? QUERY;
}

/** API `activity_id` by HTTP method: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other. */
function httpActivity(method: unknown): CommandActivity {
  switch (typeof method === 'string' ? method.toUpperCase() : '') {
    case 'POST':
      return { id: 1, name: 'Create' };
    case 'GET':
    case 'HEAD':
      return { id: 2, name: 'Read' };
    case 'PUT':
    case 'PATCH':
      return { id: 3, name: 'Update' };
    case 'DELETE':
      return { id: 4, name: 'Delete' };
    default:
      return { id: 99, name: 'Other' };
  }
}

type CommandFamily = 'sql' | 'http' | 'process' | 'ssh';

function commandOf(e: AuditEvent): OcsfObject | undefined {
  const c = e.data.command;
  return c !== null && typeof c === 'object' ? (c as OcsfObject) : undefined;
}

/** The command's own kind decides; events without one follow the session's protocol. */
function familyOf(e: AuditEvent, opts: OcsfOptions): CommandFamily {
  const kind = commandOf(e)?.kind;
  if (kind === 'sql') return 'sql';
  if (kind === 'http') return 'http';
  if (kind === 'exec') return 'process';
  if (kind === 'shell' || kind === 'sftp' || kind === 'forward') return 'ssh';
  const protocol = opts.protocol ?? 'postgres';
  if (protocol === 'ssh')
    return e.data.exitStatus !== undefined || e.data.exitSignal !== undefined ? 'process' : 'ssh';
  return protocol === 'http' ? 'http' : 'sql';
}

/** The target of a command event: `database`/`table` (datastore) or `api` (API activity). */
function targetFields(e: AuditEvent, family: CommandFamily): OcsfObject {
  if (family === 'http') return apiTarget(e);
  if (family === 'process' || family === 'ssh') return sshTarget(e, family);
  const table = firstTable(e.data.statements);
  return {
    type_id: 1,
    type: 'Database',
    database: {
      type_id: 1,
      type: 'Relational',
      ...(e.connection ? { name: e.connection } : {}),
    },
    ...(table ? { table: { name: table } } : {}),
  };
}

/** The upstream the SSH command ran on, and for exec the command line (already redacted). */
function sshTarget(e: AuditEvent, family: 'process' | 'ssh'): OcsfObject {
  const c = commandOf(e);
  const text = str(c?.text);
  const exit = num(e.data.exitStatus);
  return {
    ...(e.connection ? { dst_endpoint: { name: e.connection } } : {}),
    ...(family === 'process'
      ? {
          process: {
            ...(text !== undefined ? { cmd_line: text } : {}),
            ...(e.commandId ? { uid: e.commandId } : {}),
          },
          ...(exit !== undefined ? { exit_code: exit } : {}),
        }
      : {}),
  };
}

function apiTarget(e: AuditEvent): OcsfObject {
  const c = commandOf(e);
  const method = str(c?.method);
  const path = urlPath(c?.url);
  return {
    api: {
      operation: method ?? 'unknown',
      ...(e.connection ? { service: { name: e.connection } } : {}),
    },
    ...(method || path
      ? {
          http_request: {
            ...(method ? { http_method: method } : {}),
            ...(path ? { url: { path } } : {}),
          },
        }
      : {}),
  };
}

/** The URL's path only: query strings often carry keys. */
function urlPath(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    return new URL(url, 'http://x').pathname;
  } catch {
    return undefined;
  }
}

function firstTable(statements: unknown): string | undefined {
  if (!Array.isArray(statements)) return undefined;
  for (const s of statements) {
    const tables = (s as { tables?: unknown } | null)?.tables;
    if (!Array.isArray(tables)) continue;
    const t = tables[0] as { schema?: unknown; name?: unknown } | undefined;
    if (typeof t?.name !== 'string') continue;
    return typeof t.schema === 'string' ? `${t.schema}.${t.name}` : t.name;
  }
  return undefined;
}

function statementKinds(statements: unknown): string[] {
  if (!Array.isArray(statements)) return [];
  return statements
    .map((s) => (s as { kind?: unknown } | null)?.kind)
    .filter((k): k is string => typeof k === 'string');
}

function commandClass(family: CommandFamily): OcsfClass {
  if (family === 'http') return CLASSES.apiActivity;
  if (family === 'process') return CLASSES.process;
  if (family === 'ssh') return CLASSES.ssh;
  return CLASSES.datastore;
}

/** Launch/Terminate for a process, Open/Close for an SSH channel. */
function sshActivity(family: 'process' | 'ssh', opening: boolean): CommandActivity {
  if (family === 'process')
    return opening ? { id: 1, name: 'Launch' } : { id: 2, name: 'Terminate' };
  return opening ? { id: 1, name: 'Open' } : { id: 2, name: 'Close' };
}

function activityOf(family: CommandFamily, e: AuditEvent, opening: boolean): CommandActivity {
  if (family === 'process' || family === 'ssh') return sshActivity(family, opening);
  if (family === 'http') return httpActivity(opening ? commandOf(e)?.method : undefined);
  if (opening) return sqlActivity(statementKinds(e.data.statements));
  const tags = Array.isArray(e.data.tags) ? e.data.tags.filter((t) => typeof t === 'string') : [];
  return sqlActivity(tags);
}

/** Decision to status: allow/mask succeed, deny fails, hold is pending (Other). */
function decisionStatus(decision: string | undefined, rule: string | undefined): Partial<Mapped> {
  const by = rule ? ` by rule ${rule}` : '';
  switch (decision) {
    case 'allow':
      return { status: 'success', statusDetail: `allowed${by}` };
    case 'mask':
      return { status: 'success', statusDetail: `allowed with masking${by}` };
    case 'deny':
      return { status: 'failure', statusDetail: `denied${by}`, severityId: 3 };
    case 'hold':
      return { status: 'other', statusName: 'Held', statusDetail: `held for approval${by}` };
    default:
      return {};
  }
}

const commandRequested: Mapper = (e, opts) => {
  const family = familyOf(e, opts);
  const c = commandOf(e);
  const activity = activityOf(family, e, true);
  const text = str(c?.text);
  const decision = str(e.data.decision);
  return {
    cls: commandClass(family),
    activityId: activity.id,
    activityName: activity.name,
    ...decisionStatus(decision, str(e.data.rule)),
    message: `command requested: ${decision ?? 'no decision'}`,
    fields: {
      ...targetFields(e, family),
      ...(family === 'sql' && text !== undefined
        ? { query_info: { query_string: text, ...(e.commandId ? { uid: e.commandId } : {}) } }
        : {}),
    },
  };
};

/** Outcome to status: ok/suspended succeed, error/aborted fail, skipped is Other. */
function outcomeStatus(outcome: string | undefined, error: OcsfObject | undefined) {
  switch (outcome) {
    case 'ok':
    case 'suspended':
      return { status: 'success', statusDetail: outcome } as const;
    case 'error':
      return {
        status: 'failure',
        severityId: 2,
        statusCode: str(error?.code),
        statusDetail: str(error?.message),
      } as const;
    case 'aborted':
      return { status: 'failure', statusDetail: 'aborted' } as const;
    case 'skipped':
      return { status: 'other', statusName: 'Skipped', statusDetail: 'skipped' } as const;
    default:
      return {};
  }
}

const commandCompleted: Mapper = (e, opts) => {
  const family = familyOf(e, opts);
  const activity = activityOf(family, e, false);
  const outcome = str(e.data.outcome);
  const error = e.data.error as OcsfObject | undefined;
  const durationMs = num(e.data.durationMs);
  const bytes = num(e.data.bytes);
  return {
    cls: commandClass(family),
    activityId: activity.id,
    activityName: activity.name,
    ...outcomeStatus(outcome, typeof error === 'object' && error !== null ? error : undefined),
    message:
      family === 'sql'
        ? `command completed: ${outcome ?? 'unknown'}, ${num(e.data.rows) ?? 0} rows`
        : `command completed: ${outcome ?? 'unknown'}${exitText(e)}, ${num(e.data.bytes) ?? 0} bytes`,
    fields: {
      ...targetFields(e, family),
      ...(durationMs !== undefined ? { duration: durationMs } : {}),
      ...(family === 'sql' && e.commandId
        ? { query_info: { uid: e.commandId, ...(bytes !== undefined ? { bytes } : {}) } }
        : {}),
    },
  };
};

/** An LLM call: API Activity like any HTTP command, the model in the message. */
const llmRequested: Mapper = (e, opts) => {
  const base = commandRequested(e, { ...opts, protocol: 'http' });
  const model = str((commandOf(e)?.llm as OcsfObject | undefined)?.model);
  return {
    ...base,
    message: `LLM call${model ? ` to ${model}` : ''}: ${str(e.data.decision) ?? 'no decision'}`,
  };
};

/** An LLM response: API Activity; usage tokens in the message (the text stays in `unmapped`). */
const llmResponded: Mapper = (e, opts) => {
  const base = commandCompleted(e, { ...opts, protocol: 'http' });
  const usage = (e.data.llm as OcsfObject | undefined)?.usage as OcsfObject | undefined;
  const total = num(usage?.totalTokens);
  return {
    ...base,
    message: `LLM response: ${str(e.data.outcome) ?? 'unknown'}${total !== undefined ? `, ${total} tokens` : ''}`,
  };
};

/** Activity names of the ways a held command's review ends (activity Other). */
const REVIEW_ACTIVITY: Record<ReviewEnd, string> = {
  approved: 'Approve',
  denied: 'Reject',
  expired: 'Expire',
  cancelled: 'Cancel',
  refused: 'Refuse',
};

function approvalMapper(approved: boolean): Mapper {
  return (e, opts) => {
    const family = familyOf(e, opts);
    return {
      cls: commandClass(family),
      activityId: 99,
      activityName: REVIEW_ACTIVITY[reviewEndOf(approved, e.data)],
      status: approved ? 'success' : 'failure',
      statusDetail: reviewOutcomeText(approved, e.data, { reasons: true }),
      ...(approved ? {} : { severityId: 2 as const }),
      message: `held command ${reviewOutcomeText(approved, e.data)}`,
      fields: targetFields(e, family),
    };
  };
}

/** One approver's vote: the same class as the command it concerns, activity Other ("Vote"). */
const reviewVoted: Mapper = (e, opts) => {
  const family = familyOf(e, opts);
  const decision = str(e.data.decision) ?? 'vote';
  const who = e.actor?.owner ?? e.actor?.identity ?? 'unknown';
  return {
    cls: commandClass(family),
    activityId: 99,
    activityName: 'Vote',
    status: 'success',
    statusDetail: `${decision} by ${who}${str(e.data.reason) ? `: ${str(e.data.reason)}` : ''}`,
    message: `review ${str(e.data.reviewId) ?? ''} ${decision} vote by ${who}`,
    fields: targetFields(e, family),
  };
};

/** Time-boxed access: Account Change / Attach Policy (7) when granted, Other (99) otherwise. */
function accessMapper(what: 'requested' | 'granted' | 'rejected'): Mapper {
  return (e) => ({
    cls: CLASSES.accountChange,
    activityId: what === 'granted' ? 7 : 99,
    activityName:
      what === 'granted' ? 'Attach Policy' : what === 'requested' ? 'Request' : 'Reject',
    status: what === 'rejected' ? 'failure' : 'success',
    ...(str(e.data.reason) ? { statusDetail: str(e.data.reason) } : {}),
    message: `access to ${e.connection ?? 'a connection'} ${what}`,
    fields: {
      user: { name: e.actor?.owner ?? e.actor?.identity ?? 'unknown', type_id: 1, type: 'User' },
    },
  });
}

const dataMasked: Mapper = (e, opts) => {
  const family = familyOf(e, opts);
  const columns = Array.isArray(e.data.columns) ? e.data.columns.length : 0;
  const rule = str(e.data.rule);
  return {
    cls: commandClass(family),
    activityId: 99,
    activityName: 'Mask',
    status: 'success',
    ...(rule ? { statusDetail: `masked by rule ${rule}` } : {}),
    message: `masked ${num(e.data.values) ?? 0} values in ${columns} columns`,
    fields: targetFields(e, family),
  };
};

function exitText(e: AuditEvent): string {
  const code = num(e.data.exitStatus);
  if (code !== undefined) return ` (exit ${code})`;
  const signal = str(e.data.exitSignal);
  return signal !== undefined ? ` (signal ${signal})` : '';
}

// --- SSH: files, recordings, host keys --------------------------------------------------------

const FILE_CHANGES: Record<string, CommandActivity> = {
  remove: { id: 4, name: 'Delete' },
  rmdir: { id: 4, name: 'Delete' },
  rename: { id: 5, name: 'Rename' },
  setstat: { id: 3, name: 'Update' },
};

function fileFields(e: AuditEvent): OcsfObject {
  const path = str(e.data.path) ?? 'unknown';
  const sha = str(e.data.sha256);
  const bytes = num(e.data.bytes);
  return {
    file: {
      name: path.split('/').pop() || path,
      path,
      type_id: 1,
      type: 'Regular File',
      ...(bytes !== undefined ? { size: bytes } : {}),
      ...(sha ? { hashes: [{ algorithm_id: 3, algorithm: 'SHA-256', value: sha }] } : {}),
    },
    ...(e.connection ? { dst_endpoint: { name: e.connection } } : {}),
  };
}

const fileTransferred: Mapper = (e) => {
  const upload = e.data.direction === 'upload';
  const complete = e.data.complete !== false;
  return {
    cls: CLASSES.fileHosting,
    activityId: upload ? 1 : 2,
    activityName: upload ? 'Upload' : 'Download',
    status: complete ? 'success' : 'failure',
    statusDetail: `${str(e.data.via) ?? 'ssh'}${complete ? '' : ', incomplete'}`,
    message: `${upload ? 'uploaded' : 'downloaded'} ${str(e.data.path) ?? 'a file'} (${num(e.data.bytes) ?? 0} bytes)`,
    fields: fileFields(e),
  };
};

const fileChanged: Mapper = (e) => {
  const op = str(e.data.op) ?? 'change';
  const a = FILE_CHANGES[op] ?? { id: 99, name: op };
  return {
    cls: CLASSES.fileHosting,
    activityId: a.id,
    activityName: a.name,
    status: e.data.ok === false ? 'failure' : 'success',
    message: `${op} ${str(e.data.path) ?? ''}${str(e.data.target) ? ` -> ${str(e.data.target)}` : ''}`,
    fields: fileFields(e),
  };
};

const sessionRecorded: Mapper = (e) => ({
  cls: CLASSES.ssh,
  activityId: 99,
  activityName: 'Record',
  status: e.data.truncated === true ? 'other' : 'success',
  ...(e.data.truncated === true ? { statusName: 'Truncated' } : {}),
  message: `terminal recorded: ${str(e.data.file) ?? ''} (${num(e.data.bytes) ?? 0} bytes, sha256 ${str(e.data.sha256)?.slice(0, 12) ?? '?'})`,
  fields: e.connection ? { dst_endpoint: { name: e.connection } } : {},
});

function hostKeyMapper(accepted: boolean): Mapper {
  return (e) => ({
    cls: CLASSES.ssh,
    activityId: accepted ? 1 : 5,
    activityName: accepted ? 'Open' : 'Refuse',
    status: accepted ? 'success' : 'failure',
    statusDetail: accepted ? 'host key pinned on first use' : 'host key mismatch',
    ...(accepted ? {} : { severityId: 4 as const }),
    message: `upstream host key ${str(e.data.fingerprint) ?? ''} ${accepted ? 'pinned' : 'refused'}`,
    fields: {
      dst_endpoint: {
        ...(str(e.data.host) ? { hostname: str(e.data.host) } : {}),
        ...(num(e.data.port) !== undefined ? { port: num(e.data.port) } : {}),
        ...(e.connection ? { name: e.connection } : {}),
      },
    },
  });
}

function sshKeyMapper(added: boolean): Mapper {
  return (e) => ({
    cls: CLASSES.accountChange,
    activityId: 99,
    activityName: added ? 'SSH Key Add' : 'SSH Key Remove',
    status: 'success',
    message: `ssh key ${str(e.data.fingerprint) ?? ''} ${added ? 'added for' : 'removed from'} ${str(e.data.owner) ?? 'unknown'}`,
    fields: {
      user: {
        name: str(e.data.tokenName) ?? str(e.data.owner) ?? 'unknown',
        ...(str(e.data.tokenId) ? { uid: str(e.data.tokenId) } : {}),
        type_id: str(e.data.tokenId) ? 99 : 1,
        type: str(e.data.tokenId) ? 'Token' : 'User',
      },
    },
  });
}

// --- Account Change [3001] --------------------------------------------------------------------

/** A token is an agent's credential-bearing account: created is Create (1), revoked Delete (6). */
function tokenMapper(created: boolean): Mapper {
  return (e) => {
    const name = str(e.data.name) ?? 'unknown';
    const tokenId = str(e.data.tokenId);
    const owner = str(e.data.owner);
    return {
      cls: CLASSES.accountChange,
      activityId: created ? 1 : 6,
      activityName: created ? 'Create' : 'Delete',
      status: 'success',
      message: `token ${name}${owner ? ` (owner ${owner})` : ''} ${created ? 'created' : 'revoked'}`,
      fields: {
        user: {
          name,
          ...(tokenId ? { uid: tokenId } : {}),
          type_id: 99,
          type: 'Token',
        },
      },
    };
  };
}

/** A human offboarded or let back in: Account Change / Disable (5) or Enable (2). */
function userMapper(disabled: boolean): Mapper {
  return (e) => {
    const name = str(e.data.user) ?? 'unknown';
    const revoked = Array.isArray(e.data.revokedTokens) ? e.data.revokedTokens.length : 0;
    return {
      cls: CLASSES.accountChange,
      activityId: disabled ? 5 : 2,
      activityName: disabled ? 'Disable' : 'Enable',
      status: 'success',
      ...(disabled ? { statusDetail: `${revoked} tokens revoked` } : {}),
      message: `user ${name} ${disabled ? 'disabled' : 'enabled'}`,
      fields: { user: { name, type_id: 1, type: 'User' } },
    };
  };
}

// --- Gateway, policy and ledger housekeeping --------------------------------------------------

const PRODUCT = { name: 'Airlock', vendor_name: 'Airlock' } as const;

/**
 * The gateway started with a configuration: Application Lifecycle / Start, with the hash as
 * the application's version. (Device Config State Change [5019] would suit a device's config;
 * Airlock is an application, and the event marks its start.)
 */
const configLoaded: Mapper = (e) => ({
  cls: CLASSES.appLifecycle,
  activityId: 3,
  activityName: 'Start',
  status: 'success',
  message: 'gateway started with configuration',
  fields: { app: { ...PRODUCT, ...versionOf(e) } },
});

/**
 * The access policy changed: Entity Management / Update on a managed entity of type Policy.
 * (Authorize Session and the Findings classes report decisions about subjects, not edits.)
 */
const policyChanged: Mapper = (e) => ({
  cls: CLASSES.entityManagement,
  activityId: 3,
  activityName: 'Update',
  status: 'success',
  message: 'policy changed',
  fields: { entity: { name: 'airlock-policy', type: 'Policy', ...versionOf(e) } },
});

function versionOf(e: AuditEvent): OcsfObject {
  const hash = str(e.data.hash);
  return hash ? { version: hash } : {};
}

/**
 * The ledger is Airlock's event log, so its housekeeping is Event Log Activity: a checkpoint is
 * Other (99, "Checkpoint"), pruning is Delete (2), and the end of a store outage is Restart (8).
 */
function eventLogFields(): OcsfObject {
  return {
    log_name: 'airlock-ledger',
    log_provider: 'Airlock',
    log_type_id: 2,
    log_type: 'Application',
    device: { type_id: 1, type: 'Server', hostname: hostname() },
  };
}

const ledgerCheckpointed: Mapper = (e) => ({
  cls: CLASSES.eventLog,
  activityId: 99,
  activityName: 'Checkpoint',
  status: 'success',
  message: `ledger checkpoint over ${num(e.data.treeSize) ?? 0} events`,
  fields: eventLogFields(),
});

const ledgerPruned: Mapper = (e) => ({
  cls: CLASSES.eventLog,
  activityId: 2,
  activityName: 'Delete',
  status: 'success',
  statusDetail: `pruned through seq ${num(e.data.throughSeq) ?? 0}`,
  message: 'ledger events past retention pruned',
  fields: eventLogFields(),
});

const outageEnded: Mapper = (e) => ({
  cls: CLASSES.eventLog,
  activityId: 8,
  activityName: 'Restart',
  status: 'success',
  statusDetail: `${num(e.data.refused) ?? 0} commands refused during the outage`,
  severityId: 4,
  message: 'audit store available again after an outage',
  fields: eventLogFields(),
});

const MAPPERS: Record<AuditEventType, Mapper> = {
  'session.started': sessionStarted,
  'session.ended': sessionEnded,
  'auth.succeeded': authSucceeded,
  'auth.failed': authFailed,
  'access.denied': accessDenied,
  'session.terminated': sessionTerminated,
  'command.requested': commandRequested,
  'command.approved': approvalMapper(true),
  'command.rejected': approvalMapper(false),
  'command.completed': commandCompleted,
  'llm.requested': llmRequested,
  'llm.responded': llmResponded,
  'review.voted': reviewVoted,
  'access.requested': accessMapper('requested'),
  'access.granted': accessMapper('granted'),
  'access.rejected': accessMapper('rejected'),
  'data.masked': dataMasked,
  'file.transferred': fileTransferred,
  'file.changed': fileChanged,
  'session.recorded': sessionRecorded,
  'host_key.pinned': hostKeyMapper(true),
  'host_key.rejected': hostKeyMapper(false),
  'ssh_key.added': sshKeyMapper(true),
  'ssh_key.removed': sshKeyMapper(false),
  'token.created': tokenMapper(true),
  'token.revoked': tokenMapper(false),
  'user.disabled': userMapper(true),
  'user.enabled': userMapper(false),
  'config.loaded': configLoaded,
  'policy.changed': policyChanged,
  'ledger.checkpointed': ledgerCheckpointed,
  'ledger.pruned': ledgerPruned,
  'audit.outage.ended': outageEnded,
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
