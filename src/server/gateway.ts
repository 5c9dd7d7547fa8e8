/**
 * Assembles a running gateway from config: data folder, ledger, token store, TLS, pipeline, and
 * one listener per configured protocol. Shutdown ends every session with a clear error and waits
 * (bounded) until each one's `session.ended` is appended, then closes the ledger.
 */

import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { PolicyView } from '../api/ledger-routes.ts';
import { createApiHandler } from '../api/server.ts';
import type { Ledger } from '../audit/ledger.ts';
import { openLedger } from '../audit/open.ts';
import { createSink } from '../audit/sink/config.ts';
import type { EventSource, SinkRunner } from '../audit/sink/runner.ts';
import { BudgetStore } from '../budget/store.ts';
import type { AirlockConfig } from '../config/schema.ts';
import { mountConsole } from '../console/mount.ts';
import { GatewayError } from '../errors.ts';
import { type Authenticator, createAuthenticator } from '../identity/authenticator.ts';
import { toIssuerConfig } from '../identity/oidc/config.ts';
import { OidcVerifier } from '../identity/oidc/verifier.ts';
import { SshKeyStore } from '../identity/ssh-keys.ts';
import { TokenStore } from '../identity/token-store.ts';
import { createDetectors } from '../masking/detectors/index.ts';
import type { DetectorSet } from '../masking/detectors/types.ts';
import { createRedactor, detectorConfigOf, MaskingEngine } from '../masking/engine.ts';
import { SECRET_TYPES, SecretScanner } from '../masking/secret-scan.ts';
import { PolicyHolder } from '../policy/holder.ts';
import { allowAll, type PolicyEngine } from '../policy/policy.ts';
import { HttpEngine } from '../protocols/http/engine.ts';
import { ProxyCa } from '../protocols/http/proxy-ca.ts';
import { PostgresEngine } from '../protocols/postgres/engine.ts';
import { PostgresMasking } from '../protocols/postgres/masking/index.ts';
import { SshEngine } from '../protocols/ssh/engine.ts';
import { estimateImpact } from '../review/impact.ts';
import { ReviewNotifier, toNotice } from '../review/notifier-bridge.ts';
import { ReviewService } from '../review/service.ts';
import { ReviewStore } from '../review/store.ts';
import type { SqlCommand } from '../session/command.ts';
import { SessionPipeline } from '../session/pipeline.ts';
import { SessionRegistry } from '../session/registry.ts';
import { SessionGuard } from '../session/session-guard.ts';
import { initSqlParser } from '../sql/analyze.ts';
import type { Logger } from '../telemetry/logger.ts';
import { loadTls } from './tls.ts';

export interface Gateway {
  /** Where each listener is bound (port resolved when configured as 0). */
  readonly addresses: {
    readonly postgres?: { host: string; port: number };
    readonly api?: { host: string; port: number; tls: boolean };
    readonly ssh?: { host: string; port: number };
    readonly http?: { host: string; port: number };
    readonly https?: { host: string; port: number };
  };
  readonly ledger: Ledger;
  /** SSH keys registered to identities. */
  readonly sshKeys: SshKeyStore;
  /** The SSH listener's host key (`ssh-ed25519 AAAA...`) and fingerprint, when SSH is on. */
  readonly sshHostKey: { readonly publicLine: string; readonly fingerprint: string } | undefined;
  readonly budgets: BudgetStore;
  readonly tokens: TokenStore;
  readonly sessions: SessionRegistry;
  readonly authenticator: Authenticator;
  readonly reviews: ReviewService;
  readonly policy: PolicyEngine;
  /** Re-checks live sessions now; returns how many were ended. */
  recheckSessions(): number;
  /** The certificate clients can pin (`sslrootcert=`), when TLS is on. */
  readonly tlsCertFile: string | undefined;
  /** The CA that signs HTTPS-proxy (CONNECT) certificates; clients of proxy mode trust it. */
  readonly proxyCaFile: string;
  close(): Promise<void>;
}

/** How long shutdown waits for live sessions to close after telling them to. */
const SESSION_END_MS = 5000;
/**
 * How long it then waits for the other sessions whose start is recorded (one still opening its
 * upstream, say) to record their end, before recording it for them.
 */
const LATE_SESSION_END_MS = 2000;

