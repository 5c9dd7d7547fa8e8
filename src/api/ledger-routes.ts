/**
 * API routes over the ledger and the configuration, for the web console and scripts: the same
 * queries as `airlock audit query` and `show-session`, session history, verification status with
 * the newest signed checkpoint, evidence export, read-only connection and policy views, and a
 * server-sent event stream of reviews. Role checks are in the route table (server side).
 */
import { createPublicKey } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSigningKey } from '../audit/checkpoint.ts';
import { exportLedger } from '../audit/export.ts';
import { parseAuditFilter } from '../audit/filter-params.ts';
import { latestCheckpointPath, readLatestCheckpoint } from '../audit/latest-checkpoint.ts';
import { signingKeyFile, verifyStore } from '../audit/open.ts';
import type { LedgerReader } from '../audit/store.ts';
import type { AuditEvent, AuditFilter } from '../audit/types.ts';
import type { AirlockConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import type { Identity } from '../identity/types.ts';
import type { Review } from '../review/store.ts';
import type { ApiDeps, Call, Route } from './server.ts';

export interface AuditApiDeps {
  readonly reader: LedgerReader;
  /** Signs a checkpoint over everything appended so far (exports need a fresh one). */
  readonly checkpoint: () => Promise<number>;
  readonly config: Pick<AirlockConfig, 'audit' | 'data_dir' | 'connections' | 'policy'>;
  /** The policy in force, when a policy file is configured. */
  readonly policy: () => PolicyView | undefined;
}

/** What the policy view needs from the compiled policy and its file. */
export interface PolicyView {
  readonly hash: string;
  readonly version: number;
  readonly source: string;
  readonly ruleNames: readonly string[];
}

/** Who may read the ledger and replay sessions. */
export const AUDITORS = ['admin', 'auditor'] as const;
const READERS = ['admin', 'auditor', 'approver'] as const;

export const LEDGER_ROUTES: readonly Route[] = [
  { method: 'GET', path: /^\/v1\/audit\/events$/, roles: AUDITORS, handler: auditEvents },
  { method: 'GET', path: /^\/v1\/audit\/sessions$/, roles: AUDITORS, handler: sessionList },
  {
    method: 'GET',
    path: /^\/v1\/audit\/sessions\/([A-Za-z0-9_-]{1,80})$/,
    roles: AUDITORS,
    handler: sessionDetail,
  },
  { method: 'GET', path: /^\/v1\/audit\/verify$/, roles: AUDITORS, handler: verify },
  { method: 'GET', path: /^\/v1\/audit\/export$/, roles: AUDITORS, handler: exportEvents },
  { method: 'GET', path: /^\/v1\/connections$/, roles: READERS, handler: connections },
  { method: 'GET', path: /^\/v1\/policy$/, roles: READERS, handler: policyView },
  { method: 'GET', path: /^\/v1\/reviews\/events$/, roles: [], handler: reviewEvents },
];

/** The ledger reads and configuration views, or GW_AUDIT_UNAVAILABLE when they are off. */
export function audit(deps: ApiDeps): AuditApiDeps {
  if (!deps.audit) throw new GatewayError('GW_AUDIT_UNAVAILABLE', 'ledger reads are not enabled');
  return deps.audit;
}

/** `airlock audit query`: statements (request, outcome, approval), or events with `type`. */
async function auditEvents(deps: ApiDeps, call: Call) {
  const { reader } = audit(deps);
  const filter = filterOf(call.query);
  if (filter.types !== undefined) {
    return { body: { events: (await reader.query(filter)).map(withoutBody) } };
  }
  return { body: { commands: await reader.commands(filter) } };
}

/** Sessions from the ledger (newest first), optionally only those with a given decision. */
async function sessionList(deps: ApiDeps, call: Call) {
  const { reader } = audit(deps);
  const filter = filterOf(call.query);
  const { decision, limit: _l, ...rest } = filter;
  const started = await reader.query({ ...rest, types: ['session.started'], limit: 2000 });
  let ids: Set<string> | undefined;
  if (decision !== undefined) {
    const cmds = await reader.commands({ ...rest, decision, limit: 10_000 });
    ids = new Set(cmds.map((c) => c.sessionId ?? ''));
  }
  const picked = started.filter((e) => e.sessionId && (!ids || ids.has(e.sessionId)));
  const newest = picked.reverse().slice(0, filter.limit ?? 200);
  const ended = new Map<string, AuditEvent>();
  for (const e of await endedEvents(reader, newest)) ended.set(e.sessionId ?? '', e);
  const sessions = newest.map((e) => ({
    id: e.sessionId,
    startedAt: e.ts,
    endedAt: ended.get(e.sessionId ?? '')?.ts ?? null,
    connection: e.connection,
    identity: e.actor?.identity ?? null,
    owner: e.actor?.owner ?? null,
    kind: e.actor?.kind ?? null,
    clientAddr: e.clientAddr,
    protocol: protocolOf(e),
    commands: ended.get(e.sessionId ?? '')?.data.commands ?? null,
  }));
  return { body: { sessions } };
}

/** The protocol a `session.started` names (the SSH engine logs `auth.succeeded` before it). */
function protocolOf(started: AuditEvent): string {
  return typeof started.data.protocol === 'string' ? started.data.protocol : 'postgres';
}

async function endedEvents(reader: LedgerReader, started: readonly AuditEvent[]) {
  if (started.length === 0) return [];
  const since = Math.min(...started.map((e) => Date.parse(e.ts)));
  return reader.query({ types: ['session.ended', 'session.terminated'], since, limit: 10_000 });
}

/**
 * One session for replay: every event in order (generic), the statements joined with their
 * outcomes, and the masking summary. Protocol-specific payloads (SSH recordings, LLM turns) ride
 * in `events` and are rendered by the console's per-protocol replay views; the terminal
 * recordings themselves are served by ./recording-routes.ts.
 */
async function sessionDetail(deps: ApiDeps, call: Call) {
  const { reader } = audit(deps);
  const id = call.params[0] as string;
  const events = await reader.query({ sessionId: id, limit: 10_000 });
  if (events.length === 0) throw new GatewayError('GW_SESSION_UNKNOWN', `no session ${id}`);
  const commands = await reader.commands({ sessionId: id, limit: 10_000 });
  const masking = maskingSummary(events);
  const first = events[0] as AuditEvent;
  return {
    body: {
      session: {
        id,
        protocol: protocolOf(events.find((e) => e.type === 'session.started') ?? first),
        connection: first.connection,
        actor: first.actor,
        clientAddr: first.clientAddr,
      },
      events: events.map(withoutBody),
      commands,
      masking,
    },
  };
}

/**
 * Values masked in a session, by column (`schema.table.column`) and by detector type
 * (`type:<name>` findings), plus `values` in all, summed over its `data.masked` events.
 */
export function maskingSummary(events: readonly AuditEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, n: unknown) => {
    if (typeof n === 'number' && Number.isFinite(n)) out[k] = (out[k] ?? 0) + n;
  };
  for (const e of events) {
    if (e.type !== 'data.masked') continue;
    const d = e.data as {
      values?: unknown;
      columns?: { column?: unknown; values?: unknown }[];
      types?: { type?: unknown; findings?: unknown }[];
    };
    add('values', d.values);
    for (const c of Array.isArray(d.columns) ? d.columns : []) add(String(c.column), c.values);
    for (const t of Array.isArray(d.types) ? d.types : [])
      add(`type:${String(t.type)}`, t.findings);
  }
  return out;
}

