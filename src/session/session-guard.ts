/**
 * Re-checks live sessions: a session whose human was disabled, whose token was revoked, or whose
 * credential expired is ended within one interval, with a `session.terminated` event. Between
 * changes to the identity store only expiry is checked, so a sweep costs almost nothing.
 */
import { GatewayError } from '../errors.ts';
import type { Identity } from '../identity/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { SessionContext } from './context.ts';
import type { SessionRegistry } from './registry.ts';

export interface SessionGuardDeps {
  readonly sessions: SessionRegistry;
  /** Why an identity may no longer act, or undefined. */
  recheck(identity: Identity): string | undefined;
  /** Changes when the identity store changed (another process disabled a user, revoked a token). */
  storeVersion(): number;
  onTerminated(ctx: SessionContext, data: Record<string, unknown>): void;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly intervalMs: number;
}

/**
 * @example
 * const guard = new SessionGuard(deps); guard.start(); ... guard.sweep(); ... guard.stop();
 */
export class SessionGuard {
  readonly #deps: SessionGuardDeps;
  #timer: NodeJS.Timeout | undefined;
  #version = -1;
  /** Sessions already told to end: a closing session is not terminated (or recorded) twice. */
  readonly #ended = new WeakSet<object>();

  constructor(deps: SessionGuardDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#tick(), this.#deps.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Re-checks every live session now (after an in-process disable or revoke). Returns how many ended. */
  sweep(): number {
    let ended = 0;
    for (const s of this.#deps.sessions.list()) {
      const identity = s.ctx.identity;
      if (!identity || this.#ended.has(s)) continue;
      const reason = this.#deps.recheck(identity);
      if (reason === undefined) continue;
      ended++;
      this.#ended.add(s);
      this.#deps.onTerminated(s.ctx, { reason });
      this.#deps.logger.info('session terminated', { session: s.ctx.id, reason });
      s.terminate(new GatewayError('GW_SESSION_REVOKED', `session ended: ${reason}`));
    }
    return ended;
  }

  #tick(): void {
    try {
      const version = this.#deps.storeVersion();
      if (version !== this.#version) {
        this.#version = version;
        this.sweep();
      } else {
        this.#expirySweep();
      }
    } catch (err) {
      this.#deps.logger.error('session re-check failed', { err });
    }
  }

  /** Between store changes only expiry can end a session; `recheck` covers it with the rest. */
  #expirySweep(): void {
    const now = this.#deps.clock();
    const due = this.#deps.sessions
      .list()
      .some((s) => s.ctx.identity?.expiresAt !== undefined && s.ctx.identity.expiresAt <= now);
    if (due) this.sweep();
  }
}
