/**
 * Syslog sink: RFC 5424 messages over TCP with octet-counting framing (RFC 6587 §3.4.1), or over
 * TLS (RFC 5425). One message per ledger event.
 *
 * TCP syslog has no application-level acknowledgement: `send` resolves once the bytes were handed
 * to the kernel (after the TLS write callback for TLS). A connection that breaks is opened again
 * by the next `send`, and the runner re-sends the unacknowledged batch.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { AuditEvent } from '../types.ts';
import { asciiJson, formatEvent, type SinkFormat } from './event-json.ts';
import { SinkError, type SinkTransport } from './runner.ts';

/**
 * SD-ID enterprise number. 32473 is the IANA number reserved for documentation (RFC 5612);
 * deployments that register their own can set `enterpriseId`.
 */
export const DEFAULT_ENTERPRISE_ID = 32473;
/** RFC 5424 §6.2.1 facility 13: "log audit". */
export const DEFAULT_FACILITY = 13;

export interface SyslogTransportOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** RFC 5425 TLS. `caFile` replaces the system CAs; the certificate must match `servername`. */
  readonly tls?: { readonly caFile?: string; readonly servername?: string };
  readonly facility?: number;
  readonly format?: SinkFormat;
  /** HOSTNAME header field; default the machine's host name. */
  readonly hostname?: string;
  readonly enterpriseId?: number;
  readonly connectTimeoutMs?: number;
  readonly writeTimeoutMs?: number;
}

/** What a formatted message needs besides the event. */
export interface SyslogFormatOptions {
  readonly facility: number;
  readonly hostname: string;
  readonly procId: string;
  readonly format: SinkFormat;
  readonly enterpriseId: number;
}

/**
 * @example
 * const t = new SyslogTransport({ name: 'siem', host: 'siem.example', port: 6514, tls: {} });
 * await t.send(events);
 */
export class SyslogTransport implements SinkTransport {
  readonly name: string;
  readonly #host: string;
  readonly #port: number;
  readonly #tls: { readonly ca?: Buffer; readonly servername?: string } | undefined;
  readonly #format: SyslogFormatOptions;
  readonly #connectTimeoutMs: number;
  readonly #writeTimeoutMs: number;
  #socket: Socket | null = null;

