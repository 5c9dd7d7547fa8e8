/**
 * getopt-style option parsing for the wrappers Airlock looks through (`sudo -u root -- cmd`):
 * short clusters, options with attached or separate arguments, long options with `=`, `--`.
 * An option the wrapper does not have, or one whose text is only known at run time, means we
 * cannot tell which command runs: that is an {@link Opaque} error and the caller fails closed.
 */

/** One argument as the analysis sees it. */
export interface Arg {
  /** The value after quote removal (for a dynamic argument, its source text). */
  readonly value: string;
  /** Not known exactly before it runs (a variable, a glob, a substitution). */
  readonly dynamic: boolean;
}

export interface OptionSpec {
  /** Short options that take an argument (`u` for `-u root` / `-uroot`). */
  readonly shortArg?: string;
  /** Short options without an argument. */
  readonly shortFlag?: string;
  /** Long options that take an argument (`--user root`, `--user=root`). */
  readonly longArg?: readonly string[];
  readonly longFlag?: readonly string[];
  /** Long options whose argument is optional and only given with `=`. */
  readonly longOptional?: readonly string[];
  /** `+o` style options too (shells). */
  readonly plus?: boolean;
  /** Single-dash long options (`-exec`); checked before short clusters. */
  readonly singleDashLong?: readonly string[];
}

export interface ParsedOptions {
  /** Options seen, by name (short letter or long name), with their argument or `true`. */
  readonly options: ReadonlyMap<string, string | true>;
  /** The first argument that is not an option, and everything after it. */
  readonly rest: readonly Arg[];
}

/** We cannot tell what a command line runs. */
export class Opaque extends Error {}

/**
 * @example
 * parseOptions(args('-u', 'root', '--', 'rm', '-rf', '/'), { shortArg: 'u' }, 'sudo');
 * // options: { u: 'root' }, rest: [rm, -rf, /]
 */
export function parseOptions(
  argv: readonly Arg[],
  spec: OptionSpec,
  program: string,
): ParsedOptions {
  const options = new Map<string, string | true>();
  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as Arg;
    if (a.dynamic && (a.value.startsWith('-') || !/^[A-Za-z0-9_./]/.test(a.value))) {
      throw new Opaque(
        `cannot tell which command ${program} runs: ${a.value} is only known at run time`,
      );
    }
    const v = a.value;
    if (v === '--') return { options, rest: argv.slice(i + 1) };
    const plus = spec.plus === true && v.startsWith('+') && v.length > 1;
    if (!(v.startsWith('-') || plus) || v === '-') break;
    i += v.startsWith('--')
      ? long(argv, i, spec, options, program)
      : short(argv, i, spec, options, program);
  }
  return { options, rest: argv.slice(i) };
}

/** Consumes one long option; returns how many arguments it took. */
function long(
  argv: readonly Arg[],
  i: number,
  spec: OptionSpec,
  options: Map<string, string | true>,
  program: string,
): number {
  const text = (argv[i] as Arg).value.slice(2);
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  if (spec.longArg?.includes(name)) {
    if (eq >= 0) {
      options.set(name, text.slice(eq + 1));
      return 1;
    }
    const next = argv[i + 1];
    if (next === undefined) throw new Opaque(`${program} --${name} needs an argument`);
    options.set(name, next.value);
    return 2;
  }
  if (spec.longFlag?.includes(name) && eq < 0) {
    options.set(name, true);
    return 1;
  }
  if (spec.longOptional?.includes(name)) {
    options.set(name, eq < 0 ? true : text.slice(eq + 1));
    return 1;
  }
  throw new Opaque(`cannot tell which command ${program} runs: unknown option --${name}`);
}

/** Consumes one short-option cluster (`-xvf file`); returns how many arguments it took. */
function short(
  argv: readonly Arg[],
  i: number,
  spec: OptionSpec,
  options: Map<string, string | true>,
  program: string,
): number {
  const v = (argv[i] as Arg).value;
  if (spec.singleDashLong?.includes(v.slice(1))) {
    options.set(v.slice(1), true);
    return 1;
  }
  for (let j = 1; j < v.length; j += 1) {
    const ch = v[j] as string;
    if (spec.shortArg?.includes(ch)) {
      if (j + 1 < v.length) {
        options.set(ch, v.slice(j + 1));
        return 1;
      }
      const next = argv[i + 1];
      if (next === undefined) throw new Opaque(`${program} -${ch} needs an argument`);
      options.set(ch, next.value);
      return 2;
    }
    if (!spec.shortFlag?.includes(ch)) {
      throw new Opaque(`cannot tell which command ${program} runs: unknown option -${ch}`);
    }
    options.set(ch, true);
  }
  return 1;
}

/**
 * Leading `NAME=value` arguments (env, sudo): their names, and the arguments after them.
 *
 * @example
 * leadingAssignments(args('PATH=/tmp', 'ls')); // { names: ['PATH'], rest: [ls] }
 */
export function leadingAssignments(argv: readonly Arg[]): {
  names: string[];
  rest: readonly Arg[];
} {
  const names: string[] = [];
  let i = 0;
  for (; i < argv.length; i += 1) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec((argv[i] as Arg).value);
    if (m === null) break;
    names.push(m[1] as string);
  }
  return { names, rest: argv.slice(i) };
}
