/**
 * The control-plane API: mint and revoke agent tokens, offboard humans, list live sessions.
 * Every call authenticates with `Authorization: Bearer <OIDC JWT | Airlock token>`; roles come
 * from the group mapping. JSON in and out; errors are `{ "error": { "code", "message" } }` with
 * the status picked by the GatewayError kind.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Actor, AuditEventInput } from '../audit/types.ts';
import type { AirlockConfig } from '../config/schema.ts';
import {
  type ConsoleSessionStore,
  CSRF_HEADER,
  readCookie,
  SESSION_COOKIE,
  sameValue,
} from '../console/sessions.ts';
import { type ErrorKind, GatewayError, type GatewayErrorCode, toGatewayError } from '../errors.ts';
import type { Authenticator } from '../identity/authenticator.ts';
import { disableUser, enableUser } from '../identity/offboarding.ts';
import {
  registerSshKey,
  SshKeyError,
  sshKeyAddedEvent,
  sshKeyRemovedEvent,
} from '../identity/ssh-key-events.ts';
import type { SshKeyRecord, SshKeyStore } from '../identity/ssh-keys.ts';
import { tokenCreatedEvent, tokenRevokedEvent } from '../identity/token-events.ts';
import type { TokenStore } from '../identity/token-store.ts';
import type { Identity, Role, TokenRecord } from '../identity/types.ts';
import type { ReviewService } from '../review/service.ts';
import type { Review } from '../review/store.ts';
import { actorOf } from '../session/context.ts';
import type { SessionRegistry } from '../session/registry.ts';
import type { Logger } from '../telemetry/logger.ts';
import { type AuditApiDeps, LEDGER_ROUTES } from './ledger-routes.ts';
import { OPENAPI } from './openapi.ts';
import { RECORDING_ROUTES } from './recording-routes.ts';

export interface ApiDeps {
  readonly reviews: ReviewService;
  readonly reviewsConfig: AirlockConfig['reviews'];
  /** Names of the configured connections (access requests must name one). */
  readonly connections: readonly string[];
  readonly tokens: TokenStore;
  /** SSH keys registered to identities; absent: the ssh-keys routes answer 404. */
  readonly sshKeys?: SshKeyStore | undefined;
  /** Longest lifetime of an SSH key registered to a human through the API. */
  readonly maxSshKeyTtlMs?: number;
  readonly ledger: {
    append(e: AuditEventInput): Promise<unknown>;
    appendLater(e: AuditEventInput): void;
  };
  readonly authenticator: Authenticator;
  readonly sessions: SessionRegistry;
  /** Re-checks live sessions now (after a disable or revoke). */
  readonly sweep: () => void;
  readonly logger: Logger;
  readonly maxTokenTtlMs: number;
  /** Web console sessions: the API also accepts their cookie (with a CSRF header to change). */
  readonly consoleSessions?: ConsoleSessionStore;
  /** Ledger reads (query, sessions, verify, export) and configuration views for the console. */
  readonly audit?: AuditApiDeps;
}

export interface Call {
  readonly identity: Identity;
  readonly actor: Actor;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  readonly body: Record<string, unknown>;
  readonly clientAddr: string;
  /** For a console session: its CSRF token (whoami hands it to the app). */
  readonly csrf?: string;
}

/** A JSON answer, or a handler that writes the response itself (SSE, file downloads). */
export type Answer =
  | { status?: number; body: unknown }
  | { stream: (req: IncomingMessage, res: ServerResponse) => Promise<void> };

export type Handler = (deps: ApiDeps, call: Call) => Promise<Answer>;

export interface Route {
  readonly method: string;
  readonly path: RegExp;
  /** Roles of which the caller must hold one; empty means any authenticated caller. */
  readonly roles: readonly Role[];
  readonly handler: Handler;
}

