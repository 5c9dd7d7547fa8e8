/**
 * Opens the upstream PostgreSQL session with the credential only Airlock holds: TCP, optional
 * TLS, StartupMessage, authentication (SCRAM-SHA-256, md5, cleartext), then collects
 * ParameterStatus and BackendKeyData until ReadyForQuery.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import { GatewayError } from '../../errors.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { BackendParser, decodeBackend } from './codec/backend-parser.ts';
import { AUTH, type BackendMessage, PROTOCOL_3_0 } from './codec/messages.ts';
import {
  encodePassword,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  encodeStartup,
} from './codec/serializer.ts';
import { md5Password, SCRAM_SHA_256, ScramClient } from './scram.ts';
import { SocketMessages } from './socket-messages.ts';

export interface UpstreamSession {
  readonly socket: Duplex;
  readonly parameters: ReadonlyMap<string, string>;
  readonly processId: number;
  readonly secretKey: Uint8Array;
  readonly tls: boolean;
}

const MAX_BACKEND_FRAME = 1024 * 1024 * 1024;
const td = new TextDecoder();

/**
 * @example
 * const up = await connectUpstream(conn, { application_name: 'psql' }, logger);
 */
export async function connectUpstream(
  conn: PostgresConnectionConfig,
  startupParams: Readonly<Record<string, string>>,
  logger: Logger,
): Promise<UpstreamSession> {
  const raw = await openTcp(conn);
  let socket: Duplex = raw;
  try {
    const tls = await negotiateTls(raw, conn);
    if (tls) socket = tls;
    const parser = new BackendParser({ maxFrame: MAX_BACKEND_FRAME });
    const msgs = new SocketMessages<BackendMessage>(socket, {
      push: (chunk) => {
        const batch = parser.push(chunk);
        return batch.frames.map((f) => decodeBackend(batch.buf, f));
      },
    });
    socket.write(
      encodeStartup({
        type: 'StartupMessage',
        protocolVersion: PROTOCOL_3_0,
        parameters: { ...startupParams, user: conn.user, database: conn.database },
      }),
    );
    const session = await handshake(socket, msgs, conn, logger, Boolean(tls));
    msgs.detach();
    return session;
  } catch (err) {
    socket.destroy();
    raw.destroy();
    throw err;
  }
}

function openTcp(conn: PostgresConnectionConfig): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: conn.host, port: conn.port });
    s.setNoDelay(true);
    s.setKeepAlive(true, 60_000);
    const timer = setTimeout(
      () => s.destroy(new Error('connect timeout')),
      conn.connect_timeout_ms,
    );
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(unavailable(conn, err));
    });
  });
}

function unavailable(conn: PostgresConnectionConfig, cause: unknown): GatewayError {
  return new GatewayError(
    'GW_UPSTREAM_UNAVAILABLE',
    `cannot reach the database for connection "${conn.name}"`,
    { cause },
  );
}

/** SSLRequest → 'S' (upgrade) or 'N' (plain, unless the mode requires TLS). */
async function negotiateTls(raw: Socket, conn: PostgresConnectionConfig): Promise<Duplex | null> {
  if (conn.ssl === 'disable') return null;
  raw.write(encodeStartup({ type: 'SSLRequest' }));
  const answer = await readOneByte(raw, conn.connect_timeout_ms);
  if (answer === 0x4e) {
    if (conn.ssl === 'prefer') return null;
    throw new GatewayError(
      'GW_UPSTREAM_TLS_FAILED',
      `database for "${conn.name}" does not offer TLS`,
    );
  }
  if (answer !== 0x53)
    throw new GatewayError('GW_UPSTREAM_TLS_FAILED', 'unexpected answer to SSLRequest');
  const verify = conn.ssl === 'verify-full';
  const tls = tlsConnect({
    socket: raw,
    ...(isIP(conn.host) ? {} : { servername: conn.host }),
    rejectUnauthorized: verify,
    ...(conn.ssl_ca_file ? { ca: readFileSync(conn.ssl_ca_file) } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', resolve);
    tls.once('error', (err) =>
      reject(
        new GatewayError('GW_UPSTREAM_TLS_FAILED', `TLS to "${conn.name}" failed`, { cause: err }),
      ),
    );
  });
  tls.setNoDelay(true);
  return tls;
}

function readOneByte(s: Socket, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new GatewayError('GW_UPSTREAM_UNAVAILABLE', 'database did not answer SSLRequest'));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      cleanup();
      if (chunk.length > 1) s.unshift(chunk.subarray(1));
      resolve(chunk[0] as number);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(
        new GatewayError('GW_UPSTREAM_UNAVAILABLE', 'database closed the connection', {
          cause: err,
        }),
      );
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('error', onError);
      s.off('close', onError);
      s.pause();
    };
    s.on('data', onData);
    s.once('error', onError);
    s.once('close', onError);
  });
}

