/**
 * Policy files compiled into an engine. Rules are tried in order per statement; the first that
 * matches decides, else `defaults.action`. A command of several statements gets the most
 * restrictive decision (deny > review > allow); ties go to the earliest statement. SQL the parser
 * refuses gets `defaults.unparsable`, made stricter by the first rule that matches without looking
 * at statements. At `phase: 'parse'` a review is reported as allow: the Execute is judged again.
 * An HTTP or LLM request is judged by the first rule without SQL keys that matches it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { type ExecInvocation, trueExecFacts } from '../shell/analyze.ts';
import { type Condition, compileMatch, type Unit } from './conditions.ts';
import type {
  Explanation,
  InvocationExplanation,
  RuleTrace,
  StatementExplanation,
} from './explain.ts';
import { commandFacts, type StatementFacts, trueFacts } from './facts.ts';
import type { Decision, PolicyEngine, PolicyInput, ReviewRequirement } from './policy.ts';
import {
  type Action,
  crossCheck,
  formatIssues,
  type PolicyFile,
  policySchema,
  type RuleSpec,
  unparsableAction,
  unparsableExecAction,
} from './schema.ts';

/**
 * A policy file that does not load; `problems` are `key.path: reason` lines.
 *
 * @example
 * try { loadPolicy(text, file); } catch (err) { if (err instanceof PolicyError) print(err.problems); }
 */
export class PolicyError extends Error {
  readonly source: string;
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'PolicyError';
    this.source = source;
    this.problems = problems;
  }
}

interface CompiledRule {
  readonly name: string;
  readonly action: Action;
  readonly conditions: readonly Condition[];
  /** No condition looks at the statement: the rule may judge SQL that did not parse. */
  readonly statementFree: boolean;
  /** Names `session: forward` or `forwards:`: only such rules judge port forwards. */
  readonly forForwards: boolean;
  readonly decision: Decision;
}

const RANK: Readonly<Record<Decision['action'], number>> = { allow: 0, review: 1, deny: 2 };
const UNPARSABLE_MESSAGE: Readonly<Record<Action, string>> = {
  allow: 'the SQL parser rejects this statement; allowed unchecked',
  review: 'the SQL parser rejects this statement, so the policy cannot check it; a person must',
  deny: 'the SQL parser rejects this statement, so the policy cannot check it; denied',
};
const UNPARSABLE_EXEC_MESSAGE: Readonly<Record<Action, string>> = {
  allow: 'Airlock cannot tell which programs this command line runs; allowed unchecked',
  review: 'Airlock cannot tell which programs this command line runs; a person must check it',
  deny: 'Airlock cannot tell which programs this command line runs, so the policy cannot check it; denied',
};
const EMPTY: Decision = Object.freeze({ action: 'allow', rule: 'empty' });

/**
 * Parses, validates and compiles a policy file's text. `source` names it in messages.
 *
 * @example
 * const policy = loadPolicy('version: 1\nrules: [{ name: no-drop, match: { facts: [drop] }, action: deny }]', 'inline');
 * policy.decide({ identity, connection: 'clinic', command, analysis: analyzeSql('DROP TABLE t') });
 * // { action: 'deny', rule: 'no-drop', message: 'denied by policy rule "no-drop"' }
 */
