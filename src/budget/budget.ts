/**
 * Budgets: token and request limits per identity (or per accountable human) per fixed time
 * window. A request reserves its estimated maximum before it is forwarded, atomically against
 * every budget that applies, so concurrent requests cannot overrun a limit; when the response is
 * in, the reservation is settled to the tokens actually used.
 */
import type { Identity } from '../identity/types.ts';

/** A reservation held by one request until its response is settled. */
export interface Reservation {
  /** The budgets it counts against. */
  readonly budgets: readonly string[];
  readonly tokens: number;
  /** Replaces the reserved tokens by the tokens used (idempotent: only the first call counts). */
  settle(usedTokens: number): void;
}

export type ReserveResult =
  | { readonly ok: true; readonly reservation: Reservation | undefined }
  | {
      readonly ok: false;
      readonly budget: string;
      /** Client-safe: which limit, how much is left, when the window resets. */
      readonly message: string;
      /** Milliseconds until the window resets. */
      readonly retryAfterMs: number;
    };

/**
 * @example
 * const r = gate.reserve(identity, 'openai', 5000);
 * if (!r.ok) refuse(r.message); else r.reservation?.settle(usage.totalTokens);
 */
export interface BudgetGate {
  reserve(identity: Identity, connection: string, tokens: number): ReserveResult;
}