/** Runs authentication and start-up until ReadyForQuery. */
async function handshake(
  socket: Duplex,
  msgs: SocketMessages<BackendMessage>,
  conn: PostgresConnectionConfig,
  logger: Logger,
  tls: boolean,
): Promise<UpstreamSession> {
  const parameters = new Map<string, string>();
  let processId = 0;
  let secretKey: Uint8Array = new Uint8Array(4);
  let scram: ScramClient | undefined;
  for (;;) {
    const m = await msgs.next(conn.connect_timeout_ms);
    switch (m.type) {
      case 'Authentication':
        scram = authenticate(socket, m, conn, scram);
        break;
      case 'ParameterStatus':
        parameters.set(m.name, m.value);
        break;
      case 'BackendKeyData':
        processId = m.processId;
        secretKey = m.secretKey;
        break;
      case 'ReadyForQuery':
        return { socket, parameters, processId, secretKey, tls };
      case 'ErrorResponse':
        logger.warn('upstream refused the session', {
          connection: conn.name,
          sqlstate: m.fields.C,
          message: m.fields.M,
        });
        throw new GatewayError(
          'GW_UPSTREAM_AUTH_FAILED',
          `the database for connection "${conn.name}" refused the session (SQLSTATE ${m.fields.C ?? 'unknown'})`,
        );
      default:
        break; // NoticeResponse, NegotiateProtocolVersion: nothing to do
    }
  }
}

/*
 * AuthenticationXXX: Int32 code, then code-specific data.
 * MD5Password carries a 4-byte salt; SASL a list of mechanisms; SASLContinue/Final SCRAM text.
 */
function authenticate(
  socket: Duplex,
  m: Extract<BackendMessage, { type: 'Authentication' }>,
  conn: PostgresConnectionConfig,
  scram: ScramClient | undefined,
): ScramClient | undefined {
  const password = conn.password.reveal();
  switch (m.code) {
    case AUTH.Ok:
      return scram;
    case AUTH.CleartextPassword:
      socket.write(encodePassword(password));
      return scram;
    case AUTH.MD5Password:
      socket.write(encodePassword(md5Password(conn.user, password, m.data.subarray(0, 4))));
      return scram;
    case AUTH.SASL: {
      const mechanisms = td.decode(m.data).split('\0');
      if (!mechanisms.includes(SCRAM_SHA_256)) break;
      const client = new ScramClient(password);
      socket.write(encodeSASLInitialResponse(SCRAM_SHA_256, Buffer.from(client.start())));
      return client;
    }
    case AUTH.SASLContinue:
      if (!scram) break;
      socket.write(encodeSASLResponse(Buffer.from(scram.continue(td.decode(m.data)))));
      return scram;
    case AUTH.SASLFinal:
      if (!scram) break;
      try {
        scram.finish(td.decode(m.data));
      } catch (err) {
        throw new GatewayError(
          'GW_UPSTREAM_AUTH_FAILED',
          'the database failed SCRAM server verification',
          {
            cause: err,
          },
        );
      }
      return scram;
    default:
      break;
  }
  throw new GatewayError(
    'GW_UPSTREAM_AUTH_FAILED',
    `the database for connection "${conn.name}" asked for an unsupported authentication method (${m.code})`,
  );
}
