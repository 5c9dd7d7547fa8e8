/**
 * The gateway's own short connections to a configured PostgreSQL, apart from any client's session:
 * the masking catalog lookups and the impact estimates shown to approvers. Both use the
 * connection's credentials and TLS settings and a hard time budget.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import type { PostgresConnectionConfig } from '../../config/schema.ts';

/**
 * Connection settings for `conn`, with its TLS mode, its password revealed only here, and
 * `timeoutMs` on connecting and on each statement.
 *
 * @example
 * new pg.Client({ ...lookupClientConfig(conn, 2000, 'airlock-impact'), query_timeout: 2000 });
 */
export function lookupClientConfig(
  conn: PostgresConnectionConfig,
  timeoutMs: number,
  applicationName: string,
): pg.ClientConfig {
  return {
    host: conn.host,
    port: conn.port,
    database: conn.database,
    user: conn.user,
    password: conn.password.reveal(),
    ssl: sslConfig(conn),
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: applicationName,
  };
}

function sslConfig(conn: PostgresConnectionConfig): pg.ClientConfig['ssl'] {
  if (conn.ssl === 'disable') return false;
  if (conn.ssl !== 'verify-full') return { rejectUnauthorized: false };
  return {
    rejectUnauthorized: true,
    ...(conn.ssl_ca_file ? { ca: readFileSync(conn.ssl_ca_file) } : {}),
  };
}

/**
 * A timer that rejects every race once the whole job overruns `ms`; `clear` it when done.
 *
 * @example
 * const deadline = withDeadline(2000, 'catalog lookup');
 * try { await deadline.race(client.query(sql)); } finally { deadline.clear(); }
 */
export function withDeadline(ms: number, what?: string) {
  let timer: NodeJS.Timeout | undefined;
  const message = `${what ? `${what} ` : ''}timed out after ${ms} ms`;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return {
    race: <T>(p: Promise<T>): Promise<T> => {
      p.catch(() => undefined);
      return Promise.race([p, expired]);
    },
    clear: () => clearTimeout(timer),
  };
}
