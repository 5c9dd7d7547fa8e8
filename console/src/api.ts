// The console's one door to the gateway: same-origin fetches to /api with the session cookie
// (HttpOnly, so never visible here) and the CSRF token from /api/whoami on state-changing calls.

export type Role = 'admin' | 'approver' | 'auditor' | 'user';

export interface Me {
  readonly kind: 'oidc' | 'token';
  readonly name: string;
  readonly owner: string;
  readonly groups: readonly string[];
  readonly roles: readonly Role[];
  readonly expiresAt?: number;
  readonly csrf?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrf = '';

export function setCsrf(token: string | undefined): void {
  csrf = token ?? '';
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-airlock-csrf'] = csrf;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
  const json = (await res.json().catch(() => ({}))) as ErrorBody;
  if (!res.ok) throw apiError(res, json);
  return json as T;
}

/**
 * A GET of something other than JSON (a terminal recording), as text; errors as `api` throws them.
 *
 * @example
 * const cast = await apiText('/audit/sessions/s_1/recording', 'application/x-asciicast');
 */
export async function apiText(path: string, accept: string): Promise<string> {
  const res = await fetch(`/api${path}`, { headers: { accept }, credentials: 'same-origin' });
  if (!res.ok) throw apiError(res, (await res.json().catch(() => ({}))) as ErrorBody);
  return res.text();
}

interface ErrorBody {
  readonly error?: { code: string; message: string };
}

function apiError(res: Response, body: ErrorBody): ApiError {
  return new ApiError(
    res.status,
    body.error?.code ?? 'error',
    body.error?.message ?? res.statusText,
  );
}

export async function logout(): Promise<void> {
  await fetch('/auth/logout', { method: 'POST', headers: { 'x-airlock-csrf': csrf } });
}

export function hasRole(me: Me, ...roles: Role[]): boolean {
  return roles.some((r) => me.roles.includes(r));
}

export function fmtTime(t: string | number | null | undefined): string {
  if (t === null || t === undefined) return '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}
