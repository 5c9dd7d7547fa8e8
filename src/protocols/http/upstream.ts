/**
 * Requests to a connection's upstream with the credential only Airlock holds: one keep-alive
 * agent per connection, the connection's CA, an idle timeout, and errors converted at the edge.
 */
import { readFileSync } from 'node:fs';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { GatewayError } from '../../errors.ts';
import type { HttpTarget } from './router.ts';

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query relative to the connection's URL. */
  readonly path: string;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

/**
 * @example
 * const up = new Upstreams();
 * const res = await up.request(conn, { method: 'POST', path: '/chat/completions', headers, body, signal });
 */
export class Upstreams {
  readonly #agents = new Map<string, HttpAgent>();

  request(conn: HttpTarget, req: UpstreamRequest): Promise<IncomingMessage> {
    const base = new URL(conn.url);
    const tls = base.protocol === 'https:';
    const path = base.pathname.replace(/\/+$/, '') + req.path;
    const headers: OutgoingHttpHeaders = {
      ...req.headers,
      host: base.host,
      'accept-encoding': 'identity',
      'content-length': req.body.length,
      ...credentialHeaders(conn),
    };
    if (req.body.length === 0 && (req.method === 'GET' || req.method === 'HEAD')) {
      delete headers['content-length'];
    }
    const send = tls ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = send({
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[|\]$/g, ''),
        port: base.port || (tls ? 443 : 80),
        method: req.method,
        path,
        headers,
        agent: this.#agent(conn, tls),
        signal: req.signal,
        timeout: conn.timeout_ms,
      });
      r.once('response', (res) => {
        res.socket?.setNoDelay(true);
        resolve(res);
      });
      r.once('timeout', () =>
        r.destroy(
          new GatewayError(
            'GW_UPSTREAM_TIMEOUT',
            `${conn.name}: the upstream did not answer in time`,
          ),
        ),
      );
      r.once('error', (err) => reject(convertError(conn, err)));
      r.end(req.body);
    });
  }

  close(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }

  #agent(conn: HttpTarget, tls: boolean): HttpAgent {
    let agent = this.#agents.get(conn.name);
    if (!agent) {
      const opts = {
        keepAlive: true,
        maxSockets: 256,
        maxFreeSockets: 32,
        scheduling: 'lifo' as const,
      };
      agent = tls
        ? new HttpsAgent({ ...opts, ...(conn.ca_file ? { ca: readFileSync(conn.ca_file) } : {}) })
        : new HttpAgent(opts);
      this.#agents.set(conn.name, agent);
    }
    return agent;
  }
}

/** The upstream credential of a connection (never logged, never recorded). */
function credentialHeaders(conn: HttpTarget): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(conn.headers ?? {})) out[k.toLowerCase()] = v.reveal();
  if (conn.type === 'llm') {
    const key = conn.api_key?.reveal();
    if (key !== undefined && conn.dialect === 'anthropic') out['x-api-key'] = key;
    else if (key !== undefined) out.authorization = `Bearer ${key}`;
    return out;
  }
  const c = conn.credential;
  if (c?.type === 'bearer') out.authorization = `Bearer ${c.token.reveal()}`;
  else if (c?.type === 'basic') {
    out.authorization = `Basic ${Buffer.from(`${c.username}:${c.password.reveal()}`).toString('base64')}`;
  } else if (c?.type === 'header') out[c.name.toLowerCase()] = c.value.reveal();
  return out;
}

/** Driver errors → GatewayError; the message names the connection, never the URL's secrets. */
export function convertError(conn: HttpTarget, err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ABORT_ERR') return new GatewayError('GW_UPSTREAM_CLOSED', 'the client went away');
  if (/CERT|SSL|TLS|SELF_SIGNED/.test(code)) {
    return new GatewayError(
      'GW_UPSTREAM_TLS_FAILED',
      `${conn.name}: TLS to the upstream failed (${code})`,
      { cause: err },
    );
  }
  return new GatewayError(
    'GW_UPSTREAM_UNAVAILABLE',
    `${conn.name}: the upstream is unreachable (${code || 'error'})`,
    {
      cause: err,
    },
  );
}
