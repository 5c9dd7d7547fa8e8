/**
 * The HTTP engine: `listen.http` requests for `http` and `llm` connections. accept (route,
 * authenticate the Airlock credential, open the session) → command (body read, LLM request
 * parsed, prompt scanned) → pipeline (policy, budget, ledger, review) → forward (upstream with
 * the brokered credential; responses relayed, masked, recorded) → sendError (the dialect's error
 * shape, or problem+json).
 */

import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { AirlockConfig } from '../../config/schema.ts';
import { GatewayError, toGatewayError } from '../../errors.ts';
import { authError } from '../../identity/auth-error.ts';
import type { Authenticator } from '../../identity/authenticator.ts';
import type { Identity } from '../../identity/types.ts';
import type { DetectorSet } from '../../masking/detectors/types.ts';
import type { MaskingEngine } from '../../masking/engine.ts';
import { isEventId } from '../../session/caused-by.ts';
import type { SessionContext } from '../../session/context.ts';
import type { SessionPipeline } from '../../session/pipeline.ts';
import type { SessionRegistry } from '../../session/registry.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { anthropic } from '../llm/anthropic.ts';
import { openai } from '../llm/openai.ts';
import type { LlmDialect, LlmRequest } from '../llm/types.ts';
import { BodyMasker } from './body-masker.ts';
import { sendError } from './errors.ts';
import { forward } from './forward.ts';
import { credentialOf, upstreamHeaders } from './headers.ts';
import type { ProxyCa } from './proxy-ca.ts';
import { httpCommand } from './request-command.ts';
import { type HttpTarget, type Route, Router } from './router.ts';
import { HttpSessions } from './sessions.ts';
import { Upstreams } from './upstream.ts';

export const DIALECTS: Readonly<Record<'openai' | 'anthropic', LlmDialect>> = { openai, anthropic };

export interface HttpEngineDeps {
  readonly config: AirlockConfig;
  readonly logger: Logger;
  readonly pipeline: SessionPipeline;
  readonly authenticator: Authenticator;
  readonly sessions: SessionRegistry;
  readonly clock: () => number;
  /** Masking rules (detector types) for bodies, prompts and responses; absent: none. */
  readonly masking: MaskingEngine | undefined;
  /** Finds detector types in prompts for `prompt.contains` rules. */
  readonly detectors: DetectorSet;
  /** Certificates for CONNECT tunnels (HTTPS proxy mode). */
  readonly proxyCa?: ProxyCa;
  /** Serves what no connection route claims (the web console and its API); absent: 404. */
  readonly fallback?: (req: IncomingMessage, res: ServerResponse) => void;
}

type Connected = Extract<Route, { kind: 'connection' }>;

/**
 * @example
 * const engine = new HttpEngine(deps);
 * http.createServer(engine.handler).listen(8080);
 */
export class HttpEngine {
  readonly protocol = 'http';
  readonly #deps: HttpEngineDeps;
  readonly #router: Router;
  readonly #upstreams = new Upstreams();
  readonly #sessions: HttpSessions;
  readonly #identities = new WeakMap<Socket, Map<string, Identity>>();
  /** The Airlock credential a CONNECT tunnel was opened with, by its inner TLS socket. */
  readonly #tunnels = new WeakMap<object, string>();
  #shuttingDown = false;

