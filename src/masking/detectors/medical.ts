/**
 * Health identifiers: dates of birth (only next to a birth word or in a birth-date column) and
 * medical record numbers (only the deployment's own patterns; there is no universal MRN format).
 */
import { KEYWORD_BIRTH, keywordsOf, withContext } from './context.ts';
import {
  type Candidate,
  type Detector,
  defineDetector,
  forEachMatch,
  type ScanInput,
  UUID_SHAPE,
} from './detector.ts';
import { LIT_BIRTH_WORD } from './literals.ts';
import { compileSafePattern } from './safe-pattern.ts';
import { validBirthDate } from './validate.ts';

const DOB_SCORE = 0.85;
const MONTHS =
  'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';
const MONTH_INDEX: Record<string, number> = Object.fromEntries(
  ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map(
    (m, i) => [m, i + 1],
  ),
);
const DATE_RE = new RegExp(
  '(?<![\\w/.-])(?:' +
    '(\\d{4})([-/.])(\\d{1,2})\\2(\\d{1,2})' +
    '|(\\d{1,2})([-/.])(\\d{1,2})\\6(\\d{4})' +
    `|(\\d{1,2})(?:st|nd|rd|th)?[ -](${MONTHS})\\.?,?[ -](\\d{4})` +
    `|(${MONTHS})\\.?[ -](\\d{1,2})(?:st|nd|rd|th)?,?[ -](\\d{4})` +
    ')(?![0-9A-SU-Za-su-z_]|[-/.]\\d)',
  'gi',
);
const BIRTH_WORD_RE = /(?<![a-z])(?:dob|d\.o\.b|birth|born|bday)/gi;
const BIRTH_WINDOW = 48;

/** Whether the matched date is a real birth date (day/month order ambiguous when numeric). */
function plausible(m: RegExpExecArray): boolean {
  const n = (i: number) => Number(m[i]);
  if (m[1] !== undefined) return validBirthDate(n(1), n(3), n(4));
  if (m[5] !== undefined) {
    return validBirthDate(n(8), n(5), n(7)) || validBirthDate(n(8), n(7), n(5));
  }
  if (m[9] !== undefined) return validBirthDate(n(11), monthOf(m[10]!), n(9));
  return validBirthDate(n(14), monthOf(m[12]!), n(13));
}

function monthOf(name: string): number {
  return MONTH_INDEX[name.slice(0, 3).toLowerCase()] ?? 0;
}

/** A birth word shortly before `start`, with no digits in between (so not an earlier date's). */
function birthWordBefore(text: string, start: number): boolean {
  const from = Math.max(0, start - BIRTH_WINDOW);
  const window = text.slice(from, start);
  BIRTH_WORD_RE.lastIndex = 0;
  let lastEnd = -1;
  for (let m = BIRTH_WORD_RE.exec(window); m !== null; m = BIRTH_WORD_RE.exec(window)) {
    lastEnd = m.index + m[0].length;
  }
  return lastEnd !== -1 && !/\d/.test(window.slice(lastEnd));
}

function findBirthDates(input: ScanInput, out: Candidate[]): void {
  const hinted = input.hint.boosts.has('date_of_birth');
  forEachMatch(DATE_RE, input.text, (m) => {
    if (!plausible(m)) return;
    if (!hinted && !birthWordBefore(input.text, m.index)) return;
    out.push({
      type: 'date_of_birth',
      start: m.index,
      end: m.index + m[0].length,
      score: DOB_SCORE,
    });
  });
}

/** In a birth-date column, or next to a birth word somewhere in the text. */
export const dateOfBirth: Detector = defineDetector(
  'date_of_birth',
  { minLength: 8, minDigits: 5, noFlags: UUID_SHAPE },
  findBirthDates,
  (t) =>
    t.hint.boosts.has('date_of_birth') ||
    (t.stats.nonHexLetters >= 1 && (keywordsOf(t) & KEYWORD_BIRTH) !== 0),
  {
    hint: (hint) => hint.boosts.has('date_of_birth'),
    anyOf: [{ minNonHex: 1 }],
    literals: LIT_BIRTH_WORD,
  },
);

const MRN_SCORE = 0.6;

/**
 * Medical record numbers by the configured patterns (checked by `assertSafePattern`), raised by
 * `mrn` / `medical record` nearby or in the column name.
 *
 * @example
 * createMrnDetector(['MRN-\\d{7}']);
 */
export function createMrnDetector(patterns: readonly string[]): Detector | undefined {
  if (patterns.length === 0) return undefined;
  const res = patterns.map((p) => compileSafePattern(p));
  return defineDetector('mrn', { minLength: 3, minDigits: 3 }, (input, out) => {
    for (const re of res) {
      forEachMatch(re, input.text, (m) => {
        if (m[0].length === 0) return;
        const start = m.index;
        const end = start + m[0].length;
        out.push({
          type: 'mrn',
          start,
          end,
          score: withContext(input, 'mrn', MRN_SCORE, start, end),
        });
      });
    }
  });
}
