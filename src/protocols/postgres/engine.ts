/**
 * The PostgreSQL engine: accept (TLS, startup, client authentication with an Airlock token) →
 * connect (upstream with the brokered credential) → relay (every statement through the
 * pipeline) → sendError (GatewayError as ErrorResponse).
 */

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { AirlockConfig, PostgresConnectionConfig } from '../../config/schema.ts';
import { GatewayError, toGatewayError } from '../../errors.ts';
import { authError } from '../../identity/auth-error.ts';
import type { Authenticator, AuthResult } from '../../identity/authenticator.ts';
import { mayUseConnection } from '../../identity/roles.ts';
import type { Identity } from '../../identity/types.ts';
import { causedByIn } from '../../session/caused-by.ts';
import { createSessionContext, type SessionContext } from '../../session/context.ts';
import type { SessionPipeline } from '../../session/pipeline.ts';
import type { SessionRegistry } from '../../session/registry.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { CancelKeys } from './cancel.ts';
import {
  type DecodedFrontend,
  decodePassword,
  decodeSASLInitialResponse,
  FrontendParser,
} from './codec/frontend-parser.ts';
import { PROTOCOL_3_0, type StartupPhaseMessage } from './codec/messages.ts';
import {
  encodeAuthenticationCleartextPassword,
  encodeAuthenticationOk,
  encodeAuthenticationSASL,
  encodeAuthenticationSASLContinue,
  encodeAuthenticationSASLFinal,
  encodeBackendKeyData,
  encodeParameterStatus,
  encodeReadyForQuery,
} from './codec/serializer.ts';
import { encodeGatewayError } from './errors.ts';
import type { PostgresMasking } from './masking/index.ts';
import { Relay } from './relay.ts';
import { SCRAM_SHA_256, ScramServer } from './scram.ts';
import { SocketMessages } from './socket-messages.ts';
import { connectUpstream, type UpstreamSession } from './upstream.ts';

export interface PostgresEngineDeps {
  readonly config: AirlockConfig;
  readonly logger: Logger;
  readonly pipeline: SessionPipeline;
  readonly authenticator: Authenticator;
  readonly sessions: SessionRegistry;
  readonly secureContext: SecureContext | undefined;
  readonly clock: () => number;
  /** Masking of results; absent when no masking rules are configured. */
  readonly masking?: PostgresMasking | undefined;
}

/** Startup parameters passed through to the upstream; anything else (e.g. `options`) is dropped. */
const FORWARDED_PARAMETERS = [
  'application_name',
  'client_encoding',
  'datestyle',
  'timezone',
  'extra_float_digits',
  'intervalstyle',
] as const;

interface Accepted {
  readonly stream: Duplex;
  readonly messages: SocketMessages<DecodedFrontend>;
  readonly parser: FrontendParser;
  readonly parameters: Readonly<Record<string, string>>;
  readonly tls: boolean;
}

/**
 * @example
 * const engine = new PostgresEngine(deps);
 * net.createServer((s) => void engine.handle(s)).listen(15432);
 */
export class PostgresEngine {
  readonly protocol = 'postgres';
  readonly #deps: PostgresEngineDeps;
  readonly #cancels = new CancelKeys();
  #shuttingDown = false;

  constructor(deps: PostgresEngineDeps) {
    this.#deps = deps;
  }

  shutdown(): void {
    this.#shuttingDown = true;
  }

