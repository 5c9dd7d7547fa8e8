/**
 * Generic secrets, after gitleaks' `generic-api-key` rule: a high-entropy string (at least 3.5 bits
 * per character, 16 characters or more) right after a secret-sounding name (`password`, `token`,
 * `api_key`, `auth`, ...) and an assignment, or anywhere in a column with such a name.
 */
import { KEYWORD_SECRET, keywordsOf, SECRET_KEYWORD_RE } from './context.ts';
import {
  type Candidate,
  type Detector,
  defineDetector,
  forEachMatch,
  HAS_COLON,
  HAS_EQUALS,
  HAS_SEPARATOR,
  isAlnum,
  type ScanInput,
  type TextStats,
} from './detector.ts';
import { LIT_SECRET_WORD } from './literals.ts';
import { charClasses, looksLikePlaceholder, shannonEntropy } from './validate.ts';

const SCORE = 0.7;
const MIN_LENGTH = 16;
const MAX_LENGTH = 256;
const MIN_ENTROPY = 3.5;
/** Characters of the rest of the name after the keyword (`_key`, `word`, `orization`). */
const MAX_NAME_TAIL = 24;
/** Characters of quotes, spaces and `:`/`=`/`>` between the name and the value. */
const MAX_SEPARATOR = 6;
const SCHEME_RE = /^(?:bearer|basic|token)\s{1,3}/i;

/** Characters a secret value is made of: base64, hex, and the symbols passwords use. */
function isSecretChar(c: number): boolean {
  if (isAlnum(c)) return true;
  // _ - . + / = ~ ! @ # $ % ^ & * ?
  return (
    c === 95 ||
    c === 45 ||
    c === 46 ||
    c === 43 ||
    c === 47 ||
    c === 61 ||
    c === 126 ||
    c === 33 ||
    c === 64 ||
    c === 35 ||
    c === 36 ||
    c === 37 ||
    c === 94 ||
    c === 38 ||
    c === 42 ||
    c === 63
  );
}

function isNameChar(c: number): boolean {
  return isAlnum(c) || c === 95 || c === 45 || c === 46;
}

function isSeparator(c: number): boolean {
  // space, tab, " ' ` : = >
  return (
    c === 32 || c === 9 || c === 34 || c === 39 || c === 96 || c === 58 || c === 61 || c === 62
  );
}

/** Whether `value` reads as a random secret rather than a word, path or placeholder. */
export function randomEnough(value: string): boolean {
  if (value.length < MIN_LENGTH || value.length > MAX_LENGTH) return false;
  if (value.charCodeAt(0) === 47 || value.startsWith('./') || value.startsWith('http'))
    return false;
  if (charClasses(value) < 2 || looksLikePlaceholder(value)) return false;
  return shannonEntropy(value) >= MIN_ENTROPY;
}

/** End of the secret-character run at `s`, without trailing sentence punctuation; -1 if too long. */
function valueEnd(text: string, s: number): number {
  let j = s;
  while (j < text.length && isSecretChar(text.charCodeAt(j))) {
    if (++j - s > MAX_LENGTH) return -1;
  }
  while (j > s && (text.charCodeAt(j - 1) === 46 || text.charCodeAt(j - 1) === 63)) j--;
  return j;
}

/** The value after the keyword that ends at `k`: name tail, separator, optional scheme word. */
function valueAfter(text: string, k: number): number {
  let j = k;
  const tail = Math.min(text.length, j + MAX_NAME_TAIL);
  while (j < tail && isNameChar(text.charCodeAt(j))) j++;
  const sepStart = j;
  const sep = Math.min(text.length, j + MAX_SEPARATOR);
  while (j < sep && isSeparator(text.charCodeAt(j))) j++;
  if (j === sepStart) return -1;
  const scheme = SCHEME_RE.exec(text.slice(j, j + 10));
  return scheme === null ? j : j + scheme[0].length;
}

function pushValue(text: string, s: number, out: Candidate[]): number {
  const e = valueEnd(text, s);
  if (e !== -1 && randomEnough(text.slice(s, e))) {
    out.push({ type: 'generic_secret', start: s, end: e, score: SCORE });
  }
  return e;
}

/** In a secret-named column: every run of secret characters that looks random. */
function findInSecretColumn(text: string, out: Candidate[]): void {
  let i = 0;
  while (i < text.length) {
    if (!isSecretChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && isSecretChar(text.charCodeAt(j))) j++;
    if (j - i >= MIN_LENGTH) pushValue(text, i, out);
    i = j;
  }
}

function findGenericSecrets(input: ScanInput, out: Candidate[]): void {
  const { text } = input;
  if (input.hint.secret) findInSecretColumn(text, out);
  forEachMatch(SECRET_KEYWORD_RE, text, (m) => {
    const s = valueAfter(text, m.index + m[0].length);
    if (s !== -1) pushValue(text, s, out);
  });
}

export const genericSecret: Detector = defineDetector(
  'generic_secret',
  { minLength: MIN_LENGTH },
  findGenericSecrets,
  (t) => t.hint.secret || (secretShaped(t.stats) && (keywordsOf(t) & KEYWORD_SECRET) !== 0),
  {
    hint: (hint) => hint.secret,
    anyOf: [{ anyFlags: HAS_SEPARATOR | HAS_COLON | HAS_EQUALS, minNonHex: 2 }],
    literals: LIT_SECRET_WORD,
  },
);

/** A separator and letters, for `password: …` and the like (outside a secret-named column). */
function secretShaped(stats: TextStats): boolean {
  return (stats.flags & (HAS_SEPARATOR | HAS_COLON | HAS_EQUALS)) !== 0 && stats.nonHexLetters >= 2;
}
