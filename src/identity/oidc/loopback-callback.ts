/**
 * The CLI's side of an RFC 8252 loopback redirect: a one-shot HTTP server on 127.0.0.1 that waits
 * for the browser to come back with `code` and `state`.
 * https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export const CALLBACK_PATH = '/callback';

/** What the browser brought back, and how to answer it once the code is exchanged. */
export interface CallbackResult {
  readonly params: URLSearchParams;
  /** Ends the browser's request with a small page saying whether sign-in worked. */
  finish(ok: boolean, message: string): void;
}

export interface LoopbackCallback {
  readonly redirectUri: string;
  /** Resolves with the first request that carries the expected `state`; rejects on timeout. */
  readonly result: Promise<CallbackResult>;
  close(): void;
}

/**
 * Listens on 127.0.0.1 (RFC 8252 §8.3: "listen on the loopback network interface only").
 *
 * @example
 * const cb = await listenForCallback(0, state, 300_000);
 * openUrl(authorizeUrl(cb.redirectUri));
 * const { params, finish } = await cb.result;
 */
export async function listenForCallback(
  port: number,
  state: string,
  timeoutMs: number,
): Promise<LoopbackCallback> {
  const waiting = Promise.withResolvers<CallbackResult>();
  let answered = false;
  const server = createServer((req, res) => {
    const result = handle(req, res, answered ? undefined : state);
    if (result) waiting.resolve(result);
    answered ||= result !== undefined;
  });
  await listen(server, port);
  const timer = setTimeout(() => {
    const seconds = Math.round(timeoutMs / 1000);
    waiting.reject(
      new Error(`sign-in timed out after ${seconds} s without an answer from the browser`),
    );
  }, timeoutMs);
  const { port: bound } = server.address() as { port: number };
  return {
    redirectUri: `http://127.0.0.1:${bound}${CALLBACK_PATH}`,
    result: waiting.promise,
    close() {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** `state` is undefined once a valid callback has arrived: later ones are refused. */
function handle(
  req: IncomingMessage,
  res: ServerResponse,
  state: string | undefined,
): CallbackResult | undefined {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
    page(res, 404, 'Not found', 'This address only receives the sign-in redirect.');
    return undefined;
  }
  // Another local process may call us too: a request without our state is answered and ignored.
  if (state === undefined || !sameSecret(url.searchParams.get('state') ?? '', state)) {
    page(res, 400, 'Sign-in failed', 'The sign-in response does not match this login attempt.');
    return undefined;
  }
  return {
    params: url.searchParams,
    finish(ok, message) {
      page(res, ok ? 200 : 400, ok ? 'Signed in' : 'Sign-in failed', message);
    },
  };
}

/** Constant-time comparison of two strings. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function page(res: ServerResponse, status: number, title: string, message: string): void {
  const body = `<!doctype html><meta charset="utf-8"><title>Airlock: ${escapeHtml(title)}</title>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body>\n`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    connection: 'close',
  });
  res.end(body);
}