/** Verifies the whole ledger now (chain, Merkle roots, signatures, truncation). */
async function verify(deps: ApiDeps) {
  const { config } = audit(deps);
  const keyFile = signingKeyFile(config.audit, config.data_dir);
  const key = loadOrCreateSigningKey(keyFile);
  const started = Date.now();
  const result = await verifyStore(config.audit, config.data_dir, [
    createPublicKey(key.publicKeyPem),
  ]);
  let latest: unknown = null;
  try {
    latest = readLatestCheckpoint(latestCheckpointPath(keyFile));
  } catch {
    latest = null;
  }
  return {
    body: {
      result,
      latestCheckpoint: latest,
      publicKeyPem: key.publicKeyPem,
      checkedAt: new Date().toISOString(),
      durationMs: Date.now() - started,
    },
  };
}

/** A self-verifying export file (`airlock audit verify --from-export` checks it offline). */
async function exportEvents(deps: ApiDeps, call: Call) {
  const a = audit(deps);
  const format = call.query.get('format') ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'ocsf') {
    throw new GatewayError('GW_PROTOCOL_MALFORMED', 'format must be jsonl or ocsf');
  }
  const since = timeOf(call.query.get('since'), 'since');
  const until = timeOf(call.query.get('until'), 'until');
  const dir = mkdtempSync(join(tmpdir(), 'airlock-export-'));
  const out = join(dir, `airlock-audit.${format}.jsonl`);
  try {
    const key = loadOrCreateSigningKey(signingKeyFile(a.config.audit, a.config.data_dir));
    await exportLedger({
      reader: a.reader,
      format,
      out,
      since,
      until,
      publicKeyPem: key.publicKeyPem,
      checkpoint: async () => void (await a.checkpoint()),
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new GatewayError('GW_AUDIT_UNAVAILABLE', `export failed: ${(err as Error).message}`);
  }
  deps.ledger.appendLater({
    type: 'auth.succeeded',
    actor: call.actor,
    clientAddr: call.clientAddr,
    data: { protocol: 'api', method: 'export', request: `audit export ${format}` },
  });
  return {
    stream: async (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'content-disposition': `attachment; filename="airlock-audit-${format}.jsonl"`,
        'cache-control': 'no-store',
      });
      const file = createReadStream(out);
      await new Promise<void>((resolve) => {
        file.on('close', resolve);
        file.pipe(res);
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A URL without any user or password it may carry. */
function publicUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '[invalid url]';
  }
}

/** What is configured, without credentials. */
async function connections(deps: ApiDeps) {
  const list = audit(deps).config.connections.map((c) => ({
    name: c.name,
    type: c.type,
    ...(c.type === 'postgres'
      ? { host: c.host, port: c.port, database: c.database, user: c.user, ssl: c.ssl }
      : c.type === 'ssh'
        ? { host: c.host, port: c.port, user: c.user }
        : { url: publicUrl(c.url) }),
    ...(c.type === 'llm' ? { dialect: c.dialect } : {}),
    allowGroups: c.allow_groups ?? null,
    labels: c.labels ?? {},
  }));
  return { body: { connections: list } };
}

/** The policy in force: its file, hash and rules, with how often each rule decided (ledger). */
async function policyView(deps: ApiDeps) {
  const a = audit(deps);
  const p = a.policy();
  if (!p) return { body: { policy: null, rules: [] } };
  const hits = new Map<string, { hits: number; last: string | null }>();
  for (const h of await a.reader.ruleHits()) {
    hits.set(h.rule, { hits: h.hits, last: new Date(h.lastMs).toISOString() });
  }
  const doc = await readPolicyDoc(p.source);
  const rules = p.ruleNames.map((name) => ({
    name,
    ...(doc.rules.find((r) => r.name === name) ?? {}),
    hits: hits.get(name)?.hits ?? 0,
    lastHit: hits.get(name)?.last ?? null,
  }));
  const fallback = { name: 'default', ...doc.defaults, ...(hits.get('default') ?? { hits: 0 }) };
  return {
    body: {
      policy: { file: p.source, hash: p.hash, version: p.version },
      rules,
      defaults: fallback,
    },
  };
}

interface PolicyDoc {
  readonly defaults: Record<string, unknown>;
  readonly rules: readonly ({ name: string } & Record<string, unknown>)[];
}

async function readPolicyDoc(file: string): Promise<PolicyDoc> {
  const { readFile } = await import('node:fs/promises');
  const { parse } = await import('yaml');
  try {
    const doc = parse(await readFile(file, 'utf8')) as Partial<PolicyDoc> | null;
    return { defaults: doc?.defaults ?? {}, rules: Array.isArray(doc?.rules) ? doc.rules : [] };
  } catch {
    return { defaults: {}, rules: [] };
  }
}

const REVIEW_POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;

/**
 * Server-sent events: `event: reviews` with the reviews the caller may see whenever they change
 * (pending first, then the most recent decisions), so approvers never reload.
 */
async function reviewEvents(deps: ApiDeps, call: Call) {
  return {
    stream: async (req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      });
      let last = '';
      let beat = Date.now();
      const tick = () => {
        const json = JSON.stringify({ reviews: visibleReviews(deps, call.identity) });
        if (json !== last) {
          last = json;
          res.write(`event: reviews\ndata: ${json}\n\n`);
        } else if (Date.now() - beat > HEARTBEAT_MS) {
          res.write(': keep-alive\n\n');
        } else return;
        beat = Date.now();
      };
      tick();
      const timer = setInterval(tick, REVIEW_POLL_MS);
      await new Promise<void>((resolve) => {
        req.once('close', resolve);
        res.once('close', resolve);
      });
      clearInterval(timer);
    },
  };
}

