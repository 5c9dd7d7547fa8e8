/**
 * Command-line analysis for policy: every program an SSH `exec` command may run, with its argv,
 * the wrappers it runs under (`sudo`, `sh -c`, `xargs`, ...) and facts such as `privileged` or
 * `writes_file`. A command whose program is only known at run time (`$CMD`, `{rm,-rf,/}`), or
 * whose wrapper we cannot read, is not analysable: policy applies its `unparsable` default.
 *
 * The text is what the upstream user's login shell runs (`$SHELL -c "<command>"`); the analysis
 * assumes a POSIX shell (sh, bash, dash, zsh in sh mode).
 */
import { type Arg, Opaque } from './options.ts';
import { parseShell } from './parser.ts';
import type { SimpleCommand, Word } from './types.ts';
import { type Runs, type WrapperFacts, wrapperFor } from './wrappers.ts';

export const EXEC_FACT_NAMES = [
  /** Runs as another user: under sudo, doas, su, pkexec or run0. */
  'privileged',
  /** Runs asynchronously: `&`, nohup, setsid, `sudo -b`. */
  'background',
  /** One of several commands connected by `|`. */
  'pipeline',
  /** Runs inside `$(...)`, backquotes or `<(...)`. */
  'substitution',
  /** Redirects output to a file (other than /dev/null and the standard streams). */
  'writes_file',
  /** Some argument is only known at run time (a variable, a glob, xargs input). */
  'dynamic_args',
  /** An interpreter given code inline: `python -c`, `perl -e`, `node -e`, an awk program. */
  'inline_code',
  /** A shell or interpreter reading its program from standard input (`curl … | sh`). */
  'stdin_script',
  /** Runs on another host or container: `ssh host cmd`, `kubectl exec`, `docker exec`. */
  'remote',
  /** Sets a variable that changes what runs: PATH, LD_PRELOAD, BASH_ENV, ... */
  'env_override',
  /** Defined in a function body: runs if the function is called. */
  'function_body',
] as const;
export type ExecFactName = (typeof EXEC_FACT_NAMES)[number];
export type ExecFactSet = Readonly<Record<ExecFactName, boolean>>;

/** One program the command line may run. */
export interface ExecInvocation {
  /** Arguments after quote removal; a dynamic one as written (`$HOME/x`). */
  readonly argv: readonly string[];
  /** Indexes of argv entries only known at run time. */
  readonly dynamic: readonly number[];
  /** `argv[0]`'s basename: `rm` for `/bin/rm`. */
  readonly program: string;
  /** The wrappers it runs under, outermost first: `['sudo', 'sh']`. */
  readonly via: readonly string[];
  readonly facts: ExecFactSet;
}

export type ShellAnalysis =
  | { readonly ok: true; readonly invocations: readonly ExecInvocation[] }
  | { readonly ok: false; readonly error: string };

/** Variables that change which program runs or what it loads. */
const RISKY_ENV = new Set([
  'PATH',
  'BASH_ENV',
  'ENV',
  'IFS',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'PROMPT_COMMAND',
  'NODE_OPTIONS',
  'PYTHONSTARTUP',
  'PYTHONPATH',
  'PERL5OPT',
  'PERL5LIB',
  'RUBYOPT',
  'GIT_SSH_COMMAND',
  'GIT_EXEC_PATH',
]);

const SAFE_TARGETS = new Set(['/dev/null', '/dev/stdout', '/dev/stderr', '/dev/tty']);
const WRITE_OPS = new Set(['>', '>>', '>|', '<>', '&>', '&>>', '>&']);
/** Wrappers inside wrappers inside scripts: deeper than this is refused. */
const MAX_NESTING = 12;

interface Context {
  readonly facts: Partial<Record<ExecFactName, boolean>>;
  readonly via: readonly string[];
  readonly depth: number;
  /** The last here-document or here-string the command reads. */
  readonly stdin: { readonly text: string; readonly literal: boolean } | undefined;
}

/**
 * @example
 * const a = analyzeShell("sudo -u root sh -c 'rm -rf /tmp/x'");
 * // a.ok === true; a.invocations.map((i) => [i.program, i.via, i.facts.privileged]):
 * // [['sudo', [], false], ['sh', ['sudo'], true], ['rm', ['sudo', 'sh'], true]]
 */
export function analyzeShell(text: string): ShellAnalysis {
  const out: ExecInvocation[] = [];
  try {
    script(text, { facts: {}, via: [], depth: 0, stdin: undefined }, out);
  } catch (err) {
    if (err instanceof Opaque) return { ok: false, error: err.message };
    throw err;
  }
  return { ok: true, invocations: out };
}

function script(text: string, ctx: Context, out: ExecInvocation[]): void {
  if (ctx.depth > MAX_NESTING) throw new Opaque('commands nested too deeply to analyse');
  const parsed = parseShell(text);
  if (!parsed.ok) {
    const where = ctx.depth > 0 ? ' (in a nested script)' : '';
    throw new Opaque(`shell syntax${where}: ${parsed.error} at offset ${parsed.offset}`);
  }
  for (const c of parsed.commands) simpleCommand(c, ctx, out);
}

