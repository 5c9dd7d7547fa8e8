/**
 * Webhook sink: POSTs each batch over HTTPS as NDJSON (`json`, `ocsf`) or as Splunk HTTP Event
 * Collector events (`splunk-hec`). A 2xx acknowledges the batch; anything else is a failed
 * delivery the runner retries (429, 5xx and network errors as transient, other statuses as a
 * refusal worth an operator's look).
 *
 * Plain HTTP is refused unless the host is loopback or `allowInsecureHttp` is set: audit events
 * name people, tables and statements.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIPv4 } from 'node:net';
import type { Secret } from '../../config/secret.ts';
import type { AuditEvent } from '../types.ts';
import { exportedEvent, formatEvent } from './event-json.ts';
import { SinkError, type SinkTransport } from './runner.ts';

export type WebhookFormat = 'json' | 'ocsf' | 'splunk-hec';

export interface WebhookTransportOptions {
  readonly name: string;
  readonly url: string;
  readonly format?: WebhookFormat;
  /**
   * The whole `Authorization` header value, e.g. `Bearer …` (for Splunk HEC, `Splunk <token>`).
   * Never logged.
   */
  readonly authorization?: Secret;
  /** PEM CA bundle file that replaces the system CAs for HTTPS. */
  readonly caFile?: string;
  /** Allow plain http:// to a host that is not loopback. */
  readonly allowInsecureHttp?: boolean;
  /** Whole-request timeout. Default 10 s. */
  readonly timeoutMs?: number;
}

/** Splunk HEC `sourcetype` of every event. */
export const SPLUNK_SOURCETYPE = 'airlock:audit';

/**
 * @example
 * const t = new WebhookTransport({ name: 'hec', url: 'https://splunk:8088/services/collector/event',
 *   format: 'splunk-hec', authorization: new Secret(`Splunk ${token}`) });
 */
export class WebhookTransport implements SinkTransport {
  readonly name: string;
  readonly #url: URL;
  readonly #format: WebhookFormat;
  readonly #authorization: Secret | undefined;
  readonly #timeoutMs: number;
  readonly #agent: HttpAgent;
  readonly #abort = new AbortController();

  constructor(opts: WebhookTransportOptions) {
    this.name = opts.name;
    this.#url = checkedUrl(opts.url, opts.allowInsecureHttp ?? false);
    this.#format = opts.format ?? 'json';
    this.#authorization = checkedAuthorization(opts.authorization);
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#agent =
      this.#url.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: true,
            ...(opts.caFile ? { ca: readFileSync(opts.caFile) } : {}),
          })
        : new HttpAgent({ keepAlive: true });
  }

  async send(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const res = await this.#post(encodeBatch(events, this.#format));
    checkStatus(res.statusCode ?? 0, res.headers['retry-after']);
  }

  async close(): Promise<void> {
    this.#abort.abort();
    this.#agent.destroy();
  }

  #headers(body: Buffer): Record<string, string> {
    return {
      'content-type': this.#format === 'splunk-hec' ? 'application/json' : 'application/x-ndjson',
      'content-length': String(body.length),
      'user-agent': 'airlock-audit-sink',
      ...(this.#authorization ? { authorization: this.#authorization.reveal() } : {}),
    };
  }

  /** Resolves with the response once its body has been read (and discarded). */
  #post(body: Buffer): Promise<IncomingMessage> {
    const send = this.#url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(this.#url, {
        method: 'POST',
        agent: this.#agent,
        headers: this.#headers(body),
        signal: this.#abort.signal,
      });
      const timer = setTimeout(() => {
        req.destroy(new Error(`timed out after ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(
          new SinkError(`webhook request failed: ${err.message}`, { retryable: true, cause: err }),
        );
      });
      req.on('response', (res) => {
        // The body is drained, never read into errors or logs: some receivers echo requests.
        res.resume();
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(new SinkError(`webhook response failed: ${err.message}`, { retryable: true }));
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve(res);
        });
      });
      req.end(body);
    });
  }
}

/**
 * The request body for one batch: NDJSON of events (`json`, `ocsf`), or HEC event objects one
 * after another (`splunk-hec`; HEC accepts concatenated JSON objects).
 *
 * @example
 * encodeBatch(events, 'json').toString().split('\n').length; // events.length + 1
 */
export function encodeBatch(events: readonly AuditEvent[], format: WebhookFormat): Buffer {
  const lines = events.map((e) => JSON.stringify(encodeEvent(e, format)));
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

function encodeEvent(e: AuditEvent, format: WebhookFormat): Record<string, unknown> {
  if (format !== 'splunk-hec') return formatEvent(e, format);
  const ms = Date.parse(e.ts);
  return {
    ...(Number.isFinite(ms) ? { time: ms / 1000 } : {}),
    sourcetype: SPLUNK_SOURCETYPE,
    event: exportedEvent(e),
  };
}

/** 2xx acknowledges; 429 and 5xx are transient; everything else is a refusal. */
function checkStatus(status: number, retryAfter: string | undefined): void {
  if (status >= 200 && status < 300) return;
  const retryAfterMs = parseRetryAfter(retryAfter);
  if (status === 429 || status >= 500) {
    throw new SinkError(`webhook receiver answered ${status}`, {
      retryable: true,
      status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  throw new SinkError(`webhook receiver refused the batch with ${status}`, {
    retryable: false,
    status,
  });
}

/** Retry-After as delay-seconds (RFC 9110 §10.2.3); HTTP-dates are ignored. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value || !/^\d{1,6}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

function checkedUrl(raw: string, allowInsecureHttp: boolean): URL {
  const url = new URL(raw);
  if (url.protocol === 'https:') return url;
  if (url.protocol !== 'http:')
    throw new Error(`webhook sink URL must be https: (${url.protocol})`);
  if (!allowInsecureHttp && !isLoopback(url.hostname)) {
    throw new Error(
      `webhook sink refuses plain http to ${url.hostname}: use https, or allow_insecure_http`,
    );
  }
  return url;
}

/**
 * True for `localhost`, 127.0.0.0/8 and ::1.
 *
 * @example
 * isLoopback('[::1]'); // true
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return isIPv4(host) && host.startsWith('127.');
}

function checkedAuthorization(secret: Secret | undefined): Secret | undefined {
  if (secret && /[\r\n]/.test(secret.reveal())) {
    throw new Error('webhook sink authorization must be a single line');
  }
  return secret;
}
