/**
 * Just-in-time approvals. A held command waits in `hold` until enough eligible humans approve,
 * one denies, it times out, or its client goes away. Votes arrive through the API (`decide`).
 * Every vote and every outcome is in the ledger; the outcome is durable before the command runs.
 * Access grants are reviews too: once approved, `hasGrant` is true for that identity and
 * connection until the grant ends.
 */
import { createHash } from 'node:crypto';
import type { AuditEventInput } from '../audit/types.ts';
import { GatewayError } from '../errors.ts';
import type { Identity } from '../identity/types.ts';
import type { ApproverRule, ReviewRequirement } from '../policy/policy.ts';
import type { Command, SqlCommand } from '../session/command.ts';
import { actorOf, newId, type SessionContext } from '../session/context.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Requester, Review, ReviewStatus, ReviewStore, Vote } from './store.ts';

export interface ReviewNotice {
  readonly kind: 'review.requested' | 'review.decided';
  readonly review: Review;
}

export interface ReviewServiceDeps {
  readonly store: ReviewStore;
  readonly ledger: { append(e: AuditEventInput): Promise<unknown> };
  readonly logger: Logger;
  readonly clock: () => number;
  /** Told about new and decided reviews (webhooks); never awaited. */
  readonly notify?: (notice: ReviewNotice) => void;
  /** Estimates the rows a held DML statement would touch, for approvers. */
  readonly estimate?: (
    connection: string,
    command: SqlCommand,
  ) => Promise<Record<string, unknown> | undefined>;
}

export interface HoldRequest {
  /** The review id (already named in the `command.requested` event). */
  readonly id: string;
  readonly ctx: SessionContext;
  readonly commandId: string;
  readonly command: Command;
  /** The statement or command line as approvers see it (clipped like the ledger's copy). */
  readonly display: string;
  readonly tables: readonly string[];
  readonly rule: string | undefined;
  readonly message: string | undefined;
  readonly requirement: ReviewRequirement;
  /** Called once the review exists, before waiting (the engine tells its client). */
  readonly onCreated?: (id: string) => void;
}

export type HoldOutcome =
  | { readonly status: 'approved'; readonly review: Review }
  | {
      readonly status: Exclude<ReviewStatus, 'approved' | 'pending'>;
      readonly review: Review | undefined;
      readonly reason: string;
    };

