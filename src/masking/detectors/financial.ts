/**
 * Payment identifiers: card numbers (Luhn, issuer ranges and lengths, printed layouts) and IBANs
 * (ISO 13616 mod-97 and the registry length of each country).
 */
import { withContext } from './context.ts';
import {
  CARD_SHAPE,
  type Candidate,
  type Detector,
  defineDetector,
  INERT_SHAPES,
  isAlnum,
  isDigit,
  type ScanInput,
} from './detector.ts';
import { ibanMod97, luhn } from './validate.ts';

const CARD_SCORE = 0.8;
const IBAN_SCORE = 0.85;

const SIXTEEN = [16];
const SIXTEEN_UP = [16, 17, 18, 19];
const THIRTEEN_UP = [13, 14, 15, 16, 17, 18, 19];

/** Issuer identification ranges: [low prefix, high prefix, lengths]. */
const IIN_RANGES: readonly (readonly [string, string, readonly number[]])[] = [
  ['4', '4', [13, 16, 19]], // Visa
  ['51', '55', SIXTEEN], // Mastercard
  ['2221', '2720', SIXTEEN], // Mastercard 2-series
  ['34', '34', [15]], // American Express
  ['37', '37', [15]],
  ['6011', '6011', SIXTEEN_UP], // Discover
  ['644', '649', SIXTEEN_UP],
  ['65', '65', SIXTEEN_UP],
  ['622126', '622925', SIXTEEN_UP],
  ['300', '305', [14, ...SIXTEEN_UP]], // Diners Club
  ['3095', '3095', [14, ...SIXTEEN_UP]],
  ['36', '36', [14, ...SIXTEEN_UP]],
  ['38', '39', [14, ...SIXTEEN_UP]],
  ['3528', '3589', SIXTEEN_UP], // JCB
  ['62', '62', SIXTEEN_UP], // UnionPay
  ['81', '81', SIXTEEN_UP],
  ['5018', '5018', THIRTEEN_UP], // Maestro
  ['5020', '5020', THIRTEEN_UP],
  ['5038', '5038', THIRTEEN_UP],
  ['5893', '5893', THIRTEEN_UP],
  ['6304', '6304', THIRTEEN_UP],
  ['6759', '6759', THIRTEEN_UP],
  ['6761', '6763', THIRTEEN_UP],
  ['2200', '2204', SIXTEEN_UP], // Mir
  ['60', '60', SIXTEEN], // RuPay
  ['508', '508', SIXTEEN],
  ['9792', '9792', SIXTEEN], // Troy
];

/** Whether the number's prefix and length belong to a card issuer. */
export function knownIssuer(digits: string): boolean {
  for (const [lo, hi, lengths] of IIN_RANGES) {
    if (!lengths.includes(digits.length)) continue;
    const p = digits.slice(0, lo.length);
    if (p >= lo && p <= hi) return true;
  }
  return false;
}

/** Group starts and lengths of the digit run being read (grown on demand, reused). */
let groupStart = new Int32Array(64);
let groupLength = new Int32Array(64);

function pushGroup(index: number, start: number, length: number): void {
  if (index === groupStart.length) {
    const grownStart = new Int32Array(index * 2);
    const grownLength = new Int32Array(index * 2);
    grownStart.set(groupStart);
    grownLength.set(groupLength);
    groupStart = grownStart;
    groupLength = grownLength;
  }
  groupStart[index] = start;
  groupLength[index] = length;
}

/**
 * Reads the run of digit groups joined by single spaces or hyphens that starts at `i`; returns
 * its end, with the groups in `groupStart`/`groupLength` and their count in `run.groups`.
 */
function readRun(text: string, i: number, run: { groups: number; digits: number }): number {
  let j = i;
  run.groups = 0;
  run.digits = 0;
  for (;;) {
    const s = j;
    while (j < text.length && isDigit(text.charCodeAt(j))) j++;
    pushGroup(run.groups++, s, j - s);
    run.digits += j - s;
    const sep = text.charCodeAt(j);
    if ((sep === 32 || sep === 45) && isDigit(text.charCodeAt(j + 1))) j++;
    else return j;
  }
}