  constructor(deps: HttpEngineDeps) {
    this.#deps = deps;
    this.#router = new Router(deps.config.connections, (c) => DIALECTS[c.dialect].sdkBasePath);
    this.#sessions = new HttpSessions({
      pipeline: deps.pipeline,
      sessions: deps.sessions,
      clock: deps.clock,
    });
  }

  /** The request listener for `http.createServer` / `https.createServer`. Never throws. */
  readonly handler = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#handle(req, res);
  };

  shutdown(): void {
    this.#shuttingDown = true;
  }

  /**
   * `server.on('connect', ...)`: a CONNECT tunnel (HTTPS proxy mode) to the host of a configured
   * connection, authenticated with `Proxy-Authorization`. Airlock ends TLS itself with a
   * certificate from its proxy CA and serves the requests inside like any other. RFC 9110 §9.3.6:
   * "A server MUST NOT send any Transfer-Encoding or Content-Length header fields in a 2xx
   * (Successful) response to CONNECT."
   */
  readonly connectHandler =
    (server: EventEmitter) =>
    (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      void this.#connect(server, req, socket, head).catch((err: unknown) => {
        this.#deps.logger.warn('CONNECT refused', { code: toGatewayError(err).code });
        refuseTunnel(socket, toGatewayError(err));
      });
    };

  async #connect(
    server: EventEmitter,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    const authority = req.url ?? '';
    const conn = this.#router.tunnelTarget(authority);
    const ca = this.#deps.proxyCa;
    if (!conn || !ca)
      throw new GatewayError('GW_CONNECTION_UNKNOWN', `no connection serves ${authority}`);
    const secret = credentialOf(req.headers);
    if (secret === undefined)
      throw new GatewayError('GW_AUTH_PASSWORD_MISSING', 'proxy credentials required');
    const auth = await this.#deps.authenticator.verifySecret(secret);
    if (!auth.ok) {
      const { ok: _, ...failure } = auth;
      await this.#deps.pipeline.onAuthFailed(this.#detached(req, conn), {
        ...failure,
        protocol: 'http',
      });
      throw authError(auth.reason);
    }
    const context = await ca.contextFor(authority.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''));
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const tls = new TLSSocket(socket as Socket, { isServer: true, secureContext: context });
    tls.on('error', () => tls.destroy());
    this.#tunnels.set(tls, secret);
    server.emit('connection', tls);
  }

  close(): void {
    this.#upstreams.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.socket.setNoDelay(true);
    let dialect: LlmDialect | undefined;
    try {
      if (this.#shuttingDown) {
        throw new GatewayError('GW_SESSION_SHUTTING_DOWN', 'the gateway is shutting down');
      }
      const route = this.#router.route({ url: req.url ?? '/', host: req.headers.host });
      if (route.kind === 'health') return sendJson(res, 200, { ok: true });
      if (route.kind === 'none') {
        if (this.#deps.fallback) return this.#deps.fallback(req, res);
        throw new GatewayError(
          'GW_HTTP_NOT_FOUND',
          `nothing is served at ${req.url?.split('?')[0]}`,
        );
      }
      const conn = route.connection;
      dialect = conn.type === 'llm' ? DIALECTS[conn.dialect] : undefined;
      await this.#serve(req, res, route, dialect);
    } catch (err) {
      const ge = toGatewayError(err);
      if (ge.kind === 'internal') this.#deps.logger.error('http request failed', { err });
      sendError(res, ge, dialect);
    }
  }

  async #serve(
    req: IncomingMessage,
    res: ServerResponse,
    route: Connected,
    dialect: LlmDialect | undefined,
  ): Promise<void> {
    const conn = route.connection;
    const identity = await this.#authenticate(req, conn);
    const ctx = await this.#sessions.open(req.socket, identity, conn, {
      protocol: 'http',
      method: route.proxied ? 'proxy' : 'bearer',
      roles: identity.roles,
    });
    const aborted = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) aborted.abort();
    });
    const startedAt = this.#deps.clock();
    const body = await readBody(req, this.#deps.config.http.max_body_bytes);
    const llm = dialect && parseLlm(req, route, body, dialect);
    const command = httpCommand({
      method: req.method ?? 'GET',
      upstreamPath: route.upstreamPath,
      path: route.path,
      host: new URL(conn.url).host,
      body,
      contentType: String(req.headers['content-type'] ?? ''),
      recordBytes: this.#deps.config.http.record_body_bytes,
      causedBy: causedByHeader(req),
      ...(llm && conn.type === 'llm'
        ? {
            llm: {
              dialect: llm.dialect,
              request: llm.request,
              detectors: this.#deps.detectors,
              defaultMaxTokens: conn.default_max_tokens,
            },
          }
        : {}),
    });
    const log = this.#deps.logger.child({ session: ctx.id });
    const verdict = await this.#deps.pipeline.onCommand(ctx, command, {
      notice: (text) =>
        log.info('request held for review', { review: /r_[0-9a-f]+/.exec(text)?.[0] }),
      signal: aborted.signal,
    });
    if (verdict.action === 'deny') {
      const retry = verdict.retryAfterMs;
      const extra: Record<string, string> =
        retry === undefined
          ? {}
          : {
              'retry-after': String(Math.ceil(retry / 1000)),
              ...(retry > 60_000 ? { 'x-should-retry': 'false' } : {}),
            };
      sendError(res, verdict.error, dialect, { 'x-airlock-event-id': verdict.commandId, ...extra });
      return;
    }
    await forward(this.#forwardDeps(), {
      ctx,
      conn,
      verdict,
      method: req.method ?? 'GET',
      upstreamPath: route.upstreamPath,
      headers: upstreamHeaders(req.headers),
      body,
      ...(llm ? { llm } : {}),
      masker: this.#masker(ctx, conn),
      res,
      signal: aborted.signal,
      startedAt,
    });
  }

  #forwardDeps() {
    const { pipeline, logger, clock, config } = this.#deps;
    return {
      pipeline,
      logger,
      clock,
      upstreams: this.#upstreams,
      maxBodyBytes: config.http.max_body_bytes,
      recordBytes: config.http.record_body_bytes,
    };
  }

  #masker(ctx: SessionContext, conn: HttpTarget): BodyMasker | null {
    return BodyMasker.forSession(
      this.#deps.masking,
      conn.name,
      ctx.identity?.groups ?? [],
      this.#deps.config.http.hold_back_chars,
    );
  }

  /** The Airlock credential of the request, verified once per socket and secret. */
  async #authenticate(req: IncomingMessage, conn: HttpTarget): Promise<Identity> {
    // Inside a CONNECT tunnel the tunnel's credential counts (the SDK's own key is a dummy).
    const secret = this.#tunnels.get(req.socket) ?? credentialOf(req.headers);
    const pipeline = this.#deps.pipeline;
    if (secret === undefined) {
      await pipeline.onAuthFailed(this.#detached(req, conn), {
        reason: 'no credential',
        protocol: 'http',
      });
      throw new GatewayError(
        'GW_AUTH_PASSWORD_MISSING',
        'send an Airlock token: Authorization: Bearer <token> (or x-api-key)',
      );
    }
    const key = createHash('sha256').update(secret).digest('hex');
    let cache = this.#identities.get(req.socket);
    const hit = cache?.get(key);
    if (hit && this.#deps.authenticator.recheck(hit) === undefined) return hit;
    const auth = await this.#deps.authenticator.verifySecret(secret);
    if (!auth.ok) {
      const { ok: _, ...failure } = auth;
      await pipeline.onAuthFailed(this.#detached(req, conn), { ...failure, protocol: 'http' });
      throw authError(auth.reason);
    }
    if (!cache) {
      cache = new Map();
      this.#identities.set(req.socket, cache);
    }
    cache.set(key, auth.identity);
    return auth.identity;
  }

  #detached(req: IncomingMessage, conn: HttpTarget): SessionContext {
    const ctx = this.#sessions.detached(req.socket);
    ctx.connection = conn;
    return ctx;
  }
}