interface Waiter {
  readonly resolve: (o: HoldOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

/** Only this much of a notice's statement goes to webhooks. */
const NOTICE_STATEMENT_CHARS = 2000;
/** Approvers are told about a review once its impact is known, or after this long. */
const IMPACT_WAIT_MS = 1500;

/**
 * @example
 * const outcome = await reviews.hold(request, abortSignal);
 * await reviews.decide(outcome.review.id, approverIdentity, 'approve', 'looks right');
 */
export class ReviewService {
  readonly #deps: ReviewServiceDeps;
  readonly #waiters = new Map<string, Waiter>();
  /** Active grants: `connection \0 identity key` → until (ms). */
  readonly #grants = new Map<string, number>();

  constructor(deps: ReviewServiceDeps) {
    this.#deps = deps;
  }

  /**
   * At start: held statements of the previous run lost their clients with it, so their reviews
   * are cancelled and recorded; pending grant requests stay pending; active grants are loaded.
   */
  async recover(): Promise<number> {
    const { store, clock } = this.#deps;
    const now = clock();
    const orphans = store.pending('command');
    for (const r of orphans) {
      const reason = 'the gateway restarted; the held statement’s session had ended';
      if (store.finish(r.id, 'cancelled', now, reason)) await this.#recordOutcome(r.id);
    }
    for (const g of store.activeGrants(now)) {
      this.#grants.set(grantKey(g.connection, g.requester), g.grantUntil ?? 0);
    }
    return orphans.length;
  }

  /** Creates the review and waits for its outcome. Aborting the signal cancels it. */
  async hold(req: HoldRequest, signal: AbortSignal): Promise<HoldOutcome> {
    const review = this.#create(req);
    req.onCreated?.(review.id);
    const { promise, resolve } = Promise.withResolvers<HoldOutcome>();
    const timer = setTimeout(
      () => void this.#close(review.id, 'expired', 'no decision before the review timed out'),
      Math.max(0, review.expiresAt - this.#deps.clock()),
    );
    timer.unref(); // the session keeps the process alive, not its held statement
    this.#waiters.set(review.id, { resolve, timer });
    const onAbort = () => void this.#close(review.id, 'cancelled', 'the client went away');
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    void this.#announce(review.id, req);
    try {
      return await promise;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * One approver's vote. Refused for the requester themself (or the owner of the requesting
   * agent), for agent tokens, and for anyone outside the review's approver groups.
   */
  async decide(
    id: string,
    approver: Identity,
    decision: 'approve' | 'deny',
    reason: string,
  ): Promise<Review> {
    const { store, clock } = this.#deps;
    const now = clock();
    const outcome = store.transaction(() => {
      const review = store.get(id);
      if (!review) throw new GatewayError('GW_REVIEW_UNKNOWN', `no review ${id}`);
      if (review.status !== 'pending' || review.expiresAt <= now) {
        throw new GatewayError('GW_REVIEW_CLOSED', `review ${id} is ${review.status}`);
      }
      checkEligible(review, approver);
      const vote: Vote = {
        approver: approver.owner,
        approverGroups: approver.groups,
        decision,
        reason,
        at: now,
      };
      if (!store.vote(id, vote)) {
        throw new GatewayError('GW_REVIEW_CLOSED', `you already voted on review ${id}`);
      }
      const votes = [...review.votes, vote];
      if (decision === 'deny') store.finish(id, 'denied', now, reason || 'denied');
      else if (satisfied(review.approvers, votes)) store.finish(id, 'approved', now, reason);
      return store.get(id) as Review;
    });
    await this.#deps.ledger.append({
      type: 'review.voted',
      actor: actorOf(approver),
      ...(outcome.sessionId ? { sessionId: outcome.sessionId } : {}),
      connection: outcome.connection,
      ...(outcome.commandId ? { commandId: outcome.commandId } : {}),
      data: { reviewId: id, kind: outcome.kind, decision, reason, status: outcome.status },
    });
    if (outcome.status !== 'pending') await this.#settled(outcome);
    return outcome;
  }

  /** Asks for time-boxed access to a connection; approvers decide like for a command. */
  async requestGrant(input: {
    readonly identity: Identity;
    readonly connection: string;
    readonly durationMs: number;
    readonly reason: string;
    readonly approvers: readonly ApproverRule[];
    readonly timeoutMs: number;
  }): Promise<Review> {
    const now = this.#deps.clock();
    const requester = requesterOf(input.identity);
    const id = newId('r');
    this.#deps.store.insert({
      id,
      kind: 'grant',
      connection: input.connection,
      sessionId: null,
      commandId: null,
      requester,
      statement: input.reason,
      fingerprint: sha256(['grant', input.connection, JSON.stringify(requester), id].join('\0')),
      tables: [],
      rule: null,
      message: null,
      approvers: input.approvers,
      createdAt: now,
      expiresAt: now + input.timeoutMs,
      grantMs: input.durationMs,
    });
    await this.#deps.ledger.append({
      type: 'access.requested',
      actor: actorOf(input.identity),
      connection: input.connection,
      data: { reviewId: id, durationMs: input.durationMs, reason: input.reason },
    });
    const review = this.#deps.store.get(id) as Review;
    this.#deps.notify?.({ kind: 'review.requested', review });
    return review;
  }

  /** Whether the identity holds an approved, unexpired grant for the connection. */
  hasGrant(identity: Identity, connection: string): boolean {
    if (this.#grants.size === 0) return false;
    const until = this.#grants.get(grantKey(connection, requesterOf(identity)));
    return until !== undefined && until > this.#deps.clock();
  }

  get(id: string): Review | undefined {
    return this.#deps.store.get(id);
  }

  list(filter: { status?: ReviewStatus; limit?: number } = {}): Review[] {
    return this.#deps.store.list(filter);
  }

  /** Ends every wait (shutdown): the held statements are refused. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.#waiters.keys()].map((id) =>
        this.#close(id, 'cancelled', 'the gateway is shutting down'),
      ),
    );
  }

  #create(req: HoldRequest): Review {
    const now = this.#deps.clock();
    const identity = req.ctx.identity as Identity;
    const requester = requesterOf(identity);
    const id = req.id;
    this.#deps.store.insert({
      id,
      kind: 'command',
      connection: req.ctx.connection?.name ?? '',
      sessionId: req.ctx.id,
      commandId: req.commandId,
      requester,
      statement: req.display,
      fingerprint: fingerprintOf(req, requester),
      tables: req.tables,
      rule: req.rule ?? null,
      message: req.message ?? null,
      approvers: req.requirement.approvers,
      createdAt: now,
      expiresAt: now + req.requirement.timeoutMs,
      grantMs: null,
    });
    return this.#deps.store.get(id) as Review;
  }

  /** Estimates the impact (bounded wait), then tells the approvers. */
  async #announce(id: string, req: HoldRequest): Promise<void> {
    const estimate = this.#deps.estimate;
    if (estimate && req.command.kind === 'sql') {
      const timeout = new Promise<undefined>((r) => {
        setTimeout(() => r(undefined), IMPACT_WAIT_MS).unref();
      });
      try {
        const impact = await Promise.race([
          estimate(req.ctx.connection?.name ?? '', req.command as SqlCommand),
          timeout,
        ]);
        if (impact) this.#deps.store.setImpact(id, impact);
      } catch (err) {
        this.#deps.logger.warn('impact estimate failed', { review: id, err });
      }
    }
    const review = this.#deps.store.get(id);
    if (review?.status === 'pending') this.#deps.notify?.({ kind: 'review.requested', review });
  }

  /** Never rejects: it runs from timers and abort listeners. */
  async #close(id: string, status: 'expired' | 'cancelled', reason: string): Promise<void> {
    try {
      if (!this.#deps.store.finish(id, status, this.#deps.clock(), reason)) return;
      const review = this.#deps.store.get(id);
      if (review) await this.#settled(review);
    } catch (err) {
      this.#deps.logger.error('could not close a review', { review: id, status, err });
    }
  }

  /** Records the outcome durably, then releases the held statement (fail closed). */
  async #settled(review: Review): Promise<void> {
    let recorded = true;
    try {
      await this.#recordOutcome(review.id);
    } catch (err) {
      recorded = false;
      this.#deps.logger.error('audit append failed for a review outcome', {
        review: review.id,
        err,
      });
    }
    if (review.kind === 'grant' && review.status === 'approved' && review.grantUntil) {
      this.#grants.set(grantKey(review.connection, review.requester), review.grantUntil);
    }
    this.#deps.notify?.({ kind: 'review.decided', review });
    const w = this.#waiters.get(review.id);
    if (!w) return;
    this.#waiters.delete(review.id);
    clearTimeout(w.timer);
    if (review.status === 'approved' && recorded) w.resolve({ status: 'approved', review });
    else if (review.status === 'approved') {
      w.resolve({ status: 'cancelled', review, reason: 'the approval could not be recorded' });
    } else {
      w.resolve({
        status: review.status as Exclude<ReviewStatus, 'approved' | 'pending'>,
        review,
        reason: review.reason ?? review.status,
      });
    }
  }

  async #recordOutcome(id: string): Promise<void> {
    const r = this.#deps.store.get(id);
    if (!r) return;
    const approved = r.status === 'approved';
    const type =
      r.kind === 'grant'
        ? approved
          ? 'access.granted'
          : 'access.rejected'
        : approved
          ? 'command.approved'
          : 'command.rejected';
    await this.#deps.ledger.append({
      type,
      ...(r.sessionId ? { sessionId: r.sessionId } : {}),
      ...(r.commandId ? { commandId: r.commandId } : {}),
      connection: r.connection,
      actor: {
        kind: r.requester.kind,
        identity: r.requester.identity,
        owner: r.requester.owner,
        groups: r.requester.groups,
        ...(r.requester.tokenId ? { tokenId: r.requester.tokenId } : {}),
      },
      data: {
        reviewId: r.id,
        status: r.status,
        reason: r.reason,
        approvers: r.votes.filter((v) => v.decision === 'approve').map((v) => v.approver),
        ...(r.status === 'denied'
          ? { deniedBy: r.votes.find((v) => v.decision === 'deny')?.approver }
          : {}),
        fingerprint: r.fingerprint,
        ...(r.grantUntil ? { grantUntil: new Date(r.grantUntil).toISOString() } : {}),
      },
    });
  }
}

