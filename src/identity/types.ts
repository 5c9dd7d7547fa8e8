/** An authenticated caller, as the session pipeline and policy see it. */
export interface Identity {
  readonly kind: 'token' | 'oidc';
  /** Agent or purpose name for tokens; subject/email for OIDC. */
  readonly name: string;
  /** The named human who owns this identity. */
  readonly owner: string;
  readonly groups: readonly string[];
  readonly tokenId?: string;
  readonly expiresAt?: number;
}

/** A stored Airlock token. The secret itself is never stored, only its SHA-256. */
export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly groups: readonly string[];
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
      readonly reason: 'malformed' | 'unknown' | 'expired' | 'revoked' | 'mismatch';
      readonly tokenId?: string;
    };