const MAX_BODY_BYTES = 64 * 1024;
const STATUS: Record<ErrorKind, number> = {
  unauthenticated: 401,
  denied: 403,
  invalid: 400,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

const STATUS_BY_CODE: Partial<Record<GatewayErrorCode, number>> = {
  GW_REVIEW_UNKNOWN: 404,
  GW_SSH_KEY_UNKNOWN: 404,
  GW_CONNECTION_UNKNOWN: 404,
  GW_SESSION_UNKNOWN: 404,
  GW_RECORDING_UNKNOWN: 404,
  GW_RECORDING_ALTERED: 409,
  GW_REVIEW_CLOSED: 409,
};

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: /^\/v1\/whoami$/, roles: [], handler: whoami },
  { method: 'POST', path: /^\/v1\/tokens$/, roles: ['user'], handler: mintToken },
  { method: 'GET', path: /^\/v1\/tokens$/, roles: [], handler: listTokens },
  { method: 'DELETE', path: /^\/v1\/tokens\/([a-z2-7]{12})$/, roles: [], handler: revokeToken },
  { method: 'GET', path: /^\/v1\/users$/, roles: ['admin'], handler: listUsers },
  { method: 'POST', path: /^\/v1\/users\/([^/]+)\/disable$/, roles: ['admin'], handler: disable },
  { method: 'POST', path: /^\/v1\/users\/([^/]+)\/enable$/, roles: ['admin'], handler: enable },
  { method: 'GET', path: /^\/v1\/sessions$/, roles: ['admin', 'auditor'], handler: listSessions },
  { method: 'GET', path: /^\/v1\/reviews$/, roles: [], handler: listReviews },
  { method: 'GET', path: /^\/v1\/reviews\/(r_[0-9a-f]{30})$/, roles: [], handler: showReview },
  {
    method: 'POST',
    path: /^\/v1\/reviews\/(r_[0-9a-f]{30})\/(approve|deny)$/,
    roles: [],
    handler: decideReview,
  },
  { method: 'POST', path: /^\/v1\/access-requests$/, roles: ['user'], handler: requestAccess },
  { method: 'POST', path: /^\/v1\/ssh-keys$/, roles: ['user'], handler: addSshKey },
  { method: 'GET', path: /^\/v1\/ssh-keys$/, roles: [], handler: listSshKeys },
  { method: 'DELETE', path: /^\/v1\/ssh-keys\/(SHA256:[^/]+)$/, roles: [], handler: removeSshKey },
  ...LEDGER_ROUTES,
  ...RECORDING_ROUTES,
];

/**
 * @example
 * https.createServer({ secureContext }, createApiHandler(deps)).listen(8443);
 */
export function createApiHandler(deps: ApiDeps) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(deps, req, res).catch((err: unknown) => {
      const ge = toGatewayError(err);
      if (ge.kind === 'internal') deps.logger.error('api call failed', { err });
      const status = STATUS_BY_CODE[ge.code] ?? STATUS[ge.kind];
      send(res, status, { error: { code: ge.code, message: ge.clientMessage } });
    });
  };
}

async function handle(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://api');
  // `/api/...` is the same API as `/v1/...` (the web console and the issue text use `/api`).
  if (url.pathname.startsWith('/api/')) url.pathname = `/v1/${url.pathname.slice(5)}`;
  if (req.method === 'GET' && url.pathname === '/v1/health') {
    send(res, 200, { ok: true });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/v1/openapi.json') {
    send(res, 200, OPENAPI);
    return;
  }
  const match = route(req.method ?? 'GET', url.pathname);
  if (!match) {
    send(res, 404, { error: { code: 'not_found', message: `no route ${url.pathname}` } });
    return;
  }
  const clientAddr = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
  const { identity, csrf } = await authenticate(deps, req, clientAddr, url.pathname);
  if (match.route.roles.length > 0 && !match.route.roles.some((r) => identity.roles.includes(r))) {
    throw new GatewayError('GW_AUTH_FORBIDDEN', `requires role ${match.route.roles.join(' or ')}`);
  }
  const body = req.method === 'POST' ? await readJson(req) : {};
  const actor = actorOf(identity);
  const out: Answer = await match.route.handler(deps, {
    identity,
    actor,
    params: match.params,
    query: url.searchParams,
    body,
    clientAddr,
    ...(csrf !== undefined && { csrf }),
  });
  if ('stream' in out) await out.stream(req, res);
  else send(res, out.status ?? 200, out.body);
}

function route(method: string, path: string): { route: Route; params: string[] } | undefined {
  for (const r of ROUTES) {
    if (r.method !== method) continue;
    const m = r.path.exec(path);
    if (m) return { route: r, params: m.slice(1).map(decodeURIComponent) };
  }
  return undefined;
}

