/**
 * Masking for the PostgreSQL engine: one catalog side connection per configured connection,
 * shared by its sessions, and one ResultMasker per session that has rules (none: the relay's
 * path stays untouched).
 */
import type { PostgresConnectionConfig } from '../../../config/schema.ts';
import type { MaskingEngine } from '../../../masking/engine.ts';
import type { SessionContext } from '../../../session/context.ts';
import type { Logger } from '../../../telemetry/logger.ts';
import { PgCatalog } from './catalog.ts';
import { ResultMasker } from './result-masker.ts';

/**
 * @example
 * const masking = new PostgresMasking(engine, { logger, timeoutMs: 5000 });
 * const masker = masking.forSession(ctx, conn, log); // undefined: no rule applies
 */
export class PostgresMasking {
  readonly engine: MaskingEngine;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #catalogs = new Map<string, PgCatalog>();

  constructor(engine: MaskingEngine, opts: { logger: Logger; timeoutMs: number }) {
    this.engine = engine;
    this.#logger = opts.logger;
    this.#timeoutMs = opts.timeoutMs;
  }

  /** The session's masker, or undefined when no rule applies to its connection and identity. */
  forSession(
    ctx: SessionContext,
    conn: PostgresConnectionConfig,
    log: Logger,
  ): ResultMasker | undefined {
    const rules = this.engine.forSession(conn.name, ctx.identity?.groups ?? []);
    if (!rules) return undefined;
    return new ResultMasker({
      engine: this.engine,
      rules,
      catalog: this.#catalog(conn),
      logger: log,
      sessionId: ctx.id,
    });
  }

  #catalog(conn: PostgresConnectionConfig): PgCatalog {
    let c = this.#catalogs.get(conn.name);
    if (!c) {
      c = new PgCatalog(conn, { timeoutMs: this.#timeoutMs, logger: this.#logger });
      this.#catalogs.set(conn.name, c);
    }
    return c;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#catalogs.values()].map((c) => c.close()));
    this.#catalogs.clear();
  }
}
