/**
 * Live sessions, so that shutdown (and later offboarding) can end them and CancelRequests can
 * find the session they target.
 */
import type { GatewayError } from '../errors.ts';
import type { SessionContext } from './context.ts';

export interface LiveSession {
  readonly ctx: SessionContext;
  /** Ends the session with a FATAL error in the client's protocol. */
  terminate(error: GatewayError): void;
  /** Resolves when the session has fully closed. */
  readonly closed: Promise<void>;
}

/**
 * @example
 * registry.add(session); ... registry.remove(session.ctx.id);
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, LiveSession>();

  add(s: LiveSession): void {
    this.#sessions.set(s.ctx.id, s);
  }

  remove(id: string): void {
    this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  list(): LiveSession[] {
    return [...this.#sessions.values()];
  }

  /** Terminates every session and waits (bounded) until they have closed. */
  async terminateAll(error: GatewayError, timeoutMs = 5000): Promise<void> {
    const all = this.list();
    for (const s of all) s.terminate(error);
    await Promise.race([
      Promise.all(all.map((s) => s.closed)),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
  }
}
