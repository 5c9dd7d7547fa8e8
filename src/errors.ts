/**
 * One error type for the whole gateway. Every error that can reach a client is a GatewayError with
 * a stable `GW_<AREA>_<WHAT>` code, one of six kinds, and a client-safe message. Each protocol maps
 * the kind to its own wire format (see protocols/postgres/errors.ts). Anything else is `internal`.
 *
 * @example
 * throw new GatewayError('GW_AUTH_TOKEN_INVALID', 'unauthenticated', 'token is not valid');
 */
export const ERROR_KINDS = [
  'denied',
  'unauthenticated',
  'invalid',
  'unavailable',
  'timeout',
  'internal',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Every code the gateway can raise; docs/errors.md lists each one (checked by a test). */
export const ERROR_CODES = {
  GW_AUTH_TOKEN_INVALID: 'unauthenticated',
  GW_AUTH_TOKEN_EXPIRED: 'unauthenticated',
  GW_AUTH_TOKEN_REVOKED: 'unauthenticated',
  GW_AUTH_PASSWORD_MISSING: 'unauthenticated',
  GW_AUTH_TLS_REQUIRED: 'unauthenticated',
  GW_AUTH_SCRAM_FAILED: 'unauthenticated',
  GW_AUTH_USER_DISABLED: 'unauthenticated',
  GW_AUTH_IDP_UNAVAILABLE: 'unavailable',
  GW_AUTH_ACCESS_DENIED: 'denied',
  GW_AUTH_FORBIDDEN: 'denied',
  GW_CONNECTION_UNKNOWN: 'unauthenticated',
  GW_POLICY_DENIED: 'denied',
  GW_REVIEW_DENIED: 'denied',
  GW_REVIEW_EXPIRED: 'denied',
  GW_REVIEW_CANCELLED: 'denied',
  GW_REVIEW_SELF_APPROVAL: 'denied',
  GW_REVIEW_NOT_ELIGIBLE: 'denied',
  GW_REVIEW_UNKNOWN: 'invalid',
  GW_REVIEW_CLOSED: 'invalid',
  GW_SESSION_UNKNOWN: 'invalid',
  GW_RECORDING_UNKNOWN: 'invalid',
  GW_RECORDING_ALTERED: 'unavailable',
  GW_RECORDING_TOO_LARGE: 'invalid',
  GW_AUDIT_UNAVAILABLE: 'unavailable',
  GW_MASKING_FAILED: 'unavailable',
  GW_UPSTREAM_UNAVAILABLE: 'unavailable',
  GW_UPSTREAM_AUTH_FAILED: 'unavailable',
  GW_UPSTREAM_TLS_FAILED: 'unavailable',
  GW_UPSTREAM_CLOSED: 'unavailable',
  GW_UPSTREAM_HOST_KEY_MISMATCH: 'unavailable',
  GW_SSH_RECORDING_FAILED: 'unavailable',
  GW_SSH_KEY_UNKNOWN: 'invalid',
  GW_UPSTREAM_TIMEOUT: 'timeout',
  GW_UPSTREAM_MALFORMED: 'unavailable',
  GW_BUDGET_EXCEEDED: 'denied',
  GW_HTTP_NOT_FOUND: 'invalid',
  GW_PROTOCOL_FRAME_TOO_LARGE: 'invalid',
  GW_PROTOCOL_MALFORMED: 'invalid',
  GW_PROTOCOL_UNSUPPORTED: 'invalid',
  GW_PROTOCOL_UNEXPECTED_MESSAGE: 'invalid',
  GW_SESSION_STARTUP_TIMEOUT: 'timeout',
  GW_SESSION_SHUTTING_DOWN: 'unavailable',
  GW_SESSION_REVOKED: 'unauthenticated',
  GW_CONFIG_INVALID: 'invalid',
  GW_INTERNAL: 'internal',
} as const satisfies Record<string, ErrorKind>;
export type GatewayErrorCode = keyof typeof ERROR_CODES;

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly kind: ErrorKind;
  /** The only text that may cross the wire to a client. */
  readonly clientMessage: string;

  constructor(code: GatewayErrorCode, clientMessage: string, options?: { cause?: unknown }) {
    super(`${code}: ${clientMessage}`, options);
    this.name = 'GatewayError';
    this.code = code;
    this.kind = ERROR_CODES[code];
    this.clientMessage = clientMessage;
  }
}

/**
 * Converts anything thrown into a GatewayError. Foreign errors become `GW_INTERNAL` whose client
 * message names only the session, never the original text.
 *
 * @example
 * const ge = toGatewayError(new Error('boom'), 's-1'); // ge.clientMessage === 'internal error (session s-1)'
 */
export function toGatewayError(err: unknown, sessionId?: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const where = sessionId ? ` (session ${sessionId})` : '';
  return new GatewayError('GW_INTERNAL', `internal error${where}`, { cause: err });
}