/** Nobody approves their own request or their own agent's; agents never approve; groups must fit. */
function checkEligible(review: Review, approver: Identity): void {
  if (approver.kind !== 'oidc') {
    throw new GatewayError('GW_REVIEW_NOT_ELIGIBLE', 'reviews are decided by humans, not tokens');
  }
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (
    same(approver.owner, review.requester.owner) ||
    same(approver.name, review.requester.identity)
  ) {
    throw new GatewayError(
      'GW_REVIEW_SELF_APPROVAL',
      'you cannot decide your own request or your own agent’s request',
    );
  }
  const eligible = review.approvers.some((a) => a.groups.some((g) => approver.groups.includes(g)));
  if (!eligible) {
    const groups = [...new Set(review.approvers.flatMap((a) => a.groups))].join(', ');
    throw new GatewayError('GW_REVIEW_NOT_ELIGIBLE', `approvers must be in ${groups}`);
  }
}

/** Approved when some alternative has `min` distinct approving members. */
function satisfied(rules: readonly ApproverRule[], votes: readonly Vote[]): boolean {
  return rules.some(
    (rule) =>
      votes.filter(
        (v) => v.decision === 'approve' && v.approverGroups.some((g) => rule.groups.includes(g)),
      ).length >= rule.min,
  );
}

