/**
 * HTTP sessions: one per client connection (socket), identity and Airlock connection, so a
 * keep-alive client that sends many requests is one session in the ledger (`session.started`,
 * its commands, `session.ended` when the socket closes). Offboarding ends it by closing the
 * socket.
 */
import type { Socket } from 'node:net';
import { GatewayError } from '../../errors.ts';
import { mayUseConnection } from '../../identity/roles.ts';
import type { Identity } from '../../identity/types.ts';
import { createSessionContext, type SessionContext } from '../../session/context.ts';
import type { SessionPipeline } from '../../session/pipeline.ts';
import type { SessionRegistry } from '../../session/registry.ts';
import type { HttpTarget } from './router.ts';

interface Entry {
  readonly ctx: SessionContext;
  readonly started: Promise<void>;
}

export interface HttpSessionsDeps {
  readonly pipeline: SessionPipeline;
  readonly sessions: SessionRegistry;
  readonly clock: () => number;
}

/**
 * @example
 * const ctx = await httpSessions.open(req.socket, identity, conn, { method: 'bearer', tls: false });
 */
export class HttpSessions {
  readonly #deps: HttpSessionsDeps;
  readonly #bySocket = new WeakMap<Socket, Map<string, Entry>>();

  constructor(deps: HttpSessionsDeps) {
    this.#deps = deps;
  }

  /** A context for a request that is refused before it has a session (auth failures). */
  detached(socket: Socket): SessionContext {
    return createSessionContext('http', addressOf(socket), this.#deps.clock());
  }

  /**
   * The session of this socket for this identity and connection; the first request of a session
   * checks access and records `auth.succeeded` and `session.started` (durably) first.
   */
  async open(
    socket: Socket,
    identity: Identity,
    conn: HttpTarget,
    auth: Record<string, unknown>,
  ): Promise<SessionContext> {
    let map = this.#bySocket.get(socket);
    if (!map) {
      map = new Map();
      this.#bySocket.set(socket, map);
      socket.once('close', () => this.#closeAll(socket, 'client closed the connection'));
    }
    const key = `${identity.tokenId ?? `${identity.issuer ?? ''}\0${identity.subject ?? identity.name}`}\0${conn.name}`;
    let entry = map.get(key);
    if (!entry) {
      entry = this.#start(socket, identity, conn, auth);
      map.set(key, entry);
      entry.started.catch(() => map?.delete(key));
    }
    await entry.started;
    return entry.ctx;
  }

  #start(
    socket: Socket,
    identity: Identity,
    conn: HttpTarget,
    auth: Record<string, unknown>,
  ): Entry {
    const { pipeline, sessions } = this.#deps;
    const ctx = createSessionContext('http', addressOf(socket), this.#deps.clock());
    ctx.identity = identity;
    ctx.connection = conn;
    const started = (async () => {
      if (!mayUseConnection(identity, conn)) {
        await pipeline.onAccessDenied(ctx, {
          reason: identity.roles.includes('user') ? 'not in allow_groups' : 'no user role',
          groups: identity.groups,
        });
        throw new GatewayError(
          'GW_AUTH_ACCESS_DENIED',
          `access to connection "${conn.name}" denied`,
        );
      }
      pipeline.onAuthSucceeded(ctx, auth);
      await pipeline.onSessionStart(ctx);
      sessions.add({
        ctx,
        closed: new Promise<void>((resolve) => socket.once('close', () => resolve())),
        terminate: () => socket.destroy(),
      });
    })();
    return { ctx, started };
  }

  #closeAll(socket: Socket, reason: string): void {
    const map = this.#bySocket.get(socket);
    if (!map) return;
    this.#bySocket.delete(socket);
    for (const entry of map.values()) {
      entry.started.then(
        () => {
          this.#deps.sessions.remove(entry.ctx.id);
          this.#deps.pipeline.onClose(entry.ctx, reason);
        },
        () => {},
      );
    }
  }
}

function addressOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
}
