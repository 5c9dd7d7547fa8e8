/**
 * One OIDC issuer from airlock.yaml: which IdP may sign the ID tokens that callers present as a
 * password, which audiences and algorithms are accepted, and how the CLI logs in to it.
 */
import { z } from 'zod';
import { secretField } from '../../config/fields.ts';
import type { Secret } from '../../config/secret.ts';

/** Asymmetric JWS algorithms only: `none` and HS* can never be configured (alg confusion). */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

export const DEFAULT_OIDC_ALGORITHMS: readonly OidcAlgorithm[] = [
  'RS256',
  'PS256',
  'ES256',
  'EdDSA',
];
/** What real IdPs commonly allow; add `groups` where the IdP defines that scope (Okta). */
export const DEFAULT_OIDC_SCOPES: readonly string[] = [
  'openid',
  'email',
  'profile',
  'offline_access',
];

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** True when `url` is https, or plain http on a loopback host (tests, local IdPs). */
export function isSecureOrLoopback(url: string): boolean {
  const parsed = URL.parse(url);
  if (!parsed) return false;
  if (parsed.protocol === 'https:') return true;
  return parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname);
}

/** Why `s` cannot be an issuer identifier, or undefined. */
function issuerProblem(s: string): string | undefined {
  const url = URL.parse(s);
  if (!url) return 'expected an absolute URL, e.g. https://idp.example.com';
  if (!isSecureOrLoopback(s)) {
    return 'issuer must use https (plain http only for 127.0.0.1, ::1 or localhost)';
  }
  if (url.search !== '' || url.hash !== '') return 'issuer must not contain a query or fragment';
  return undefined;
}

const issuerUrl = z.string().superRefine((s, ctx) => {
  const message = issuerProblem(s);
  if (message) ctx.addIssue({ code: 'custom', message });
});

const algorithm = z.enum(OIDC_ALGORITHMS, {
  error: () => `only asymmetric algorithms are allowed: ${OIDC_ALGORITHMS.join(', ')}`,
});

const nonEmpty = z.string().min(1);

/** One entry of `oidc.issuers` in airlock.yaml. */
export const oidcIssuerSchema = z.strictObject({
  issuer: issuerUrl,
  audience: z.union([nonEmpty, z.array(nonEmpty).min(1)]),
  /** Exact top-level claim first; if absent and the name has dots, a path like `realm_access.roles`. */
  groups_claim: nonEmpty.default('groups'),
  username_claim: nonEmpty.default('email'),
  algorithms: z
    .array(algorithm)
    .min(1)
    .default([...DEFAULT_OIDC_ALGORITHMS]),
  clock_skew_seconds: z.number().min(0).max(300).default(60),
  max_token_bytes: z.number().int().min(1024).max(65_536).default(8192),
  /** Least time between two JWKS fetches caused by an unknown `kid`. */
  jwks_min_refresh_seconds: z.number().min(0).default(30),
  /** Keys older than this are fetched again (stale keys keep working if that fails). */
  jwks_max_age_seconds: z.number().min(0).default(3600),
  client_id: nonEmpty.optional(),
  client_secret: secretField.optional(),
  scopes: z
    .array(nonEmpty)
    .min(1)
    .default([...DEFAULT_OIDC_SCOPES]),
  /** Port of the CLI's loopback redirect (RFC 8252 §7.3); 0 picks a free one. */
  redirect_port: z.number().int().min(0).max(65_535).default(0),
});
export type OidcIssuerInput = z.input<typeof oidcIssuerSchema>;
export type OidcIssuerParsed = z.output<typeof oidcIssuerSchema>;

/** An issuer as the verifier and the CLI login use it: camelCase, milliseconds. */
export interface OidcIssuerConfig {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly groupsClaim: string;
  readonly usernameClaim: string;
  readonly algorithms: readonly OidcAlgorithm[];
  readonly clockSkewMs: number;
  readonly maxTokenBytes: number;
  readonly jwksMinRefreshMs: number;
  readonly jwksMaxAgeMs: number;
  readonly clientId?: string;
  readonly clientSecret?: Secret;
  readonly scopes: readonly string[];
  readonly redirectPort: number;
}

/**
 * Maps a parsed YAML entry to the runtime shape.
 *
 * @example
 * const cfg = toIssuerConfig(oidcIssuerSchema.parse({ issuer: 'https://idp.example.com', audience: 'airlock' }));
 * cfg.audiences; // ['airlock']
 */
export function toIssuerConfig(parsed: OidcIssuerParsed): OidcIssuerConfig {
  return {
    issuer: parsed.issuer,
    audiences: typeof parsed.audience === 'string' ? [parsed.audience] : [...parsed.audience],
    groupsClaim: parsed.groups_claim,
    usernameClaim: parsed.username_claim,
    algorithms: [...new Set(parsed.algorithms)],
    clockSkewMs: parsed.clock_skew_seconds * 1000,
    maxTokenBytes: parsed.max_token_bytes,
    jwksMinRefreshMs: parsed.jwks_min_refresh_seconds * 1000,
    jwksMaxAgeMs: parsed.jwks_max_age_seconds * 1000,
    ...(parsed.client_id !== undefined && { clientId: parsed.client_id }),
    ...(parsed.client_secret !== undefined && { clientSecret: parsed.client_secret }),
    scopes: [...parsed.scopes],
    redirectPort: parsed.redirect_port,
  };
}

/**
 * Validates one YAML entry and maps it; throws a ZodError on bad input.
 *
 * @example
 * parseIssuerConfig({ issuer: 'http://127.0.0.1:8080', audience: ['airlock', 'cli'] });
 */
export function parseIssuerConfig(input: OidcIssuerInput): OidcIssuerConfig {
  return toIssuerConfig(oidcIssuerSchema.parse(input));
}
