/**
 * OpenID Provider metadata (OpenID Connect Discovery 1.0).
 * https://openid.net/specs/openid-connect-discovery-1_0.html
 */
import { isSecureOrLoopback } from './config.ts';
import { FetchJsonError, type FetchOptions, fetchJsonObject } from './fetch-json.ts';

export interface ProviderMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly authorizationEndpoint?: string;
  readonly tokenEndpoint?: string;
}

/**
 * §4: "If the Issuer value contains a path component, any terminating / MUST be removed before
 * appending /.well-known/openid-configuration."
 *
 * @example
 * discoveryUrl('https://idp.example.com/realms/x/'); // 'https://idp.example.com/realms/x/.well-known/openid-configuration'
 */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/**
 * Fetches and checks the metadata of `issuer`. Throws a FetchJsonError on any problem.
 *
 * @example
 * const meta = await discover('https://idp.example.com');
 * meta.jwksUri; // 'https://idp.example.com/jwks'
 */
export async function discover(issuer: string, opts: FetchOptions = {}): Promise<ProviderMetadata> {
  const doc = await fetchJsonObject(discoveryUrl(issuer), opts);
  // §4.3: "The issuer value returned MUST be identical to the Issuer URL that was used as the
  // prefix to /.well-known/openid-configuration to retrieve the configuration information."
  if (doc.issuer !== issuer) {
    throw new FetchJsonError(`discovery for ${issuer} names a different issuer`);
  }
  const jwksUri = endpoint(doc, 'jwks_uri', issuer);
  if (jwksUri === undefined) throw new FetchJsonError(`discovery for ${issuer} has no jwks_uri`);
  const authorizationEndpoint = endpoint(doc, 'authorization_endpoint', issuer);
  const tokenEndpoint = endpoint(doc, 'token_endpoint', issuer);
  return {
    issuer,
    jwksUri,
    ...(authorizationEndpoint !== undefined && { authorizationEndpoint }),
    ...(tokenEndpoint !== undefined && { tokenEndpoint }),
  };
}

function endpoint(doc: Record<string, unknown>, key: string, issuer: string): string | undefined {
  const value = doc[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !isSecureOrLoopback(value)) {
    throw new FetchJsonError(`discovery for ${issuer}: ${key} must be an https URL`);
  }
  return value;
}
