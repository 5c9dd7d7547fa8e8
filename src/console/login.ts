/**
 * Console sign-in: OIDC authorization code + PKCE (RFC 7636) with the gateway as the redirect
 * target, built from the CLI login's pieces (identity/oidc/login.ts). The verifier and nonce stay
 * on the server, keyed by the SHA-256 of `state`; a short-lived SameSite=Lax cookie binds the
 * flow to the browser that started it (login CSRF). The ID token is checked twice: by the login
 * verifier (audience = client_id, nonce) and by the gateway's authenticator (roles, disabled users);
 * it is then dropped: the console session holds only the identity.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OidcIssuerConfig } from '../identity/oidc/config.ts';
import {
  authorizeUrl,
  checkNonce,
  codeFrom,
  credentialFrom,
  endpoints,
  tokenRequest,
} from '../identity/oidc/login.ts';
import type { Identity } from '../identity/types.ts';
import { sameValue } from './sessions.ts';

export const LOGIN_COOKIE = 'airlock_login';
const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 1000;

interface Pending {
  readonly verifier: string;
  readonly nonce: string;
  readonly binding: string;
  readonly redirectUri: string;
  readonly returnTo: string;
  readonly at: number;
}

export interface LoginDeps {
  readonly issuer: OidcIssuerConfig;
  /** The gateway's own check of the ID token: roles from groups, disabled users refused. */
  readonly authenticate: (idToken: string) => Promise<Identity | string>;
  readonly clock: () => number;
  readonly fetch?: typeof fetch;
}

export class ConsoleLogin {
  readonly #deps: LoginDeps;
  readonly #pending = new Map<string, Pending>();

  constructor(deps: LoginDeps) {
    this.#deps = deps;
  }

  get issuer(): string {
    return this.#deps.issuer.issuer;
  }

  /** Where to send the browser, and the binding cookie's value. */
  async begin(redirectUri: string, returnTo: string): Promise<{ url: string; binding: string }> {
    const cfg = this.#deps.issuer;
    const meta = await endpoints(cfg, this.#net());
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(24).toString('base64url');
    const nonce = randomBytes(16).toString('base64url');
    const binding = randomBytes(24).toString('base64url');
    this.#prune();
    this.#pending.set(hash(state), {
      verifier,
      nonce,
      binding,
      redirectUri,
      returnTo: safeReturnTo(returnTo),
      at: this.#deps.clock(),
    });
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const clientId = cfg.clientId ?? '';
    const url = authorizeUrl(cfg, meta, { clientId, redirectUri, state, nonce, challenge });
    return { url, binding };
  }

  /** Completes the flow; resolves with the identity and where to go, or throws an Error. */
  async finish(
    params: URLSearchParams,
    binding: string | undefined,
  ): Promise<{ identity: Identity; returnTo: string }> {
    const state = params.get('state') ?? '';
    const key = hash(state);
    const p = this.#pending.get(key);
    this.#pending.delete(key);
    if (!p || this.#deps.clock() - p.at > PENDING_TTL_MS) {
      throw new Error('this sign-in expired or was already used: start again');
    }
    if (binding === undefined || !sameValue(binding, p.binding)) {
      throw new Error('this sign-in was started in another browser: start again');
    }
    const cfg = this.#deps.issuer;
    const code = codeFrom(params, cfg.issuer);
    const net = this.#net();
    const meta = await endpoints(cfg, net);
    const form = { grant_type: 'authorization_code', code, redirect_uri: p.redirectUri };
    const tokens = await tokenRequest(cfg, meta, { ...form, code_verifier: p.verifier }, net);
    const cred = await credentialFrom(cfg, tokens, net, (claims) => checkNonce(claims, p.nonce));
    const identity = await this.#deps.authenticate(cred.idToken);
    if (typeof identity === 'string') throw new Error(`sign-in refused: ${identity}`);
    return { identity, returnTo: p.returnTo };
  }

  #net() {
    return { clock: this.#deps.clock, ...(this.#deps.fetch && { fetch: this.#deps.fetch }) };
  }

  #prune(): void {
    const now = this.#deps.clock();
    for (const [k, p] of this.#pending) if (now - p.at > PENDING_TTL_MS) this.#pending.delete(k);
    while (this.#pending.size >= MAX_PENDING) {
      const first = this.#pending.keys().next().value;
      if (first === undefined) break;
      this.#pending.delete(first);
    }
  }
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Only a local path: never `//host` or a scheme (open redirect). */
export function safeReturnTo(path: string): string {
  return /^\/(?![/\\])[\w\-./?=&%]*$/.test(path) ? path : '/';
}
