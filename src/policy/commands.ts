/**
 * `commands:` patterns of policy rules, matched against one analysed program invocation (see
 * shell/analyze.ts), never against the text. A pattern is shell words:
 *
 * - the first is a glob for the program's name (`rm`, `kubectl`, `python*`), or for its path
 *   when it holds a `/` (`/usr/local/bin/*`);
 * - a word starting with `-` asks for flags: `-rf` is satisfied by `-rf`, `-fr`, `-r -f` or
 *   `-Rf` (rm treats `-R` as `-r`), and for rm by `--recursive --force`; `--force` by `--force`,
 *   `--force=x` and GNU abbreviations such as `--forc`;
 * - other words must appear, in order, among the non-flag arguments (`kubectl delete` matches
 *   `kubectl -n prod delete pod x`); they are globs;
 * - a trailing `*` (`"rm -rf*"`, `"kubectl delete*"`) is allowed and changes nothing: extra
 *   arguments never prevent a match.
 *
 * Arguments only known at run time (`rm "$f"`, `rm *`) may hold any flag or value. For `deny` and
 * `review` rules they therefore match (fail safe: `rm "$f"` can be `rm -rf /`); for `allow` rules
 * they do not.
 */

import type { ExecInvocation } from '../shell/analyze.ts';
import { parseShell } from '../shell/parser.ts';
import { globRegExp } from './glob.ts';

export interface CommandPattern {
  readonly source: string;
  readonly program: RegExp;
  /** Match the program's path as written, not its name. */
  readonly byPath: boolean;
  /** Short flag letters that must all be present (after aliases). */
  readonly letters: readonly string[];
  /** Long option names that must be present (after aliases). */
  readonly longs: readonly string[];
  /** Single-dash words that must be present as written (`find -delete`). */
  readonly words: readonly string[];
  readonly positionals: readonly RegExp[];
}

/**
 * Programs whose options are single-dash words (`find -delete`, `openssl -in`): their flags are
 * matched as whole words, never as letters.
 */
const WHOLE_WORD_FLAGS = new Set([
  'find',
  'openssl',
  'java',
  'javac',
  'gcc',
  'g++',
  'cc',
  'clang',
  'ffmpeg',
  'ffprobe',
  'xdotool',
  'iptables-save',
]);

/** Spellings of the same option, per program: long names and letters → the canonical letter. */
const ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  rm: { R: 'r', recursive: 'r', force: 'f', dir: 'd', verbose: 'v' },
  cp: { R: 'r', recursive: 'r', force: 'f' },
  chmod: { recursive: 'R' },
  chown: { recursive: 'R' },
  chgrp: { recursive: 'R' },
  git: { force: 'f' },
  mv: { force: 'f' },
  ln: { force: 'f', symbolic: 's' },
};

/** Thrown for a pattern that is not shell words. */
export class CommandPatternError extends Error {}

/**
 * @example
 * const p = compileCommandPattern('rm -rf');
 * matchesCommand(p, analyzeShell('rm -fr /tmp/x').invocations[0], 'any'); // true
 */
export function compileCommandPattern(source: string): CommandPattern {
  const words = patternWords(source);
  const [head, ...rest] = words;
  if (head === undefined) throw new CommandPatternError('expected a program name');
  const program = programOf(head);
  const aliases = ALIASES[program.split('/').pop() ?? ''] ?? {};
  const letters = new Set<string>();
  const longs: string[] = [];
  const whole: string[] = [];
  const positionals: RegExp[] = [];
  const lastIndex = rest.length - 1;
  rest.forEach((raw, i) => {
    const w =
      i === lastIndex && raw.length > 1 && raw.endsWith('*') && raw.startsWith('-')
        ? raw.slice(0, -1)
        : raw;
    if (w.startsWith('--') && w.length > 2) addLong(w.slice(2), aliases, letters, longs);
    else if (w.startsWith('-') && w.length > 1) {
      whole.push(w);
      for (const ch of w.slice(1)) letters.add(aliases[ch] ?? ch);
    } else positionals.push(globRegExp(w));
  });
  return Object.freeze({
    source,
    program: globRegExp(program),
    byPath: program.includes('/'),
    letters: Object.freeze([...letters]),
    longs: Object.freeze(longs),
    words: Object.freeze(whole),
    positionals: Object.freeze(positionals),
  });
}