async function authenticate(
  deps: ApiDeps,
  req: IncomingMessage,
  clientAddr: string,
  route: string,
): Promise<{ identity: Identity; csrf?: string }> {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer ([!-~]{1,65536})$/.exec(header);
  if (!m) {
    const fromCookie = consoleIdentity(deps, req);
    if (fromCookie) return fromCookie;
    throw new GatewayError('GW_AUTH_PASSWORD_MISSING', 'send Authorization: Bearer <token>');
  }
  const auth = await deps.authenticator.verifySecret(m[1] as string);
  if (auth.ok) {
    deps.ledger.appendLater({
      type: 'auth.succeeded',
      clientAddr,
      actor: actorOf(auth.identity),
      data: { protocol: 'api', method: 'bearer', request: `${req.method} ${route}` },
    });
    return { identity: auth.identity };
  }
  const { ok: _, ...failure } = auth;
  await deps.ledger
    .append({ type: 'auth.failed', clientAddr, data: { ...failure, protocol: 'api' } })
    .catch((err: unknown) => deps.logger.error('audit append failed for auth.failed', { err }));
  if (auth.reason === 'oidc issuer unavailable') {
    throw new GatewayError('GW_AUTH_IDP_UNAVAILABLE', 'the identity provider is unavailable');
  }
  if (auth.reason === 'user disabled' || auth.reason === 'token owner disabled') {
    throw new GatewayError('GW_AUTH_USER_DISABLED', 'authentication failed: user disabled');
  }
  throw new GatewayError('GW_AUTH_TOKEN_INVALID', 'authentication failed');
}

/**
 * The identity of a console session cookie, re-checked (disabled owner, expiry) on every call.
 * Calls that change state must echo the session's CSRF token in a header; SameSite=Strict already
 * keeps the cookie off cross-site requests, the header keeps it off same-site forgeries too.
 */
function consoleIdentity(
  deps: ApiDeps,
  req: IncomingMessage,
): { identity: Identity; csrf: string } | undefined {
  const id = readCookie(req.headers.cookie, SESSION_COOKIE);
  if (!deps.consoleSessions || id === undefined) return undefined;
  const session = deps.consoleSessions.get(id);
  if (!session) throw new GatewayError('GW_AUTH_TOKEN_INVALID', 'console session ended: sign in');
  const invalid = deps.authenticator.recheck(session.identity);
  if (invalid) {
    deps.consoleSessions.delete(id);
    throw new GatewayError('GW_AUTH_USER_DISABLED', 'console session ended: sign in again');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const csrf = req.headers[CSRF_HEADER];
    if (typeof csrf !== 'string' || !sameValue(csrf, session.csrf)) {
      throw new GatewayError('GW_AUTH_FORBIDDEN', 'missing or wrong CSRF token');
    }
  }
  return { identity: session.identity, csrf: session.csrf };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new GatewayError('GW_PROTOCOL_MALFORMED', 'body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return v as Record<string, unknown>;
    }
  } catch {
    // fall through to the one error below
  }
  throw new GatewayError('GW_PROTOCOL_MALFORMED', 'body must be a JSON object');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

// ---- handlers ----

async function whoami(_deps: ApiDeps, call: Call) {
  const { identity } = call;
  return { body: { ...identity, ...(call.csrf !== undefined && { csrf: call.csrf }) } };
}

/**
 * Mints an agent token owned by the caller. Ownership is proven: only an OIDC identity may mint,
 * and the token's groups must be a subset of the caller's.
 */
async function mintToken(deps: ApiDeps, call: Call) {
  if (call.identity.kind !== 'oidc') {
    throw new GatewayError(
      'GW_AUTH_FORBIDDEN',
      'agent tokens are minted with the owner’s OIDC identity (airlock login), not a token',
    );
  }
  const b = call.body;
  const groups = stringList(b.groups, 'groups');
  const wider = groups.filter((g) => !call.identity.groups.includes(g));
  if (wider.length > 0) {
    throw new GatewayError('GW_AUTH_FORBIDDEN', `you are not in group(s) ${wider.join(', ')}`);
  }
  const ttlMs = ttlOf(b.ttl_hours, deps.maxTokenTtlMs);
  let created: { token: string; record: TokenRecord };
  try {
    created = deps.tokens.create({
      owner: call.identity.owner,
      name: String(b.name ?? ''),
      purpose: String(b.purpose ?? ''),
      groups,
      ttlMs,
      ownerProof: 'oidc',
    });
  } catch (err) {
    throw new GatewayError('GW_PROTOCOL_MALFORMED', (err as Error).message);
  }
  await deps.ledger.append(tokenCreatedEvent(created.record, call.actor));
  return { status: 201, body: { token: created.token, ...created.record } };
}

