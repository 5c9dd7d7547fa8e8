/**
 * The OIDC sign-in (the CLI's, and the pieces the web console reuses, src/console/login.ts): authorization code flow with PKCE (RFC 7636) through a loopback redirect
 * (RFC 8252), then the refresh_token grant to keep the ID token fresh. The ID token is checked by
 * the same OidcVerifier the gateway uses, with the client_id as audience, plus the nonce.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { OidcIssuerConfig } from './config.ts';
import { discover, type ProviderMetadata } from './discovery.ts';
import { DEFAULT_FETCH_TIMEOUT_MS, type FetchOptions, fetchJson, isObject } from './fetch-json.ts';
import { listenForCallback, sameSecret } from './loopback-callback.ts';
import { OidcVerifier, type VerifiedClaims } from './verifier.ts';

export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;

/** What `airlock login` keeps per issuer in the credentials file. */
export interface OidcCredential {
  readonly issuer: string;
  readonly idToken: string;
  readonly accessToken?: string;
  readonly refreshToken?: string;
  /** The ID token's `exp`, in milliseconds. */
  readonly expiresAt: number;
  readonly username: string;
}

export interface LoginOptions {
  /** Shows or opens the authorization URL; the user's browser takes it from there. */
  readonly openUrl: (url: string) => void;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly clock?: () => number;
}

export interface RefreshOptions {
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly clock?: () => number;
}

export class OidcLoginError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OidcLoginError';
  }
}

/**
 * Signs the user in through their browser and returns a verified credential.
 *
 * @example
 * const cred = await loginWithPkce(cfg, { openUrl: (url) => console.error(`open ${url}`) });
 * cred.username; // 'alice@example.com'
 */
export async function loginWithPkce(
  cfg: OidcIssuerConfig,
  opts: LoginOptions,
): Promise<OidcCredential> {
  const clientId = requireClientId(cfg);
  // opts.timeoutMs bounds the whole sign-in; each request to the IdP has the usual fetch timeout
  const net: RefreshOptions = {
    ...(opts.fetch && { fetch: opts.fetch }),
    ...(opts.clock && { clock: opts.clock }),
  };
  const meta = await endpoints(cfg, net);
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  const callback = await listenForCallback(cfg.redirectPort, state, timeoutMs);
  try {
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const params = { clientId, redirectUri: callback.redirectUri, state, nonce, challenge };
    opts.openUrl(authorizeUrl(cfg, meta, params));
    const { params: answer, finish } = await callback.result;
    try {
      const code = codeFrom(answer, cfg.issuer);
      const body = { grant_type: 'authorization_code', code, redirect_uri: callback.redirectUri };
      const tokens = await tokenRequest(cfg, meta, { ...body, code_verifier: verifier }, net);
      const cred = await credentialFrom(cfg, tokens, net, (claims) => checkNonce(claims, nonce));
      finish(true, `Signed in as ${cred.username}. You can close this window.`);
      return cred;
    } catch (err) {
      finish(false, 'Sign-in did not complete; see the terminal for details.');
      throw err;
    }
  } finally {
    callback.close();
  }
}

/**
 * Uses the refresh token for a new ID token. Keeps the old refresh token if none is returned.
 *
 * @example
 * const fresh = await refreshCredential(cfg, cred);
 */
export async function refreshCredential(
  cfg: OidcIssuerConfig,
  cred: OidcCredential,
  opts: RefreshOptions = {},
): Promise<OidcCredential> {
  if (!cred.refreshToken) throw new OidcLoginError('no refresh token: sign in again');
  const meta = await endpoints(cfg, opts);
  const body = { grant_type: 'refresh_token', refresh_token: cred.refreshToken };
  const tokens = await tokenRequest(cfg, meta, body, opts);
  const fresh = await credentialFrom(cfg, tokens, opts, (claims) => sameSubject(claims, cred));
  return fresh.refreshToken ? fresh : { ...fresh, refreshToken: cred.refreshToken };
}

function requireClientId(cfg: OidcIssuerConfig): string {
  if (!cfg.clientId) throw new OidcLoginError(`issuer ${cfg.issuer} has no client_id for login`);
  return cfg.clientId;
}

export type Endpoints = ProviderMetadata & { authorizationEndpoint: string; tokenEndpoint: string };

