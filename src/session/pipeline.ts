/**
 * The one place where policy, audit (and later approvals and masking) meet a protocol. Every
 * command passes `decide → audit (awaited, fail closed) → verdict` before an engine may forward it.
 */
import type { Actor, AuditEventInput, AuditLedger } from '../audit/types.ts';
import type { BudgetGate, Reservation } from '../budget/budget.ts';
import { GatewayError } from '../errors.ts';
import type { Identity } from '../identity/types.ts';
import type { AuditRedactor, MaskingEngine } from '../masking/engine.ts';
import type { MaskedEventData } from '../masking/tally.ts';
import type { Decision, PolicyEngine, PolicyInput } from '../policy/policy.ts';
import type { HoldOutcome, ReviewService } from '../review/service.ts';
import { analyzeShell, type ShellAnalysis, trueExecFacts } from '../shell/analyze.ts';
import { analyzeSql, type SqlAnalysis } from '../sql/analyze.ts';
import type { Logger } from '../telemetry/logger.ts';
import { causedByOf } from './caused-by.ts';
import type { Command, CommandResult, HttpCommand, SqlParam } from './command.ts';
import { actorOf, newId, type SessionContext } from './context.ts';
import { OpenSessions } from './open-sessions.ts';

export type Verdict =
  | {
      readonly action: 'allow';
      readonly commandId: string;
      /** Budget tokens reserved for an LLM call: settle with the tokens used. */
      readonly reservation?: Reservation;
    }
  | {
      readonly action: 'deny';
      readonly commandId: string;
      readonly error: GatewayError;
      /** A budget refusal: when the window resets. */
      readonly retryAfterMs?: number;
    };

export interface PipelineDeps {
  readonly ledger: AuditLedger;
  readonly policy: PolicyEngine;
  readonly logger: Logger;
  readonly clock: () => number;
  /** Just-in-time approvals; without it a `review` decision refuses the command. */
  readonly reviews?: ReviewService | undefined;
  /** Longest statement text kept in the ledger (policy always sees the whole text). */
  readonly maxStatementBytes?: number;
  /**
   * Masking: on a connection with masking rules, detector findings are redacted from what the
   * ledger records of a command (statement text, parameters, error messages) as well.
   */
  readonly masking?: MaskingEngine | undefined;
  /** Token and request budgets for LLM calls. */
  readonly budgets?: BudgetGate | undefined;
  /**
   * Redacts what the ledger keeps of HTTP and LLM bodies even without masking rules (secrets and
   * keys in prompts never reach the ledger); applied before the masking redactor.
   */
  readonly secretRedactor?: AuditRedactor | undefined;
  /**
   * Removes credentials from command lines before the ledger records them (SSH `exec` text):
   * `[masked:github_token]`. Policy always judges the full text.
   */
  readonly redactSecrets?: ((text: string) => string) | undefined;
}

/** A command's analysis: the SQL grammar's for SQL, the shell parser's for SSH `exec`. */
interface Analysis {
  readonly sql?: SqlAnalysis;
  readonly shell?: ShellAnalysis;
}

/** What an engine lends the pipeline for one command. */
export interface CommandHooks {
  /** Tells the client something while it waits (a PostgreSQL NOTICE, an SSH stderr line). */
  notice(text: string): void;
  /** Aborted when the session ends: a held command's review is cancelled. */
  readonly signal: AbortSignal;
}

const NO_HOOKS: CommandHooks = { notice: () => {}, signal: new AbortController().signal };

/**
 * @example
 * const verdict = await pipeline.onCommand(ctx, { kind: 'sql', text, params: null, protocol: 'simple' });
 * if (verdict.action === 'allow') forward();
 */