/** A decimal part, or glued to a word: `12.4111…`, `4111….50`, `ID4111…`. */
function gluedAt(text: string, before: number, after: number): boolean {
  const p = text.charCodeAt(before);
  if (isAlnum(p)) return true;
  if ((p === 46 || p === 44) && isDigit(text.charCodeAt(before - 1))) return true;
  const n = text.charCodeAt(after);
  if (isAlnum(n)) return true;
  return (n === 46 || n === 44) && isDigit(text.charCodeAt(after + 1));
}

/** Luhn and issuer over the digits of groups a..b. */
function validCard(text: string, a: number, b: number): boolean {
  let digits = '';
  for (let g = a; g <= b; g++) {
    digits += text.slice(groupStart[g], groupStart[g]! + groupLength[g]!);
  }
  return luhn(digits) && knownIssuer(digits);
}

/**
 * The longest card number starting at group `a`, or -1. Printed layouts: one run of digits,
 * 4-4-4-4(-3) with a shorter last group, Amex 4-6-5 and Diners 4-6-4.
 */
function cardFrom(text: string, a: number, groups: number): number {
  let found = -1;
  let total = 0;
  let allFour = true;
  for (let b = a; b < groups; b++) {
    const len = groupLength[b]!;
    total += len;
    if (total > 19) break;
    const amexOrDiners =
      b === a + 2 && groupLength[a] === 4 && groupLength[a + 1] === 6 && (len === 4 || len === 5);
    if (total >= 13 && (allFour || amexOrDiners) && validCard(text, a, b)) found = b;
    allFour &&= len === 4;
  }
  return found;
}

function findCards(input: ScanInput, out: Candidate[]): void {
  const { text } = input;
  const run = { groups: 0, digits: 0 };
  let i = 0;
  while (i < text.length) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const j = readRun(text, i, run);
    if (run.digits >= 13 && !gluedAt(text, i - 1, j)) {
      for (let a = 0; a < run.groups; a++) {
        const b = cardFrom(text, a, run.groups);
        if (b === -1) continue;
        const start = groupStart[a]!;
        const end = groupStart[b]! + groupLength[b]!;
        const score = withContext(input, 'credit_card', CARD_SCORE, start, end);
        out.push({ type: 'credit_card', start, end, score });
        a = b;
      }
    }
    i = j;
  }
}

/** Thirteen digits in a row or three groups of four. */
export const creditCard: Detector = defineDetector(
  'credit_card',
  { minLength: 13, anyFlags: CARD_SHAPE, noFlags: INERT_SHAPES },
  findCards,
);

/** SWIFT IBAN registry: country code → IBAN length. */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

const IBAN_START_RE = /(?<![A-Za-z0-9])([A-Z]{2})\d{2}/g;

function isIbanChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
}

/** End of an IBAN of `length` characters starting at `start` (single spaces allowed), or -1. */
function ibanEnd(text: string, start: number, length: number): number {
  let count = 4;
  let j = start + 4;
  while (count < length && j < text.length) {
    const c = text.charCodeAt(j);
    if (isIbanChar(c)) {
      count++;
      j++;
    } else if (c === 32 && isIbanChar(text.charCodeAt(j + 1))) j++;
    else return -1;
  }
  if (count !== length || isAlnum(text.charCodeAt(j))) return -1;
  return j;
}

function findIbans(input: ScanInput, out: Candidate[]): void {
  const { text } = input;
  IBAN_START_RE.lastIndex = 0;
  for (let m = IBAN_START_RE.exec(text); m !== null; m = IBAN_START_RE.exec(text)) {
    const length = IBAN_LENGTHS[m[1]!];
    if (length === undefined) continue;
    const end = ibanEnd(text, m.index, length);
    if (end === -1) continue;
    if (!ibanMod97(text.slice(m.index, end).replaceAll(' ', ''))) continue;
    out.push({
      type: 'iban',
      start: m.index,
      end,
      score: withContext(input, 'iban', IBAN_SCORE, m.index, end),
    });
    IBAN_START_RE.lastIndex = end;
  }
}

export const iban: Detector = defineDetector(
  'iban',
  { minLength: 15, minDigits: 4, minUpper: 2, noFlags: INERT_SHAPES },
  findIbans,
);