export function loadPolicy(text: string, source: string): CompiledPolicy {
  let raw: unknown;
  try {
    raw = parseYaml(text, { strict: true, maxAliasCount: 100 });
  } catch (err) {
    throw new PolicyError(source, [`YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const parsed = policySchema.safeParse(raw ?? {});
  if (!parsed.success) throw new PolicyError(source, formatIssues(parsed.error.issues));
  const problems = crossCheck(parsed.data);
  if (problems.length > 0) throw new PolicyError(source, problems);
  const hash = createHash('sha256').update(text).digest('hex');
  return new CompiledPolicy(parsed.data, source, hash);
}

/**
 * Reads and compiles a policy file; an unreadable file is a PolicyError too.
 *
 * @example
 * const policy = loadPolicyFile('/etc/airlock/policy.yaml');
 */
export function loadPolicyFile(path: string): CompiledPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(path, [
      `cannot read file: ${(err as NodeJS.ErrnoException).code ?? err}`,
    ]);
  }
  return loadPolicy(text, path);
}

/**
 * A compiled policy: immutable, safe to share; `decide` allocates nothing on the common path.
 *
 * @example
 * const d = policy.decide({ identity, connection: 'clinic', command, analysis });
 * if (d.action === 'review') hold(d.review);
 */
export class CompiledPolicy implements PolicyEngine {
  /** The file (or label) it was loaded from. */
  readonly source: string;
  /** sha256 (hex) of the file's text. */
  readonly hash: string;
  /** The file format version. */
  readonly version: number;
  readonly description: string | undefined;
  readonly ruleNames: readonly string[];
  readonly #rules: readonly CompiledRule[];
  readonly #fallback: Decision;
  readonly #unparsable: Decision;
  readonly #unparsableExec: Decision;
  readonly #noForward: Decision;

  constructor(file: PolicyFile, source: string, hash: string) {
    this.source = source;
    this.hash = hash;
    this.version = file.version;
    this.description = file.description;
    this.#rules = file.rules.map((r) => compileRule(r, file));
    this.ruleNames = this.#rules.map((r) => r.name);
    const d = file.defaults;
    const denied = d.action === 'deny' ? 'denied by the policy default' : undefined;
    this.#fallback = makeDecision(d.action, 'default', file, { message: d.message ?? denied });
    const unparsable = unparsableAction(d);
    this.#unparsable = makeDecision(unparsable, 'unparsable', file, {
      message: UNPARSABLE_MESSAGE[unparsable],
    });
    const unparsableExec = unparsableExecAction(d);
    this.#unparsableExec = makeDecision(unparsableExec, 'unparsable', file, {
      message: UNPARSABLE_EXEC_MESSAGE[unparsableExec],
    });
    this.#noForward = makeDecision('deny', 'default', file, {
      message: 'port forwarding is off unless a policy rule allows it',
    });
  }

  decide(input: PolicyInput): Decision {
    if (input.command.kind === 'http') {
      // HTTP requests have no statements: the first rule without SQL keys that matches decides.
      const rule = this.#firstMatch(input, undefined, undefined);
      return atPhase(rule?.decision ?? this.#fallback, input.phase);
    }
    let worst: Decision;
    const units = unitsOf(input);
    if (units === 'unparsable') worst = this.#decideUnparsable(input);
    else if (units === 'whole') worst = this.#decideWhole(input);
    else if (units.length === 0) worst = EMPTY;
    else {
      worst = this.#decideStatement(input, units[0] as Unit);
      for (let i = 1; i < units.length && worst.action !== 'deny'; i += 1) {
        const d = this.#decideStatement(input, units[i] as Unit);
        if (RANK[d.action] > RANK[worst.action]) worst = d;
      }
    }
    return atPhase(worst, input.phase);
  }

  /**
   * The decision with its reasons: per statement, its facts and each rule tried.
   *
   * @example
   * process.stdout.write(formatExplanation(policy.explain(input)));
   */
  explain(input: PolicyInput): Explanation {
    const decision = this.decide(input);
    const base = {
      decision,
      phase: input.phase ?? 'execute',
      policy: { source: this.source, hash: this.hash },
    } as const;
    const units = unitsOf(input);
    if (units === 'unparsable') {
      const rules: RuleTrace[] = [];
      this.#firstMatch(input, undefined, rules);
      return { ...base, unparsable: { error: unparsableError(input), rules }, statements: [] };
    }
    if (units === 'whole') {
      const rules: RuleTrace[] = [];
      this.#firstMatch(input, undefined, rules, input.command.kind === 'forward');
      return { ...base, whole: { kind: input.command.kind, rules }, statements: [] };
    }
    if (input.command.kind === 'exec') {
      const invocations = (units as readonly ExecInvocation[]).map((inv, i) =>
        this.#explainInvocation(input, inv, i),
      );
      return { ...base, statements: [], invocations };
    }
    const statements = (units as readonly StatementFacts[]).map((st, i) =>
      this.#explainStatement(input, st, i),
    );
    return { ...base, statements };
  }

  #explainInvocation(
    input: PolicyInput,
    inv: ExecInvocation,
    index: number,
  ): InvocationExplanation {
    const rules: RuleTrace[] = [];
    const rule = this.#firstMatch(input, inv, rules);
    return {
      index,
      program: inv.program,
      argv: inv.argv,
      via: inv.via,
      facts: trueExecFacts(inv.facts),
      decision: rule?.decision ?? this.#fallback,
      rules,
    };
  }

  #explainStatement(input: PolicyInput, st: StatementFacts, index: number): StatementExplanation {
    const rules: RuleTrace[] = [];
    const rule = this.#firstMatch(input, st, rules);
    const { class: cls, tag, tags, tables, functions } = st;
    const decision = rule?.decision ?? this.#fallback;
    return {
      index,
      class: cls,
      tag,
      tags,
      tables,
      functions,
      facts: trueFacts(st.facts),
      decision,
      rules,
    };
  }

  #decideStatement(input: PolicyInput, st: Unit): Decision {
    return this.#firstMatch(input, st, undefined)?.decision ?? this.#fallback;
  }

  /** Shells, SFTP sessions and forwards have no statements: rules about the session decide. */
  #decideWhole(input: PolicyInput): Decision {
    const forward = input.command.kind === 'forward';
    const rule = this.#firstMatch(input, undefined, undefined, forward);
    return rule?.decision ?? (forward ? this.#noForward : this.#fallback);
  }

  #decideUnparsable(input: PolicyInput): Decision {
    const base = input.command.kind === 'exec' ? this.#unparsableExec : this.#unparsable;
    const rule = this.#firstMatch(input, undefined, undefined);
    if (rule === undefined || RANK[rule.decision.action] <= RANK[base.action]) return base;
    return rule.decision;
  }

  /**
   * The first rule matching `st` (or, for unparsable SQL, the first statement-free rule that
   * matches). With `trace`, records each rule tried.
   */
  #firstMatch(
    input: PolicyInput,
    st: Unit | undefined,
    trace: RuleTrace[] | undefined,
    forwardsOnly = false,
  ): CompiledRule | undefined {
    for (const rule of this.#rules) {
      if (st === undefined && !rule.statementFree) continue;
      if (forwardsOnly && !rule.forForwards) continue;
      const failed = firstFailure(rule, input, st);
      trace?.push(traceOf(rule, input, st, failed));
      if (failed === undefined) return rule;
    }
    return undefined;
  }
}

/**
 * What a command is judged by: its SQL statements or the programs its command line runs, or
 * 'whole' (shell, SFTP, forward: rules about the session only), or 'unparsable'.
 */
function unitsOf(input: PolicyInput): readonly Unit[] | 'unparsable' | 'whole' {
  const kind = input.command.kind;
  if (kind === 'sql') {
    const facts = input.analysis === undefined ? undefined : commandFacts(input.analysis);
    return facts ?? 'unparsable';
  }
  if (kind === 'exec') return input.shell?.ok === true ? input.shell.invocations : 'unparsable';
  return 'whole';
}

function unparsableError(input: PolicyInput): string {
  if (input.command.kind === 'exec') {
    return input.shell?.ok === false ? input.shell.error : 'no command line analysis';
  }
  return input.analysis?.ok === false ? input.analysis.error : 'no SQL analysis';
}

function firstFailure(
  rule: CompiledRule,
  input: PolicyInput,
  st: Unit | undefined,
): Condition | undefined {
  for (const c of rule.conditions) if (!c.test(input, st)) return c;
  return undefined;
}

function traceOf(
  rule: CompiledRule,
  input: PolicyInput,
  st: Unit | undefined,
  failed: Condition | undefined,
): RuleTrace {
  const { name, action } = rule;
  if (failed !== undefined) {
    return {
      rule: name,
      action,
      matched: false,
      reason: `${failed.key}: ${failed.why(input, st)}`,
    };
  }
  const keys = rule.conditions.map((c) => c.key);
  const reason = keys.length === 0 ? 'matches every command' : `matched ${keys.join(', ')}`;
  return { rule: name, action, matched: true, reason };
}

function atPhase(d: Decision, phase: PolicyInput['phase']): Decision {
  if (phase !== 'parse' || d.action !== 'review') return d;
  return d.rule === undefined ? { action: 'allow' } : { action: 'allow', rule: d.rule };
}

function compileRule(spec: RuleSpec, file: PolicyFile): CompiledRule {
  const mode = spec.action === 'allow' ? 'every' : 'any';
  const conditions = compileMatch(spec.match, { mode, searchPath: file.defaults.search_path });
  return {
    name: spec.name,
    action: spec.action,
    conditions,
    statementFree: conditions.every((c) => !c.perStatement),
    forForwards:
      spec.match.forwards !== undefined || spec.match.session?.includes('forward') === true,
    decision: makeDecision(spec.action, spec.name, file, {
      message: spec.message,
      approvers: spec.approvers,
      timeoutMs: spec.timeout,
    }),
  };
}

function makeDecision(
  action: Action,
  rule: string,
  file: PolicyFile,
  opts: {
    message?: string | undefined;
    approvers?: ReviewRequirement['approvers'] | undefined;
    timeoutMs?: number | undefined;
  },
): Decision {
  if (action === 'allow') return Object.freeze({ action, rule });
  if (action === 'deny') {
    return Object.freeze({
      action,
      rule,
      message: opts.message ?? `denied by policy rule "${rule}"`,
    });
  }
  const approvers = opts.approvers ?? file.defaults.approvers ?? [];
  const review: ReviewRequirement = Object.freeze({
    approvers: Object.freeze(approvers.map((a) => Object.freeze({ ...a }))),
    timeoutMs: opts.timeoutMs ?? file.defaults.review_timeout,
  });
  const message = opts.message;
  return Object.freeze(
    message === undefined ? { action, rule, review } : { action, rule, message, review },
  );
}