  /** Runs one client connection to its end. Never throws. */
  async handle(socket: Socket): Promise<void> {
    socket.setNoDelay(true);
    const addr = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const ctx = createSessionContext('postgres', addr, this.#deps.clock());
    const log = this.#deps.logger.child({ session: ctx.id });
    let stream: Duplex = socket;
    try {
      const accepted = await this.#accept(socket, ctx);
      if (!accepted) return;
      stream = accepted.stream;
      await this.#session(ctx, accepted, log);
    } catch (err) {
      const ge = toGatewayError(err, ctx.id);
      if (ge.kind === 'internal') log.error('session failed', { err });
      else log.info('session refused', { code: ge.code });
      this.sendError(stream, ge);
    }
  }

  /** Writes a FATAL ErrorResponse and closes the client. */
  sendError(stream: Duplex, err: GatewayError): void {
    if (stream.writable) stream.end(encodeGatewayError(err, { fatal: true }));
    setTimeout(() => stream.destroy(), 1000).unref();
  }

  // ---- accept: TLS negotiation and the StartupMessage ----

  async #accept(socket: Socket, ctx: SessionContext): Promise<Accepted | undefined> {
    const deadline = Date.now() + this.#deps.config.postgres.startup_timeout_ms;
    let stream: Duplex = socket;
    let tls = false;
    for (;;) {
      const parser = new FrontendParser({ maxFrame: 10_000 });
      const messages = new SocketMessages<DecodedFrontend>(stream, parser);
      const { message } = await messages.next(deadline - Date.now());
      const m = message as StartupPhaseMessage;
      if (m.type === 'StartupMessage') {
        this.#checkStartup(m, ctx);
        return { stream, messages, parser, parameters: m.parameters, tls };
      }
      if (m.type === 'CancelRequest') {
        messages.detach();
        this.#cancel(m, ctx);
        socket.destroy();
        return undefined;
      }
      // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
      // Bytes after SSLRequest and before the handshake would be injected in clear text.
      if (parser.buffered > 0 || messages.pending > 0) {
        throw new GatewayError('GW_PROTOCOL_MALFORMED', 'data received before the TLS handshake');
      }
      messages.detach();
      const upgrade = m.type === 'SSLRequest' && !tls && this.#deps.secureContext !== undefined;
      stream.write(Buffer.from(upgrade ? 'S' : 'N'));
      if (upgrade) {
        stream = await this.#startTls(socket);
        tls = true;
      } else {
        stream.resume();
      }
    }
  }