async function listTokens(deps: ApiDeps, call: Call) {
  const all = deps.tokens.list();
  const mine = (t: TokenRecord) => t.owner.toLowerCase() === call.identity.owner.toLowerCase();
  const visible = call.identity.roles.includes('admin') ? all : all.filter(mine);
  return { body: { tokens: visible } };
}

async function revokeToken(deps: ApiDeps, call: Call) {
  const id = call.params[0] as string;
  const t = deps.tokens.get(id);
  const owns = t !== undefined && t.owner.toLowerCase() === call.identity.owner.toLowerCase();
  if (!t || (!owns && !call.identity.roles.includes('admin'))) {
    throw new GatewayError('GW_AUTH_FORBIDDEN', `no token ${id} of yours to revoke`);
  }
  const revoked = deps.tokens.revoke(id);
  if (revoked) {
    await deps.ledger.append(tokenRevokedEvent(id, call.actor));
    deps.sweep();
  }
  return { body: { id, revoked } };
}

async function listUsers(deps: ApiDeps) {
  return { body: { users: deps.tokens.users() } };
}

async function disable(deps: ApiDeps, call: Call) {
  const user = call.params[0] as string;
  const reason = typeof call.body.reason === 'string' ? call.body.reason.slice(0, 500) : '';
  const result = await disableUser(deps.tokens, deps.ledger, {
    user,
    by: call.actor,
    reason: reason || 'disabled via API',
  });
  deps.sweep();
  return { body: result };
}

async function enable(deps: ApiDeps, call: Call) {
  const user = call.params[0] as string;
  const enabled = await enableUser(deps.tokens, deps.ledger, { user, by: call.actor });
  return { body: { user, enabled } };
}

async function listSessions(deps: ApiDeps) {
  const sessions = deps.sessions.list().map(({ ctx }) => ({
    id: ctx.id,
    protocol: ctx.protocol,
    clientAddr: ctx.clientAddr,
    startedAt: new Date(ctx.startedAt).toISOString(),
    connection: ctx.connection?.name ?? null,
    identity: ctx.identity?.name ?? null,
    owner: ctx.identity?.owner ?? null,
    commands: ctx.stats.commands,
  }));
  return { body: { sessions } };
}

const REVIEW_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'] as const;

/** Approvers, admins and auditors see every review; anyone else sees their own. */
function canSeeAll(identity: Identity): boolean {
  return identity.roles.some((r) => r === 'approver' || r === 'admin' || r === 'auditor');
}

function ownReview(identity: Identity, r: Review): boolean {
  return r.requester.owner.toLowerCase() === identity.owner.toLowerCase();
}

async function listReviews(deps: ApiDeps, call: Call) {
  const status = call.query.get('status') ?? undefined;
  if (status !== undefined && !(REVIEW_STATUSES as readonly string[]).includes(status)) {
    throw new GatewayError(
      'GW_PROTOCOL_MALFORMED',
      `status must be one of ${REVIEW_STATUSES.join(', ')}`,
    );
  }
  const all = deps.reviews.list({
    ...(status ? { status: status as Review['status'] } : {}),
    limit: Number(call.query.get('limit') ?? 100) || 100,
  });
  const visible = canSeeAll(call.identity) ? all : all.filter((r) => ownReview(call.identity, r));
  return { body: { reviews: visible } };
}

async function showReview(deps: ApiDeps, call: Call) {
  const r = deps.reviews.get(call.params[0] as string);
  if (!r || (!canSeeAll(call.identity) && !ownReview(call.identity, r))) {
    throw new GatewayError('GW_REVIEW_UNKNOWN', `no review ${call.params[0]}`);
  }
  return { body: r };
}

async function decideReview(deps: ApiDeps, call: Call) {
  const [id, verb] = call.params as [string, 'approve' | 'deny'];
  const reason = typeof call.body.reason === 'string' ? call.body.reason.slice(0, 1000) : '';
  if (verb === 'deny' && reason.trim() === '') {
    throw new GatewayError('GW_PROTOCOL_MALFORMED', 'a denial needs a reason for the requester');
  }
  const review = await deps.reviews.decide(id, call.identity, verb, reason);
  return { body: review };
}