export class SessionPipeline {
  readonly #deps: PipelineDeps;
  readonly #open = new OpenSessions();
  #stopping = false;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
  }

  async onCommand(
    ctx: SessionContext,
    command: Command,
    hooks: CommandHooks = NO_HOOKS,
  ): Promise<Verdict> {
    const commandId = newId('c');
    ctx.stats.commands++;
    const analysis = analyzeCommand(command);
    let decision: Decision = this.#decide(ctx, command, analysis, 'execute');
    let reserved: Reserved = {};
    if (decision.action === 'allow') {
      reserved = this.#reserve(ctx, command);
      if (reserved.refused) decision = reserved.refused;
    }
    const reviewId = decision.action === 'review' ? newId('r') : undefined;
    const causedBy = causedByOf(ctx, command);
    // Members assigned one by one: this runs for every statement.
    const data: Record<string, unknown> = {
      command: this.#recorded(ctx, command),
      decision: decision.action === 'review' ? 'hold' : decision.action,
    };
    if (decision.rule) data.rule = decision.rule;
    if (reviewId) data.reviewId = reviewId;
    if (causedBy) data.causedBy = causedBy;
    if (reserved.reservation) data.budget = budgetRecord(reserved.reservation);
    addAnalysisRecord(data, analysis, this.#redactor(ctx), this.#deps.redactSecrets);
    try {
      await this.#deps.ledger.append(this.#event(ctx, requestedType(command), commandId, data));
    } catch (err) {
      ctx.stats.denied++;
      reserved.reservation?.settle(0);
      this.#deps.logger.error('audit append failed; command refused', {
        session: ctx.id,
        err,
      });
      return { action: 'deny', commandId, error: auditUnavailable(err) };
    }
    if (decision.action === 'deny') {
      ctx.stats.denied++;
      const code = reserved.refused ? 'GW_BUDGET_EXCEEDED' : 'GW_POLICY_DENIED';
      return {
        action: 'deny',
        commandId,
        error: new GatewayError(code, decision.message),
        ...(reserved.retryAfterMs !== undefined ? { retryAfterMs: reserved.retryAfterMs } : {}),
      };
    }
    if (decision.action === 'review' && reviewId) {
      return this.#hold(ctx, command, commandId, analysis, decision, hooks, reviewId);
    }
    return reserved.reservation
      ? { action: 'allow', commandId, reservation: reserved.reservation }
      : { action: 'allow', commandId };
  }

  /** Reserves an LLM call's tokens against the budgets that apply (none: nothing reserved). */
  #reserve(ctx: SessionContext, command: Command): Reserved {
    const budgets = this.#deps.budgets;
    if (!budgets || command.kind !== 'http' || !command.llm || !ctx.identity) return {};
    const r = budgets.reserve(ctx.identity, ctx.connection?.name ?? '', command.llm.reserveTokens);
    if (r.ok) return r.reservation ? { reservation: r.reservation } : {};
    return {
      refused: { action: 'deny', rule: `budget:${r.budget}`, message: r.message },
      retryAfterMs: r.retryAfterMs,
    };
  }

  /**
   * A prepared statement's text at Parse: only a `deny` acts now (the Execute, with its
   * parameters, is judged again and may be held). Not recorded: the Execute is.
   */
  checkParse(ctx: SessionContext, command: Command): GatewayError | undefined {
    const decision = this.#decide(ctx, command, analyzeCommand(command), 'parse');
    return decision.action === 'deny'
      ? new GatewayError('GW_POLICY_DENIED', decision.message)
      : undefined;
  }

  #decide(
    ctx: SessionContext,
    command: Command,
    analysis: Analysis,
    phase: 'parse' | 'execute',
  ): Decision {
    const identity = ctx.identity;
    if (!identity) return { action: 'deny', message: 'not authenticated' } as const;
    const conn = ctx.connection;
    const connection = conn?.name ?? '';
    const input: Mutable<PolicyInput> = {
      identity,
      connection,
      command,
      phase,
      hasGrant: false,
      now: 0,
    };
    if (conn?.labels) input.connectionLabels = conn.labels;
    if (analysis.sql) input.analysis = analysis.sql;
    if (analysis.shell) input.shell = analysis.shell;
    input.hasGrant = this.#deps.reviews?.hasGrant(identity, connection) ?? false;
    input.now = this.#deps.clock();
    return this.#deps.policy.decide(input);
  }

  /** Holds the command until a human decides; the client waits, told why by a NOTICE. */
  async #hold(
    ctx: SessionContext,
    command: Command,
    commandId: string,
    analysis: Analysis,
    decision: Extract<Decision, { action: 'review' }>,
    hooks: CommandHooks,
    reviewId: string,
  ): Promise<Verdict> {
    const reviews = this.#deps.reviews;
    if (!reviews) {
      ctx.stats.denied++;
      const error = new GatewayError(
        'GW_REVIEW_CANCELLED',
        `this ${noun(command)} needs a review, and reviews are not enabled`,
      );
      return { action: 'deny', commandId, error };
    }
    const outcome = await reviews.hold(
      {
        id: reviewId,
        ctx,
        commandId,
        command,
        display: String(this.#recorded(ctx, command).text ?? ''),
        tables: tablesOf(analysis),
        rule: decision.rule,
        message: decision.message,
        requirement: decision.review,
        onCreated: (id) =>
          hooks.notice(
            `${decision.message ?? `this ${noun(command)} needs approval`}: waiting for review ${id}` +
              ` (airlock reviews approve ${id}); it times out in ${Math.round(decision.review.timeoutMs / 1000)}s`,
          ),
      },
      hooks.signal,
    );
    if (outcome.status !== 'approved') {
      ctx.stats.denied++;
      return { action: 'deny', commandId, error: reviewError(outcome) };
    }
    const reserved = this.#reserve(ctx, command);
    if (reserved.refused) {
      ctx.stats.denied++;
      this.#deps.ledger.appendLater(
        this.#event(ctx, 'command.rejected', commandId, {
          reviewId,
          status: 'refused',
          reason: reserved.refused.message,
          rule: reserved.refused.rule,
        }),
      );
      const error = new GatewayError('GW_BUDGET_EXCEEDED', reserved.refused.message);
      return { action: 'deny', commandId, error, retryAfterMs: reserved.retryAfterMs ?? 0 };
    }
    return reserved.reservation
      ? { action: 'allow', commandId, reservation: reserved.reservation }
      : { action: 'allow', commandId };
  }

  /**
   * The command as the ledger keeps it: the statement clipped, parameters already capped, and on
   * a connection with masking rules, detector findings redacted (`[masked:<type>]`).
   */
  #recorded(ctx: SessionContext, command: Command): Record<string, unknown> {
    if (command.kind === 'http') return this.#recordedHttp(ctx, command);
    const max = this.#deps.maxStatementBytes ?? Number.POSITIVE_INFINITY;
    const redactor = this.#redactor(ctx);
    const secrets = command.kind === 'sql' ? undefined : this.#deps.redactSecrets;
    const full = secrets ? redactWith(secrets, command.text) : command.text;
    const text =
      full.length <= max ? full : `${full.slice(0, max)} -- [truncated ${full.length} chars]`;
    const clipped = text === command.text ? command : { ...command, text };
    if (!redactor) return { ...clipped };
    const redacted = { ...clipped, text: redactText(redactor, clipped.text) };
    if (redacted.kind !== 'sql') return redacted;
    return { ...redacted, params: redacted.params?.map((p) => redactParam(redactor, p)) ?? null };
  }

  /** An HTTP request as recorded: never the prompt field, every string redacted. */
  #recordedHttp(ctx: SessionContext, c: HttpCommand): Record<string, unknown> {
    const r = (v: unknown) => this.#redactDeep(ctx, v);
    const { prompt: _p, findings, reserveTokens, record, ...llm } = c.llm ?? ({} as never);
    return {
      kind: c.kind,
      method: c.method,
      url: r(c.url),
      host: c.host,
      text: r(c.text),
      bodyBytes: c.bodyBytes,
      paramsDigest: c.paramsDigest,
      ...(c.body !== undefined ? { body: r(c.body) } : {}),
      ...(c.llm ? { llm: { ...llm, findings, reserveTokens, ...(r(record) as object) } } : {}),
    };
  }

  /** Every string inside `v` redacted: secrets always, the connection's masking types too. */
  #redactDeep(ctx: SessionContext, v: unknown): unknown {
    const redactors = [this.#deps.secretRedactor, this.#redactor(ctx)].filter(
      (x): x is AuditRedactor => x !== undefined && x !== null,
    );
    if (redactors.length === 0) return v;
    const walk = (x: unknown, depth: number): unknown => {
      if (typeof x === 'string') return redactors.reduce((t, red) => redactText(red, t), x);
      if (depth > 8 || x === null || typeof x !== 'object') return x;
      if (Array.isArray(x)) return x.map((y) => walk(y, depth + 1));
      return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y, depth + 1)]));
    };
    return walk(v, 0);
  }

  #redactor(ctx: SessionContext): AuditRedactor | null {
    const conn = ctx.connection?.name;
    return conn && this.#deps.masking ? this.#deps.masking.auditRedactor(conn) : null;
  }

  /** Closing record of a forwarded command; not awaited by the data path. */
  onResult(ctx: SessionContext, commandId: string, result: CommandResult): void {
    if (result.outcome === 'error') ctx.stats.failed++;
    if (ctx.protocol === 'http') {
      const type = result.llm ? 'llm.responded' : 'command.completed';
      const recorded = this.#redactDeep(ctx, result) as Record<string, unknown>;
      this.#deps.ledger.appendLater(this.#event(ctx, type, commandId, recorded));
      return;
    }
    const redactor = this.#redactor(ctx);
    const recorded =
      redactor && result.error
        ? {
            ...result,
            error: { ...result.error, message: redactText(redactor, result.error.message) },
          }
        : result;
    this.#deps.ledger.appendLater(
      this.#event(ctx, 'command.completed', commandId, { ...recorded }),
    );
  }

  /**
   * What masking changed in a command's results: policy version, columns and detector types,
   * rules, styles and counts; never a value. At most one per command, just before its
   * `command.completed`.
   */
  onMasked(ctx: SessionContext, commandId: string, data: MaskedEventData): void {
    this.#deps.ledger.appendLater(this.#event(ctx, 'data.masked', commandId, { ...data }));
  }

  /**
   * A file moved or changed inside an allowed command (SFTP, scp): path, direction, bytes and
   * SHA-256, or the change and its outcome. Not awaited: the transfer already happened.
   */
  onFileEvent(
    ctx: SessionContext,
    commandId: string,
    event: { readonly type: 'file.transferred' | 'file.changed'; readonly data: object },
  ): void {
    this.#deps.ledger.appendLater(this.#event(ctx, event.type, commandId, { ...event.data }));
  }

  /**
   * A terminal recording was closed: its file and SHA-256 go into the ledger, which makes the
   * file tamper-evident. Awaited; a failure is logged (the recording stays on disk).
   */
  async onRecorded(ctx: SessionContext, commandId: string, data: object): Promise<void> {
    try {
      await this.#deps.ledger.append(this.#event(ctx, 'session.recorded', commandId, { ...data }));
    } catch (err) {
      this.#deps.logger.error('audit append failed for session.recorded', { session: ctx.id, err });
    }
  }

  /** Something about the session worth keeping, e.g. an upstream host key pinned or refused. */
  onSessionEvent(
    ctx: SessionContext,
    type: 'host_key.pinned' | 'host_key.rejected',
    data: Record<string, unknown>,
  ): void {
    this.#deps.ledger.appendLater(this.#event(ctx, type, undefined, data));
  }

  /**
   * Session start is recorded durably before any upstream is opened; once the gateway is
   * stopping (`endSessions`), no session starts.
   */
  async onSessionStart(ctx: SessionContext): Promise<void> {
    if (this.#stopping) {
      throw new GatewayError('GW_SESSION_SHUTTING_DOWN', 'the gateway is shutting down');
    }
    this.#open.add(ctx);
    try {
      await this.#deps.ledger.append(
        this.#event(ctx, 'session.started', undefined, {
          protocol: ctx.protocol,
          ...(ctx.applicationName ? { applicationName: ctx.applicationName } : {}),
          ...(ctx.causedBy ? { causedBy: ctx.causedBy } : {}),
        }),
      );
    } catch (err) {
      this.#open.delete(ctx);
      throw auditUnavailable(err);
    }
  }

  onClose(ctx: SessionContext, reason: string): void {
    // A session `endSessions` gave up on already has its end in the ledger.
    if (!this.#open.delete(ctx) && this.#stopping) return;
    this.#recordEnd(ctx, reason);
  }

  /**
   * Shutdown, once the engines were told to end their sessions and before the ledger closes: no
   * session starts any more, and every session whose start is recorded gets its end recorded.
   * Waits up to `timeoutMs` for them to end by themselves, then records `session.ended` (reason
   * `gateway stopped`) for the rest. Resolves with how many were ended that way.
   */
  async endSessions(timeoutMs: number): Promise<number> {
    this.#stopping = true;
    const late = await this.#open.settled(timeoutMs);
    for (const ctx of late) {
      this.#open.delete(ctx);
      this.#recordEnd(ctx, 'gateway stopped');
    }
    return late.length;
  }

  #recordEnd(ctx: SessionContext, reason: string): void {
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
    const event: Mutable<AuditEventInput> = {
      type,
      time: this.#deps.clock(),
      sessionId: ctx.id,
      clientAddr: ctx.clientAddr,
    };
    if (ctx.connection) event.connection = ctx.connection.name;
    if (ctx.identity) event.actor = frozenActorOf(ctx.identity);
    if (commandId) event.commandId = commandId;
    event.data = data;
    return event;
  }
}