  #checkStartup(
    m: Extract<StartupPhaseMessage, { type: 'StartupMessage' }>,
    ctx: SessionContext,
  ): void {
    if (this.#shuttingDown) {
      throw new GatewayError('GW_SESSION_SHUTTING_DOWN', 'the gateway is shutting down');
    }
    if (m.protocolVersion !== PROTOCOL_3_0) {
      // https://www.postgresql.org/docs/current/protocol-flow.html: 3.2 needs NegotiateProtocolVersion
      throw new GatewayError('GW_PROTOCOL_UNSUPPORTED', 'only protocol version 3.0 is supported');
    }
    if (m.parameters.replication !== undefined && m.parameters.replication !== 'false') {
      throw new GatewayError(
        'GW_PROTOCOL_UNSUPPORTED',
        'replication connections are not supported',
      );
    }
    const encoding = m.parameters.client_encoding;
    if (encoding !== undefined && !UTF8_NAMES.has(encoding.toLowerCase().replace(/['"]/g, ''))) {
      // Policy reads statements as UTF-8 with standard strings; another encoding would let the
      // server see a different statement than the one judged (e.g. SJIS multi-byte quotes).
      throw new GatewayError('GW_PROTOCOL_UNSUPPORTED', 'only client_encoding UTF8 is supported');
    }
    ctx.applicationName = m.parameters.application_name?.slice(0, 128);
    ctx.causedBy = causedByIn(ctx.applicationName);
  }

  #startTls(socket: Socket): Promise<Duplex> {
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.#deps.secureContext as SecureContext,
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        tls.destroy();
        reject(new GatewayError('GW_SESSION_STARTUP_TIMEOUT', 'TLS handshake timed out'));
      }, this.#deps.config.postgres.startup_timeout_ms);
      tls.once('secure', () => {
        clearTimeout(timer);
        resolve(tls);
      });
      tls.once('error', (err) => {
        clearTimeout(timer);
        reject(new GatewayError('GW_PROTOCOL_MALFORMED', 'TLS handshake failed', { cause: err }));
      });
    });
  }

  #cancel(m: Extract<StartupPhaseMessage, { type: 'CancelRequest' }>, ctx: SessionContext): void {
    const target = this.#cancels.cancel(m.processId, m.secretKey);
    this.#deps.logger.info(target ? 'cancel forwarded' : 'cancel ignored: unknown key', {
      from: ctx.clientAddr,
      ...(target ? { session: target } : {}),
    });
  }

  // ---- authenticate, connect upstream, relay ----

  async #session(ctx: SessionContext, a: Accepted, log: Logger): Promise<void> {
    a.parser.expectTyped();
    a.messages.pump();
    const { auth, method } = await this.#authenticate(a);
    if (!auth.ok) {
      await this.#deps.pipeline.onAuthFailed(ctx, { ...authFailure(auth, a), method });
      throw authError(auth.reason);
    }
    ctx.identity = auth.identity;
    const conn = this.#connection(a.parameters.database);
    if (!conn) {
      await this.#deps.pipeline.onAuthFailed(ctx, {
        reason: 'unknown connection',
        database: a.parameters.database ?? '',
      });
      throw new GatewayError(
        'GW_CONNECTION_UNKNOWN',
        `connection "${a.parameters.database ?? ''}" does not exist`,
      );
    }
    ctx.connection = conn;
    if (!mayUseConnection(auth.identity, conn)) {
      await this.#deps.pipeline.onAccessDenied(ctx, {
        reason: auth.identity.roles.includes('user') ? 'not in allow_groups' : 'no user role',
        groups: auth.identity.groups,
      });
      throw new GatewayError('GW_AUTH_ACCESS_DENIED', `access to connection "${conn.name}" denied`);
    }
    this.#deps.pipeline.onAuthSucceeded(ctx, authSuccess(auth.identity, method, a.tls));
    await this.#deps.pipeline.onSessionStart(ctx);
    let upstream: UpstreamSession;
    try {
      upstream = await connectUpstream(conn, forwarded(a.parameters), log);
      checkParsingSettings(upstream);
    } catch (err) {
      this.#deps.pipeline.onClose(ctx, `upstream failed: ${toGatewayError(err).code}`);
      throw err;
    }
    await this.#relay(ctx, a, conn, upstream, log);
  }

  #connection(database: string | undefined): PostgresConnectionConfig | undefined {
    return this.#deps.config.connections.find(
      (c): c is PostgresConnectionConfig => c.type === 'postgres' && c.name === database,
    );
  }

  async #relay(
    ctx: SessionContext,
    a: Accepted,
    conn: PostgresConnectionConfig,
    up: UpstreamSession,
    log: Logger,
  ): Promise<void> {
    if (a.messages.pending > 0) {
      up.socket.destroy();
      const err = new GatewayError(
        'GW_PROTOCOL_UNEXPECTED_MESSAGE',
        'message sent before authentication completed',
      );
      this.#deps.pipeline.onClose(ctx, `protocol error: ${err.code}`);
      throw err;
    }
    a.messages.detach();
    const key = this.#cancels.issue(ctx.id, conn, up.processId, up.secretKey);
    const hello: Uint8Array[] = [encodeAuthenticationOk()];
    for (const [k, v] of up.parameters) hello.push(encodeParameterStatus(k, v));
    hello.push(encodeBackendKeyData(key.processId, key.secretKey), encodeReadyForQuery('I'));
    a.stream.write(Buffer.concat(hello));
    const relay = new Relay(ctx, a.stream, up.socket, this.#deps.pipeline, log, {
      maxMessageBytes: this.#deps.config.postgres.max_message_bytes,
      maxParamBytes: this.#deps.config.audit.max_param_bytes,
      masker: this.#deps.masking?.forSession(ctx, conn, log),
    });
    let closedResolve: () => void = () => {};
    const closed = new Promise<void>((r) => {
      closedResolve = r;
    });
    this.#deps.sessions.add({
      ctx,
      closed,
      terminate: (e) => relay.close(`terminated: ${e.code}`, e),
    });
    const leftover = a.parser.drain();
    const running = relay.run();
    if (leftover.length > 0) a.stream.unshift(Buffer.from(leftover));
    const reason = await running;
    this.#cancels.release(key.processId);
    this.#deps.sessions.remove(ctx.id);
    this.#deps.pipeline.onClose(ctx, reason);
    closedResolve();
  }

  /**
   * Password authentication with an Airlock token. When the startup `user` names a token id and
   * the token has a SCRAM verifier, SCRAM-SHA-256 is used and the token never crosses the wire;
   * otherwise the token is taken as a cleartext password, which requires TLS unless configured.
   */
  async #authenticate(a: Accepted): Promise<{ auth: AuthResult; method: string }> {
    const user = a.parameters.user ?? '';
    const verifier = this.#deps.authenticator.scramVerifier(user);
    if (verifier) return { auth: await this.#scram(a, user, verifier), method: 'scram-sha-256' };
    if (!a.tls && !this.#deps.config.postgres.allow_cleartext_without_tls) {
      throw new GatewayError(
        'GW_AUTH_TLS_REQUIRED',
        'connect with TLS (sslmode=require) to send an Airlock token, or set user to the token id for SCRAM',
      );
    }
    a.stream.write(encodeAuthenticationCleartextPassword());
    const password = await this.#password(a);
    const auth = await this.#deps.authenticator.verifySecret(password);
    const method = password.startsWith('alk_') ? 'password' : 'oidc-jwt';
    return { auth, method };
  }

  async #password(a: Accepted): Promise<string> {
    const payload = await this.#nextPasswordMessage(a);
    const password = decodePassword(payload);
    if (password === '')
      throw new GatewayError('GW_AUTH_PASSWORD_MISSING', 'a token is required as the password');
    return password;
  }

  async #nextPasswordMessage(a: Accepted): Promise<Uint8Array> {
    const { message } = await a.messages.next(this.#deps.config.postgres.startup_timeout_ms);
    if (message.type !== 'PasswordMessage') {
      throw new GatewayError('GW_PROTOCOL_UNEXPECTED_MESSAGE', 'expected a password message');
    }
    return message.payload;
  }

  async #scram(
    a: Accepted,
    tokenId: string,
    verifier: ReturnType<Authenticator['scramVerifier']>,
  ): Promise<AuthResult> {
    const server = new ScramServer(verifier);
    a.stream.write(encodeAuthenticationSASL([SCRAM_SHA_256]));
    const initial = decodeSASLInitialResponse(await this.#nextPasswordMessage(a));
    if (initial.mechanism !== SCRAM_SHA_256 || !initial.data) {
      throw new GatewayError('GW_AUTH_SCRAM_FAILED', 'unsupported SASL mechanism');
    }
    let serverFinal: string | undefined;
    try {
      const serverFirst = server.first(Buffer.from(initial.data).toString('utf8'));
      a.stream.write(encodeAuthenticationSASLContinue(Buffer.from(serverFirst)));
      const clientFinal = Buffer.from(await this.#nextPasswordMessage(a)).toString('utf8');
      serverFinal = server.final(clientFinal);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new GatewayError('GW_AUTH_SCRAM_FAILED', 'malformed SCRAM message', { cause: err });
    }
    if (!serverFinal) return { ok: false, reason: 'scram proof mismatch', tokenId };
    const result = this.#deps.authenticator.identityForTokenId(tokenId);
    if (result.ok) a.stream.write(encodeAuthenticationSASLFinal(Buffer.from(serverFinal)));
    return result;
  }
}

const UTF8_NAMES = new Set(['utf8', 'utf-8', 'unicode']);

/**
 * A role or database default of `standard_conforming_strings = off` or a non-UTF-8 encoding would
 * make the server parse statements differently from the policy's parser: refuse the session.
 */
function checkParsingSettings(up: UpstreamSession): void {
  const scs = up.parameters.get('standard_conforming_strings');
  const enc = up.parameters.get('client_encoding');
  if (
    (scs !== undefined && scs !== 'on') ||
    (enc !== undefined && !UTF8_NAMES.has(enc.toLowerCase()))
  ) {
    up.socket.destroy();
    throw new GatewayError(
      'GW_PROTOCOL_UNSUPPORTED',
      'the database session must use standard_conforming_strings=on and client_encoding UTF8',
    );
  }
}

function forwarded(params: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if ((FORWARDED_PARAMETERS as readonly string[]).includes(k.toLowerCase())) out[k] = v;
  }
  return out;
}

function authSuccess(identity: Identity, method: string, tls: boolean): Record<string, unknown> {
  return {
    method,
    tls,
    roles: identity.roles,
    ...(identity.issuer ? { issuer: identity.issuer, subject: identity.subject } : {}),
    ...(identity.expiresAt ? { expiresAt: new Date(identity.expiresAt).toISOString() } : {}),
  };
}

function authFailure(
  auth: Extract<AuthResult, { ok: false }>,
  a: Accepted,
): Record<string, unknown> {
  return {
    reason: auth.reason,
    ...(auth.tokenId ? { tokenId: auth.tokenId } : {}),
    ...(auth.issuer ? { issuer: auth.issuer } : {}),
    ...(auth.user ? { user: auth.user } : {}),
    database: a.parameters.database ?? '',
    tls: a.tls,
  };
}
