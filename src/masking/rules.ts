/**
 * Masking rules compiled once, then narrowed per session: a rule applies when its connection
 * globs match and the identity is in none of its exempt groups. For each result column the
 * session's rules give one action: mask the whole value (a column rule), scan it for detector
 * types (type rules, and column rules that also name types), or nothing.
 */
import { compileGlobs, type GlobList, globMatch, globRegExp } from '../policy/glob.ts';
import type { MaskingRuleConfig, MaskStyle, OnError } from './config.ts';
import type { DetectorType } from './detectors/types.ts';

/** A result column resolved through the catalog. */
export interface ColumnName {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
}

export interface CompiledRule {
  readonly name: string;
  readonly style: MaskStyle;
  readonly onError: OnError;
  readonly connections: GlobList | null;
  readonly columns: readonly ColumnPattern[] | null;
  readonly types: ReadonlySet<DetectorType> | null;
  readonly exempt: ReadonlySet<string>;
}

/** One `schema.table.column` glob, as three anchored, case-insensitive parts. */
export interface ColumnPattern {
  readonly source: string;
  readonly parts: readonly [RegExp, RegExp, RegExp];
}

/** Which detector types to look for in a value, and which rule masks each. */
export interface ScanSpec {
  readonly types: ReadonlySet<DetectorType>;
  readonly ruleOf: ReadonlyMap<DetectorType, CompiledRule>;
}

export type RuleAction =
  | { readonly kind: 'whole'; readonly rule: CompiledRule }
  | { readonly kind: 'scan'; readonly scan: ScanSpec };

/**
 * @example
 * const p = compileColumnPattern('patients.ssn');
 * columnMatches(p, { schema: 'public', table: 'patients', column: 'ssn' }); // true
 */
export function compileColumnPattern(source: string): ColumnPattern {
  const given = source.split('.');
  const full = [...Array(3 - given.length).fill('*'), ...given] as string[];
  const [s, t, c] = full.map((p) => globRegExp(p, 'i')) as [RegExp, RegExp, RegExp];
  return { source, parts: [s, t, c] };
}

/** Unknown parts (undefined) match anything: used where only some names are known. */
export function columnMatches(
  p: ColumnPattern,
  name: { schema?: string | undefined; table?: string | undefined; column: string },
): boolean {
  const [s, t, c] = p.parts;
  return (
    c.test(name.column) &&
    (name.table === undefined || t.test(name.table)) &&
    (name.schema === undefined || s.test(name.schema))
  );
}

/** @example compileRules(config.masking.rules) */
export function compileRules(rules: readonly MaskingRuleConfig[]): CompiledRule[] {
  return rules.map((r) => ({
    name: r.name,
    style: r.style,
    onError: r.on_error,
    connections: r.connections ? compileGlobs(r.connections) : null,
    columns: r.columns ? r.columns.map(compileColumnPattern) : null,
    types: r.types ? new Set(r.types) : null,
    exempt: new Set(r.exempt_groups ?? []),
  }));
}

/** The rules of `rules` that apply on `connection` (ignoring exemptions). */
export function rulesForConnection(
  rules: readonly CompiledRule[],
  connection: string,
): CompiledRule[] {
  return rules.filter((r) => r.connections === null || globMatch(r.connections, connection));
}

/** Whether a rule applies to an identity with these groups. */
export function appliesTo(rule: CompiledRule, groups: readonly string[]): boolean {
  return !groups.some((g) => rule.exempt.has(g));
}

const MEMO_LIMIT = 10_000;

/**
 * The rules of one session, in config order (the first matching rule wins).
 *
 * @example
 * const s = new SessionRules(rulesForConnection(compiled, 'clinic').filter((r) => appliesTo(r, groups)));
 * s.actionFor({ schema: 'public', table: 'patients', column: 'ssn' }); // { kind: 'whole', rule }
 */
export class SessionRules {
  readonly rules: readonly CompiledRule[];
  /** Column rules without types: the whole value is masked. */
  readonly whole: readonly CompiledRule[];
  /** Column rules with types: only those findings, only in those columns. */
  readonly scoped: readonly CompiledRule[];
  /** Type rules without columns: findings anywhere, computed columns included. */
  readonly anywhere: readonly CompiledRule[];
  /** Scan for values with no known column (computed columns, messages from the server). */
  readonly anywhereScan: ScanSpec | null;
  /** Every type any rule of the session names. */
  readonly allScan: ScanSpec | null;
  readonly #memo = new Map<string, RuleAction | null>();

  constructor(rules: readonly CompiledRule[]) {
    this.rules = rules;
    this.whole = rules.filter((r) => r.columns && !r.types);
    this.scoped = rules.filter((r) => r.columns && r.types);
    this.anywhere = rules.filter((r) => !r.columns && r.types);
    this.anywhereScan = scanOf(this.anywhere);
    this.allScan = scanOf(rules.filter((r) => r.types));
  }

  /** Column rules need the catalog to name result columns. */
  get needsNames(): boolean {
    return this.whole.length > 0 || this.scoped.length > 0;
  }

  /**
   * The action for a column: `null` name = computed (no table), `'unresolved'` = the catalog
   * could not name it, so it fails closed (the first column rule, or every type).
   */
  actionFor(name: ColumnName | null | 'unresolved'): RuleAction | null {
    if (name === null) return this.anywhereScan && { kind: 'scan', scan: this.anywhereScan };
    if (name === 'unresolved') {
      const first = this.whole[0];
      if (first) return { kind: 'whole', rule: first };
      return this.allScan && { kind: 'scan', scan: this.allScan };
    }
    const key = `${name.schema}\0${name.table}\0${name.column}`;
    const hit = this.#memo.get(key);
    if (hit !== undefined) return hit;
    const action = this.#compute(name);
    if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear();
    this.#memo.set(key, action);
    return action;
  }

  /** The first column rule (without types) matching a partly known name. */
  wholeRuleFor(name: {
    schema?: string | undefined;
    table?: string | undefined;
    column: string;
  }): CompiledRule | undefined {
    return this.whole.find((r) => r.columns?.some((p) => columnMatches(p, name)));
  }

  #compute(name: ColumnName): RuleAction | null {
    const whole = this.wholeRuleFor(name);
    if (whole) return { kind: 'whole', rule: whole };
    const scoped = this.scoped.filter((r) => r.columns?.some((p) => columnMatches(p, name)));
    if (scoped.length === 0) return this.anywhereScan && { kind: 'scan', scan: this.anywhereScan };
    const inOrder = this.rules.filter((r) => scoped.includes(r) || this.anywhere.includes(r));
    const scan = scanOf(inOrder);
    return scan && { kind: 'scan', scan };
  }
}

function scanOf(rules: readonly CompiledRule[]): ScanSpec | null {
  const ruleOf = new Map<DetectorType, CompiledRule>();
  for (const r of rules) for (const t of r.types ?? []) if (!ruleOf.has(t)) ruleOf.set(t, r);
  if (ruleOf.size === 0) return null;
  return { types: new Set(ruleOf.keys()), ruleOf };
}