  constructor(opts: SyslogTransportOptions) {
    this.name = opts.name;
    this.#host = opts.host;
    this.#port = opts.port;
    this.#tls = opts.tls ? tlsOptions(opts.tls) : undefined;
    this.#format = {
      facility: opts.facility ?? DEFAULT_FACILITY,
      hostname: opts.hostname ?? osHostname(),
      procId: String(process.pid),
      format: opts.format ?? 'json',
      enterpriseId: opts.enterpriseId ?? DEFAULT_ENTERPRISE_ID,
    };
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.#writeTimeoutMs = opts.writeTimeoutMs ?? 10_000;
  }

  async send(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const payload = Buffer.concat(
      events.map((e) => octetFrame(formatSyslogMessage(e, this.#format))),
    );
    const current = this.#socket;
    const socket = current?.writable ? current : await this.#connect();
    await writeWithin(socket, payload, this.#writeTimeoutMs);
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = null;
    if (!socket) return;
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  async #connect(): Promise<Socket> {
    this.#socket?.destroy();
    this.#socket = null;
    const socket = await openSocket(this.#host, this.#port, this.#tls, this.#connectTimeoutMs);
    const forget = (): void => {
      if (this.#socket === socket) this.#socket = null;
    };
    socket.on('error', () => socket.destroy());
    socket.on('close', forget);
    // A receiver that closes its side (or talks back) is finished with this connection.
    socket.on('end', () => socket.destroy());
    socket.resume();
    this.#socket = socket;
    return socket;
  }
}

function tlsOptions(tls: NonNullable<SyslogTransportOptions['tls']>) {
  return {
    ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
}

function openSocket(
  host: string,
  port: number,
  tls: { readonly ca?: Buffer; readonly servername?: string } | undefined,
  timeoutMs: number,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // rejectUnauthorized defaults to true: the chain and the name (servername, else host) are
    // checked before 'secureConnect'.
    const socket = tls ? tlsConnect({ host, port, ...tls }) : netConnect({ host, port });
    const timer = setTimeout(
      () => fail(new Error(`connect timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new SinkError(`syslog connect failed: ${err.message}`, { retryable: true, cause: err }),
      );
    };
    socket.once('error', fail);
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      socket.setKeepAlive(true, 30_000);
      resolve(socket);
    });
  });
}

function writeWithin(socket: Socket, payload: Buffer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SinkError(`syslog write timed out after ${timeoutMs} ms`, { retryable: true }));
    }, timeoutMs);
    socket.write(payload, (err) => {
      clearTimeout(timer);
      if (!err) return resolve();
      socket.destroy();
      reject(new SinkError(`syslog write failed: ${err.message}`, { retryable: true, cause: err }));
    });
  });
}

/**
 * RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in bytes.
 *
 * @example
 * octetFrame('<110>1 - - - - - -').toString(); // '18 <110>1 - - - - - -'
 */
export function octetFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME airlock PROCID MSGID [SD] MSG`, MSGID being
 * the event type and MSG the event as (ASCII-only) JSON or OCSF JSON.
 *
 * @example
 * formatSyslogMessage(event, { facility: 13, hostname: 'gw1', procId: '42', format: 'json', enterpriseId: 32473 });
 * // '<110>1 2025-03-01T12:00:00.000Z gw1 airlock 42 session.started [airlock@32473 seq="1" ...] {...}'
 */
export function formatSyslogMessage(e: AuditEvent, o: SyslogFormatOptions): string {
  const pri = o.facility * 8 + syslogSeverity(e);
  const header = [
    `<${pri}>1`,
    timestamp(e.ts),
    headerField(o.hostname, 255),
    'airlock',
    headerField(o.procId, 128),
    headerField(e.type, 32),
  ].join(' ');
  return `${header} ${structuredData(e, o.enterpriseId)} ${asciiJson(formatEvent(e, o.format))}`;
}

/**
 * RFC 5424 §6.2.1 severity: 4 (warning) for failed logons, denied or rejected commands and the
 * end of an audit outage; 6 (informational) for everything else.
 *
 * @example
 * syslogSeverity(authFailedEvent); // 4
 */
export function syslogSeverity(e: AuditEvent): number {
  if (e.type === 'auth.failed' || e.type === 'command.rejected') return 4;
  if (e.type === 'audit.outage.ended') return 4;
  if (e.type === 'command.requested' && e.data.decision === 'deny') return 4;
  return 6;
}

/** RFC 5424 §6.2.3 TIMESTAMP (RFC 3339, at most 6 fractional digits), or NILVALUE. */
function timestamp(ts: string): string {
  const t = Date.parse(ts);
  return Number.isFinite(t) ? new Date(t).toISOString() : '-';
}

/** PRINTUSASCII only (%d33-126), at most `max` characters; NILVALUE when empty. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean.length > 0 ? clean : '-';
}

/** The `[airlock@<pen> ...]` element: ids that let a SIEM index and join without parsing MSG. */
function structuredData(e: AuditEvent, enterpriseId: number): string {
  const params: [string, unknown][] = [
    ['seq', e.seq],
    ['session', e.sessionId],
    ['connection', e.connection],
    ['identity', e.actor?.identity],
    ['owner', e.actor?.owner],
    ['command', e.commandId],
    ['client', e.clientAddr],
    ['decision', e.data.decision],
    ['outcome', e.data.outcome],
    ['hash', e.hash],
  ];
  const rendered = params
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
    .map(([k, v]) => ` ${k}="${escapeParamValue(String(v))}"`)
    .join('');
  return `[airlock@${enterpriseId}${rendered}]`;
}

/**
 * RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' MUST be escaped with a backslash.
 *
 * @example
 * escapeParamValue('a"b\\c]'); // 'a\\"b\\\\c\\]'
 */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}
