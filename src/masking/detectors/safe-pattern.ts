/**
 * Configured patterns (medical record numbers) run on every value, so they are checked before they
 * are compiled: no lookaround or backreferences (RE2's subset), every quantifier bounded, no
 * quantified group that itself holds a quantifier or an alternation, and a cap on the choices a
 * match can backtrack through from one start. That keeps a JavaScript regex linear in the input.
 */

/** Upper bound of any `{n,m}`. */
export const MAX_REPEAT = 64;
/** Product over `?` and `{n,m}` of their number of choices. */
export const MAX_CHOICES = 4096;
const MAX_SOURCE = 256;

interface Group {
  quantified: boolean;
  alternation: boolean;
}

/** Index just past the character class that opens at `i`. */
function skipClass(src: string, i: number): number {
  let j = i + 1;
  if (src[j] === '^') j++;
  if (src[j] === ']') j++;
  while (j < src.length && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
  if (j >= src.length) throw new Error('unterminated character class');
  return j + 1;
}

/** [min, max, index after] of a `{n}` / `{n,m}` quantifier at `i`, or undefined. */
function readBraces(src: string, i: number): [number, number, number] | undefined {
  const m = /^\{(\d{1,4})(?:(,)(\d{0,4}))?\}/.exec(src.slice(i, i + 12));
  if (m === null) return undefined;
  const min = Number(m[1]);
  if (m[2] === undefined) return [min, min, i + m[0].length];
  if (m[3] === '') throw new Error(`unbounded quantifier ${m[0]}`);
  return [min, Number(m[3]), i + m[0].length];
}

/** Throws with the reason when `source` is not safe to run on every value. */
export function assertSafePattern(source: string): void {
  if (source.length === 0 || source.length > MAX_SOURCE) {
    throw new Error(`pattern length must be 1..${MAX_SOURCE}`);
  }
  new RegExp(source); // syntax errors surface here
  const stack: Group[] = [{ quantified: false, alternation: false }];
  let lastGroup: Group | undefined;
  let choices = 1;
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    let atomEnd = i + 1;
    lastGroup = undefined;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9k]/.test(next)) throw new Error('backreferences are not allowed');
      atomEnd = i + 2;
    } else if (c === '[') {
      atomEnd = skipClass(source, i);
    } else if (c === '(') {
      if (/^\(\?(?:[=!]|<[=!])/.test(source.slice(i, i + 4))) {
        throw new Error('lookaround is not allowed');
      }
      stack.push({ quantified: false, alternation: false });
      i = source[i + 1] === '?' ? source.indexOf(source[i + 2] === '<' ? '>' : ':', i) + 1 : i + 1;
      continue;
    } else if (c === ')') {
      lastGroup = stack.pop();
      if (lastGroup === undefined || stack.length === 0) throw new Error('unbalanced )');
      const parent = stack[stack.length - 1]!;
      parent.quantified ||= lastGroup.quantified;
    } else if (c === '|') {
      stack[stack.length - 1]!.alternation = true;
      i++;
      continue;
    } else if (c === '*' || c === '+') {
      throw new Error(`unbounded quantifier ${c}`);
    }
    i = atomEnd;
    const q = quantifierAt(source, i);
    if (q === undefined) continue;
    const [min, max, after] = q;
    if (max > MAX_REPEAT) throw new Error(`repetition above ${MAX_REPEAT}`);
    if (max > 1 && lastGroup !== undefined && (lastGroup.quantified || lastGroup.alternation)) {
      throw new Error('a repeated group may not contain a quantifier or an alternation');
    }
    choices *= max - min + 1;
    if (choices > MAX_CHOICES) throw new Error('too many ways to match (nested optional parts)');
    stack[stack.length - 1]!.quantified = true;
    i = source[after] === '?' ? after + 1 : after;
  }
  if (stack.length !== 1) throw new Error('unbalanced (');
}

function quantifierAt(src: string, i: number): [number, number, number] | undefined {
  const c = src[i];
  if (c === '?') return [0, 1, i + 1];
  if (c === '*' || c === '+') throw new Error(`unbounded quantifier ${c}`);
  if (c === '{') return readBraces(src, i);
  return undefined;
}

/**
 * The pattern wrapped so it matches whole tokens (not inside a longer word or number).
 *
 * @example
 * compileSafePattern('MRN-\\d{7}').exec('chart MRN-0012345 seen')?.[0]; // 'MRN-0012345'
 */
export function compileSafePattern(source: string): RegExp {
  assertSafePattern(source);
  return new RegExp(`(?<![A-Za-z0-9])(?:${source})(?![A-Za-z0-9])`, 'g');
}
