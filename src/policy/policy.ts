/**
 * The policy engine's contract. Pure: no I/O. `rules.ts` compiles a policy file into an engine;
 * `allowAll` is what runs when no policy file is configured.
 */
import type { Identity } from '../identity/types.ts';
import type { Command } from '../session/command.ts';
import type { ShellAnalysis } from '../shell/analyze.ts';
import type { SqlAnalysis } from '../sql/analyze.ts';

/** Who may approve a held command: `min` distinct members of any of `groups`. */
export interface ApproverRule {
  readonly groups: readonly string[];
  readonly min: number;
}

/** What a `review` decision asks for. Any one alternative of `approvers` suffices. */
export interface ReviewRequirement {
  readonly approvers: readonly ApproverRule[];
  /** How long the command waits for a decision; timeout = deny. */
  readonly timeoutMs: number;
}

export type Decision =
  | { readonly action: 'allow'; readonly rule?: string }
  | { readonly action: 'deny'; readonly rule?: string; readonly message: string }
  | {
      readonly action: 'review';
      readonly rule?: string;
      /** Shown to the client in the NOTICE while it waits, and to approvers. */
      readonly message?: string;
      readonly review: ReviewRequirement;
    };

export interface PolicyInput {
  readonly identity: Identity;
  readonly connection: string;
  /** `connections[].labels` of the connection, e.g. `{ env: 'prod' }`. */
  readonly connectionLabels?: Readonly<Record<string, string>>;
  readonly command: Command;
  /** The parsed statements of a SQL command (the real PostgreSQL grammar), when it is SQL. */
  readonly analysis?: SqlAnalysis;
  /** The programs an SSH `exec` command line runs (the shell grammar), when it is one. */
  readonly shell?: ShellAnalysis;
  /**
   * `parse`: a prepared statement's text at Parse (no parameters yet): only `deny` is acted on
   * then. `execute` (default): the command about to run, with its bound parameters.
   */
  readonly phase?: 'parse' | 'execute';
  /** Whether the identity holds an approved, unexpired access grant for this connection. */
  readonly hasGrant?: boolean;
  /** Milliseconds since the epoch, for rule time windows. */
  readonly now?: number;
}

export interface PolicyEngine {
  decide(input: PolicyInput): Decision;
}

/**
 * @example
 * allowAll.decide({ identity, connection: 'clinic', command }); // { action: 'allow', rule: 'default' }
 */
export const allowAll: PolicyEngine = {
  decide: () => ({ action: 'allow', rule: 'default' }),
};
