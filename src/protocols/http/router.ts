/**
 * Which connection an HTTP request is for, and the path to send upstream. Pure.
 *
 * - `/c/<connection>/<rest>`: any http or llm connection by name (`<rest>` is appended to its URL);
 * - `/v1/<rest>`: the llm connection marked `default: true` (what the OpenAI SDK calls when only
 *   its base URL's host is changed);
 * - a `Host` header (or an absolute-form target, when Airlock is used as an HTTP proxy) naming one
 *   of a connection's `hosts`: the whole path;
 * - `/healthz`: liveness. Everything else is left free for the web console (`/`) and its REST
 *   API (`/api`).
 */
import type { HttpConnectionConfig, LlmConnectionConfig } from '../../config/schema.ts';
import { GatewayError } from '../../errors.ts';

export type HttpTarget = HttpConnectionConfig | LlmConnectionConfig;

export type Route =
  | {
      readonly kind: 'connection';
      readonly connection: HttpTarget;
      /** Path and query relative to the connection's URL, e.g. `/chat/completions?x=1`. */
      readonly upstreamPath: string;
      /** The decoded path alone (what `paths` rules match). */
      readonly path: string;
      /** The request came in absolute form (`GET http://host/...`): Airlock is the proxy. */
      readonly proxied: boolean;
    }
  | { readonly kind: 'health' }
  | { readonly kind: 'none' };

export interface RouteRequest {
  /** `req.url`: origin form (`/c/x/y?q`) or absolute form (`http://host/y?q`). */
  readonly url: string;
  readonly host: string | undefined;
}

/**
 * Routes compiled once from the configured connections.
 *
 * @example
 * const router = new Router(config.connections);
 * router.route({ url: '/c/openai/chat/completions', host: '127.0.0.1:8080' });
 */
export class Router {
  readonly #byName = new Map<string, HttpTarget>();
  readonly #byHost = new Map<string, HttpTarget>();
  readonly #default: LlmConnectionConfig | undefined;
  readonly #defaultBase: string;

  constructor(
    connections: readonly { type: string }[],
    sdkBasePath: (c: LlmConnectionConfig) => string,
  ) {
    let def: LlmConnectionConfig | undefined;
    for (const raw of connections) {
      if (raw.type !== 'http' && raw.type !== 'llm') continue;
      const c = raw as HttpTarget;
      this.#byName.set(c.name, c);
      for (const h of c.hosts ?? []) this.#byHost.set(h.toLowerCase(), c);
      if (c.type === 'llm' && c.default) def = c;
    }
    this.#default = def;
    this.#defaultBase = def ? sdkBasePath(def) : '';
  }

  get size(): number {
    return this.#byName.size;
  }

  route(req: RouteRequest): Route {
    if (/^https?:\/\//i.test(req.url)) return this.#absolute(req.url);
    if (!req.url.startsWith('/')) throw malformed('the request target must start with /');
    const byHost = req.host === undefined ? undefined : this.#host(req.host);
    if (byHost) return target(byHost, req.url, false);
    const m = /^\/c\/([^/?#]+)(.*)$/s.exec(req.url);
    if (m) {
      const conn = this.#byName.get(decode(m[1] as string));
      if (!conn) throw unknown(decode(m[1] as string));
      return target(conn, ensureSlash(m[2] as string), false);
    }
    if (this.#default && /^\/v1(?:[/?]|$)/.test(req.url)) {
      const rest = this.#defaultBase === '/v1' ? req.url.slice(3) : req.url;
      return target(this.#default, ensureSlash(rest), false);
    }
    if (req.url === '/healthz' || req.url.startsWith('/healthz?')) return { kind: 'health' };
    return { kind: 'none' };
  }

  /** The connection a CONNECT tunnel to `host:port` may open, if any. */
  tunnelTarget(authority: string): HttpTarget | undefined {
    return this.#host(authority) ?? this.#host(authority.replace(/:443$/, ''));
  }

  #host(host: string): HttpTarget | undefined {
    const h = host.toLowerCase();
    return this.#byHost.get(h) ?? this.#byHost.get(h.replace(/:\d+$/, ''));
  }

  #absolute(url: string): Route {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw malformed('the request target is not a valid URL');
    }
    const conn = this.#host(u.host) ?? this.#host(u.hostname);
    if (!conn) throw unknown(u.host, 'no connection serves host');
    return target(conn, ensureSlash(u.pathname + u.search), true);
  }
}

function target(connection: HttpTarget, upstreamPath: string, proxied: boolean): Route {
  return { kind: 'connection', connection, upstreamPath, path: checkedPath(upstreamPath), proxied };
}

function ensureSlash(rest: string): string {
  if (rest === '') return '/';
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * The decoded path, refusing what would let the upstream see a different path than policy:
 * dot segments (`/a/../admin`, also percent-encoded), encoded slashes, NUL and bad encodings.
 */
export function checkedPath(upstreamPath: string): string {
  const raw = upstreamPath.split(/[?#]/, 1)[0] as string;
  if (/%2f|%5c|%00/i.test(raw) || raw.includes('\\')) {
    throw malformed('encoded slashes, backslashes and NUL are not allowed in the path');
  }
  const path = decode(raw);
  if (path.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw malformed('dot segments are not allowed in the path');
  }
  return path;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw malformed('the path is not valid percent-encoding');
  }
}

function malformed(message: string): GatewayError {
  return new GatewayError('GW_PROTOCOL_MALFORMED', message);
}

function unknown(name: string, what = 'no connection named'): GatewayError {
  return new GatewayError('GW_CONNECTION_UNKNOWN', `${what} "${name}"`);
}
