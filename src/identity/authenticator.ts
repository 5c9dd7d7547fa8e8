/**
 * Turns what a client presents (an Airlock token as a password, or a SCRAM exchange keyed by the
 * token id) into an Identity. OIDC JWTs plug in here in the identity issue.
 */
import type { Identity, ScramVerifier, TokenCheck, TokenRecord } from './types.ts';

export type AuthResult =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly reason: string; readonly tokenId?: string };

/** The token store as the authenticator needs it. */
export interface TokenVerifier {
  verify(token: string, now?: number): TokenCheck;
  get(id: string): TokenRecord | undefined;
  scramVerifier(id: string): ScramVerifier | undefined;
}

export interface Authenticator {
  /** Checks a bearer secret presented as a password. */
  verifySecret(secret: string): AuthResult;
  /** For SCRAM: the verifier when `user` names a token id, else undefined. */
  scramVerifier(user: string): ScramVerifier | undefined;
  /** After a successful SCRAM proof: the identity, if the token is still valid. */
  identityForTokenId(id: string): AuthResult;
}

const TOKEN_ID = /^[a-z0-9]{12}$/;

/**
 * @example
 * const auth = tokenAuthenticator(tokenStore, Date.now);
 * const r = auth.verifySecret(password);
 */
export function tokenAuthenticator(store: TokenVerifier, clock: () => number): Authenticator {
  return {
    verifySecret(secret) {
      const check = store.verify(secret, clock());
      if (!check.ok) return { ok: false, reason: `token ${check.reason}`, ...idOf(check.tokenId) };
      return { ok: true, identity: identityOf(check.token) };
    },
    scramVerifier(user) {
      return TOKEN_ID.test(user) ? store.scramVerifier(user) : undefined;
    },
    identityForTokenId(id) {
      const t = store.get(id);
      const now = clock();
      if (!t) return { ok: false, reason: 'token unknown', tokenId: id };
      if (t.revokedAt !== null) return { ok: false, reason: 'token revoked', tokenId: id };
      if (t.expiresAt <= now) return { ok: false, reason: 'token expired', tokenId: id };
      return { ok: true, identity: identityOf(t) };
    },
  };
}

function idOf(tokenId: string | undefined): { tokenId?: string } {
  return tokenId ? { tokenId } : {};
}

function identityOf(t: TokenRecord): Identity {
  return {
    kind: 'token',
    name: t.name,
    owner: t.owner,
    groups: t.groups,
    tokenId: t.id,
    expiresAt: t.expiresAt,
  };
}
