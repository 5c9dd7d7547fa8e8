/**
 * Name patterns of policy rules: `*` any run of characters, `?` one character, everything else
 * literal; a leading `!` excludes. Compiled once to one RegExp per polarity.
 */

/** A compiled list of patterns such as `["clinic*", "!clinic-dev"]`. */
export interface GlobList {
  /** The patterns as written, for explanations. */
  readonly source: readonly string[];
  /** Alternation of the positive patterns; null when there are none (then anything is in). */
  readonly include: RegExp | null;
  /** Alternation of the `!` patterns; null when there are none. */
  readonly exclude: RegExp | null;
}

/**
 * @example
 * const g = compileGlobs(['clinic*', '!clinic-dev']);
 * globMatch(g, 'clinic-prod'); // true
 * globMatch(g, 'clinic-dev'); // false
 */
export function compileGlobs(patterns: readonly string[], options: { ignoreCase?: boolean } = {}) {
  const include: string[] = [];
  const exclude: string[] = [];
  for (const p of patterns) {
    if (p.startsWith('!')) exclude.push(p.slice(1));
    else include.push(p);
  }
  const flags = options.ignoreCase === true ? 'i' : '';
  return {
    source: patterns,
    include: alternation(include, flags),
    exclude: alternation(exclude, flags),
  } satisfies GlobList;
}

/**
 * True when `value` matches a positive pattern (or there are none) and no `!` pattern.
 *
 * @example
 * globMatch(compileGlobs(['!dev']), 'prod'); // true
 */
export function globMatch(list: GlobList, value: string): boolean {
  if (list.exclude?.test(value) === true) return false;
  return list.include === null || list.include.test(value);
}

/**
 * One pattern as a RegExp source, anchored by the caller.
 *
 * @example
 * globSource('billing.*'); // 'billing\\..*'
 */
export function globSource(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  return out;
}

/**
 * Compiles one pattern, anchored.
 *
 * @example
 * globRegExp('pg_*').test('pg_sleep'); // true
 */
export function globRegExp(pattern: string, flags = ''): RegExp {
  return new RegExp(`^(?:${globSource(pattern)})$`, `${flags}s`);
}

function alternation(patterns: readonly string[], flags: string): RegExp | null {
  if (patterns.length === 0) return null;
  return new RegExp(`^(?:${patterns.map(globSource).join('|')})$`, `${flags}s`);
}
