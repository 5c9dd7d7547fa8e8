/**
 * A rule's `match` keys compiled into conditions: a `test` that runs on every statement (no
 * allocation, precompiled RegExps and Sets) and a `why` that only explanations call.
 *
 * List keys are any-of for `deny` and `review` rules (one protected table is enough) and every-of
 * for `allow` rules (every table of the statement must be allowed, and there must be one), so an
 * allow rule for `reporting.*` does not let a join with `patients` through.
 */
import type { Identity } from '../identity/types.ts';
import { EXEC_FACT_NAMES, type ExecFactName, type ExecInvocation } from '../shell/analyze.ts';
import type { TableAccess } from '../sql/analyze.ts';
import { compileCommandPattern, matchesCommand } from './commands.ts';
import {
  FACT_NAMES,
  type FactName,
  type FunctionFact,
  type StatementFacts,
  type TableFact,
} from './facts.ts';
import { compileGlobs, type GlobList, globMatch, globRegExp } from './glob.ts';
import { compileHttpMatch } from './http-conditions.ts';
import type { PolicyInput } from './policy.ts';
import type { MatchSpec } from './schema.ts';
import { TimeWindow } from './window.ts';

/** `any`: one item of the statement matching suffices; `every`: all must, and there is one. */
export type ListMode = 'any' | 'every';

/**
 * What per-statement conditions judge: one SQL statement, or one program an SSH command line
 * runs. A SQL key never matches a program and a `commands` key never matches SQL.
 */
export type Unit = StatementFacts | ExecInvocation;

/** The unit as a SQL statement, if it is one. */
export function sqlUnit(u: Unit | undefined): StatementFacts | undefined {
  return u !== undefined && 'class' in u ? u : undefined;
}

/** The unit as a program invocation, if it is one. */
export function execUnit(u: Unit | undefined): ExecInvocation | undefined {
  return u !== undefined && 'argv' in u ? u : undefined;
}

export interface Condition {
  /** The `match` key, e.g. `connections`, `labels.env`, `tables`. */
  readonly key: string;
  /** Whether it depends on the statement (false: connection, identity, grant, time, kind). */
  readonly perStatement: boolean;
  test(input: PolicyInput, st: Unit | undefined): boolean;
  /** Why `test` failed, for people. */
  why(input: PolicyInput, st: Unit | undefined): string;
}

export interface CompileContext {
  readonly mode: ListMode;
  /** Schemas an unqualified table may resolve to. */
  readonly searchPath: readonly string[];
}

/**
 * Compiles `match` in evaluation order: command keys first, statement keys, the window last.
 *
 * @example
 * const conds = compileMatch({ connections: ['clinic*'] }, { mode: 'any', searchPath: ['public'] });
 * conds[0].test(input, facts); // true when input.connection is e.g. "clinic-prod"
 */
export function compileMatch(match: MatchSpec, ctx: CompileContext): Condition[] {
  const conds: Condition[] = [];
  if (match.connections) conds.push(connections(match.connections));
  for (const [key, value] of Object.entries(match.labels ?? {})) conds.push(label(key, value));
  if (match.identity?.is) conds.push(identityKind(match.identity.is));
  if (match.identity?.names) conds.push(identityField('names', 'name', match.identity.names));
  if (match.identity?.owners) conds.push(identityField('owners', 'owner', match.identity.owners));
  if (match.groups) conds.push(groups(match.groups));
  if (match.has_grant !== undefined) conds.push(hasGrant(match.has_grant));
  if (match.session) conds.push(session(match.session));
  if (match.forwards) conds.push(forwards(match.forwards));
  if (match.commands) conds.push(commands(match.commands, ctx.mode));
  conds.push(...compileHttpMatch(match));
  if (match.classes) conds.push(classes(match.classes));
  if (match.statements) conds.push(statements(match.statements, ctx.mode));
  if (match.facts) conds.push(facts(match.facts, ctx.mode));
  if (match.tables || match.access) conds.push(tables(match.tables, match.access, ctx));
  if (match.functions) conds.push(functions(match.functions, ctx));
  if (match.window) conds.push(timeWindow(new TimeWindow(match.window)));
  return conds;
}