export interface GatewayOptions {
  readonly logger: Logger;
  readonly policy?: PolicyEngine;
  readonly clock?: () => number;
}

/**
 * @example
 * const gw = await startGateway(loadConfig('airlock.yaml'), { logger });
 * // ... later
 * await gw.close();
 */
export async function startGateway(config: AirlockConfig, opts: GatewayOptions): Promise<Gateway> {
  const clock = opts.clock ?? Date.now;
  const logger = opts.logger;
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  await initSqlParser();
  const sinks: SinkRunner[] = [];
  const ledger = await openLedger({
    audit: config.audit,
    dataDir: config.data_dir,
    clock,
    background: true,
    onError: (err) => logger.error('audit append failed', { code: err.code }),
    onCommit: () => {
      for (const s of sinks) s.notify();
    },
  });
  const detectors = openDetectors(config);
  const masking = openMasking(config, detectors);
  await recordConfig(ledger, config, logger, masking);
  sinks.push(...(await startSinks(config, ledger, logger)));
  const tokens = new TokenStore({ dataDir: config.data_dir });
  const sshKeys = new SshKeyStore({ dataDir: config.data_dir, clock });
  const scanner = new SecretScanner();
  const tls = loadTls(config);
  const sessions = new SessionRegistry();
  const policy = opts.policy ?? (await openPolicy(config, ledger, logger));
  const reviewStore = new ReviewStore({ dataDir: config.data_dir });
  const notifier = new ReviewNotifier(config.reviews.webhooks, {
    logger: logger.child({ component: 'review-webhooks' }),
  });
  const reviews = new ReviewService({
    store: reviewStore,
    ledger,
    logger,
    clock,
    notify: (n) => notifier.notify(toNotice(n)),
    ...(config.reviews.estimate_impact
      ? { estimate: (name, command) => estimateFor(config, name, command) }
      : {}),
  });
  await reviews.recover();
  const budgets = new BudgetStore({ dataDir: config.data_dir, budgets: config.budgets, clock });
  const pipeline = new SessionPipeline({
    budgets,
    secretRedactor: createRedactor(detectors, { types: SECRET_TYPES }),
    ledger,
    policy,
    logger,
    clock,
    reviews,
    maxStatementBytes: config.audit.max_statement_bytes,
    masking,
    redactSecrets: (text) => scanner.redact(text).text,
  });
  const pgMasking =
    masking &&
    new PostgresMasking(masking, {
      logger: logger.child({ component: 'masking' }),
      timeoutMs: config.masking.catalog_timeout_ms,
    });
  const authenticator = createAuthenticator({
    tokens,
    clock,
    roles: config.identity.roles,
    oidc:
      config.identity.oidc.length > 0
        ? new OidcVerifier(config.identity.oidc.map(toIssuerConfig), { clock })
        : undefined,
    endAtExpiry: config.identity.end_sessions_at_expiry,
    sshKeys,
  });
  const guard = new SessionGuard({
    sessions,
    recheck: (identity) => authenticator.recheck(identity),
    storeVersion: () => tokens.dataVersion(),
    onTerminated: (ctx, data) => pipeline.onTerminated(ctx, data),
    logger,
    clock,
    intervalMs: config.identity.recheck_interval_ms,
  });
  guard.start();
  const engine = new PostgresEngine({
    config,
    logger,
    pipeline,
    authenticator,
    sessions,
    secureContext: tls?.context,
    clock,
    masking: pgMasking,
  });
  const ssh = config.listen.ssh
    ? new SshEngine({
        config,
        logger: logger.child({ component: 'ssh' }),
        pipeline,
        authenticator,
        sessions,
        clock,
        scanner,
      })
    : undefined;
  const proxyCa = new ProxyCa(join(config.data_dir, 'tls'));
  if (
    config.listen.http &&
    config.connections.some((c) => (c.type === 'http' || c.type === 'llm') && c.hosts)
  ) {
    await proxyCa.prepare().catch((err: unknown) => {
      throw new GatewayError('GW_CONFIG_INVALID', 'tls: `openssl` could not create the proxy CA', {
        cause: err,
      });
    });
  }
  // The web console and its REST API: on `listen.api`, and on `listen.http`/`listen.https` for
  // every request no connection route claims (`/`, `/api/...`).
  const consoleMount = mountConsole(config, { authenticator, ledger, logger, clock });
  const controlPlane = consoleMount.wrap(
    createApiHandler({
      reviews,
      reviewsConfig: config.reviews,
      connections: config.connections.map((c) => c.name),
      tokens,
      sshKeys,
      maxSshKeyTtlMs: config.identity.max_agent_token_ttl_hours * 3_600_000,
      ledger,
      authenticator,
      sessions,
      sweep: () => guard.sweep(),
      logger: logger.child({ component: 'api' }),
      maxTokenTtlMs: config.identity.max_agent_token_ttl_hours * 3_600_000,
      audit: {
        reader: ledger.reader,
        checkpoint: () => ledger.checkpoint(),
        config,
        policy: () => (policy instanceof PolicyHolder ? (policy.current as PolicyView) : undefined),
      },
      ...consoleMount.api,
    }),
  );
  const httpEngine = new HttpEngine({
    config,
    logger: logger.child({ component: 'http' }),
    pipeline,
    authenticator,
    sessions,
    clock,
    masking,
    detectors,
    proxyCa,
    fallback: controlPlane,
  });
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const track = (server: Server) =>
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  const addresses: {
    postgres?: { host: string; port: number };
    api?: { host: string; port: number; tls: boolean };
    ssh?: { host: string; port: number };
    http?: { host: string; port: number };
    https?: { host: string; port: number };
  } = {};
  if (config.listen.http) {
    const server = track(createHttpServer({ requestTimeout: 0 }, httpEngine.handler));
    server.on('connect', httpEngine.connectHandler(server));
    addresses.http = await listen(server, config.listen.http);
    servers.push(server);
    logger.info('http listener ready', addresses.http);
  }
  if (config.listen.https) {
    if (!tls)
      throw new GatewayError(
        'GW_CONFIG_INVALID',
        'listen.https: needs TLS (tls.cert_file or tls.self_signed)',
      );
    const opts = {
      cert: tls.cert,
      key: tls.key,
      minVersion: 'TLSv1.2' as const,
      requestTimeout: 0,
    };
    const server = track(createHttpsServer(opts, httpEngine.handler));
    addresses.https = await listen(server, config.listen.https);
    servers.push(server);
    logger.info('https listener ready', addresses.https);
  }
  if (config.listen.postgres) {
    const server = createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      void engine.handle(socket);
    });
    addresses.postgres = await listen(server, config.listen.postgres);
    servers.push(server);
    logger.info('postgres listener ready', addresses.postgres);
  }
  if (ssh && config.listen.ssh) {
    const server = createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      ssh.handle(socket);
    });
    addresses.ssh = await listen(server, config.listen.ssh);
    servers.push(server);
    logger.info('ssh listener ready', { ...addresses.ssh, hostKey: ssh.hostKey.fingerprint });
  }
  if (config.listen.api) {
    const server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, controlPlane)
      : createHttpServer(controlPlane);
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const bound = await listen(server, config.listen.api);
    addresses.api = { ...bound, tls: tls !== undefined };
    servers.push(server);
    logger.info('api listener ready', addresses.api);
  }
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    engine.shutdown();
    ssh?.shutdown();
    httpEngine.shutdown();
    guard.stop();
    if (policy instanceof PolicyHolder) policy.close();
    await reviews.close();
    const stopped = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    // End every session, and have each one's closing record appended before the ledger closes.
    await sessions.terminateAll(
      new GatewayError('GW_SESSION_SHUTTING_DOWN', 'the gateway is shutting down'),
      SESSION_END_MS,
    );
    for (const s of sockets) s.destroy();
    const late = await pipeline.endSessions(LATE_SESSION_END_MS);
    if (late > 0) logger.warn('sessions still ending at shutdown; recorded as ended', { late });
    await Promise.all(stopped);
    httpEngine.close();
    await pgMasking?.close();
    await ledger.close();
    await Promise.all(sinks.map((s) => s.close()));
    await notifier.close();
    reviewStore.close();
    sshKeys.close();
    budgets.close();
    tokens.close();
  };
  return {
    addresses,
    ledger,
    budgets,
    tokens,
    sshKeys,
    sshHostKey: ssh && { publicLine: ssh.hostKey.publicLine, fingerprint: ssh.hostKey.fingerprint },
    sessions,
    authenticator,
    reviews,
    policy,
    recheckSessions: () => guard.sweep(),
    tlsCertFile: tls?.certFile,
    proxyCaFile: proxyCa.certFile,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

/** The configured policy file (watched for changes), or allow-all when there is none. */
async function openPolicy(
  config: AirlockConfig,
  ledger: Ledger,
  logger: Logger,
): Promise<PolicyEngine> {
  const file = config.policy.file;
  if (!file) return allowAll;
  let holder: PolicyHolder;
  try {
    holder = await PolicyHolder.open({
      file,
      logger,
      onChange: async (p, previousHash) => {
        await ledger
          .append({
            type: 'policy.changed',
            data: { hash: p.hash, version: p.version, file, previousHash },
          })
          .catch((err: unknown) => logger.error('audit append failed for policy.changed', { err }));
      },
    });
  } catch (err) {
    throw new GatewayError('GW_CONFIG_INVALID', `policy ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (config.policy.reload) holder.watch();
  return holder;
}

/** EXPLAIN for approvers, on the connection the held command targets. */
async function estimateFor(config: AirlockConfig, name: string, command: SqlCommand) {
  const conn = config.connections.find((c) => c.name === name);
  if (conn?.type !== 'postgres') return undefined;
  const params = command.params?.map((p) => (p.format === 'text' ? p.value : null)) ?? null;
  const impact = await estimateImpact(conn, { text: command.text, params });
  return impact.ok
    ? { estimatedRows: impact.estimatedRows, plan: impact.plan, tables: impact.tables }
    : { unavailable: impact.reason };
}

/** Sinks pull committed events from the ledger: an outage of theirs never blocks a write. */
async function startSinks(config: AirlockConfig, ledger: Ledger, logger: Logger) {
  const source: EventSource = {
    readAfter: (seq, limit) => ledger.reader.readAfter(seq, limit),
    headSeq: async () => (await ledger.reader.info())?.head.size ?? 0,
  };
  const runners = config.audit.sinks.map((c) =>
    createSink(c, { source, dataDir: config.data_dir, logger }),
  );
  await Promise.all(runners.map((r) => r.start()));
  return runners;
}

/**
 * The detector library as configured: one set for masking, `prompt.contains` rules and ledger
 * redaction. A setting it refuses is a config error.
 */
function openDetectors(config: AirlockConfig): DetectorSet {
  try {
    return createDetectors(detectorConfigOf(config.masking));
  } catch (err) {
    throw new GatewayError('GW_CONFIG_INVALID', `masking.detectors: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The masking engine when rules are configured. */
function openMasking(config: AirlockConfig, detectors: DetectorSet): MaskingEngine | undefined {
  if (config.masking.rules.length === 0) return undefined;
  return new MaskingEngine(config.masking, detectors);
}

/** Which configuration the gateway runs: a hash and a summary, never a secret. */
async function recordConfig(
  ledger: Ledger,
  config: AirlockConfig,
  logger: Logger,
  masking: MaskingEngine | undefined,
): Promise<void> {
  const summary = {
    listen: config.listen,
    store: config.audit.store.kind,
    connections: config.connections.map((c) => ({
      name: c.name,
      type: c.type,
      host: c.type === 'postgres' || c.type === 'ssh' ? c.host : new URL(c.url).host,
    })),
    ...(masking ? { masking: { policyVersion: masking.version, rules: masking.ruleCount } } : {}),
  };
  // Secret serialises as [redacted], so the hash never depends on (or reveals) a secret.
  const hash = createHash('sha256').update(JSON.stringify(config)).digest('hex');
  try {
    await ledger.append({ type: 'config.loaded', data: { hash, ...summary } });
  } catch (err) {
    logger.error('audit ledger unavailable at start; commands will be refused until it returns', {
      err,
    });
  }
}

function listen(server: Server, hostPort: string): Promise<{ host: string; port: number }> {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(at + 1));
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new GatewayError(
          'GW_CONFIG_INVALID',
          `listen ${hostPort}: ${(err as NodeJS.ErrnoException).code}`,
          { cause: err },
        ),
      ),
    );
    server.listen({ host, port }, () => {
      const a = server.address() as AddressInfo;
      resolve({ host, port: a.port });
    });
  });
}
