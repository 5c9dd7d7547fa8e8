/**
 * Claim checks on a signature-verified ID token payload (RFC 7519 §4.1, OIDC Core §3.1.3.7),
 * each done explicitly here rather than left to a library default.
 */
import type { OidcIssuerConfig } from './config.ts';
import type { VerifiedClaims } from './verifier.ts';

export const MAX_GROUPS = 256;
export const MAX_GROUP_LENGTH = 256;

export type ClaimsCheck =
  | { readonly ok: true; readonly claims: VerifiedClaims }
  | { readonly ok: false; readonly reason: string };

type Payload = Readonly<Record<string, unknown>>;

/**
 * Validates `iss`, `aud`, `exp`, `nbf`, `iat`, `sub`, the username and the groups claims.
 *
 * @example
 * checkClaims(payload, cfg, Date.now()); // { ok: false, reason: 'expired' }
 */
export function checkClaims(payload: Payload, cfg: OidcIssuerConfig, now: number): ClaimsCheck {
  if (payload.iss !== cfg.issuer) return fail('unknown issuer');
  const audience = audienceOf(payload.aud);
  if (typeof audience === 'string') return fail(audience);
  if (!audience.some((a) => cfg.audiences.includes(a))) return fail('wrong audience');
  const times = checkTimes(payload, cfg.clockSkewMs, now);
  if (typeof times === 'string') return fail(times);
  const subject = requiredString(payload, 'sub');
  if (!subject.ok) return fail(subject.reason);
  const username = requiredString(payload, cfg.usernameClaim);
  if (!username.ok) return fail(username.reason);
  const groups = groupsOf(claimAt(payload, cfg.groupsClaim));
  if (!groups) return fail('bad claim groups');
  const claims: VerifiedClaims = {
    issuer: cfg.issuer,
    subject: subject.value,
    username: username.value,
    groups,
    audience,
    ...times,
    ...(typeof payload.jti === 'string' && { jwtId: payload.jti }),
    ...(typeof payload.nonce === 'string' && { nonce: payload.nonce }),
  };
  return { ok: true, claims };
}

function fail(reason: string): ClaimsCheck {
  return { ok: false, reason };
}

function audienceOf(aud: unknown): string[] | string {
  if (aud === undefined) return 'missing claim aud';
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')) return aud;
  return 'bad claim aud';
}

function checkTimes(
  payload: Payload,
  skew: number,
  now: number,
): { issuedAt: number; expiresAt: number } | string {
  const exp = numericDate(payload, 'exp');
  if (typeof exp !== 'number') return exp ?? 'missing claim exp';
  const iat = numericDate(payload, 'iat');
  if (typeof iat !== 'number') return iat ?? 'missing claim iat';
  const nbf = numericDate(payload, 'nbf');
  if (typeof nbf === 'string') return nbf;
  if (!(now < exp + skew)) return 'expired';
  if (nbf !== undefined && !(now >= nbf - skew)) return 'not yet valid';
  if (!(iat <= now + skew)) return 'issued in the future';
  return { issuedAt: iat, expiresAt: exp };
}

/** A NumericDate (seconds) as milliseconds, undefined when absent, or why it is not a number. */
function numericDate(payload: Payload, name: string): number | string | undefined {
  const v = payload[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) return `bad claim ${name}`;
  return v * 1000;
}

function requiredString(
  payload: Payload,
  name: string,
): { ok: true; value: string } | { ok: false; reason: string } {
  const v = payload[name];
  if (v === undefined || v === null) return { ok: false, reason: `missing claim ${name}` };
  if (typeof v !== 'string' || v === '') return { ok: false, reason: `bad claim ${name}` };
  return { ok: true, value: v };
}

/** An exact top-level claim first; only when absent and the name has dots, a nested path. */
export function claimAt(payload: Payload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.includes('.')) return undefined;
  let node: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function groupsOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > MAX_GROUPS) return undefined;
  const ok = list.every((g) => typeof g === 'string' && g !== '' && g.length <= MAX_GROUP_LENGTH);
  return ok ? [...(list as string[])] : undefined;
}
