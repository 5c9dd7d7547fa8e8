/**
 * Bounded JSON over HTTP for talking to an IdP: a timeout, a response size cap, no redirects.
 * Errors name the URL and what went wrong, never a request or response body.
 */

export const DEFAULT_FETCH_TIMEOUT_MS = 5000;
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface FetchOptions {
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

export interface JsonResponse {
  readonly status: number;
  readonly json: unknown;
}

export class FetchJsonError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FetchJsonError';
  }
}

/**
 * Fetches `url` and parses the body as JSON, whatever the status (callers decide which to accept).
 *
 * @example
 * const { status, json } = await fetchJson('https://idp.example.com/jwks');
 */
export async function fetchJson(
  url: string,
  init: RequestInit = {},
  opts: FetchOptions = {},
): Promise<JsonResponse> {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  const where = safeUrl(url);
  let res: Response;
  try {
    res = await doFetch(url, { ...init, redirect: 'manual', signal });
  } catch (err) {
    throw new FetchJsonError(`${where}: ${describeFetchError(err, timeoutMs)}`, { cause: err });
  }
  const text = await readCapped(res, opts.maxBytes ?? MAX_RESPONSE_BYTES, where, timeoutMs);
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    throw new FetchJsonError(`${where}: HTTP ${res.status} with a body that is not JSON`);
  }
}

/** Like fetchJson, but anything other than 200 with a JSON object is an error. */
export async function fetchJsonObject(
  url: string,
  opts: FetchOptions = {},
): Promise<Record<string, unknown>> {
  const { status, json } = await fetchJson(url, { headers: { accept: 'application/json' } }, opts);
  if (status !== 200) throw new FetchJsonError(`${safeUrl(url)}: HTTP ${status}`);
  if (!isObject(json)) throw new FetchJsonError(`${safeUrl(url)}: expected a JSON object`);
  return json;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readCapped(
  res: Response,
  maxBytes: number,
  where: string,
  timeoutMs: number,
): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new FetchJsonError(`${where}: response larger than ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        await res.body.cancel().catch(() => {});
        throw new FetchJsonError(`${where}: response larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof FetchJsonError) throw err;
    throw new FetchJsonError(`${where}: ${describeFetchError(err, timeoutMs)}`, { cause: err });
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  const name = (err as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = (err as { cause?: { code?: string } } | null)?.cause;
  return cause?.code ? `request failed (${cause.code})` : 'request failed';
}

/** The URL without query or credentials, for error messages. */
export function safeUrl(url: string): string {
  const u = URL.parse(url);
  return u ? `${u.origin}${u.pathname}` : 'invalid URL';
}
