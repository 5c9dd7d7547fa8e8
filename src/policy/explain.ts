/**
 * What `CompiledPolicy.explain` returns, and its text form for `airlock policy explain`.
 */
import type { ExecFactName } from '../shell/analyze.ts';
import type { FactName, FunctionFact, StatementClass, TableFact } from './facts.ts';
import type { Decision } from './policy.ts';
import type { Action } from './schema.ts';

/** One rule as tried against one statement. */
export interface RuleTrace {
  readonly rule: string;
  readonly action: Action;
  readonly matched: boolean;
  /** Not matched: the first condition that failed. Matched: the keys that held. */
  readonly reason: string;
}

export interface StatementExplanation {
  /** 0-based position in the command. */
  readonly index: number;
  readonly class: StatementClass;
  readonly tag: string;
  readonly tags: readonly string[];
  readonly tables: readonly TableFact[];
  readonly functions: readonly FunctionFact[];
  /** The facts that hold. */
  readonly facts: readonly FactName[];
  readonly decision: Decision;
  /** Rules in order up to and including the one that decided. */
  readonly rules: readonly RuleTrace[];
}

/** One program of an SSH command line. */
export interface InvocationExplanation {
  readonly index: number;
  readonly program: string;
  readonly argv: readonly string[];
  readonly via: readonly string[];
  readonly facts: readonly ExecFactName[];
  readonly decision: Decision;
  readonly rules: readonly RuleTrace[];
}

export interface Explanation {
  /** The same decision `decide` returns for this input. */
  readonly decision: Decision;
  readonly phase: 'parse' | 'execute';
  readonly policy: { readonly source: string; readonly hash: string };
  /** Set when the command did not parse: the parser's message and the rules tried. */
  readonly unparsable?: { readonly error: string; readonly rules: readonly RuleTrace[] };
  readonly statements: readonly StatementExplanation[];
  /** An SSH command line: each program it runs. */
  readonly invocations?: readonly InvocationExplanation[];
  /** A shell, SFTP session or port forward: judged as a whole. */
  readonly whole?: { readonly kind: string; readonly rules: readonly RuleTrace[] };
}

/**
 * @example
 * process.stdout.write(formatExplanation(policy.explain(input)));
 */
export function formatExplanation(e: Explanation): string {
  const lines = [
    `decision: ${formatDecision(e.decision)}`,
    `policy: ${e.policy.source} sha256:${e.policy.hash.slice(0, 16)}  phase: ${e.phase}`,
  ];
  if (e.unparsable !== undefined) {
    lines.push('', `unparsable: ${e.unparsable.error}`, ...formatTraces(e.unparsable.rules));
  }
  for (const s of e.statements) lines.push('', ...formatStatement(s));
  for (const i of e.invocations ?? []) lines.push('', ...formatInvocation(i));
  if (e.whole !== undefined) lines.push('', `${e.whole.kind}:`, ...formatTraces(e.whole.rules));
  return `${lines.join('\n')}\n`;
}

/**
 * `deny (rule no-drop): Dropping tables needs a DBA`, or for a review its approvers and timeout.
 *
 * @example
 * formatDecision({ action: 'allow', rule: 'default' }); // 'allow (rule default)'
 */
export function formatDecision(d: Decision): string {
  const head = `${d.action} (rule ${d.rule ?? '-'})`;
  if (d.action === 'deny') return `${head}: ${d.message}`;
  if (d.action === 'allow') return head;
  const who = d.review.approvers.map((a) => `${a.min} of [${a.groups.join(', ')}]`).join(' or ');
  const msg = d.message === undefined ? '' : `: ${d.message}`;
  return `${head} by ${who}, timeout ${formatMs(d.review.timeoutMs)}${msg}`;
}

function formatStatement(s: StatementExplanation): string[] {
  const tables = s.tables.map((t) => `${t.name} (${t.access})`).join(', ');
  const tags = s.tags.length > 1 ? `  runs: ${s.tags.slice(1).join(', ')}` : '';
  return [
    `statement ${s.index + 1}: ${s.tag}  class: ${s.class}${tags}`,
    `  tables: ${tables || '-'}`,
    `  functions: ${s.functions.map((f) => f.name).join(', ') || '-'}`,
    `  facts: ${s.facts.join(', ') || '-'}`,
    `  decision: ${formatDecision(s.decision)}`,
    ...formatTraces(s.rules),
  ];
}

function formatInvocation(i: InvocationExplanation): string[] {
  const via = i.via.length > 0 ? `  via: ${i.via.join(' > ')}` : '';
  return [
    `program ${i.index + 1}: ${i.program}${via}`,
    `  argv: ${i.argv.map((a) => JSON.stringify(a)).join(' ')}`,
    `  facts: ${i.facts.join(', ') || '-'}`,
    `  decision: ${formatDecision(i.decision)}`,
    ...formatTraces(i.rules),
  ];
}

function formatTraces(rules: readonly RuleTrace[]): string[] {
  if (rules.length === 0) return ['  rules: none tried'];
  const width = Math.max(...rules.map((r) => r.rule.length));
  return [
    '  rules:',
    ...rules.map(
      (r) =>
        `    ${r.matched ? '+' : '-'} ${r.rule.padEnd(width)}  ${r.action.padEnd(6)}  ${r.reason}`,
    ),
  ];
}

function formatMs(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms / 1000}s`;
}
