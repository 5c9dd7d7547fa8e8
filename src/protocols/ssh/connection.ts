/**
 * One client SSH connection, from authentication to its end:
 *
 * 1. authenticate: an Airlock token or OIDC JWT as the password (or keyboard-interactive
 *    answer), or a registered public key (signature verified); the SSH user name names the
 *    connection. A wrong credential is USERAUTH_FAILURE and `auth.failed`.
 * 2. resolve: an unknown connection or one the caller's groups do not open is recorded, and the
 *    session runs nothing: every request gets the reason on stderr (exit 255).
 * 3. `session.started` (awaited) before the upstream is opened, with the credential only Airlock
 *    holds, after the host key check.
 * 4. channels: session channels (session-channel.ts) and port forwards, each command through the
 *    pipeline.
 * 5. end: held reviews cancelled, channels closed and recorded, upstream closed, `session.ended`.
 */
import ssh2 from 'ssh2';
import type { AirlockConfig, SshConnectionConfig } from '../../config/schema.ts';
import { GatewayError, toGatewayError } from '../../errors.ts';
import type { Authenticator, AuthResult } from '../../identity/authenticator.ts';
import { mayUseConnection } from '../../identity/roles.ts';
import { fingerprint } from '../../identity/ssh-public-key.ts';
import type { Identity } from '../../identity/types.ts';
import type { SecretScanner } from '../../masking/secret-scan.ts';
import { createSessionContext, type SessionContext } from '../../session/context.ts';
import type { SessionPipeline } from '../../session/pipeline.ts';
import type { SessionRegistry } from '../../session/registry.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { HostKeyCheck, HostKeyPins } from './host-keys.ts';
import type { UpstreamCredential } from './keys.ts';
import { relayStream } from './relay.ts';
import { type ChannelHost, SessionChannel } from './session-channel.ts';
import { connectUpstream } from './upstream.ts';

export interface SshConnectionDeps {
  readonly config: AirlockConfig;
  readonly logger: Logger;
  readonly pipeline: SessionPipeline;
  readonly authenticator: Authenticator;
  readonly sessions: SessionRegistry;
  readonly clock: () => number;
  readonly pins: HostKeyPins;
  /** Upstream credentials by connection name, resolved at start. */
  readonly credentials: ReadonlyMap<string, UpstreamCredential>;
  readonly scanner: SecretScanner;
  readonly recordingsDir: string;
}

const METHODS: ssh2.AuthenticationType[] = ['publickey', 'keyboard-interactive', 'password'];
/** Public keys a client may offer (agents hold many) before the connection is dropped. */
const MAX_KEY_OFFERS = 32;

/**
 * @example
 * server.on('connection', (client, info) => new SshConnection(deps, client, info));
 */
export class SshConnection implements ChannelHost {
  readonly ctx: SessionContext;
  readonly log: Logger;
  readonly #deps: SshConnectionDeps;
  readonly #client: ssh2.Connection;
  readonly #abort = new AbortController();
  readonly #channels = new Set<SessionChannel>();
  #failures = 0;
  #asked = '';
  #keyOffers = 0;
  #unknownKeyRecorded = false;
  #refusal: GatewayError | undefined;
  #ready: Promise<void> | undefined;
  #upstream: Promise<ssh2.Client> | undefined;
  #upstreamClient: ssh2.Client | undefined;
  #started = false;
  #ended = false;
  #endReason = '';
  #opened = 0;
  #forwards = 0;
  readonly #closed: Promise<void>;
  #markClosed: () => void = () => {};
  /** Called once authentication succeeded (the engine stops its login timer). */
  onAuthenticated: () => void = () => {};

