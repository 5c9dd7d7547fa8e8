/**
 * The web console's server side: sign-in and sign-out under `/auth/`, and the built React app for
 * every other path (index.html for client routes). The app itself talks to `/api/...` (the
 * control-plane API, which accepts the session cookie made here). Mount it in front of any HTTP
 * handler:
 *
 *   const consoleHandler = createConsoleHandler(deps);
 *   server.on('request', async (req, res) => { if (!(await consoleHandler(req, res))) api(req, res); });
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEventInput } from '../audit/types.ts';
import { actorOf } from '../session/context.ts';
import type { Logger } from '../telemetry/logger.ts';
import { type ConsoleLogin, LOGIN_COOKIE } from './login.ts';
import {
  type ConsoleSessionStore,
  CSRF_HEADER,
  cookie,
  readCookie,
  SESSION_COOKIE,
  sameValue,
} from './sessions.ts';
import { DEFAULT_DIST_DIR, isBuiltFile, securityHeaders, sendText, serveStatic } from './static.ts';

export interface ConsoleDeps {
  readonly sessions: ConsoleSessionStore;
  /** Undefined when no OIDC issuer with a client_id is configured: sign-in is then unavailable. */
  readonly login: ConsoleLogin | undefined;
  /** The URL browsers use, e.g. https://airlock.example.com (default: from the Host header). */
  readonly publicUrl?: string | undefined;
  readonly distDir?: string;
  readonly ledger: { appendLater(e: AuditEventInput): void };
  readonly logger: Logger;
}

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * @example
 * const handle = createConsoleHandler({ sessions, login, ledger, logger });
 * if (!(await handle(req, res))) api(req, res);
 */
export function createConsoleHandler(deps: ConsoleDeps): ConsoleHandler {
  const distDir = deps.distDir ?? DEFAULT_DIST_DIR;
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://console');
    const path = url.pathname;
    if (path.startsWith('/v1/') || path.startsWith('/api/') || path === '/api') return false;
    const method = req.method ?? 'GET';
    try {
      if (path === '/auth/login' && method === 'GET') await startLogin(deps, req, res, url);
      else if (path === '/auth/callback' && method === 'GET') await callback(deps, req, res, url);
      else if (path === '/auth/logout' && method === 'POST') logout(deps, req, res);
      else if (!isConsolePath(path, distDir)) return false;
      else if (method === 'GET' || method === 'HEAD') serveStatic(res, path, distDir, method);
      else sendText(res, 405, 'method not allowed');
    } catch (err) {
      deps.logger.error('console request failed', { path, err });
      if (!res.headersSent) sendText(res, 500, 'internal error');
    }
    return true;
  };
}

/**
 * The app's pages (the routes of console/src/main.tsx) and its built files. Other paths are left
 * to the next handler, so a client that calls a wrong URL on a shared listener gets a 404, not
 * the app's HTML.
 */
const CLIENT_ROUTES =
  /^\/(?:|index\.html|reviews|sessions|sessions\/[A-Za-z0-9_-]+|audit|config|tokens)$/;

function isConsolePath(path: string, distDir: string): boolean {
  return CLIENT_ROUTES.test(path) || isBuiltFile(distDir, path);
}

async function startLogin(deps: ConsoleDeps, req: IncomingMessage, res: ServerResponse, url: URL) {
  if (!deps.login) {
    sendText(res, 503, 'Console sign-in needs an identity.oidc issuer with a client_id.');
    return;
  }
  const redirectUri = `${baseUrl(deps, req)}/auth/callback`;
  let begun: { url: string; binding: string };
  try {
    begun = await deps.login.begin(redirectUri, url.searchParams.get('return_to') ?? '/');
  } catch (err) {
    deps.logger.warn('console sign-in could not start', { error: (err as Error).message });
    sendText(res, 503, 'The identity provider is unavailable; try again shortly.');
    return;
  }
  res.writeHead(302, {
    ...securityHeaders(),
    location: begun.url,
    'cache-control': 'no-store',
    // Lax: the IdP's redirect back is a cross-site top-level GET, which Strict would strip.
    'set-cookie': cookie(LOGIN_COOKIE, begun.binding, {
      maxAgeS: 600,
      path: '/auth/callback',
      sameSite: 'Lax',
    }),
  });
  res.end();
}

async function callback(deps: ConsoleDeps, req: IncomingMessage, res: ServerResponse, url: URL) {
  const clearLogin = cookie(LOGIN_COOKIE, '', { maxAgeS: 0, path: '/auth/callback' });
  if (!deps.login) {
    sendText(res, 503, 'Console sign-in is not configured.');
    return;
  }
  let done: Awaited<ReturnType<ConsoleLogin['finish']>>;
  try {
    done = await deps.login.finish(url.searchParams, readCookie(req.headers.cookie, LOGIN_COOKIE));
  } catch (err) {
    const message = (err as Error).message;
    deps.logger.warn('console sign-in failed', { error: message });
    res.setHeader('set-cookie', clearLogin);
    sendText(res, 401, `Sign-in failed: ${message}\n\nGo back to / and sign in again.`);
    return;
  }
  const { id, session } = deps.sessions.create(done.identity);
  deps.ledger.appendLater({
    type: 'auth.succeeded',
    clientAddr: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`,
    actor: actorOf(session.identity),
    data: { protocol: 'console', method: 'oidc', issuer: deps.login.issuer },
  });
  res.writeHead(302, {
    ...securityHeaders(),
    location: done.returnTo,
    'cache-control': 'no-store',
    'set-cookie': [cookie(SESSION_COOKIE, id, { maxAgeS: deps.sessions.ttlMs / 1000 }), clearLogin],
  });
  res.end();
}

function logout(deps: ConsoleDeps, req: IncomingMessage, res: ServerResponse) {
  const id = readCookie(req.headers.cookie, SESSION_COOKIE);
  const session = id === undefined ? undefined : deps.sessions.get(id);
  const csrf = req.headers[CSRF_HEADER];
  if (id !== undefined && session) {
    if (typeof csrf !== 'string' || !sameValue(csrf, session.csrf)) {
      sendText(res, 403, 'missing or wrong CSRF token');
      return;
    }
    deps.sessions.delete(id);
  }
  res.writeHead(204, {
    ...securityHeaders(),
    'set-cookie': cookie(SESSION_COOKIE, '', { maxAgeS: 0 }),
  });
  res.end();
}

function baseUrl(deps: ConsoleDeps, req: IncomingMessage): string {
  if (deps.publicUrl) return deps.publicUrl.replace(/\/$/, '');
  const host = req.headers.host ?? '';
  const safeHost = /^[A-Za-z0-9.\-[\]:]{1,255}$/.test(host) ? host : 'localhost';
  const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${tls ? 'https' : 'http'}://${safeHost}`;
}
