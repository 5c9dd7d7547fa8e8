/**
 * GatewayError → HTTP. LLM routes answer in the provider's error shape so the client SDK shows
 * the message; other routes answer `application/problem+json` (RFC 9457).
 */
import type { ServerResponse } from 'node:http';
import type { ErrorKind, GatewayError, GatewayErrorCode } from '../../errors.ts';
import type { LlmDialect } from '../llm/types.ts';

const STATUS: Record<ErrorKind, number> = {
  denied: 403,
  unauthenticated: 401,
  invalid: 400,
  unavailable: 502,
  timeout: 504,
  internal: 500,
};

const STATUS_BY_CODE: Partial<Record<GatewayErrorCode, number>> = {
  GW_BUDGET_EXCEEDED: 429,
  GW_CONNECTION_UNKNOWN: 404,
  GW_HTTP_NOT_FOUND: 404,
  GW_PROTOCOL_FRAME_TOO_LARGE: 413,
  GW_AUDIT_UNAVAILABLE: 503,
  GW_SESSION_SHUTTING_DOWN: 503,
  GW_AUTH_IDP_UNAVAILABLE: 503,
};

/** The error `type` the providers' SDKs know (Anthropic's names; OpenAI's SDK reads the status). */
const PROVIDER_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  503: 'overloaded_error',
};

/**
 * @example
 * statusOf(new GatewayError('GW_BUDGET_EXCEEDED', '...')); // 429
 */
export function statusOf(err: GatewayError): number {
  return STATUS_BY_CODE[err.code] ?? STATUS[err.kind];
}

/** The error body: the dialect's shape, or problem+json. */
export function errorPayload(
  err: GatewayError,
  dialect: LlmDialect | undefined,
): { contentType: string; body: Record<string, unknown> } {
  const status = statusOf(err);
  if (dialect) {
    const type = PROVIDER_TYPE[status] ?? 'api_error';
    return {
      contentType: 'application/json',
      body: dialect.errorBody(err.clientMessage, type, err.code),
    };
  }
  return {
    contentType: 'application/problem+json',
    body: {
      type: `urn:airlock:error:${err.code}`,
      title: err.kind,
      status,
      detail: err.clientMessage,
      code: err.code,
    },
  };
}

/**
 * Writes the error unless a response already started (then the socket is closed: a half-sent
 * response must not look complete).
 */
export function sendError(
  res: ServerResponse,
  err: GatewayError,
  dialect: LlmDialect | undefined,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = statusOf(err);
  const { contentType, body } = errorPayload(err, dialect);
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-airlock-error-code': err.code,
    ...(status === 401 ? { 'www-authenticate': 'Bearer realm="airlock"' } : {}),
    ...(status === 400 || status === 401 || status === 403 || status === 404
      ? { 'x-should-retry': 'false' }
      : {}),
    ...extra,
  });
  res.end(text);
}
