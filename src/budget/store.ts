/**
 * Budget counters in `<dataDir>/airlock.db` (next to tokens and reviews), so several gateways on
 * one host share them and a restart does not reset them. One row per budget, subject and window;
 * a reservation is one transaction that checks and adds to every budget that applies.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { BudgetConfig } from '../config/http-schema.ts';
import type { Identity } from '../identity/types.ts';
import { compileGlobs, type GlobList, globMatch } from '../policy/glob.ts';
import type { BudgetGate, Reservation, ReserveResult } from './budget.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS budget_usage(
  budget TEXT NOT NULL, subject TEXT NOT NULL, window_start INTEGER NOT NULL,
  tokens INTEGER NOT NULL, requests INTEGER NOT NULL,
  PRIMARY KEY (budget, subject, window_start)) STRICT;
`;

interface Compiled {
  readonly config: BudgetConfig;
  readonly connections: GlobList | null;
}

interface Charge {
  readonly budget: string;
  readonly subject: string;
  readonly windowStart: number;
}

/**
 * @example
 * const budgets = new BudgetStore({ dataDir, budgets: config.budgets, clock: Date.now });
 * budgets.reserve(identity, 'openai', 4200);
 */
export class BudgetStore implements BudgetGate {
  readonly #db: DatabaseSync;
  readonly #budgets: readonly Compiled[];
  readonly #clock: () => number;
  readonly #get: StatementSync;
  readonly #add: StatementSync;
  readonly #adjust: StatementSync;
  readonly #prune: StatementSync;
  #lastPrune = 0;

  constructor(opts: { dataDir: string; budgets: readonly BudgetConfig[]; clock: () => number }) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(opts.dataDir, 'airlock.db'));
    this.#db.exec('PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;');
    this.#db.exec(SCHEMA);
    this.#clock = opts.clock;
    this.#budgets = opts.budgets.map((config) => ({
      config,
      connections: config.connections ? compileGlobs(config.connections) : null,
    }));
    this.#get = this.#db.prepare(
      'SELECT tokens, requests FROM budget_usage WHERE budget = ? AND subject = ? AND window_start = ?',
    );
    this.#add = this.#db.prepare(
      `INSERT INTO budget_usage(budget, subject, window_start, tokens, requests) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT(budget, subject, window_start) DO UPDATE SET tokens = tokens + excluded.tokens,
       requests = requests + 1`,
    );
    this.#adjust = this.#db.prepare(
      'UPDATE budget_usage SET tokens = MAX(0, tokens + ?) WHERE budget = ? AND subject = ? AND window_start = ?',
    );
    this.#prune = this.#db.prepare('DELETE FROM budget_usage WHERE window_start < ?');
  }

  reserve(identity: Identity, connection: string, tokens: number): ReserveResult {
    const now = this.#clock();
    const applicable = this.#budgets.filter((b) => applies(b, identity, connection));
    if (applicable.length === 0) return { ok: true, reservation: undefined };
    this.#maybePrune(now);
    const reserve = Math.max(0, Math.ceil(tokens));
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const charges: Charge[] = [];
      for (const b of applicable) {
        const charge = chargeOf(b.config, identity, now);
        const refusal = this.#check(b.config, charge, reserve, now);
        if (refusal) {
          this.#db.exec('ROLLBACK');
          return refusal;
        }
        charges.push(charge);
      }
      for (const c of charges) this.#add.run(c.budget, c.subject, c.windowStart, reserve);
      this.#db.exec('COMMIT');
      return { ok: true, reservation: this.#reservation(charges, reserve) };
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  /** Current usage of a budget for a subject (tests, and the API later). */
  usage(budget: string, subject: string): { tokens: number; requests: number } {
    const b = this.#budgets.find((x) => x.config.name === budget);
    if (!b) return { tokens: 0, requests: 0 };
    const start = windowStart(b.config.window, this.#clock());
    const row = this.#get.get(budget, subject, start) as
      | { tokens: number; requests: number }
      | undefined;
    return row ?? { tokens: 0, requests: 0 };
  }

  close(): void {
    this.#db.close();
  }

  #check(b: BudgetConfig, c: Charge, reserve: number, now: number): ReserveResult | undefined {
    const row = this.#get.get(c.budget, c.subject, c.windowStart) as
      | { tokens: number; requests: number }
      | undefined;
    const used = row ?? { tokens: 0, requests: 0 };
    const resetAt = c.windowStart + b.window;
    const retryAfterMs = Math.max(0, resetAt - now);
    const resets = `resets at ${new Date(resetAt).toISOString()}`;
    if (b.max_requests !== undefined && used.requests + 1 > b.max_requests) {
      return {
        ok: false,
        budget: b.name,
        retryAfterMs,
        message: `budget ${b.name}: ${b.max_requests} requests per ${describe(b.window)} used up; ${resets}`,
      };
    }
    if (b.max_tokens !== undefined && used.tokens + reserve > b.max_tokens) {
      const left = Math.max(0, b.max_tokens - used.tokens);
      return {
        ok: false,
        budget: b.name,
        retryAfterMs,
        message: `budget ${b.name}: this request may use up to ${reserve} tokens and ${left} of ${b.max_tokens} per ${describe(b.window)} are left; ${resets}`,
      };
    }
    return undefined;
  }

  #reservation(charges: readonly Charge[], reserved: number): Reservation {
    let settled = false;
    return {
      budgets: charges.map((c) => c.budget),
      tokens: reserved,
      settle: (used) => {
        if (settled) return;
        settled = true;
        const delta = Math.max(0, Math.ceil(used)) - reserved;
        if (delta === 0) return;
        for (const c of charges) this.#adjust.run(delta, c.budget, c.subject, c.windowStart);
      },
    };
  }

  #maybePrune(now: number): void {
    if (now - this.#lastPrune < 3_600_000) return;
    this.#lastPrune = now;
    const longest = Math.max(...this.#budgets.map((b) => b.config.window));
    this.#prune.run(now - 2 * longest);
  }
}

function applies(b: Compiled, identity: Identity, connection: string): boolean {
  if (b.connections !== null && !globMatch(b.connections, connection)) return false;
  const groups = b.config.groups;
  return groups === undefined || identity.groups.some((g) => groups.includes(g));
}

function chargeOf(b: BudgetConfig, identity: Identity, now: number): Charge {
  const subject =
    b.per === 'owner'
      ? `owner:${identity.owner.toLowerCase()}`
      : identity.tokenId !== undefined
        ? `token:${identity.tokenId}`
        : `oidc:${identity.name.toLowerCase()}`;
  return { budget: b.name, subject, windowStart: windowStart(b.window, now) };
}

function windowStart(windowMs: number, now: number): number {
  return now - (now % windowMs);
}

function describe(ms: number): string {
  if (ms % 86_400_000 === 0) return ms === 86_400_000 ? 'day' : `${ms / 86_400_000} days`;
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? 'hour' : `${ms / 3_600_000} hours`;
  if (ms % 60_000 === 0) return ms === 60_000 ? 'minute' : `${ms / 60_000} minutes`;
  return `${ms / 1000} s`;
}