function requesterOf(identity: Identity): Requester {
  return {
    ...(actorOf(identity) as Requester),
    ...(identity.subject ? { subject: identity.subject } : {}),
  };
}

function grantKey(connection: string, r: Requester): string {
  const who = r.tokenId ? `token:${r.tokenId}` : `oidc:${r.owner.toLowerCase()}`;
  return `${connection}\0${who}`;
}

/**
 * Binds a review to the exact command: kind, full text, parameters (SQL), method, URL and body
 * digest (HTTP) or channel (SSH), identity, session, connection.
 */
function fingerprintOf(req: HoldRequest, requester: Requester): string {
  const c = req.command;
  const params =
    c.kind === 'sql'
      ? (c.paramsDigest ?? (c.params === null ? 'null' : JSON.stringify(c.params)))
      : c.kind === 'http'
        ? `http:${c.method} ${c.url}:${c.paramsDigest}`
        : `${c.kind}:${'channel' in c ? c.channel : `${c.host}:${c.port}`}`;
  return sha256(
    [c.text, params, JSON.stringify(requester), req.ctx.id, req.ctx.connection?.name ?? ''].join(
      '\0',
    ),
  );
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** A statement clipped for webhooks. */
export function noticeStatement(text: string): string {
  return text.length > NOTICE_STATEMENT_CHARS ? `${text.slice(0, NOTICE_STATEMENT_CHARS)}…` : text;
}