const list = (g: GlobList | readonly string[]): string =>
  `[${('source' in g ? g.source : g).join(', ')}]`;

function connections(patterns: readonly string[]): Condition {
  const g = compileGlobs(patterns);
  return {
    key: 'connections',
    perStatement: false,
    test: (input) => globMatch(g, input.connection),
    why: (input) => `connection "${input.connection}" is not in ${list(g)}`,
  };
}

function label(key: string, value: string | readonly string[]): Condition {
  const g = compileGlobs(typeof value === 'string' ? [value] : value);
  const get = (input: PolicyInput) => input.connectionLabels?.[key];
  return {
    key: `labels.${key}`,
    perStatement: false,
    test: (input) => {
      const v = get(input);
      return v !== undefined && globMatch(g, v);
    },
    why: (input) => {
      const v = get(input);
      return v === undefined
        ? `connection has no label ${key}`
        : `label ${key} is "${v}", not ${list(g)}`;
    },
  };
}

function identityKind(is: 'agent' | 'human'): Condition {
  const kind = is === 'agent' ? 'token' : 'oidc';
  return {
    key: 'identity.is',
    perStatement: false,
    test: (input) => input.identity.kind === kind,
    why: (input) =>
      `${input.identity.name} is ${describeKind(input.identity)}, not ${is === 'agent' ? 'an agent' : 'a human'}`,
  };
}

const describeKind = (identity: Identity): string =>
  identity.kind === 'token' ? 'an agent (token)' : 'a human (oidc)';

function identityField(key: string, field: 'name' | 'owner', patterns: readonly string[]) {
  const g = compileGlobs(patterns);
  return {
    key: `identity.${key}`,
    perStatement: false,
    test: (input) => globMatch(g, input.identity[field]),
    why: (input) => `identity ${field} "${input.identity[field]}" is not in ${list(g)}`,
  } satisfies Condition;
}

/** Member of a listed group (or none listed), and of no `!` group. */
function groups(patterns: readonly string[]): Condition {
  const g = compileGlobs(patterns);
  return {
    key: 'groups',
    perStatement: false,
    test: (input) => {
      let included = g.include === null;
      for (const group of input.identity.groups) {
        if (g.exclude?.test(group) === true) return false;
        included ||= g.include?.test(group) === true;
      }
      return included;
    },
    why: (input) => `groups [${input.identity.groups.join(', ')}] do not satisfy ${list(g)}`,
  };
}

function hasGrant(want: boolean): Condition {
  return {
    key: 'has_grant',
    perStatement: false,
    test: (input) => (input.hasGrant === true) === want,
    why: () => (want ? 'identity holds no access grant' : 'identity holds an access grant'),
  };
}

function classes(wanted: readonly string[]): Condition {
  const set = new Set(wanted);
  return {
    key: 'classes',
    perStatement: true,
    test: (_input, u) => {
      const st = sqlUnit(u);
      return st !== undefined && set.has(st.class);
    },
    why: (_input, u) => `class ${sqlUnit(u)?.class ?? 'none (not SQL)'} is not in ${list(wanted)}`,
  };
}

function statements(patterns: readonly string[], mode: ListMode): Condition {
  const g = compileGlobs(patterns.map(normaliseTag), { ignoreCase: true });
  const ok = (tag: string) => globMatch(g, tag);
  return {
    key: 'statements',
    perStatement: true,
    test: (_input, u) => {
      const st = sqlUnit(u);
      return st !== undefined && (mode === 'any' ? st.tags.some(ok) : st.tags.every(ok));
    },
    why: (_input, u) => {
      const tags = sqlUnit(u)?.tags ?? [];
      if (mode === 'any') return `command tags [${tags.join(', ')}] are not in ${list(g)}`;
      return `command tag ${tags.find((t) => !ok(t)) ?? '?'} is not in ${list(g)}`;
    },
  };
}

function normaliseTag(pattern: string): string {
  return pattern.trim().replace(/\s+/g, ' ');
}

