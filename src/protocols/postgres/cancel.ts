/**
 * CancelRequest mapping. Clients get a gateway-issued BackendKeyData; a CancelRequest carrying it
 * is forwarded to the upstream with the upstream's own key. Keys are compared in constant time.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { connect } from 'node:net';
import type { PostgresConnectionConfig } from '../../config/schema.ts';
import { encodeStartup } from './codec/serializer.ts';

interface CancelTarget {
  readonly secret: Uint8Array;
  readonly sessionId: string;
  readonly conn: PostgresConnectionConfig;
  readonly upstreamPid: number;
  readonly upstreamSecret: Uint8Array;
}

/**
 * @example
 * const key = cancels.issue(ctx.id, conn, up.processId, up.secretKey);
 * // later, on a CancelRequest:
 * cancels.cancel(msg.processId, msg.secretKey);
 */
export class CancelKeys {
  readonly #byPid = new Map<number, CancelTarget>();

  issue(
    sessionId: string,
    conn: PostgresConnectionConfig,
    upstreamPid: number,
    upstreamSecret: Uint8Array,
  ): { processId: number; secretKey: Uint8Array } {
    let processId = randomInt(1, 0x7fffffff);
    while (this.#byPid.has(processId)) processId = randomInt(1, 0x7fffffff);
    const secretKey = randomBytes(4);
    this.#byPid.set(processId, { secret: secretKey, sessionId, conn, upstreamPid, upstreamSecret });
    return { processId, secretKey };
  }

  release(processId: number): void {
    this.#byPid.delete(processId);
  }

  /** Returns the session id the request targeted, or undefined when the key does not match. */
  cancel(processId: number, secretKey: Uint8Array): string | undefined {
    const t = this.#byPid.get(processId);
    if (!t || t.secret.length !== secretKey.length || !timingSafeEqual(t.secret, secretKey)) {
      return undefined;
    }
    sendCancel(t);
    return t.sessionId;
  }
}

function sendCancel(t: CancelTarget): void {
  const s = connect({ host: t.conn.host, port: t.conn.port });
  s.setTimeout(t.conn.connect_timeout_ms, () => s.destroy());
  s.on('error', () => s.destroy());
  s.once('connect', () => {
    s.end(
      encodeStartup({
        type: 'CancelRequest',
        processId: t.upstreamPid,
        secretKey: t.upstreamSecret,
      }),
    );
  });
}
