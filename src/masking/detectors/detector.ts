/**
 * What every detector family plugs into. One pass counts character classes and digit runs
 * (table lookups and arithmetic, no data-dependent branches) and sums them up as `features`
 * (count thresholds) and `flags` (characters present, and shapes such as "could hold a phone
 * number"). Each detector declares the features and flags any finding of its type implies; the
 * detector set memoises which detectors a (features, flags, length) combination leaves, so most
 * values (names, amounts, UUIDs, timestamps) are refused by one map lookup. A detector's `gate`
 * then checks what needs the text (a literal prefix, a keyword), and only then its finder runs.
 */
import type { DetectorType } from './types.ts';

/** Counts from one pass over the text. Reused between scans (scans are synchronous). */
export interface TextStats {
  length: number;
  digits: number;
  upper: number;
  lower: number;
  /** Letters outside a-f / A-F (hex strings such as UUIDs and SHAs have none). */
  nonHexLetters: number;
  dots: number;
  colons: number;
  dashes: number;
  /** Longest run of consecutive digits. */
  maxDigitRun: number;
  /** Runs of at least three consecutive digits. */
  tripleRuns: number;
  /** Runs of at least four consecutive digits (card groups). */
  quadRuns: number;
  /** Bit set of the `HAS_*` characters present and the `*_SHAPE`s that fit. */
  flags: number;
  /** Count thresholds reached, as bits (see `Needs`). */
  features: number;
}

export const HAS_AT = 1;
export const HAS_UNDERSCORE = 2;
export const HAS_EQUALS = 4;
export const HAS_TILDE = 8;
/** A `+` not preceded by a digit (`+44`, not the `…31+00` of a timestamp). */
export const HAS_LEADING_PLUS = 16;
/** `::` somewhere (compressed IPv6). */
export const HAS_DOUBLE_COLON = 32;
export const HAS_COLON = 64;
/** Shaped like a UUID (8-4-4-4-12 hex digits): a common column type that holds no PII. */
export const UUID_SHAPE = 128;
/** Space, tab, a quote or `>`: what separates a name from its value. */
export const HAS_SEPARATOR = 256;
/** Seven digits in a row, three runs of three, or a leading `+` (with seven digits in all). */
export const PHONE_SHAPE = 512;
/** Nine digits in a row, or runs of three and four (with nine digits in all). */
export const SSN_SHAPE = 1024;
/** Thirteen digits in a row, or three groups of four. */
export const CARD_SHAPE = 2048;
/** Three dots and four digits. */
export const IPV4_SHAPE = 4096;
/** Seven colons, or a `::`, and a digit. */
export const IPV6_SHAPE = 8192;
/** Exactly an ISO timestamp (`2024-03-05 10:22:31.123+00`): no number in it is PII but a date. */
export const TIMESTAMP_SHAPE = 16384;
/** Shapes of whole values that hold no phone, SSN, card, IBAN or IP address. */
export const INERT_SHAPES = UUID_SHAPE | TIMESTAMP_SHAPE;
/** Every flag is below this. */
export const FLAG_SPACE = 32768;

/** Column-hint facts, computed once per distinct hint. */
export interface HintInfo {
  /** Types whose context words appear in the column name. */
  readonly boosts: ReadonlySet<DetectorType>;
  /** The column name itself names a secret (`password`, `api_key`, ...). */
  readonly secret: boolean;
}

export interface ScanInput {
  readonly text: string;
  readonly stats: TextStats;
  readonly hint: HintInfo;
  /** Minimum score per type: finders may skip costly validation below it. */
  readonly thresholds: Readonly<Record<DetectorType, number>>;
  /** Bit set of the context keywords present (see `keywordsOf`); -1 until first asked. */
  keywords: number;
}

/** A finding before thresholds and overlap resolution. */
export interface Candidate {
  type: DetectorType;
  start: number;
  end: number;
  score: number;
}

const DIGIT_STEPS = [1, 3, 4, 5] as const;
const UPPER_STEPS = [1, 2, 4, 8] as const;
const NON_HEX_STEPS = [1, 2] as const;
const UPPER_SHIFT = DIGIT_STEPS.length;
const NON_HEX_SHIFT = UPPER_SHIFT + UPPER_STEPS.length;
/** Every feature is below this. */
export const FEATURE_SPACE = 1 << (NON_HEX_SHIFT + NON_HEX_STEPS.length);

/**
 * What any finding of a detector's type implies about the text. The minimums are steps of fixed
 * ladders so that they fit in `features` bits.
 */
export interface Needs {
  /** No finding is shorter than this. */
  readonly minLength: number;
  readonly minDigits?: (typeof DIGIT_STEPS)[number];
  readonly minUpper?: (typeof UPPER_STEPS)[number];
  /** Letters outside a-f. */
  readonly minNonHex?: (typeof NON_HEX_STEPS)[number];
  /** At least one of these flags. */
  readonly anyFlags?: number;
  /** None of these flags (`UUID_SHAPE`). */
  readonly noFlags?: number;
}