function visibleReviews(deps: ApiDeps, identity: Identity): Review[] {
  const all = [
    ...deps.reviews.list({ status: 'pending', limit: 200 }),
    ...deps.reviews.list({ limit: 50 }).filter((r) => r.status !== 'pending'),
  ];
  const seeAll = identity.roles.some((r) => r === 'approver' || r === 'admin' || r === 'auditor');
  const owner = identity.owner.toLowerCase();
  return seeAll ? all : all.filter((r) => r.requester.owner.toLowerCase() === owner);
}

function withoutBody(e: AuditEvent): Omit<AuditEvent, 'body'> {
  const { body: _b, ...rest } = e;
  return rest;
}

/** Query parameters as `airlock audit query` flags; times are ISO-8601 or ms since the epoch. */
export function filterOf(q: URLSearchParams): AuditFilter {
  return parseAuditFilter({
    get: (name) => q.get(name)?.trim() || undefined,
    time: msOf,
    invalid: (message) => new GatewayError('GW_PROTOCOL_MALFORMED', message),
    label: (name) => name,
    maxLimit: 99_999,
  });
}

function timeOf(v: string | null, what: string): number | undefined {
  return v === null || v === '' ? undefined : msOf(v, what);
}

/** An ISO-8601 time or ms since the epoch. */
function msOf(v: string, what: string): number {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    throw new GatewayError('GW_PROTOCOL_MALFORMED', `${what} must be ISO-8601 or ms since epoch`);
  }
  return ms;
}
