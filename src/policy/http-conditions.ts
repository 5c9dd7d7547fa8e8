/**
 * `match` keys for HTTP and LLM requests: `methods`, `paths`, `models` and `prompt` (detector
 * types found in the prompt, and patterns). They never match a SQL command, and the SQL keys
 * (`classes`, `tables`, ...) never match an HTTP request, so one policy file serves both.
 */
import type { HttpCommand } from '../session/command.ts';
import type { Condition } from './conditions.ts';
import { compileGlobs, globMatch } from './glob.ts';
import type { PolicyInput } from './policy.ts';
import type { MatchSpec } from './schema.ts';

const httpOf = (input: PolicyInput): HttpCommand | undefined =>
  input.command.kind === 'http' ? input.command : undefined;

const NOT_HTTP = 'not an HTTP request';

/**
 * @example
 * compileHttpMatch({ methods: ['DELETE'], paths: ['/admin/**'] });
 */
export function compileHttpMatch(match: MatchSpec): Condition[] {
  const conds: Condition[] = [];
  if (match.methods) conds.push(methods(match.methods));
  if (match.paths) conds.push(paths(match.paths));
  if (match.models) conds.push(models(match.models));
  if (match.prompt?.contains) conds.push(contains(match.prompt.contains));
  if (match.prompt?.patterns) conds.push(promptPatterns(match.prompt.patterns));
  return conds;
}

function methods(list: readonly string[]): Condition {
  const set = new Set(list.map((m) => m.toUpperCase()));
  return {
    key: 'methods',
    perStatement: false,
    test: (input) => {
      const c = httpOf(input);
      return c !== undefined && set.has(c.method);
    },
    why: (input) => {
      const c = httpOf(input);
      return c ? `method ${c.method} is not in [${list.join(', ')}]` : NOT_HTTP;
    },
  };
}

/**
 * Path globs: `*` stays inside one segment, `**` crosses segments; a leading `!` excludes.
 *
 * @example
 * pathRegExp('/admin/**').test('/admin/users/1'); // true
 */
export function pathRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*' && pattern[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else out += ch.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

function paths(list: readonly string[]): Condition {
  const include = list.filter((p) => !p.startsWith('!')).map(pathRegExp);
  const exclude = list.filter((p) => p.startsWith('!')).map((p) => pathRegExp(p.slice(1)));
  const ok = (path: string) =>
    !exclude.some((r) => r.test(path)) &&
    (include.length === 0 || include.some((r) => r.test(path)));
  return {
    key: 'paths',
    perStatement: false,
    test: (input) => {
      const c = httpOf(input);
      return c !== undefined && ok(c.path);
    },
    why: (input) => {
      const c = httpOf(input);
      return c ? `path ${c.path} is not in [${list.join(', ')}]` : NOT_HTTP;
    },
  };
}

function models(list: readonly string[]): Condition {
  const g = compileGlobs(list, { ignoreCase: true });
  return {
    key: 'models',
    perStatement: false,
    test: (input) => {
      const m = httpOf(input)?.llm?.model;
      return m !== undefined && globMatch(g, m);
    },
    why: (input) => {
      const m = httpOf(input)?.llm?.model;
      return m === undefined ? 'not an LLM call' : `model ${m} is not in [${list.join(', ')}]`;
    },
  };
}

function contains(types: readonly string[]): Condition {
  return {
    key: 'prompt.contains',
    perStatement: false,
    test: (input) => {
      const found = httpOf(input)?.llm?.findings;
      return found?.some((t) => types.includes(t)) === true;
    },
    why: (input) => {
      const found = httpOf(input)?.llm?.findings;
      if (found === undefined) return 'not an LLM call';
      return `the prompt holds none of [${types.join(', ')}] (found: ${found.join(', ') || 'none'})`;
    },
  };
}

function promptPatterns(list: readonly string[]): Condition {
  const res = list.map((p) => new RegExp(p, 'iu'));
  return {
    key: 'prompt.patterns',
    perStatement: false,
    test: (input) => {
      const prompt = httpOf(input)?.llm?.prompt;
      return prompt !== undefined && res.some((r) => r.test(prompt));
    },
    why: (input) =>
      httpOf(input)?.llm ? `the prompt matches none of ${list.length} patterns` : 'not an LLM call',
  };
}