/**
 * The LLM request of a POST to one of the dialect's operations, whatever its content type (a
 * client cannot skip prompt checks by mislabelling the body): a body that is not a JSON object
 * there is refused. Other paths (files, models, ...) are plain HTTP requests.
 */
function parseLlm(
  req: IncomingMessage,
  route: Connected,
  body: Buffer,
  dialect: LlmDialect,
): { dialect: LlmDialect; request: LlmRequest; json: Record<string, unknown> } | undefined {
  if (req.method !== 'POST' || !dialect.isOperation(route.path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new GatewayError('GW_PROTOCOL_MALFORMED', 'the request body is not valid JSON');
  }
  const request = dialect.parseRequest(route.path, json);
  if (!request)
    throw new GatewayError('GW_PROTOCOL_MALFORMED', 'the request body must be a JSON object');
  return { dialect, request, json: json as Record<string, unknown> };
}

function causedByHeader(req: IncomingMessage): string | undefined {
  const v = req.headers['x-airlock-caused-by'];
  const id = (Array.isArray(v) ? v[0] : v)?.trim().toLowerCase();
  return id !== undefined && isEventId(id) ? id : undefined;
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge(max);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function tooLarge(max: number): GatewayError {
  return new GatewayError(
    'GW_PROTOCOL_FRAME_TOO_LARGE',
    `the request body is larger than ${max} bytes`,
  );
}

function refuseTunnel(socket: Duplex, err: GatewayError): void {
  const auth = err.kind === 'unauthenticated' && err.code !== 'GW_CONNECTION_UNKNOWN';
  const status = auth
    ? '407 Proxy Authentication Required'
    : err.code === 'GW_CONNECTION_UNKNOWN'
      ? '403 Forbidden'
      : '502 Bad Gateway';
  const extra = auth ? 'Proxy-Authenticate: Basic realm="airlock"\r\n' : '';
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);
  }
  setTimeout(() => socket.destroy(), 1000).unref();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
