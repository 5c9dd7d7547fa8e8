/**
 * Which headers cross the gateway. RFC 9110 §7.6.1: "a proxy MUST parse the Connection header
 * field ... and remove any header field(s) listed", and the hop-by-hop fields never travel on.
 * The client's Airlock credential never reaches the upstream, and the upstream credential never
 * reaches the client.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Client headers that carry the Airlock credential, or that Airlock sets itself. */
const CLIENT_ONLY = new Set([
  'host',
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'content-length',
  'expect',
]);

/** Upstream headers the client must not get as they are (lengths change when masked). */
const UPSTREAM_ONLY = new Set(['content-length', 'set-cookie2', 'alt-svc']);

function listed(connection: string | string[] | undefined): Set<string> {
  const v = Array.isArray(connection) ? connection.join(',') : (connection ?? '');
  return new Set(
    v
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}

/**
 * The client's headers as they go upstream (credentials and Airlock's own `x-airlock-*` removed).
 *
 * @example
 * upstreamHeaders({ authorization: 'Bearer alk_…', accept: '*\/*' }); // { accept: '*\/*' }
 */
export function upstreamHeaders(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const drop = listed(h.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP_BY_HOP.has(k) || CLIENT_ONLY.has(k) || drop.has(k)) continue;
    if (k.startsWith('x-airlock-') || k.startsWith('proxy-')) continue;
    out[k] = v;
  }
  return out;
}

/** The upstream's headers as they go to the client. */
export function clientHeaders(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const drop = listed(h.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP_BY_HOP.has(k) || UPSTREAM_ONLY.has(k) || drop.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * The Airlock credential a client presents: `Authorization: Bearer`, `x-api-key` (what the
 * Anthropic SDK sends), or in proxy mode `Proxy-Authorization` (Bearer, or Basic with the token
 * as the password, as `HTTPS_PROXY=http://user:token@host` produces).
 *
 * @example
 * credentialOf({ authorization: 'Bearer alk_abc' }); // 'alk_abc'
 */
export function credentialOf(h: IncomingHttpHeaders): string | undefined {
  const proxy = bearerOrBasic(h['proxy-authorization']);
  if (proxy !== undefined) return proxy;
  const auth = bearerOrBasic(h.authorization);
  if (auth !== undefined) return auth;
  const key = h['x-api-key'] ?? h['api-key'];
  const v = Array.isArray(key) ? key[0] : key;
  return v !== undefined && /^[!-~]{1,65536}$/.test(v) ? v : undefined;
}

function bearerOrBasic(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const bearer = /^Bearer ([!-~]{1,65536})$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic ([A-Za-z0-9+/=]{1,90000})$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const secret = colon < 0 ? decoded : decoded.slice(colon + 1);
  return /^[!-~]{1,65536}$/.test(secret) ? secret : undefined;
}