/** bits[min(count, last step)]: one bit per step the count reaches, starting at `shift`. */
function ladder(steps: readonly number[], shift: number): Uint32Array {
  const top = steps[steps.length - 1]!;
  const bits = new Uint32Array(top + 1);
  for (let n = 0; n <= top; n++) {
    steps.forEach((step, j) => {
      if (n >= step) bits[n]! |= 1 << (shift + j);
    });
  }
  return bits;
}

const DIGIT_BITS = ladder(DIGIT_STEPS, 0);
const UPPER_BITS = ladder(UPPER_STEPS, UPPER_SHIFT);
const NON_HEX_BITS = ladder(NON_HEX_STEPS, NON_HEX_SHIFT);

function bitFor(table: Uint32Array, min: number | undefined): number {
  return min === undefined || min === 0 ? 0 : table[min]!;
}

export interface Detector {
  readonly type: DetectorType;
  readonly minLength: number;
  /** `features` bits that must all be set. */
  readonly required: number;
  /** Flags of which one must be set (0: none needed). */
  readonly anyFlags: number;
  /** Flags that rule the detector out. */
  readonly noFlags: number;
  /** Cheap checks on the text itself: false means `find` would certainly find nothing. */
  gate(input: ScanInput): boolean;
  /** Appends candidates (score already raised by validators and context) to `out`. */
  find(input: ScanInput, out: Candidate[]): void;
}

function always(): boolean {
  return true;
}

/** A detector with every field present in one order, so the scan loop reads one object shape. */
export function defineDetector(
  type: DetectorType,
  needs: Needs,
  find: Detector['find'],
  gate: Detector['gate'] = always,
): Detector {
  const required =
    bitFor(DIGIT_BITS, needs.minDigits) |
    bitFor(UPPER_BITS, needs.minUpper) |
    bitFor(NON_HEX_BITS, needs.minNonHex);
  const anyFlags = needs.anyFlags ?? 0;
  return {
    type,
    minLength: needs.minLength,
    required,
    anyFlags,
    noFlags: needs.noFlags ?? 0,
    gate,
    find,
  };
}

/** Whether the features and flags allow the detector (length is the caller's). */
export function needsMet(d: Detector, features: number, flags: number): boolean {
  return (
    (features & d.required) === d.required &&
    (d.anyFlags === 0 || (flags & d.anyFlags) !== 0) &&
    (flags & d.noFlags) === 0
  );
}

const OTHER = 0;
const DIGIT = 1;
const UPPER = 2;
const LOWER = 3;
const DOT = 4;
const COLON = 5;
const DASH = 6;
const PLUS = 7;
const AT = 8;
const UNDERSCORE = 9;
const EQUALS = 10;
const TILDE = 11;
const UPPER_HEX = 12;
const LOWER_HEX = 13;
const SEPARATOR = 14;

/** Class of every UTF-16 code unit (OTHER for anything no gate counts): 64 KiB, no branch. */
const CLASS = new Uint8Array(65536);
for (let c = 48; c <= 57; c++) CLASS[c] = DIGIT;
for (let c = 65; c <= 90; c++) CLASS[c] = c <= 70 ? UPPER_HEX : UPPER;
for (let c = 97; c <= 122; c++) CLASS[c] = c <= 102 ? LOWER_HEX : LOWER;
CLASS[46] = DOT;
CLASS[58] = COLON;
CLASS[45] = DASH;
CLASS[43] = PLUS;
CLASS[64] = AT;
CLASS[95] = UNDERSCORE;
CLASS[61] = EQUALS;
CLASS[126] = TILDE;
for (const c of [9, 32, 34, 39, 62, 96]) CLASS[c] = SEPARATOR;

const counts = new Int32Array(SEPARATOR + 1);
const shared: TextStats = {
  length: 0,
  digits: 0,
  upper: 0,
  lower: 0,
  nonHexLetters: 0,
  dots: 0,
  colons: 0,
  dashes: 0,
  maxDigitRun: 0,
  tripleRuns: 0,
  quadRuns: 0,
  flags: 0,
  features: 0,
};

/** Whether some `+` is not preceded by a digit. */
function leadingPlus(text: string): boolean {
  for (let i = text.indexOf('+'); i !== -1; i = text.indexOf('+', i + 1)) {
    if (CLASS[text.charCodeAt(i - 1)] !== DIGIT) return true;
  }
  return false;
}

function uuidShaped(text: string): boolean {
  return (
    text.length === 36 &&
    counts[UPPER] === 0 &&
    counts[LOWER] === 0 &&
    text.charCodeAt(8) === 45 &&
    text.charCodeAt(13) === 45 &&
    text.charCodeAt(18) === 45 &&
    text.charCodeAt(23) === 45
  );
}

const TIMESTAMP_TAIL = new Uint8Array(128);
for (const c of '0123456789.:+-Z ') TIMESTAMP_TAIL[c.charCodeAt(0)] = 1;