function patternWords(source: string): string[] {
  const parsed = parseShell(source);
  const first = parsed.ok ? parsed.commands[0] : undefined;
  if (!parsed.ok || first === undefined || parsed.commands.length !== 1) {
    throw new CommandPatternError('expected one command: a program name, then flags and words');
  }
  return first.words.map((w) => w.value);
}

function programOf(head: string): string {
  if (head.length === 0) throw new CommandPatternError('expected a program name');
  return head.trim();
}

function addLong(
  option: string,
  aliases: Readonly<Record<string, string>>,
  letters: Set<string>,
  longs: string[],
): void {
  const name = option.split('=')[0] as string;
  const letter = aliases[name];
  if (letter !== undefined) letters.add(letter);
  else longs.push(name);
}

/** The flags and positional arguments of one invocation, split once per match. */
interface ArgShape {
  readonly letters: Set<string>;
  readonly longs: string[];
  readonly words: Set<string>;
  readonly positionals: { readonly value: string; readonly dynamic: boolean }[];
  /** Some argument is only known at run time. */
  readonly dynamic: boolean;
}

function shapeOf(inv: ExecInvocation): ArgShape {
  const aliases = ALIASES[inv.program] ?? {};
  const wholeWords = WHOLE_WORD_FLAGS.has(inv.program);
  const shape: ArgShape = {
    letters: new Set(),
    longs: [],
    words: new Set(),
    positionals: [],
    dynamic: false,
  };
  const dynamic = new Set(inv.dynamic);
  let optionsEnded = false;
  for (let i = 1; i < inv.argv.length; i += 1) {
    const a = inv.argv[i] as string;
    if (dynamic.has(i)) {
      (shape as { dynamic: boolean }).dynamic = true;
      shape.positionals.push({ value: a, dynamic: true });
    } else if (optionsEnded || a === '-' || !a.startsWith('-')) {
      shape.positionals.push({ value: a, dynamic: false });
    } else if (a === '--') {
      optionsEnded = true;
    } else if (a.startsWith('--')) {
      const name = a.slice(2).split('=')[0] as string;
      const letter = aliases[name] ?? abbreviated(aliases, name);
      if (letter !== undefined) shape.letters.add(letter);
      shape.longs.push(name);
    } else {
      shape.words.add(a);
      if (!wholeWords) for (const ch of a.slice(1)) shape.letters.add(aliases[ch] ?? ch);
    }
  }
  return shape;
}

/** GNU getopt: `--rec` is `--recursive` when no other long option starts so. */
function abbreviated(aliases: Readonly<Record<string, string>>, name: string): string | undefined {
  if (name.length < 2) return undefined;
  const hits = Object.keys(aliases).filter((k) => k.length > 1 && k.startsWith(name));
  return hits.length === 1 ? aliases[hits[0] as string] : undefined;
}

/**
 * Whether an invocation matches. `any` (deny/review rules): an argument known only at run time
 * may be anything. `every` (allow rules): only what is known counts.
 *
 * @example
 * matchesCommand(compileCommandPattern('kubectl delete'), inv, 'any');
 */
export function matchesCommand(
  p: CommandPattern,
  inv: ExecInvocation,
  mode: 'any' | 'every',
): boolean {
  const name = p.byPath ? (inv.argv[0] ?? '') : inv.program;
  if (!p.program.test(name)) return false;
  const shape = shapeOf(inv);
  const unknown = mode === 'any' && shape.dynamic;
  return flagsMatch(p, shape, inv.program, unknown) && positionalsMatch(p.positionals, shape, mode);
}

function flagsMatch(p: CommandPattern, s: ArgShape, program: string, unknown: boolean): boolean {
  if (unknown) return true;
  if (WHOLE_WORD_FLAGS.has(program)) {
    if (!p.words.every((w) => s.words.has(w))) return false;
  } else if (!p.letters.every((l) => s.letters.has(l))) {
    return false;
  }
  // GNU getopt takes any unambiguous prefix: `--forc` is `--force`.
  return p.longs.every((want) => s.longs.some((have) => have.length > 0 && want.startsWith(have)));
}

/** Pattern words in order among the positional arguments (a subsequence). */
function positionalsMatch(wanted: readonly RegExp[], s: ArgShape, mode: 'any' | 'every'): boolean {
  let at = 0;
  for (const re of wanted) {
    let found = false;
    while (at < s.positionals.length) {
      const arg = s.positionals[at] as ArgShape['positionals'][number];
      at += 1;
      if (arg.dynamic ? mode === 'any' : re.test(arg.value)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