type AnyFact = FactName | ExecFactName;

/** The facts that hold for a unit, keyed by name, and the names its kind can have. */
function factsOf(u: Unit): {
  readonly set: Readonly<Record<string, boolean>>;
  readonly names: readonly AnyFact[];
} {
  const st = sqlUnit(u);
  if (st !== undefined) return { set: st.facts, names: FACT_NAMES };
  return { set: (u as ExecInvocation).facts, names: EXEC_FACT_NAMES };
}

function facts(wanted: readonly AnyFact[], mode: ListMode): Condition {
  const set = new Set<AnyFact>(wanted);
  const anyOf = (u: Unit) => {
    const { set: held } = factsOf(u);
    for (const f of wanted) if (held[f] === true) return true;
    return false;
  };
  const everyOf = (u: Unit) => {
    const { set: holds, names } = factsOf(u);
    let held = 0;
    for (const f of names) {
      if (holds[f] !== true) continue;
      if (!set.has(f)) return false;
      held += 1;
    }
    return held > 0;
  };
  return {
    key: 'facts',
    perStatement: true,
    test: (_input, st) => st !== undefined && (mode === 'any' ? anyOf(st) : everyOf(st)),
    why: (_input, st) => {
      const of = st === undefined ? undefined : factsOf(st);
      const held = of === undefined ? [] : of.names.filter((f) => of.set[f] === true);
      const has = held.length === 0 ? 'none' : held.join(', ');
      if (mode === 'any') return `none of ${list(wanted)} holds (facts: ${has})`;
      const extra = held.find((f) => !set.has(f));
      return extra === undefined
        ? 'the statement has no facts'
        : `fact ${extra} is not in ${list(wanted)}`;
    },
  };
}

/** One `schema.name` pattern. A bare `name` matches that name in any schema. */
interface NamePattern {
  readonly negated: boolean;
  readonly schema: RegExp | null;
  readonly name: RegExp;
  /** Whether an unqualified reference may resolve into the pattern's schema. */
  readonly unqualified: boolean;
}

function namePatterns(patterns: readonly string[], searchPath: readonly string[]): NamePattern[] {
  return patterns.map((raw) => {
    const negated = raw.startsWith('!');
    const p = negated ? raw.slice(1) : raw;
    const dot = p.indexOf('.');
    const schema = dot < 0 ? null : globRegExp(p.slice(0, dot));
    const name = globRegExp(dot < 0 ? p : p.slice(dot + 1));
    const unqualified = schema === null || searchPath.some((s) => schema.test(s));
    return { negated, schema, name, unqualified };
  });
}

function nameMatches(p: NamePattern, schema: string | null, name: string): boolean {
  if (!p.name.test(name)) return false;
  if (p.schema === null) return true;
  return schema === null ? p.unqualified : p.schema.test(schema);
}

/** In a positive pattern (or there are none) and in no `!` pattern. */
function namesMatch(ps: readonly NamePattern[], schema: string | null, name: string): boolean {
  let positives = 0;
  let included = false;
  for (const p of ps) {
    if (p.negated) {
      if (nameMatches(p, schema, name)) return false;
    } else {
      positives += 1;
      included ||= nameMatches(p, schema, name);
    }
  }
  return positives === 0 || included;
}

function tables(
  patterns: readonly string[] | undefined,
  access: readonly TableAccess[] | undefined,
  ctx: CompileContext,
): Condition {
  const ps = patterns === undefined ? undefined : namePatterns(patterns, ctx.searchPath);
  const accesses = access === undefined ? undefined : new Set(access);
  const ok = (t: TableFact) =>
    (ps === undefined || namesMatch(ps, t.schema, t.table)) &&
    (accesses === undefined || accesses.has(t.access));
  const wanted = [
    ...(patterns === undefined ? [] : [list(patterns)]),
    ...(access === undefined ? [] : [`access ${list(access)}`]),
  ].join(' with ');
  return {
    key: patterns === undefined ? 'access' : 'tables',
    perStatement: true,
    test: (_input, u) => {
      const st = sqlUnit(u);
      return (
        st !== undefined && (ctx.mode === 'any' ? st.tables.some(ok) : someAndAll(st.tables, ok))
      );
    },
    why: (_input, u) => {
      const ts = sqlUnit(u)?.tables ?? [];
      if (ts.length === 0) return 'the statement names no table';
      if (ctx.mode === 'any') return `no table matches ${wanted} (tables: ${describeTables(ts)})`;
      const bad = ts.find((t) => !ok(t));
      return `table ${bad?.name} (${bad?.access}) does not match ${wanted}`;
    },
  };
}

