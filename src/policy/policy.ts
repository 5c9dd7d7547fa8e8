/**
 * The policy engine's contract. Pure: no I/O. The first version allows everything that reaches
 * it; the policy issue adds rules (connection, identity, groups, parsed command facts).
 */
import type { Identity } from '../identity/types.ts';
import type { Command } from '../session/command.ts';
import type { SqlAnalysis } from '../sql/analyze.ts';

export type Decision =
  | { readonly action: 'allow'; readonly rule?: string }
  | { readonly action: 'deny'; readonly rule?: string; readonly message: string };

export interface PolicyInput {
  readonly identity: Identity;
  readonly connection: string;
  readonly command: Command;
  /** The parsed statements of a SQL command (the real PostgreSQL grammar), when it is SQL. */
  readonly analysis?: SqlAnalysis;
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
