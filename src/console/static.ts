/**
 * Serves the built console (console/dist): content types, a strict CSP and security headers,
 * long caching for hashed assets, and index.html for client routes.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_DIST_DIR = fileURLToPath(new URL('../../console/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/**
 * `'wasm-unsafe-eval'` lets the page compile WebAssembly (the terminal emulator of the recording
 * player, console/src/replay/terminal-player.tsx); it allows no JavaScript `eval`, and scripts
 * still come only from the console's own files.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every console response carries, pages and errors alike. */
export function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'strict-transport-security': 'max-age=31536000',
  };
}

/**
 * @example
 * serveStatic(res, '/reviews', 'console/dist', 'GET'); // index.html (client route)
 */
export function serveStatic(res: ServerResponse, path: string, distDir: string, method: string) {
  const index = join(distDir, 'index.html');
  if (!existsSync(index)) {
    sendText(res, 503, 'The web console is not built: run `npm start` or `npm test` once.');
    return;
  }
  const file = resolveFile(distDir, path) ?? index;
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  const body = readFileSync(file);
  const hashed = file.includes(`${sep}assets${sep}`);
  res.writeHead(200, {
    ...securityHeaders(),
    'content-type': type,
    'content-length': body.length,
    'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-store',
  });
  res.end(method === 'HEAD' ? undefined : body);
}

/** Whether `path` names a file of the built app. */
export function isBuiltFile(distDir: string, path: string): boolean {
  return resolveFile(distDir, path) !== undefined;
}

/** A file under distDir for `path`, or undefined (then index.html answers: a client route). */
function resolveFile(distDir: string, path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const file = normalize(join(distDir, decoded));
  if (!file.startsWith(distDir + sep)) return undefined;
  try {
    return statSync(file).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    ...securityHeaders(),
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(text);
}