/** `YYYY-MM-DD[ T]HH:MM:SS` followed only by fraction, zone and offset characters. */
function timestampShaped(text: string): boolean {
  const n = text.length;
  if (n < 19 || n > 35 || counts[UPPER]! + counts[LOWER]! > 2) return false;
  const t = text.charCodeAt(10);
  if (t !== 32 && t !== 84) return false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (i === 4 || i === 7) {
      if (c !== 45) return false;
    } else if (i === 13 || i === 16) {
      if (c !== 58) return false;
    } else if (i === 10) continue;
    else if (i < 19 ? CLASS[c] !== DIGIT : c >= 128 || TIMESTAMP_TAIL[c] === 0) return false;
  }
  return true;
}

/** Flags of the characters other than letters and digits. */
function characterFlags(text: string): number {
  let flags = 0;
  if (counts[AT]! > 0) flags |= HAS_AT;
  if (counts[UNDERSCORE]! > 0) flags |= HAS_UNDERSCORE;
  if (counts[EQUALS]! > 0) flags |= HAS_EQUALS;
  if (counts[TILDE]! > 0) flags |= HAS_TILDE;
  if (counts[SEPARATOR]! > 0) flags |= HAS_SEPARATOR;
  if (counts[COLON]! > 0) flags |= HAS_COLON;
  if (counts[PLUS]! > 0 && leadingPlus(text)) flags |= HAS_LEADING_PLUS;
  if (counts[COLON]! > 1 && text.includes('::')) flags |= HAS_DOUBLE_COLON;
  if (counts[DASH] === 4 && uuidShaped(text)) flags |= UUID_SHAPE;
  if (counts[DASH]! >= 2 && counts[COLON]! >= 2 && timestampShaped(text)) flags |= TIMESTAMP_SHAPE;
  return flags;
}

function shapeFlags(s: TextStats): number {
  const { digits, maxDigitRun: run, tripleRuns: triples, quadRuns: quads } = s;
  let flags = 0;
  if (digits >= 7 && (run >= 7 || triples >= 3 || (s.flags & HAS_LEADING_PLUS) !== 0)) {
    flags |= PHONE_SHAPE;
  }
  if (digits >= 9 && (run >= 9 || (triples >= 2 && quads >= 1))) flags |= SSN_SHAPE;
  if (digits >= 13 && (run >= 13 || quads >= 3)) flags |= CARD_SHAPE;
  if (s.dots >= 3 && digits >= 4) flags |= IPV4_SHAPE;
  if (digits >= 1 && (s.colons >= 7 || (s.flags & HAS_DOUBLE_COLON) !== 0)) flags |= IPV6_SHAPE;
  return flags;
}

/** The text `shared` describes (`mayContain` then `scan` on one value counts once). */
let sharedText: string | undefined;

/** Counts in one pass; returns a shared object that the next call overwrites. */
export function computeStats(text: string): TextStats {
  if (text === sharedText) return shared;
  sharedText = text;
  const n = text.length;
  for (let k = OTHER; k <= SEPARATOR; k++) counts[k] = 0;
  let run = 0;
  let maxRun = 0;
  let triples = 0;
  let quads = 0;
  for (let i = 0; i < n; i++) {
    const k = CLASS[text.charCodeAt(i)]!;
    counts[k]!++;
    // Branch-free: the run grows on a digit and resets to 0 otherwise.
    run = (run + 1) * +(k === DIGIT);
    maxRun = Math.max(maxRun, run);
    triples += +(run === 3);
    quads += +(run === 4);
  }
  const s = shared;
  s.length = n;
  s.digits = counts[DIGIT]!;
  s.upper = counts[UPPER]! + counts[UPPER_HEX]!;
  s.lower = counts[LOWER]! + counts[LOWER_HEX]!;
  s.nonHexLetters = counts[UPPER]! + counts[LOWER]!;
  s.dots = counts[DOT]!;
  s.colons = counts[COLON]!;
  s.dashes = counts[DASH]!;
  s.maxDigitRun = maxRun;
  s.tripleRuns = triples;
  s.quadRuns = quads;
  s.flags = n === s.digits + s.upper + s.lower ? 0 : characterFlags(text);
  s.flags |= shapeFlags(s);
  s.features =
    DIGIT_BITS[Math.min(s.digits, 5)]! |
    UPPER_BITS[Math.min(s.upper, 8)]! |
    NON_HEX_BITS[Math.min(s.nonHexLetters, 2)]!;
  return s;
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Letters, digits and `_`: the `\w` of a regex. */
export function isWord(c: number): boolean {
  return isAlnum(c) || c === 95;
}

/** Runs a global regex over `text` and hands every match to `each` (empty matches advance). */
export function forEachMatch(re: RegExp, text: string, each: (m: RegExpExecArray) => void): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) re.lastIndex++;
    each(m);
  }
}