function simpleCommand(c: SimpleCommand, outer: Context, out: ExecInvocation[]): void {
  const facts: Partial<Record<ExecFactName, boolean>> = {
    ...outer.facts,
    ...(c.background ? { background: true } : {}),
    ...(c.pipeline ? { pipeline: true } : {}),
    ...(c.substitution ? { substitution: true } : {}),
    ...(c.functionBody ? { function_body: true } : {}),
    ...(writesFile(c) ? { writes_file: true } : {}),
    ...(c.assignments.some(isRisky) ? { env_override: true } : {}),
  };
  const stdin = c.stdin.at(-1) ?? (c.pipedInput ? undefined : outer.stdin);
  invoke(c.words.map(toArg), { facts, via: outer.via, depth: outer.depth, stdin }, out);
}

function invoke(argv: readonly Arg[], ctx: Context, out: ExecInvocation[]): void {
  const first = argv[0];
  if (first === undefined) return;
  if (first.dynamic) {
    throw new Opaque(`the program name ${first.value} is only known at run time`);
  }
  const program = basename(first.value);
  const dynamic = argv.flatMap((a, i) => (a.dynamic ? [i] : []));
  const own: Partial<Record<ExecFactName, boolean>> = { ...ctx.facts };
  if (dynamic.length > 0) own.dynamic_args = true;
  const index = out.length;
  out.push(invocation(argv, program, ctx.via, own, dynamic));
  const wrapper = wrapperFor(program);
  if (wrapper === undefined) return;
  const runs = wrapper(argv.slice(1), program);
  for (const r of Array.isArray(runs) ? runs : [runs as Runs]) {
    const extra = follow(r as Runs, program, ctx, out);
    if (extra !== undefined)
      out[index] = invocation(argv, program, ctx.via, { ...own, ...extra }, dynamic);
  }
}

/** Runs what a wrapper runs; returns facts that belong to the wrapper's own invocation. */
function follow(
  r: Runs,
  program: string,
  ctx: Context,
  out: ExecInvocation[],
): Partial<Record<ExecFactName, boolean>> | undefined {
  if (r.kind === 'none') return undefined;
  if (r.kind === 'code') return { inline_code: true };
  const inner: Context = {
    facts: { ...ctx.facts, ...wrapperFacts(r.facts) },
    via: [...ctx.via, program],
    depth: ctx.depth + 1,
    stdin: ctx.stdin,
  };
  if (r.kind === 'argv') {
    invoke(r.argv, inner, out);
    return undefined;
  }
  if (r.kind === 'script') {
    if (r.script.dynamic) {
      throw new Opaque(
        `${program} runs a script that is only known at run time: ${r.script.value}`,
      );
    }
    script(r.script.value, inner, out);
    return undefined;
  }
  // Reads its program from standard input: a literal here-document we can read, else unknown.
  if (r.shell && ctx.stdin?.literal === true) {
    script(ctx.stdin.text, { ...inner, stdin: undefined }, out);
    return undefined;
  }
  return r.facts?.remote ? { stdin_script: true, remote: true } : { stdin_script: true };
}

function wrapperFacts(f: WrapperFacts | undefined): Partial<Record<ExecFactName, boolean>> {
  if (f === undefined) return {};
  return {
    ...(f.privileged ? { privileged: true } : {}),
    ...(f.background ? { background: true } : {}),
    ...(f.remote ? { remote: true } : {}),
    ...(f.dynamic_args ? { dynamic_args: true } : {}),
    ...(f.env?.some(isRisky) ? { env_override: true } : {}),
  };
}

function invocation(
  argv: readonly Arg[],
  program: string,
  via: readonly string[],
  facts: Partial<Record<ExecFactName, boolean>>,
  dynamic: readonly number[],
): ExecInvocation {
  const all = Object.fromEntries(EXEC_FACT_NAMES.map((f) => [f, facts[f] === true])) as Record<
    ExecFactName,
    boolean
  >;
  return Object.freeze({
    argv: Object.freeze(argv.map((a) => a.value)),
    dynamic: Object.freeze([...dynamic]),
    program,
    via: Object.freeze([...via]),
    facts: Object.freeze(all),
  });
}

function toArg(w: Word): Arg {
  const dynamic = !w.literal || w.glob || w.brace;
  return { value: dynamic ? w.raw : w.value, dynamic };
}

function basename(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

function isRisky(name: string): boolean {
  return RISKY_ENV.has(name) || name.startsWith('LD_') || name.startsWith('DYLD_');
}

function writesFile(c: SimpleCommand): boolean {
  return c.redirects.some((r) => {
    if (!WRITE_OPS.has(r.op)) return false;
    const t = r.target;
    if (r.op === '>&' && t.literal && /^(\d+|-)$/.test(t.value)) return false;
    return !(t.literal && SAFE_TARGETS.has(t.value));
  });
}

/**
 * The facts that hold, in {@link EXEC_FACT_NAMES} order.
 *
 * @example
 * trueExecFacts(analysis.invocations[0].facts); // ['privileged', 'pipeline']
 */
export function trueExecFacts(facts: ExecFactSet): ExecFactName[] {
  return EXEC_FACT_NAMES.filter((f) => facts[f]);
}