export async function endpoints(cfg: OidcIssuerConfig, opts: FetchOptions): Promise<Endpoints> {
  let meta: ProviderMetadata;
  try {
    meta = await discover(cfg.issuer, fetchOptions(opts));
  } catch (err) {
    throw new OidcLoginError(`cannot reach issuer ${cfg.issuer}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!meta.authorizationEndpoint || !meta.tokenEndpoint) {
    throw new OidcLoginError(`issuer ${cfg.issuer} does not publish its authorization endpoints`);
  }
  return meta as Endpoints;
}

function fetchOptions(opts: FetchOptions): FetchOptions {
  return {
    timeoutMs: opts.timeoutMs === undefined ? DEFAULT_FETCH_TIMEOUT_MS : opts.timeoutMs,
    ...(opts.fetch && { fetch: opts.fetch }),
  };
}

export interface AuthorizeParams {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string;
  readonly nonce: string;
  readonly challenge: string;
}

export function authorizeUrl(cfg: OidcIssuerConfig, meta: Endpoints, p: AuthorizeParams): string {
  const url = new URL(meta.authorizationEndpoint);
  const query = {
    response_type: 'code',
    client_id: p.clientId,
    redirect_uri: p.redirectUri,
    scope: cfg.scopes.join(' '),
    state: p.state,
    nonce: p.nonce,
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  // OIDC Core §11: with offline_access "the prompt parameter MUST contain consent unless other
  // conditions for processing the request permitting offline access to the requested resources
  // are in place"; without it the IdP drops the scope and issues no refresh token.
  if (cfg.scopes.includes('offline_access')) url.searchParams.set('prompt', 'consent');
  return url.href;
}

/** RFC 6749 §4.1.2.1 error, RFC 9207 `iss`, then the code. */
export function codeFrom(params: URLSearchParams, issuer: string): string {
  const error = params.get('error');
  if (error !== null) throw new OidcLoginError(`the IdP refused the sign-in: ${printable(error)}`);
  const iss = params.get('iss');
  if (iss !== null && iss !== issuer) {
    throw new OidcLoginError('the sign-in response names a different issuer');
  }
  const code = params.get('code');
  if (!code) throw new OidcLoginError('the sign-in response carries no authorization code');
  return code;
}

interface TokenResponse {
  readonly idToken: string;
  readonly accessToken?: string;
  readonly refreshToken?: string;
}

/** RFC 6749 §3.2; client_secret_basic (§2.3.1) when a secret is configured, else a public client. */
export async function tokenRequest(
  cfg: OidcIssuerConfig,
  meta: Endpoints,
  params: Record<string, string>,
  opts: FetchOptions,
): Promise<TokenResponse> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  const body = new URLSearchParams(params);
  const clientId = requireClientId(cfg);
  if (cfg.clientSecret) {
    const user = `${formEncode(clientId)}:${formEncode(cfg.clientSecret.reveal())}`;
    headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
  } else {
    body.set('client_id', clientId);
  }
  const init = { method: 'POST', headers, body: body.toString() };
  const { status, json } = await fetchJson(meta.tokenEndpoint, init, fetchOptions(opts));
  return tokenResponse(status, json);
}

function tokenResponse(status: number, json: unknown): TokenResponse {
  if (!isObject(json)) throw new OidcLoginError(`token endpoint: HTTP ${status} without JSON`);
  if (status !== 200) {
    const error = typeof json.error === 'string' ? printable(json.error) : 'unknown error';
    throw new OidcLoginError(`token endpoint refused the request (HTTP ${status}): ${error}`);
  }
  if (typeof json.id_token !== 'string') {
    throw new OidcLoginError('token endpoint returned no ID token: sign in again');
  }
  return {
    idToken: json.id_token,
    ...(typeof json.access_token === 'string' && { accessToken: json.access_token }),
    ...(typeof json.refresh_token === 'string' && { refreshToken: json.refresh_token }),
  };
}

/** Verifies the ID token (audience: our client_id), runs `extra`, and builds the credential. */
export async function credentialFrom(
  cfg: OidcIssuerConfig,
  tokens: TokenResponse,
  opts: RefreshOptions,
  extra: (claims: VerifiedClaims) => void,
): Promise<OidcCredential> {
  const idp = new OidcVerifier([{ ...cfg, audiences: [requireClientId(cfg)] }], {
    timeoutMs: opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    ...(opts.fetch && { fetch: opts.fetch }),
    ...(opts.clock && { clock: opts.clock }),
  });
  const result = await idp.verify(tokens.idToken);
  if (!result.ok) throw new OidcLoginError(`the IdP's ID token was refused: ${result.reason}`);
  extra(result.claims);
  return {
    issuer: cfg.issuer,
    idToken: tokens.idToken,
    ...(tokens.accessToken !== undefined && { accessToken: tokens.accessToken }),
    ...(tokens.refreshToken !== undefined && { refreshToken: tokens.refreshToken }),
    expiresAt: result.claims.expiresAt,
    username: result.claims.username,
  };
}

/** OIDC Core §3.1.3.7 step 11: the nonce must be the one we sent. */
export function checkNonce(claims: VerifiedClaims, nonce: string): void {
  if (claims.nonce === undefined || !sameSecret(claims.nonce, nonce)) {
    throw new OidcLoginError("the IdP's ID token was refused: nonce mismatch");
  }
}

/** OIDC Core §12.2: the refreshed ID token's `sub` "MUST be the same" as the original one's. */
function sameSubject(claims: VerifiedClaims, cred: OidcCredential): void {
  let sub: unknown;
  try {
    sub = decodeJwt(cred.idToken).sub;
  } catch {
    sub = undefined;
  }
  if (sub !== claims.subject) {
    throw new OidcLoginError('the refreshed ID token is for a different user: sign in again');
  }
}

/** RFC 6749 Appendix B: client_id and secret are form-encoded before Basic. */
function formEncode(s: string): string {
  return new URLSearchParams({ s }).toString().slice(2);
}

/** An IdP error code for a message: printable ASCII, short. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
}
