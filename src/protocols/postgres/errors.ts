/**
 * GatewayError → PostgreSQL ErrorResponse. The kind picks the SQLSTATE; only `clientMessage`
 * crosses the wire.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
import type { ErrorKind, GatewayError, GatewayErrorCode } from '../../errors.ts';
import type { NoticeFields } from './codec/messages.ts';
import { encodeErrorResponse } from './codec/serializer.ts';

const SQLSTATE_BY_KIND: Record<ErrorKind, string> = {
  denied: '42501', // insufficient_privilege
  unauthenticated: '28000', // invalid_authorization_specification
  invalid: '08P01', // protocol_violation
  unavailable: '08006', // connection_failure
  timeout: '57014', // query_canceled
  internal: 'XX000', // internal_error
};

const SQLSTATE_BY_CODE: Partial<Record<GatewayErrorCode, string>> = {
  GW_AUDIT_UNAVAILABLE: '57P03', // cannot_connect_now
  GW_SESSION_SHUTTING_DOWN: '57P01', // admin_shutdown
  GW_SESSION_REVOKED: '57P01', // admin_shutdown, as pg_terminate_backend
  GW_CONNECTION_UNKNOWN: '3D000', // invalid_catalog_name
  GW_PROTOCOL_UNSUPPORTED: '0A000', // feature_not_supported
};

export function sqlstateFor(err: GatewayError): string {
  return SQLSTATE_BY_CODE[err.code] ?? SQLSTATE_BY_KIND[err.kind];
}

/**
 * Statement-level errors (`fatal: false`) leave the session usable; session-level ones end it.
 *
 * @example
 * socket.write(encodeGatewayError(new GatewayError('GW_POLICY_DENIED', 'no'), { fatal: false }));
 */
export function errorFields(err: GatewayError, opts: { fatal: boolean }): NoticeFields {
  const severity = opts.fatal ? 'FATAL' : 'ERROR';
  return {
    S: severity,
    V: severity,
    C: sqlstateFor(err),
    M: err.clientMessage,
    H: `airlock error code ${err.code}`,
  };
}

export function encodeGatewayError(err: GatewayError, opts: { fatal: boolean }): Uint8Array {
  return encodeErrorResponse(errorFields(err, opts));
}