const describeTables = (ts: readonly TableFact[]): string =>
  ts.map((t) => `${t.name} ${t.access}`).join(', ');

function functions(patterns: readonly string[], ctx: CompileContext): Condition {
  const ps = namePatterns(patterns, ['pg_catalog', ...ctx.searchPath]);
  const ok = (f: FunctionFact) => namesMatch(ps, f.schema, f.function);
  return {
    key: 'functions',
    perStatement: true,
    test: (_input, u) => {
      const st = sqlUnit(u);
      return (
        st !== undefined &&
        (ctx.mode === 'any' ? st.functions.some(ok) : someAndAll(st.functions, ok))
      );
    },
    why: (_input, u) => {
      const fs = sqlUnit(u)?.functions ?? [];
      if (fs.length === 0) return 'the statement calls no function';
      if (ctx.mode === 'any') {
        return `no function matches ${list(patterns)} (calls: ${fs.map((f) => f.name).join(', ')})`;
      }
      return `function ${fs.find((f) => !ok(f))?.name} is not in ${list(patterns)}`;
    },
  };
}

/** What kind of command it is (`sql`, `exec`, `shell`, `sftp`, `forward`). */
function session(kinds: readonly string[]): Condition {
  const set = new Set(kinds);
  return {
    key: 'session',
    perStatement: false,
    test: (input) => set.has(input.command.kind),
    why: (input) => `command kind ${input.command.kind} is not in ${list(kinds)}`,
  };
}

/** The `host:port` a port forward asks for. */
function forwards(patterns: readonly string[]): Condition {
  const g = compileGlobs(patterns, { ignoreCase: true });
  const target = (input: PolicyInput) =>
    input.command.kind === 'forward' ? `${input.command.host}:${input.command.port}` : undefined;
  return {
    key: 'forwards',
    perStatement: false,
    test: (input) => {
      const t = target(input);
      return t !== undefined && globMatch(g, t);
    },
    why: (input) => {
      const t = target(input);
      return t === undefined ? 'not a port forward' : `${t} is not in ${list(g)}`;
    },
  };
}

/** Programs an SSH command line runs, matched on their parsed argv (see commands.ts). */
function commands(patterns: readonly string[], mode: ListMode): Condition {
  const compiled = patterns.map(compileCommandPattern);
  const ok = (inv: ExecInvocation) => compiled.some((p) => matchesCommand(p, inv, mode));
  return {
    key: 'commands',
    perStatement: true,
    test: (_input, u) => {
      const inv = execUnit(u);
      return inv !== undefined && ok(inv);
    },
    why: (_input, u) => {
      const inv = execUnit(u);
      if (inv === undefined) return 'not a command line';
      return `${inv.argv.join(' ').slice(0, 120)} does not match ${list(patterns)}`;
    },
  };
}

function someAndAll<T>(items: readonly T[], ok: (item: T) => boolean): boolean {
  return items.length > 0 && items.every(ok);
}

function timeWindow(w: TimeWindow): Condition {
  const at = (input: PolicyInput) => input.now ?? Date.now();
  return {
    key: 'window',
    perStatement: false,
    test: (input) => w.contains(at(input)),
    why: (input) => {
      const { day, minute } = w.local(at(input));
      const hhmm = `${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`;
      return `${day} ${hhmm} ${w.spec.tz} is not ${w.spec.outside === true ? 'outside' : 'inside'} the window ${w.describe()}`;
    },
  };
}

const pad = (n: number): string => String(n).padStart(2, '0');
