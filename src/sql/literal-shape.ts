/**
 * A statement's shape: its text with every plain string and number literal replaced by a marker,
 * so `SELECT abalance FROM pgbench_accounts WHERE aid = 42` and `… WHERE aid = 7` share one shape.
 * The analyser caches by shape those analyses that cannot depend on a literal's value, so a
 * workload that sends the same statement with different constants parses it once.
 *
 * Two texts with the same shape differ only inside literals whose content cannot change how
 * PostgreSQL's grammar reads the text around them. Anything this scanner is not sure of gives no
 * shape (the text is then parsed): comments, dollar quotes, escape/bit/hex/Unicode strings
 * (`E'…'`, `B'…'`, `X'…'`, `U&'…'`), backslashes, numbers touching letters, dots or underscores
 * (`0x1F`, `1_000`, `1.e`), and non-ASCII text outside string literals.
 */

const STRING_MARK = "''";
const NUMBER_MARK = '0';

/**
 * @example
 * literalShape("SELECT * FROM t WHERE a = 'x' AND b = 1.5"); // "SELECT * FROM t WHERE a = '' AND b = 0"
 * literalShape("SELECT E'\\n'"); // undefined
 */
export function literalShape(text: string): string | undefined {
  let out = '';
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c > 0x7e || c === 0) return undefined;
    if (isIdentStart(c)) {
      i = identEnd(text, i + 1);
      if (i < n && text.charCodeAt(i) === QUOTE) return undefined; // E'…', B'…', N'…', typed
    } else if (c === QUOTE) {
      const end = quotedEnd(text, i + 1, QUOTE);
      if (end < 0 || text.charCodeAt(i - 1) === AMP) return undefined;
      out += text.slice(copied, i) + STRING_MARK;
      copied = i = end;
    } else if (isDigit(c)) {
      const end = numberEnd(text, i);
      if (end < 0 || text.charCodeAt(i - 1) === DOT) return undefined;
      out += text.slice(copied, i) + NUMBER_MARK;
      copied = i = end;
    } else if (c === DQUOTE) {
      i = quotedEnd(text, i + 1, DQUOTE);
      if (i < 0) return undefined;
    } else if (c === DOLLAR) {
      // `$1` is a parameter; anything else starts a dollar quote.
      if (!isDigit(text.charCodeAt(i + 1))) return undefined;
      i = digitsEnd(text, i + 1);
      if (isIdentPart(text.charCodeAt(i))) return undefined;
    } else if (c === BACKSLASH) {
      return undefined;
    } else if ((c === DASH || c === SLASH) && isCommentStart(text, i)) {
      return undefined;
    } else {
      i++;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

const QUOTE = 0x27;
const DQUOTE = 0x22;
const DOLLAR = 0x24;
const AMP = 0x26;
const DOT = 0x2e;
const DASH = 0x2d;
const SLASH = 0x2f;
const STAR = 0x2a;
const BACKSLASH = 0x5c;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === DOLLAR;
}

function identEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isIdentPart(text.charCodeAt(i))) i++;
  return i;
}

function digitsEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i;
}

/**
 * After an opening `'` or `"`: the index after the closing one (a doubled quote is part of the
 * text), or -1 when unterminated, or for a string literal (`'`) holding a backslash.
 */
function quotedEnd(text: string, from: number, quote: typeof QUOTE | typeof DQUOTE): number {
  const q = String.fromCharCode(quote);
  let i = from;
  for (;;) {
    const close = text.indexOf(q, i);
    if (close < 0) return -1;
    if (quote === QUOTE && text.slice(i, close).includes('\\')) return -1;
    if (text.charCodeAt(close + 1) !== quote) return close + 1;
    i = close + 2;
  }
}

/**
 * `123`, `1.5`, `1.5e-3`, `2E10`; -1 when the number runs into a letter, digit group separator,
 * another dot or `$` (hex/octal/binary prefixes, `1_000`, `1..2`, trailing junk).
 */
function numberEnd(text: string, from: number): number {
  let i = digitsEnd(text, from);
  if (text.charCodeAt(i) === DOT) {
    if (!isDigit(text.charCodeAt(i + 1))) return -1;
    i = digitsEnd(text, i + 1);
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    let j = i + 1;
    const sign = text.charCodeAt(j);
    if (sign === 0x2b || sign === DASH) j++;
    if (!isDigit(text.charCodeAt(j))) return -1;
    i = digitsEnd(text, j);
  }
  const next = text.charCodeAt(i);
  return isIdentPart(next) || next === DOT ? -1 : i;
}

function isCommentStart(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  const next = text.charCodeAt(i + 1);
  return c === DASH ? next === DASH : next === STAR;
}
