/**
 * Sessions whose `session.started` is in the ledger and whose `session.ended` is not yet, so that
 * shutdown can wait for their closing records before the ledger closes. Unlike the registry
 * (./registry.ts), it also holds sessions that are not live yet (still opening their upstream)
 * and those whose client is gone but whose end is still being recorded.
 */
import type { SessionContext } from './context.ts';

/**
 * @example
 * open.add(ctx); // session.started is being recorded
 * open.delete(ctx); // true: its session.ended is to be recorded now
 * const late = await open.settled(2000); // at shutdown: the ones still open after 2 s
 */
export class OpenSessions {
  readonly #open = new Map<string, SessionContext>();
  #emptied: (() => void) | undefined;

  add(ctx: SessionContext): void {
    this.#open.set(ctx.id, ctx);
  }

  /** Whether the session was open (it is not any more). */
  delete(ctx: SessionContext): boolean {
    const had = this.#open.delete(ctx.id);
    if (had && this.#open.size === 0) this.#emptied?.();
    return had;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Resolves once no session is open, or after `timeoutMs`, with the ones still open. */
  async settled(timeoutMs: number): Promise<SessionContext[]> {
    if (this.#open.size > 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#emptied = resolve;
      const timer = setTimeout(resolve, timeoutMs);
      await promise;
      clearTimeout(timer);
      this.#emptied = undefined;
    }
    return [...this.#open.values()];
  }
}
