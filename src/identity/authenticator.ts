/**
 * Turns what a client presents into an Identity: an Airlock token (as a password, or a SCRAM
 * exchange keyed by the token id) or an OIDC JWT from a configured issuer. Also re-checks live
 * identities, so offboarding and expiry end sessions that are already running.
 */
import { type RoleMapping, rolesFor } from './roles.ts';
import type { SshKeyRecord } from './ssh-keys.ts';
import type { Identity, ScramVerifier, TokenCheck, TokenRecord } from './types.ts';

export type AuthResult =
  | { readonly ok: true; readonly identity: Identity }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly tokenId?: string;
      readonly issuer?: string;
      /** The human the failure concerns, when known (a disabled user, a token's owner). */
      readonly user?: string;
    };

/** The token store as the authenticator needs it. */
export interface TokenVerifier {
  verify(token: string, now?: number): TokenCheck;
  get(id: string): TokenRecord | undefined;
  scramVerifier(id: string): ScramVerifier | undefined;
  invalidity(id: string, now?: number): string | undefined;
  isDisabled(name: string): boolean;
}

/** What the OIDC verifier hands back (see oidc/verifier.ts). */
export interface JwtVerifier {
  verify(token: string): Promise<
    | {
        ok: true;
        claims: {
          issuer: string;
          subject: string;
          username: string;
          groups: string[];
          expiresAt: number;
        };
      }
    | { ok: false; reason: string; issuer?: string }
  >;
}

/** The SSH key store as the authenticator needs it. */
export interface SshKeyLookup {
  get(fingerprint: string): SshKeyRecord | undefined;
  invalidity(fingerprint: string, now?: number): string | undefined;
}

export interface Authenticator {
  /** Checks a bearer secret presented as a password or `Authorization: Bearer`. */
  verifySecret(secret: string): Promise<AuthResult>;
  /** For SCRAM: the verifier when `user` names a token id, else undefined. */
  scramVerifier(user: string): ScramVerifier | undefined;
  /** After a successful SCRAM proof: the identity, if the token is still valid. */
  identityForTokenId(id: string): AuthResult;
  /**
   * A registered SSH key (after its signature was verified): the token it belongs to, or the
   * human with the groups recorded at registration.
   */
  identityForSshKey(fingerprint: string): AuthResult;
  /** Why a live identity may no longer act (revoked, disabled, expired), or undefined. */
  recheck(identity: Identity): string | undefined;
}

export interface AuthenticatorDeps {
  readonly tokens: TokenVerifier;
  readonly clock: () => number;
  readonly roles: RoleMapping;
  /** Absent when no OIDC issuer is configured: JWTs are then refused as malformed tokens. */
  readonly oidc?: JwtVerifier | undefined;
  /** End live sessions when their credential expires (default true). */
  readonly endAtExpiry?: boolean;
  /** Registered SSH keys; without it no key authenticates. */
  readonly sshKeys?: SshKeyLookup | undefined;
}

const TOKEN_ID = /^[a-z2-7]{12}$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * @example
 * const auth = createAuthenticator({ tokens, clock: Date.now, roles: {}, oidc });
 * const r = await auth.verifySecret(password);
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const { tokens, clock } = deps;
  const identityOf = (t: TokenRecord): Identity => ({
    kind: 'token',
    name: t.name,
    owner: t.owner,
    groups: t.groups,
    roles: rolesFor(t.groups, deps.roles),
    tokenId: t.id,
    expiresAt: t.expiresAt,
  });
  return {
    async verifySecret(secret) {
      if (deps.oidc && !secret.startsWith('alk_') && JWT_SHAPE.test(secret)) {
        return verifyJwt(deps, secret);
      }
      const check = tokens.verify(secret, clock());
      if (!check.ok) return tokenFailure(check.reason, check.tokenId, tokens);
      return { ok: true, identity: identityOf(check.token) };
    },
    scramVerifier(user) {
      return TOKEN_ID.test(user) ? tokens.scramVerifier(user) : undefined;
    },
    identityForTokenId(id) {
      const t = tokens.get(id);
      if (!t) return { ok: false, reason: 'token unknown', tokenId: id };
      const invalid = tokens.invalidity(id, clock());
      if (invalid) return tokenFailure(invalid, id, tokens);
      return { ok: true, identity: identityOf(t) };
    },
    identityForSshKey(fingerprint) {
      return sshKeyIdentity(deps, fingerprint, (id) => this.identityForTokenId(id));
    },
    recheck(identity) {
      const now = clock();
      if (identity.sshKey !== undefined) {
        const invalid = deps.sshKeys ? deps.sshKeys.invalidity(identity.sshKey, now) : 'unknown';
        if (invalid) return `ssh key ${invalid}`;
      }
      if (identity.tokenId !== undefined) {
        const invalid = tokens.invalidity(identity.tokenId, now);
        if (invalid) return `token ${invalid}`;
      }
      if (tokens.isDisabled(identity.owner)) return 'user disabled';
      if (deps.endAtExpiry !== false && identity.expiresAt !== undefined) {
        if (now >= identity.expiresAt) return 'credential expired';
      }
      return undefined;
    },
  };
}

function sshKeyIdentity(
  deps: AuthenticatorDeps,
  fingerprint: string,
  forToken: (id: string) => AuthResult,
): AuthResult {
  const keys = deps.sshKeys;
  const key = keys?.get(fingerprint);
  const invalid = keys === undefined ? 'unknown' : keys.invalidity(fingerprint, deps.clock());
  if (key === undefined || invalid !== undefined) {
    return { ok: false, reason: `ssh key ${invalid ?? 'unknown'}` };
  }
  if (key.tokenId !== null) {
    const r = forToken(key.tokenId);
    return r.ok ? { ok: true, identity: { ...r.identity, sshKey: fingerprint } } : r;
  }
  if (deps.tokens.isDisabled(key.owner))
    return { ok: false, reason: 'user disabled', user: key.owner };
  return {
    ok: true,
    identity: {
      kind: 'oidc',
      name: key.owner,
      owner: key.owner,
      groups: key.groups,
      roles: rolesFor(key.groups, deps.roles),
      expiresAt: key.expiresAt,
      sshKey: fingerprint,
    },
  };
}

async function verifyJwt(deps: AuthenticatorDeps, jwt: string): Promise<AuthResult> {
  const result = await (deps.oidc as JwtVerifier).verify(jwt);
  if (!result.ok) {
    return { ok: false, reason: `oidc ${result.reason}`, ...opt('issuer', result.issuer) };
  }
  const c = result.claims;
  if (deps.tokens.isDisabled(c.username)) {
    return { ok: false, reason: 'user disabled', issuer: c.issuer, user: c.username };
  }
  return {
    ok: true,
    identity: {
      kind: 'oidc',
      name: c.username,
      owner: c.username,
      groups: c.groups,
      roles: rolesFor(c.groups, deps.roles),
      issuer: c.issuer,
      subject: c.subject,
      expiresAt: c.expiresAt,
    },
  };
}

/** Failures name the token id and, for a disabled owner, the owner; never the secret. */
function tokenFailure(reason: string, tokenId: string | undefined, tokens: TokenVerifier) {
  const owner = reason === 'owner disabled' && tokenId ? tokens.get(tokenId)?.owner : undefined;
  return {
    ok: false as const,
    reason: `token ${reason}`,
    ...opt('tokenId', tokenId),
    ...opt('user', owner),
  };
}

function opt<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
