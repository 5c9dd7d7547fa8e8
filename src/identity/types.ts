export const ROLES = ['admin', 'approver', 'auditor', 'user'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller, as the session pipeline and policy see it. */
export interface Identity {
  readonly kind: 'token' | 'oidc';
  /** Agent name for tokens; the username claim (e.g. email) for OIDC. */
  readonly name: string;
  /** The named human who owns this identity. */
  readonly owner: string;
  readonly groups: readonly string[];
  /** Airlock roles from the configured group mapping. */
  readonly roles: readonly Role[];
  readonly tokenId?: string;
  /** For OIDC: the issuer and subject the IdP vouched for. */
  readonly issuer?: string;
  readonly subject?: string;
  /** When the credential stops being valid (ms); live sessions end then. */
  readonly expiresAt?: number;
  /** The registered SSH key (fingerprint) it authenticated with, if any. */
  readonly sshKey?: string;
}

/** How a token's owner was established: proven with their IdP token, or typed by an operator. */
export type OwnerProof = 'oidc' | 'operator';

/** A human who was offboarded (or let back in). */
export interface UserRecord {
  readonly name: string;
  readonly disabledAt: number | null;
  readonly disabledBy: string | null;
  readonly reason: string | null;
  readonly updatedAt: number;
}

/** Why a known token can no longer be used. */
export type InvalidReason = 'revoked' | 'expired' | 'owner disabled';

/** A stored Airlock token. The secret itself is never stored, only its SHA-256. */
export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly groups: readonly string[];
  readonly purpose: string;
  readonly ownerProof: OwnerProof;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

/** SCRAM-SHA-256 verifier (RFC 5802/7677) derived from the token at creation. */
export interface ScramVerifier {
  readonly salt: string;
  readonly iterations: number;
  readonly storedKey: string;
  readonly serverKey: string;
}

export type TokenCheck =
  | { readonly ok: true; readonly token: TokenRecord }
  | {
      readonly ok: false;
      readonly reason: 'malformed' | 'unknown' | 'mismatch' | InvalidReason;
      readonly tokenId?: string;
    };