async function requestAccess(deps: ApiDeps, call: Call) {
  const b = call.body;
  const connection = String(b.connection ?? '');
  if (!deps.connections.includes(connection)) {
    throw new GatewayError('GW_CONNECTION_UNKNOWN', `connection "${connection}" does not exist`);
  }
  const cfg = deps.reviewsConfig;
  if (cfg.grant_approvers.length === 0) {
    throw new GatewayError(
      'GW_AUTH_FORBIDDEN',
      'access requests are not enabled (reviews.grant_approvers)',
    );
  }
  const minutes = b.duration_minutes;
  if (typeof minutes !== 'number' || minutes <= 0 || minutes > cfg.max_grant_hours * 60) {
    throw new GatewayError(
      'GW_PROTOCOL_MALFORMED',
      `duration_minutes must be more than 0 and at most ${cfg.max_grant_hours * 60}`,
    );
  }
  const reason = typeof b.reason === 'string' ? b.reason.trim().slice(0, 1000) : '';
  if (!reason) throw new GatewayError('GW_PROTOCOL_MALFORMED', 'an access request needs a reason');
  const review = await deps.reviews.requestGrant({
    identity: call.identity,
    connection,
    durationMs: Math.round(minutes * 60_000),
    reason,
    approvers: cfg.grant_approvers,
    timeoutMs: cfg.grant_request_timeout_ms,
  });
  return { status: 201, body: review };
}

function keyStore(deps: ApiDeps): SshKeyStore {
  if (deps.sshKeys === undefined)
    throw new GatewayError('GW_SSH_KEY_UNKNOWN', 'ssh keys are not enabled');
  return deps.sshKeys;
}

/**
 * Registers an SSH public key for the caller (a human, proven by their OIDC token): to
 * themselves with the groups their token carries now, or to one of their agent tokens.
 */
async function addSshKey(deps: ApiDeps, call: Call) {
  const keys = keyStore(deps);
  if (call.identity.kind !== 'oidc' || call.identity.sshKey !== undefined) {
    throw new GatewayError(
      'GW_AUTH_FORBIDDEN',
      'ssh keys are registered with your OIDC identity (airlock login)',
    );
  }
  const b = call.body;
  const tokenId = b.token_id === undefined ? undefined : String(b.token_id);
  let record: SshKeyRecord;
  try {
    record = registerSshKey(keys, deps.tokens, {
      publicKey: String(b.public_key ?? ''),
      ...(tokenId !== undefined
        ? { tokenId, requireTokenOwner: call.identity.owner }
        : { owner: call.identity.owner, groups: call.identity.groups }),
      ownerProof: 'oidc',
      ttlMs: ttlOf(b.ttl_hours ?? 720, deps.maxSshKeyTtlMs ?? 720 * 3_600_000),
    });
  } catch (err) {
    if (err instanceof SshKeyError) throw new GatewayError('GW_PROTOCOL_MALFORMED', err.message);
    throw err;
  }
  await deps.ledger.append(sshKeyAddedEvent(record, call.actor));
  return { status: 201, body: record };
}

async function listSshKeys(deps: ApiDeps, call: Call) {
  const all = keyStore(deps).list();
  const mine = (k: SshKeyRecord) => k.owner.toLowerCase() === call.identity.owner.toLowerCase();
  return { body: call.identity.roles.includes('admin') ? all : all.filter(mine) };
}

async function removeSshKey(deps: ApiDeps, call: Call) {
  const keys = keyStore(deps);
  const fp = call.params[0] as string;
  const k = keys.get(fp);
  const mine = k !== undefined && k.owner.toLowerCase() === call.identity.owner.toLowerCase();
  if (k === undefined || (!mine && !call.identity.roles.includes('admin'))) {
    throw new GatewayError('GW_SSH_KEY_UNKNOWN', `no ssh key ${fp}`);
  }
  if (keys.remove(fp)) {
    await deps.ledger.append(sshKeyRemovedEvent(k, call.actor));
    deps.sweep();
  }
  return { body: { fingerprint: fp, removed: true } };
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((g) => typeof g !== 'string')) {
    throw new GatewayError('GW_PROTOCOL_MALFORMED', `${what} must be a list of strings`);
  }
  return v as string[];
}

function ttlOf(hours: unknown, maxMs: number): number {
  const h = hours === undefined ? 8 : hours;
  if (typeof h !== 'number' || !Number.isFinite(h) || h <= 0 || h * 3_600_000 > maxMs) {
    throw new GatewayError(
      'GW_PROTOCOL_MALFORMED',
      `ttl_hours must be more than 0 and at most ${maxMs / 3_600_000}`,
    );
  }
  return Math.round(h * 3_600_000);
}