/**
 * The actor of an identity's records, deeply frozen and kept per identity, so that the ledger
 * serialises it once per session rather than once per event.
 */
const actors = new WeakMap<Identity, Actor>();

function frozenActorOf(identity: Identity): Actor {
  let actor = actors.get(identity);
  if (actor === undefined) {
    const a = actorOf(identity);
    actor = Object.freeze({ ...a, ...(a.groups ? { groups: Object.freeze([...a.groups]) } : {}) });
    actors.set(identity, actor);
  }
  return actor;
}

/**
 * SQL is parsed with the PostgreSQL grammar, an SSH command line with the shell grammar; a
 * command the parser refuses is still recorded. Shells, SFTP and forwards have nothing to parse.
 */
function analyzeCommand(command: Command): Analysis {
  if (command.kind === 'sql') return { sql: analyzeSql(command.text) };
  if (command.kind === 'exec') return { shell: analyzeShell(command.text) };
  return {};
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What `#reserve` found: a reservation, a refusal, or nothing to do. */
interface Reserved {
  readonly reservation?: Reservation;
  readonly refused?: Extract<Decision, { action: 'deny' }>;
  readonly retryAfterMs?: number;
}

/** LLM calls are `llm.requested`; every other command `command.requested`. */
function requestedType(command: Command): 'llm.requested' | 'command.requested' {
  return command.kind === 'http' && command.llm ? 'llm.requested' : 'command.requested';
}

function budgetRecord(r: Reservation): Record<string, unknown> {
  return { reservedTokens: r.tokens, budgets: r.budgets };
}

/** What a command is called in messages: a SQL statement, an HTTP request, an SSH command. */
const noun = (command: Command): string =>
  command.kind === 'sql' ? 'statement' : command.kind === 'http' ? 'request' : 'command';

/**
 * What the ledger keeps of the analysis: kinds, tables and functions (SQL) or the programs run
 * with their arguments, wrappers and facts (shell); never the parse tree.
 */
function addAnalysisRecord(
  data: Record<string, unknown>,
  analysis: Analysis,
  redactor: AuditRedactor | null,
  secrets: ((text: string) => string) | undefined,
): void {
  if (analysis.shell) {
    Object.assign(data, shellRecord(analysis.shell, redactor, secrets));
    return;
  }
  const a = analysis.sql;
  if (!a) return;
  if (a.ok) data.statements = statementsRecord(a);
  else data.parseError = redactor ? redactText(redactor, a.error) : a.error;
}

/**
 * The statements as recorded, deeply frozen and kept per analysis (analyses are frozen and shared
 * by every statement of the same text or literal shape), so the ledger serialises them once.
 */
const statementsRecords = new WeakMap<SqlAnalysis, readonly object[]>();

function statementsRecord(a: Extract<SqlAnalysis, { ok: true }>): readonly object[] {
  let record = statementsRecords.get(a);
  if (record === undefined) {
    record = Object.freeze(
      a.statements.map((s) =>
        Object.freeze({
          kind: s.kind,
          tables: s.tables,
          ...(s.functions.length > 0 ? { functions: s.functions } : {}),
          readOnly: s.readOnly,
        }),
      ),
    );
    if (Object.isFrozen(a)) statementsRecords.set(a, record);
  }
  return record;
}

/** A detector failure must not put the clear text in the ledger: the text is withheld. */
function redactText(redactor: AuditRedactor, text: string): string {
  try {
    return redactor.text(text);
  } catch {
    return '[unrecorded: masking could not inspect this text]';
  }
}

/** Text parameters are redacted like statements; a binary one is withheld when it holds a finding. */
function redactParam(redactor: AuditRedactor, p: SqlParam): SqlParam {
  if (p.value === null) return p;
  if (p.format === 'text') {
    const value = redactText(redactor, p.value);
    return value === p.value ? p : { ...p, value };
  }
  const decoded = Buffer.from(p.value, 'base64').toString('utf8');
  return redactText(redactor, decoded) === decoded ? p : { ...p, value: '[masked:binary]' };
}

function shellRecord(
  a: ShellAnalysis,
  redactor: AuditRedactor | null,
  secrets: ((text: string) => string) | undefined,
): Record<string, unknown> {
  const clean = (t: string) => {
    const s = secrets ? redactWith(secrets, t) : t;
    return redactor ? redactText(redactor, s) : s;
  };
  if (!a.ok) return { parseError: clean(a.error) };
  return {
    invocations: a.invocations.map((i) => ({
      program: i.program,
      argv: i.argv.map(clean),
      ...(i.via.length > 0 ? { via: i.via } : {}),
      ...(i.dynamic.length > 0 ? { dynamic: i.dynamic } : {}),
      ...(trueExecFacts(i.facts).length > 0 ? { facts: trueExecFacts(i.facts) } : {}),
    })),
  };
}

/** A scanner failure must not put the clear text in the ledger. */
function redactWith(secrets: (text: string) => string, text: string): string {
  try {
    return secrets(text);
  } catch {
    return '[unrecorded: the secret scanner could not inspect this text]';
  }
}

function tablesOf(analysis: Analysis): string[] {
  const a = analysis.sql;
  if (!a?.ok) return [];
  const names = a.statements.flatMap((s) =>
    s.tables.map((t) => (t.schema ? `${t.schema}.${t.name}` : t.name)),
  );
  return [...new Set(names)];
}

function reviewError(outcome: Exclude<HoldOutcome, { status: 'approved' }>): GatewayError {
  const id = outcome.review?.id ?? 'unknown';
  if (outcome.status === 'denied') {
    const by = outcome.review?.votes.find((v) => v.decision === 'deny')?.approver;
    return new GatewayError(
      'GW_REVIEW_DENIED',
      `denied by ${by ?? 'an approver'} (review ${id}): ${outcome.reason}`,
    );
  }
  if (outcome.status === 'expired') {
    return new GatewayError('GW_REVIEW_EXPIRED', `review ${id} timed out without a decision`);
  }
  return new GatewayError('GW_REVIEW_CANCELLED', `review ${id} was cancelled: ${outcome.reason}`);
}

function auditUnavailable(cause: unknown): GatewayError {
  if (cause instanceof GatewayError && cause.code === 'GW_AUDIT_UNAVAILABLE') return cause;
  return new GatewayError(
    'GW_AUDIT_UNAVAILABLE',
    'audit ledger unavailable: statement not executed',
    { cause },
  );
}
