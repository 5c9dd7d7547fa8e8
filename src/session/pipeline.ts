/**
 * The one place where policy, audit (and later approvals and masking) meet a protocol. Every
 * command passes `decide → audit (awaited, fail closed) → verdict` before an engine may forward it.
 */
import type { AuditEventInput, AuditLedger } from '../audit/types.ts';
import { GatewayError } from '../errors.ts';
import type { PolicyEngine } from '../policy/policy.ts';
import { analyzeSql, type SqlAnalysis } from '../sql/analyze.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Command, CommandResult } from './command.ts';
import { actorOf, newId, type SessionContext } from './context.ts';

export type Verdict =
  | { readonly action: 'allow'; readonly commandId: string }
  | { readonly action: 'deny'; readonly commandId: string; readonly error: GatewayError };

export interface PipelineDeps {
  readonly ledger: AuditLedger;
  readonly policy: PolicyEngine;
  readonly logger: Logger;
  readonly clock: () => number;
}

/**
 * @example
 * const verdict = await pipeline.onCommand(ctx, { kind: 'sql', text, params: null, protocol: 'simple' });
 * if (verdict.action === 'allow') forward();
 */
export class SessionPipeline {
  readonly #deps: PipelineDeps;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
  }

  async onCommand(ctx: SessionContext, command: Command): Promise<Verdict> {
    const commandId = newId('c');
    ctx.stats.commands++;
    const identity = ctx.identity;
    const connection = ctx.connection?.name ?? '';
    const analysis = analyzeCommand(command);
    const decision = identity
      ? this.#deps.policy.decide({ identity, connection, command, analysis })
      : ({ action: 'deny', message: 'not authenticated' } as const);
    try {
      await this.#deps.ledger.append(
        this.#event(ctx, 'command.requested', commandId, {
          command,
          decision: decision.action,
          ...(decision.rule ? { rule: decision.rule } : {}),
          ...analysisRecord(analysis),
        }),
      );
    } catch (err) {
      ctx.stats.denied++;
      this.#deps.logger.error('audit append failed; command refused', {
        session: ctx.id,
        err,
      });
      return { action: 'deny', commandId, error: auditUnavailable(err) };
    }
    if (decision.action === 'deny') {
      ctx.stats.denied++;
      return {
        action: 'deny',
        commandId,
        error: new GatewayError('GW_POLICY_DENIED', decision.message),
      };
    }
    return { action: 'allow', commandId };
  }

  /** Closing record of a forwarded command; not awaited by the data path. */
  onResult(ctx: SessionContext, commandId: string, result: CommandResult): void {
    if (result.outcome === 'error') ctx.stats.failed++;
    this.#deps.ledger.appendLater(this.#event(ctx, 'command.completed', commandId, { ...result }));
  }

  /** Session start is recorded durably before any upstream is opened. */
  async onSessionStart(ctx: SessionContext): Promise<void> {
    try {
      await this.#deps.ledger.append(
        this.#event(ctx, 'session.started', undefined, {
          protocol: ctx.protocol,
          ...(ctx.applicationName ? { applicationName: ctx.applicationName } : {}),
        }),
      );
    } catch (err) {
      throw auditUnavailable(err);
    }
  }

  onClose(ctx: SessionContext, reason: string): void {
    const durationMs = this.#deps.clock() - ctx.startedAt;
    this.#deps.ledger.appendLater(
      this.#event(ctx, 'session.ended', undefined, { reason, durationMs, ...ctx.stats }),
    );
  }

  /** Authentication failures never include the presented secret. */
  async onAuthFailed(ctx: SessionContext, data: Record<string, unknown>): Promise<void> {
    await this.#refusal(ctx, 'auth.failed', data);
  }

  /** An authenticated caller asked for a connection its groups do not open. */
  async onAccessDenied(ctx: SessionContext, data: Record<string, unknown>): Promise<void> {
    await this.#refusal(ctx, 'access.denied', data);
  }

  /** Recorded before `session.started`, in the same group commit. */
  onAuthSucceeded(ctx: SessionContext, data: Record<string, unknown>): void {
    this.#deps.ledger.appendLater(this.#event(ctx, 'auth.succeeded', undefined, data));
  }

  /** A live session is being ended by the gateway (offboarding, revocation, expiry). */
  onTerminated(ctx: SessionContext, data: Record<string, unknown>): void {
    this.#deps.ledger.appendLater(this.#event(ctx, 'session.terminated', undefined, data));
  }

  /** Refusals are recorded best-effort: the caller is refused whether or not the ledger is up. */
  async #refusal(
    ctx: SessionContext,
    type: 'auth.failed' | 'access.denied',
    data: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.#deps.ledger.append(this.#event(ctx, type, undefined, data));
    } catch (err) {
      this.#deps.logger.error(`audit append failed for ${type}`, { session: ctx.id, err });
    }
  }

  #event(
    ctx: SessionContext,
    type: AuditEventInput['type'],
    commandId: string | undefined,
    data: Record<string, unknown>,
  ): AuditEventInput {
    const actor = actorOf(ctx.identity);
    return {
      type,
      time: this.#deps.clock(),
      sessionId: ctx.id,
      clientAddr: ctx.clientAddr,
      ...(ctx.connection ? { connection: ctx.connection.name } : {}),
      ...(actor ? { actor } : {}),
      ...(commandId ? { commandId } : {}),
      data,
    };
  }
}

/** SQL is parsed with the PostgreSQL grammar; a statement the parser refuses is still recorded. */
function analyzeCommand(command: Command): SqlAnalysis {
  return analyzeSql(command.text);
}

/** What the ledger keeps of the analysis: kinds, tables and functions, never the parse tree. */
function analysisRecord(a: SqlAnalysis): Record<string, unknown> {
  if (!a.ok) return { parseError: a.error };
  return {
    statements: a.statements.map((s) => ({
      kind: s.kind,
      tables: s.tables,
      ...(s.functions.length > 0 ? { functions: s.functions } : {}),
      readOnly: s.readOnly,
    })),
  };
}

function auditUnavailable(cause: unknown): GatewayError {
  if (cause instanceof GatewayError && cause.code === 'GW_AUDIT_UNAVAILABLE') return cause;
  return new GatewayError(
    'GW_AUDIT_UNAVAILABLE',
    'audit ledger unavailable: statement not executed',
    { cause },
  );
}