  constructor(deps: SshConnectionDeps, client: ssh2.Connection, info: ssh2.ClientInfo) {
    this.#deps = deps;
    this.#client = client;
    this.ctx = createSessionContext('ssh', endpoint(info), deps.clock());
    this.ctx.applicationName = info.header.versions.software.slice(0, 128);
    this.log = deps.logger.child({ session: this.ctx.id });
    this.#closed = new Promise((r) => {
      this.#markClosed = r;
    });
    client.on('authentication', (auth) => this.#authenticate(auth));
    client.on('ready', () => this.#onReady());
    client.on('session', (accept, reject) => this.#session(accept, reject));
    client.on('tcpip', (accept, reject, info) => void this.#forward(accept, reject, info));
    client.on('request', (_accept, reject, name) => {
      this.log.info('ssh global request refused', { request: name });
      (reject as (() => void) | undefined)?.();
    });
    client.on('error', (err) => this.log.info('ssh client error', { error: err.message }));
    client.on('close', () => void this.#end('client closed'));
  }

  // ---- ChannelHost ----

  get pipeline(): SessionPipeline {
    return this.#deps.pipeline;
  }
  get config() {
    return this.#deps.config.ssh;
  }
  get scanner(): SecretScanner {
    return this.#deps.scanner;
  }
  get recordingsDir(): string {
    return this.#deps.recordingsDir;
  }
  get clock(): () => number {
    return this.#deps.clock;
  }
  get signal(): AbortSignal {
    return this.#abort.signal;
  }
  ready(): Promise<void> {
    return this.#ready ?? Promise.resolve();
  }
  refusal(): GatewayError | undefined {
    return this.#refusal;
  }

  upstream(): Promise<ssh2.Client> {
    this.#upstream ??= this.#connect();
    return this.#upstream;
  }

  /** Ends the connection from the gateway's side (shutdown, offboarding, expiry). */
  terminate(err: GatewayError): void {
    for (const ch of this.#channels) ch.terminate(err);
    setTimeout(() => this.#client.end(), 200).unref();
  }

  // ---- authentication ----

  #authenticate(auth: ssh2.AuthContext): void {
    if (this.#ended) {
      auth.reject();
      return;
    }
    this.#asked = auth.username.slice(0, 64);
    switch (auth.method) {
      case 'password':
        void this.#secret(auth, auth.password, 'password');
        return;
      case 'keyboard-interactive':
        auth.prompt(
          [{ prompt: 'Airlock token: ', echo: false }],
          'Airlock',
          'Paste an Airlock token (alk_...) or an OIDC ID token.',
          (answers) => void this.#secret(auth, answers[0] ?? '', 'keyboard-interactive'),
        );
        return;
      case 'publickey':
        this.#publicKey(auth);
        return;
      default:
        auth.reject(METHODS);
    }
  }

  async #secret(auth: ssh2.AuthContext, secret: string, method: string): Promise<void> {
    const result: AuthResult =
      secret.length === 0 || secret.length > 16_384
        ? { ok: false, reason: secret.length === 0 ? 'empty password' : 'password too long' }
        : await this.#deps.authenticator.verifySecret(secret);
    const kind = secret.startsWith('alk_') ? 'token' : 'oidc-jwt';
    if (result.ok) return this.#authenticated(auth, result.identity, { method, credential: kind });
    await this.#failed(auth, { reason: result.reason, method, ...failureDetail(result) });
  }

  #publicKey(auth: ssh2.PublicKeyAuthContext): void {
    this.#keyOffers += 1;
    if (this.#keyOffers > MAX_KEY_OFFERS) {
      auth.reject();
      this.#client.end();
      return;
    }
    const keyFingerprint = fingerprint(auth.key.data);
    const result = this.#deps.authenticator.identityForSshKey(keyFingerprint);
    if (!result.ok) {
      // An agent offers every key it holds: an unknown key is recorded once per connection.
      const record = result.reason !== 'ssh key unknown' || !this.#unknownKeyRecorded;
      this.#unknownKeyRecorded ||= result.reason === 'ssh key unknown';
      if (record)
        void this.#refusalEvent({
          reason: result.reason,
          method: 'publickey',
          keyFingerprint,
          ...failureDetail(result),
        });
      auth.reject(METHODS);
      return;
    }
    if (auth.signature === undefined || auth.blob === undefined) {
      auth.accept(); // "this key would do": the client now signs with it
      return;
    }
    if (!verifySignature(auth)) {
      void this.#failed(auth, {
        reason: 'ssh key signature invalid',
        method: 'publickey',
        keyFingerprint,
      });
      return;
    }
    this.#authenticated(auth, result.identity, { method: 'publickey', keyFingerprint });
  }

  async #failed(auth: ssh2.AuthContext, data: Record<string, unknown>): Promise<void> {
    this.#failures += 1;
    await this.#refusalEvent(data);
    auth.reject(METHODS);
    if (this.#failures >= this.#deps.config.ssh.max_auth_attempts) this.#client.end();
  }

  /** Failures name the connection asked for (the SSH user name), never the credential. */
  #refusalEvent(data: Record<string, unknown>): Promise<void> {
    return this.#deps.pipeline.onAuthFailed(this.ctx, { ...data, connection: this.#asked });
  }

  /** The credential is good: resolve the connection the user name asks for. */
  #authenticated(auth: ssh2.AuthContext, identity: Identity, data: Record<string, unknown>): void {
    if (this.ctx.identity !== undefined) {
      auth.reject();
      return;
    }
    this.ctx.identity = identity;
    const name = auth.username;
    const conn = this.#deps.config.connections.find(
      (c): c is SshConnectionConfig => c.type === 'ssh' && c.name === name,
    );
    if (conn === undefined) {
      this.#refusal = new GatewayError(
        'GW_CONNECTION_UNKNOWN',
        `connection "${name.slice(0, 64)}" does not exist`,
      );
      void this.#deps.pipeline.onAuthFailed(this.ctx, {
        reason: 'unknown connection',
        connection: name.slice(0, 64),
        ...data,
      });
    } else {
      this.ctx.connection = conn;
      if (!mayUseConnection(identity, conn)) {
        this.#refusal = new GatewayError(
          'GW_AUTH_ACCESS_DENIED',
          `access to connection "${conn.name}" denied`,
        );
        void this.#deps.pipeline.onAccessDenied(this.ctx, {
          reason: identity.roles.includes('user') ? 'not in allow_groups' : 'no user role',
          groups: identity.groups,
        });
      } else {
        this.#deps.pipeline.onAuthSucceeded(this.ctx, authSuccess(identity, data));
      }
    }
    this.onAuthenticated();
    auth.accept();
  }

  // ---- session ----

  #onReady(): void {
    this.#ready = this.#refusal !== undefined ? Promise.resolve() : this.#startSession();
  }

  async #startSession(): Promise<void> {
    try {
      await this.#deps.pipeline.onSessionStart(this.ctx);
    } catch (err) {
      this.#refusal = toGatewayError(err, this.ctx.id);
      return;
    }
    this.#started = true;
    if (this.#ended) {
      // The client left while its start was being recorded: #end found nothing to close.
      this.#deps.pipeline.onClose(this.ctx, this.#endReason);
      return;
    }
    this.#deps.sessions.add({
      ctx: this.ctx,
      closed: this.#closed,
      terminate: (e) => this.terminate(e),
    });
    this.upstream().catch(() => {}); // opened early; channels report its failure
  }

  async #connect(): Promise<ssh2.Client> {
    const conn = this.ctx.connection as SshConnectionConfig;
    const cred = this.#deps.credentials.get(conn.name) ?? {};
    const client = await connectUpstream(conn, cred, {
      pins: this.#deps.pins,
      onHostKey: (check) => this.#hostKey(conn, check),
    });
    this.#upstreamClient = client;
    client.on('error', (err) => this.log.warn('upstream ssh error', { error: err.message }));
    client.on('close', () => {
      if (this.#ended) return;
      this.log.info('upstream closed the connection');
      this.terminate(new GatewayError('GW_UPSTREAM_CLOSED', `${conn.name} closed the connection`));
    });
    if (this.#ended) client.end();
    return client;
  }

  #hostKey(conn: SshConnectionConfig, check: HostKeyCheck): void {
    const where = { host: conn.host, port: conn.port, fingerprint: check.fingerprint };
    if (!check.ok) {
      this.log.error('upstream host key mismatch', where);
      this.#deps.pipeline.onSessionEvent(this.ctx, 'host_key.rejected', {
        ...where,
        expected: check.expected,
      });
    } else if (check.pinned) {
      this.log.warn('upstream host key pinned on first use', where);
      this.#deps.pipeline.onSessionEvent(this.ctx, 'host_key.pinned', where);
    }
  }

  #session(accept: () => ssh2.Session, reject: () => void): void {
    if (this.#ended || this.#busy()) {
      reject();
      return;
    }
    const ch = new SessionChannel(this, accept(), this.#opened++);
    this.#channels.add(ch);
    void ch.finished.then(() => this.#channels.delete(ch));
  }

  /** `ssh -L`: a Command of its own, off unless a policy rule allows the target. */
  async #forward(
    accept: () => ssh2.ServerChannel,
    reject: () => void,
    info: ssh2.TcpipRequestInfo,
  ): Promise<void> {
    if (this.#busy()) return reject();
    this.#forwards += 1;
    try {
      await this.#forwardChannel(accept, reject, info);
    } finally {
      this.#forwards -= 1;
    }
  }

  /** At most `ssh.max_channels` shells, commands, SFTP sessions and forwards open at once. */
  #busy(): boolean {
    return this.#channels.size + this.#forwards >= this.#deps.config.ssh.max_channels;
  }

  async #forwardChannel(
    accept: () => ssh2.ServerChannel,
    reject: () => void,
    info: ssh2.TcpipRequestInfo,
  ): Promise<void> {
    await this.ready();
    if (this.#refusal !== undefined || this.#ended) return reject();
    const host = info.destIP.slice(0, 255);
    const port = info.destPort;
    const t0 = this.#deps.clock();
    const verdict = await this.#deps.pipeline.onCommand(
      this.ctx,
      { kind: 'forward', text: `forward to ${host}:${port}`, host, port },
      { notice: () => {}, signal: this.#abort.signal },
    );
    if (verdict.action === 'deny') return reject();
    let up: ssh2.ClientChannel;
    try {
      const upstream = await this.upstream();
      up = await new Promise((resolve, fail) =>
        upstream.forwardOut('127.0.0.1', 0, host, port, (err, ch) =>
          err ? fail(err) : resolve(ch),
        ),
      );
    } catch (err) {
      reject();
      const ge =
        err instanceof GatewayError
          ? err
          : new GatewayError(
              'GW_UPSTREAM_UNAVAILABLE',
              `the upstream could not open ${host}:${port}`,
            );
      this.#deps.pipeline.onResult(this.ctx, verdict.commandId, {
        outcome: 'error',
        bytes: 0,
        durationMs: this.#deps.clock() - t0,
        error: { code: ge.code, message: ge.clientMessage },
      });
      return;
    }
    const { bytesIn, bytesOut } = await relayStream(accept(), up);
    this.#deps.pipeline.onResult(this.ctx, verdict.commandId, {
      outcome: 'ok',
      bytes: bytesOut,
      bytesIn,
      durationMs: this.#deps.clock() - t0,
    });
  }

  async #end(reason: string): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#endReason = reason;
    this.#abort.abort();
    for (const ch of this.#channels)
      ch.terminate(new GatewayError('GW_SESSION_SHUTTING_DOWN', 'the client went away'));
    await Promise.all([...this.#channels].map((c) => c.finished));
    this.#upstreamClient?.end();
    if (this.#started) {
      this.#deps.sessions.remove(this.ctx.id);
      this.#deps.pipeline.onClose(this.ctx, reason);
    }
    this.#markClosed();
  }
}

function endpoint(info: ssh2.ClientInfo): string {
  const ip = info.ip ?? '?';
  return ip.includes(':') ? `[${ip}]:${info.port}` : `${ip}:${info.port}`;
}

/** ssh2's key object checks the client's signature over the session-bound blob. */
function verifySignature(auth: ssh2.PublicKeyAuthContext): boolean {
  const key = ssh2.utils.parseKey(auth.key.data);
  if (key instanceof Error || Array.isArray(key)) return false;
  try {
    return key.verify(auth.blob as Buffer, auth.signature as Buffer, auth.hashAlgo) === true;
  } catch {
    return false;
  }
}

function failureDetail(result: Extract<AuthResult, { ok: false }>): Record<string, unknown> {
  return {
    ...(result.tokenId ? { tokenId: result.tokenId } : {}),
    ...(result.issuer ? { issuer: result.issuer } : {}),
    ...(result.user ? { owner: result.user } : {}),
  };
}

function authSuccess(identity: Identity, data: Record<string, unknown>): Record<string, unknown> {
  return {
    ...data,
    roles: identity.roles,
    ...(identity.issuer ? { issuer: identity.issuer, subject: identity.subject } : {}),
    ...(identity.expiresAt ? { expiresAt: new Date(identity.expiresAt).toISOString() } : {}),
  };
}
