/**
 * Audit ledger event model (version 1). Event types are dotted and past tense. Events never carry
 * a token secret, a password, or a masked value in the clear.
 */
export const AUDIT_EVENT_TYPES = [
  'session.started',
  'session.ended',
  'auth.succeeded',
  'auth.failed',
  /** An authenticated caller was refused a connection its groups do not open. */
  'access.denied',
  /** The gateway ended a live session: its owner was disabled, its token revoked or expired. */
  'session.terminated',
  /** A command reached the gateway; `data.decision` is allow, deny, mask or hold. */
  'command.requested',
  /** A held command was approved by a human and went on (issue 5). */
  'command.approved',
  /**
   * A held command did not go on (issue 5); `data.status` says why: `denied` by an approver,
   * `expired` without a decision, `cancelled` (client gone, gateway stopped or restarted; see
   * `data.reason`), or `refused` over its budget once approved (see ./review-outcome.ts).
   */
  'command.rejected',
  'command.completed',
  /** An LLM call reached the gateway (model, messages, tools; decision as for commands). */
  'llm.requested',
  /** An LLM call's response (text per choice, tool calls, usage), recorded whole. */
  'llm.responded',
  /** One approver's vote on a review (approve or deny, with their reason). */
  'review.voted',
  /** Time-boxed access to a connection was requested, granted, or refused/expired. */
  'access.requested',
  'access.granted',
  'access.rejected',
  /** Values were masked in a command's results: rule and counts, never the values (issue 6). */
  'data.masked',
  /** A file was uploaded or downloaded over SFTP or scp: path, direction, bytes, SHA-256. */
  'file.transferred',
  /** A file was removed, renamed, created as a directory, linked or had its attributes set. */
  'file.changed',
  /** A terminal session was recorded (asciicast v2): file, SHA-256, size, secrets masked. */
  'session.recorded',
  /** An SSH upstream's host key was seen for the first time and pinned. */
  'host_key.pinned',
  /** An SSH upstream presented a host key other than the configured or pinned one. */
  'host_key.rejected',
  /** An SSH public key was registered to an identity, or removed. */
  'ssh_key.added',
  'ssh_key.removed',
  'token.created',
  'token.revoked',
  /** A human was offboarded: every token they own was revoked and their sessions ended. */
  'user.disabled',
  'user.enabled',
  /** The gateway started with a configuration (hash and summary, never secrets). */
  'config.loaded',
  'policy.changed',
  /** A signed checkpoint over the first `data.treeSize` events. */
  'ledger.checkpointed',
  /** Events older than the retention period were pruned, up to `data.throughSeq`. */
  'ledger.pruned',
  /** The store came back after refusing commands; `data.refused` counts them. */
  'audit.outage.ended',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Who acted: the human owner behind an agent token, or the human themself. */
export interface Actor {
  readonly kind: 'token' | 'oidc' | 'cli' | 'anonymous';
  /** The identity that authenticated: an agent/token name, an OIDC subject, or the CLI user. */
  readonly identity: string;
  /** The human accountable for the identity (the token owner; the user for OIDC). */
  readonly owner?: string;
  readonly tokenId?: string;
  readonly groups?: readonly string[];
}

/** What a caller hands to the ledger. `data` is the type-specific payload (JSON-serialisable). */
export interface AuditEventInput {
  readonly type: AuditEventType;
  /** Milliseconds since the epoch; the store fills it in when absent. */
  readonly time?: number;
  readonly sessionId?: string;
  readonly connection?: string;
  readonly actor?: Actor;
  readonly clientAddr?: string;
  /** Links `command.requested` to its `command.completed`. */
  readonly commandId?: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** An event as stored: sequence number, canonical body, and its place in the hash chain. */
export interface AuditEvent {
  readonly seq: number;
  /** ISO-8601 time. */
  readonly ts: string;
  readonly type: AuditEventType;
  readonly sessionId: string | null;
  readonly connection: string | null;
  readonly actor: Actor | null;
  readonly clientAddr: string | null;
  readonly commandId: string | null;
  readonly data: Readonly<Record<string, unknown>>;
  /** The exact canonical JSON the hashes cover (everything above, plus `v`). */
  readonly body: string;
  /** RFC 6962 leaf hash, hex: SHA-256(0x00 || body). */
  readonly leafHash: string;
  /** The previous event's `hash` (64 zeros for the first event). */
  readonly prevHash: string;
  /** Hash chain link, hex: SHA-256(prevHash bytes || leafHash bytes). */
  readonly hash: string;
}

export interface AuditFilter {
  readonly connection?: string;
  /** Matches the actor's identity or owner. */
  readonly identity?: string;
  /** Matches the accountable human only. */
  readonly owner?: string;
  readonly sessionId?: string;
  /** Events of one command (its request, outcome, approvals). */
  readonly commandId?: string;
  /** Commands and sessions that name this LLM event id as their cause (`data.causedBy`). */
  readonly causedBy?: string;
  /** `data.decision` of command events: allow, deny, mask, hold. */
  readonly decision?: string;
  /** A table the command touched, `name` or `schema.name` as written in the statement. */
  readonly table?: string;
  /** With `table`: only this kind of access. */
  readonly access?: 'read' | 'write' | 'ddl';
  readonly types?: readonly AuditEventType[];
  /** Inclusive lower bound, ms since epoch. */
  readonly since?: number;
  /** Exclusive upper bound, ms since epoch. */
  readonly until?: number;
  readonly limit?: number;
}

/** One command (a statement, an HTTP request, an LLM call) with its outcome, as `airlock audit query` shows it. */
export interface CommandRecord {
  readonly commandId: string;
  readonly seq: number;
  readonly ts: string;
  readonly sessionId: string | null;
  readonly connection: string | null;
  readonly actor: Actor | null;
  readonly clientAddr: string | null;
  readonly request: Readonly<Record<string, unknown>>;
  /** `command.requested` or `llm.requested`. */
  readonly type: 'command.requested' | 'llm.requested';
  /** The `command.completed` (or `llm.responded`) payload, or null when it has not completed. */
  readonly outcome: Readonly<Record<string, unknown>> | null;
  /** The newest `command.approved` / `command.rejected` for a held command, or null. */
  readonly approval: {
    readonly type: 'command.approved' | 'command.rejected';
    readonly ts: string;
    readonly data: Readonly<Record<string, unknown>>;
  } | null;
}

/**
 * The ledger as the data path sees it. `append` resolves only once the event is durable
 * (group-committed); it rejects when the store cannot make it durable, and callers fail closed.
 *
 * @example
 * const seq = await ledger.append({ type: 'command.requested', sessionId, data: { text } });
 */
export interface AuditLedger {
  append(event: AuditEventInput): Promise<number>;
  /** Append without waiting; failures are reported through `onError`. For closing records. */
  appendLater(event: AuditEventInput): void;
  query(filter: AuditFilter): Promise<AuditEvent[]>;
  commands(filter: AuditFilter): Promise<CommandRecord[]>;
  /** Signs a checkpoint over everything appended so far; resolves with its seq (0: nothing new). */
  checkpoint(): Promise<number>;
  close(): Promise<void>;
}
