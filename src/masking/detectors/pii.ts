/**
 * Personal identifiers: email addresses, phone numbers and US social security numbers.
 */
import { withContext } from './context.ts';
import {
  type Candidate,
  type Detector,
  defineDetector,
  forEachMatch,
  HAS_AT,
  INERT_SHAPES,
  isWord,
  PHONE_SHAPE,
  type ScanInput,
  SSN_SHAPE,
} from './detector.ts';
import { validPhone, validSsn } from './validate.ts';

const EMAIL_SCORE = 0.9;
const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;

function isLocalChar(c: number): boolean {
  // RFC 5322 allows more; these are the characters real addresses use (Presidio's set and `'`).
  return isWord(c) || c === 46 || c === 37 || c === 43 || c === 45 || c === 39;
}

function isDomainChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 45
  );
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** A DNS label: 1-63 letters, digits and inner hyphens. */
function validLabel(text: string, from: number, to: number): boolean {
  const len = to - from;
  return len >= 1 && len <= 63 && text.charCodeAt(from) !== 45 && text.charCodeAt(to - 1) !== 45;
}

/** Top-level domain: 2-24 letters, or an IDN `xn--` label. */
function validTld(text: string, from: number, to: number): boolean {
  if (text.startsWith('xn--', from)) return to - from > 4;
  if (to - from < 2 || to - from > 24) return false;
  for (let i = from; i < to; i++) if (!isLetter(text.charCodeAt(i))) return false;
  return true;
}

/**
 * End of the valid domain in text[from, to) (domain characters only), cut at `..` and with
 * trailing dots and hyphens trimmed; -1 when there is none (one label, bad label, bad TLD).
 */
function domainEnd(text: string, from: number, to: number): number {
  let end = to;
  for (let i = from + 1; i < to; i++) {
    if (text.charCodeAt(i) === 46 && text.charCodeAt(i - 1) === 46) {
      end = i - 1;
      break;
    }
  }
  while (end > from && (text.charCodeAt(end - 1) === 46 || text.charCodeAt(end - 1) === 45)) end--;
  let labelStart = from;
  let labels = 0;
  for (let i = from; i <= end; i++) {
    if (i < end && text.charCodeAt(i) !== 46) continue;
    if (!validLabel(text, labelStart, i)) return -1;
    labels++;
    if (i === end) break;
    labelStart = i + 1;
  }
  return labels >= 2 && validTld(text, labelStart, end) ? end : -1;
}

/** Start of the local part ending at `at`, or -1. */
function localStart(text: string, at: number, floor: number): number {
  let s = at;
  const limit = Math.max(floor, at - MAX_LOCAL);
  while (s > limit && isLocalChar(text.charCodeAt(s - 1))) s--;
  if (s === at - MAX_LOCAL && s > floor && isLocalChar(text.charCodeAt(s - 1))) return -1;
  for (let i = at - 1; i > s; i--) {
    if (text.charCodeAt(i) === 46 && text.charCodeAt(i - 1) === 46) {
      s = i + 1;
      break;
    }
  }
  // A leading dot or quote belongs to the sentence (`'ana@example.org'`), not the address.
  while (s < at && (text.charCodeAt(s) === 46 || text.charCodeAt(s) === 39)) s++;
  if (s === at || text.charCodeAt(at - 1) === 46) return -1;
  return s;
}

function findEmails(input: ScanInput, out: Candidate[]): void {
  const { text } = input;
  let floor = 0;
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    const start = localStart(text, at, floor);
    if (start === -1) continue;
    let e = at + 1;
    const max = Math.min(text.length, e + MAX_DOMAIN);
    while (e < max && isDomainChar(text.charCodeAt(e))) e++;
    const end = domainEnd(text, at + 1, e);
    if (end === -1) continue;
    out.push({
      type: 'email',
      start,
      end,
      score: withContext(input, 'email', EMAIL_SCORE, start, end),
    });
    floor = end;
  }
}

export const email: Detector = defineDetector(
  'email',
  { minLength: 6, anyFlags: HAS_AT, minDots: 1 },
  findEmails,
);

/**
 * Candidates: E.164 (`+14155550132`), 10-11 bare digits, `+cc` followed by groups split by one of
 * ` .-` (with an optional `(area)`), or the North American layouts `(415) 555-0132`,
 * `1-415-555-0132`, `415.555.0132`. Every repetition is bounded and each group starts with a
 * separator, so a match is found or refused in a bounded number of steps from each start.
 */
const PHONE_RE =
  /(?<![\w+./-])(?:\+\d{7,15}|\d{10,11}|\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,8}(?:[ .-]\d{1,8}){0,5}|(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]?\d{4})(?![\w/+]|[.-]\d)/g;
const FORMATTED_PHONE_SCORE = 0.7;
const BARE_PHONE_SCORE = 0.4;

/** Base score of a phone-shaped candidate before validation, 0 when its digits cannot fit. */
function phoneShapeScore(candidate: string): number {
  let digits = 0;
  for (let i = 0; i < candidate.length; i++) {
    const c = candidate.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  if (digits < 7 || digits > 15) return 0;
  const international = candidate.charCodeAt(0) === 43;
  // Without a country code only North American numbers: ten digits, or eleven starting with 1.
  if (!international && digits !== 10 && !(digits === 11 && candidate.charCodeAt(0) === 49)) {
    return 0;
  }
  return digits === candidate.length ? BARE_PHONE_SCORE : FORMATTED_PHONE_SCORE;
}

/**
 * Validation (libphonenumber, the costly part) runs last, and only for candidates whose score can
 * reach the threshold: a column of bare ten-digit ids never reaches the phone metadata.
 */
function findPhones(input: ScanInput, out: Candidate[]): void {
  forEachMatch(PHONE_RE, input.text, (m) => {
    const base = phoneShapeScore(m[0]);
    if (base === 0) return;
    const start = m.index;
    const end = start + m[0].length;
    const score = withContext(input, 'phone', base, start, end);
    if (score < input.thresholds.phone || !validPhone(m[0])) return;
    out.push({ type: 'phone', start, end, score });
  });
}

/** A `+`, a run of seven digits, or three runs of three or more (`415 555 0132`). */
export const phone: Detector = defineDetector(
  'phone',
  { minLength: 7, anyFlags: PHONE_SHAPE, noFlags: INERT_SHAPES },
  findPhones,
);

const SSN_RE = /(?<![\w./+-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w]|[-./]\d)/g;
/** Dashed is the printed form; spaced and bare nine digits need a context word. */
const SSN_SCORE: Record<string, number> = { '-': 0.6, ' ': 0.45, '': 0.3 };

function findSsns(input: ScanInput, out: Candidate[]): void {
  forEachMatch(SSN_RE, input.text, (m) => {
    if (!validSsn(m[1]!, m[3]!, m[4]!)) return;
    const start = m.index;
    const end = start + m[0].length;
    const base = SSN_SCORE[m[2]!]!;
    out.push({ type: 'us_ssn', start, end, score: withContext(input, 'us_ssn', base, start, end) });
  });
}

/** Nine digits in a row, or runs of 3 and 4 (with the 2 between them). */
export const usSsn: Detector = defineDetector(
  'us_ssn',
  { minLength: 9, anyFlags: SSN_SHAPE, noFlags: INERT_SHAPES },
  findSsns,
);
