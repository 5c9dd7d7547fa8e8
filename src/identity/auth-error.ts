/** What a caller is told when its credential is refused, whatever protocol it came in on. */
import { GatewayError } from '../errors.ts';

/**
 * Expired and revoked credentials and disabled users are named so the human knows what to do; an
 * unreachable IdP is retryable; anything else is a generic failure (the ledger has the reason).
 *
 * @example
 * authError('token revoked').code; // 'GW_AUTH_TOKEN_REVOKED'
 */
export function authError(reason: string): GatewayError {
  if (reason === 'token expired' || reason === 'oidc expired') {
    return new GatewayError('GW_AUTH_TOKEN_EXPIRED', 'authentication failed: token expired');
  }
  if (reason === 'token revoked') {
    return new GatewayError('GW_AUTH_TOKEN_REVOKED', 'authentication failed: token revoked');
  }
  if (reason === 'user disabled' || reason === 'token owner disabled') {
    return new GatewayError('GW_AUTH_USER_DISABLED', 'authentication failed: user disabled');
  }
  if (reason === 'oidc issuer unavailable') {
    return new GatewayError(
      'GW_AUTH_IDP_UNAVAILABLE',
      'authentication failed: the identity provider is unavailable, retry later',
    );
  }
  return new GatewayError('GW_AUTH_TOKEN_INVALID', 'authentication failed');
}
