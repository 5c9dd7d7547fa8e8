/**
 * What every detector family plugs into. One pass counts character classes (table lookups into
 * packed counters, no memory writes), digit runs only when there are enough digits to matter, and
 * sums them up as `features` (count thresholds) and `flags` (characters present, and shapes such
 * as "could hold a phone number"). Each detector declares the features and flags any finding of
 * its type implies (`Needs`), and what else its bytes must show (`ByteNeeds`); the detector set
 * memoises which detectors a (features, flags, length) signature leaves, and a column's byte
 * filter what it decides, so most values (names, amounts, UUIDs, timestamps) are refused by one
 * table lookup. A detector's `gate` then checks what needs the text (a literal prefix, a
 * keyword), and only then its finder runs.
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
  /** Longest run of consecutive digits (exact from seven digits on; below, an upper bound). */
  maxDigitRun: number;
  /** Runs of at least three consecutive digits (exact from seven digits on). */
  tripleRuns: number;
  /** Runs of at least four consecutive digits, card groups (exact from seven digits on). */
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
  /** Bit set of the `LIT_*` families present (see literals.ts); -1 until first asked. */
  literals: number;
}

/** A finding before thresholds and overlap resolution. */
export interface Candidate {
  type: DetectorType;
  start: number;
  end: number;
  score: number;
}

const DIGIT_STEPS = [1, 3, 4, 5, 7] as const;
const UPPER_STEPS = [1, 2, 4, 8] as const;
const NON_HEX_STEPS = [1, 2, 3] as const;
const LOWER_STEPS = [5] as const;
const DOT_STEPS = [1, 2] as const;
const DASH_STEPS = [1, 10] as const;
const UPPER_SHIFT = DIGIT_STEPS.length;
const NON_HEX_SHIFT = UPPER_SHIFT + UPPER_STEPS.length;
const LOWER_SHIFT = NON_HEX_SHIFT + NON_HEX_STEPS.length;
const DOT_SHIFT = LOWER_SHIFT + LOWER_STEPS.length;
const DASH_SHIFT = DOT_SHIFT + DOT_STEPS.length;
/** Every feature is below this. */
export const FEATURE_SPACE = 1 << (DASH_SHIFT + DASH_STEPS.length);

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
  readonly minLower?: (typeof LOWER_STEPS)[number];
  readonly minDots?: (typeof DOT_STEPS)[number];
  readonly minDashes?: (typeof DASH_STEPS)[number];
  /** At least one of these flags. */
  readonly anyFlags?: number;
  /** None of these flags (`UUID_SHAPE`). */
  readonly noFlags?: number;
}

/**
 * What the bytes of a value must show for `find` to find anything, beyond the detector's
 * `Needs`: told from the counts (as `features` and `flags`), the column hint and the `LIT_*`
 * families present (literals.ts), so a value can be ruled out before it is decoded. Being data,
 * not code, it is decided once per column and count signature (see `byteFilter`).
 */
export interface ByteNeeds {
  /** The column hint alone keeps the detector in the running (a `password` column). */
  readonly hint?: (hint: HintInfo) => boolean;
  /** Otherwise one of these must be met (default: nothing more than `Needs`). */
  readonly anyOf?: readonly Omit<Needs, 'minLength'>[];
  /** ... and one of these `LIT_*` families must be present (default: none needed). */
  readonly literals?: number;
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
const LOWER_BITS = ladder(LOWER_STEPS, LOWER_SHIFT);
const DOT_BITS = ladder(DOT_STEPS, DOT_SHIFT);
const DASH_BITS = ladder(DASH_STEPS, DASH_SHIFT);
const DIGIT_TOP = DIGIT_BITS.length - 1;
const UPPER_TOP = UPPER_BITS.length - 1;
const NON_HEX_TOP = NON_HEX_BITS.length - 1;
const LOWER_TOP = LOWER_BITS.length - 1;
const DOT_TOP = DOT_BITS.length - 1;
const DASH_TOP = DASH_BITS.length - 1;

function bitFor(table: Uint32Array, min: number | undefined): number {
  return min === undefined || min === 0 ? 0 : table[min]!;
}

/** `features` bits, flags of which one is needed, flags that rule out. */
export interface Requirement {
  readonly required: number;
  readonly anyFlags: number;
  readonly noFlags: number;
}

function requirementOf(needs: Omit<Needs, 'minLength'>): Requirement {
  return {
    required:
      bitFor(DIGIT_BITS, needs.minDigits) |
      bitFor(UPPER_BITS, needs.minUpper) |
      bitFor(NON_HEX_BITS, needs.minNonHex) |
      bitFor(LOWER_BITS, needs.minLower) |
      bitFor(DOT_BITS, needs.minDots) |
      bitFor(DASH_BITS, needs.minDashes),
    anyFlags: needs.anyFlags ?? 0,
    noFlags: needs.noFlags ?? 0,
  };
}

export interface Detector extends Requirement {
  readonly type: DetectorType;
  readonly minLength: number;
  /** Cheap checks on the text itself: false means `find` would certainly find nothing. */
  gate(input: ScanInput): boolean;
  /** Whether the column hint alone keeps the detector in the running on bytes (`ByteNeeds`). */
  hintKeeps(hint: HintInfo): boolean;
  /** Otherwise one of these must be met on bytes (`ByteNeeds.anyOf`). */
  readonly byteNeeds: readonly Requirement[];
  /** ... and one of these `LIT_*` families present (0: none needed). */
  readonly literals: number;
  /** Appends candidates (score already raised by validators and context) to `out`. */
  find(input: ScanInput, out: Candidate[]): void;
}

function always(): boolean {
  return true;
}

function never(): boolean {
  return false;
}

const NOTHING_MORE: readonly Requirement[] = [requirementOf({})];

/** A detector with every field present in one order, so the scan loop reads one object shape. */
export function defineDetector(
  type: DetectorType,
  needs: Needs,
  find: Detector['find'],
  gate: Detector['gate'] = always,
  bytes: ByteNeeds = {},
): Detector {
  const { required, anyFlags, noFlags } = requirementOf(needs);
  return {
    type,
    minLength: needs.minLength,
    required,
    anyFlags,
    noFlags,
    gate,
    hintKeeps: bytes.hint ?? never,
    byteNeeds: bytes.anyOf === undefined ? NOTHING_MORE : bytes.anyOf.map(requirementOf),
    literals: bytes.literals ?? 0,
    find,
  };
}

/** Whether the features and flags meet a requirement (length is the caller's). */
export function needsMet(d: Requirement, features: number, flags: number): boolean {
  return (
    (features & d.required) === d.required &&
    (d.anyFlags === 0 || (flags & d.anyFlags) !== 0) &&
    (flags & d.noFlags) === 0
  );
}

/**
 * Per-character increments packed in 6-bit fields of one float (eight fields, 48 bits: float
 * adds are exact up to 2^53), so a pass does two table reads and two operations per character
 * and no memory writes. Fields are read out every `CHUNK` characters, before any can overflow.
 */
const FIELD = 6;
const CHUNK = (1 << FIELD) - 1;
const MASK = CHUNK;
/** The low four fields fit 24 bits: `x = lo + hi * LOW_SPACE`. */
const LOW_SPACE = 2 ** (4 * FIELD);
// Fields, low to high: digit, upper non-hex, upper hex, lower non-hex; lower hex, dot, colon, dash.
const F_DIGIT = 0;
const F_UPPER = 1;
const F_UPPER_HEX = 2;
const F_LOWER = 3;
const F_LOWER_HEX = 4;
const F_DOT = 5;
const F_COLON = 6;
const F_DASH = 7;
// PRESENT bits: characters only their presence matters for.
const P_PLUS = 1;
const P_AT = 2;
const P_UNDERSCORE = 4;
const P_EQUALS = 8;
const P_TILDE = 16;
const P_SEPARATOR = 32;
/** A byte of 128 or above (bytes only; strings count such code units apart). */
const P_HIGH = 64;

/** ASCII only: every other code unit counts as nothing any gate reads. */
const ENC = new Float64Array(256);
const PRESENT = new Int32Array(256);
PRESENT.fill(P_HIGH, 128);
const field = (f: number) => 2 ** (f * FIELD);
for (let c = 48; c <= 57; c++) ENC[c] = field(F_DIGIT);
for (let c = 65; c <= 90; c++) ENC[c] = field(c <= 70 ? F_UPPER_HEX : F_UPPER);
for (let c = 97; c <= 122; c++) ENC[c] = field(c <= 102 ? F_LOWER_HEX : F_LOWER);
ENC[46] = field(F_DOT);
ENC[58] = field(F_COLON);
ENC[45] = field(F_DASH);
PRESENT[43] = P_PLUS;
PRESENT[64] = P_AT;
PRESENT[95] = P_UNDERSCORE;
PRESENT[61] = P_EQUALS;
PRESENT[126] = P_TILDE;
for (const c of [9, 32, 34, 39, 62, 96]) PRESENT[c] = P_SEPARATOR;

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

/**
 * Stats are computed from a string (UTF-16 code units) or straight from UTF-8 bytes, so a result
 * value need not become a string unless some detector could match it. Bytes of 128 and above
 * count as nothing, like non-ASCII code units; a non-ASCII value is never given an inert shape,
 * so the byte view never rules out a detector that the string view would keep.
 */
type Source = string | Uint8Array;

function codeAt(src: Source, i: number): number {
  return typeof src === 'string' ? src.charCodeAt(i) : (src[i] as number);
}

/** Whether some `+` is not preceded by a digit. */
function leadingPlus(src: Source, from: number, to: number): boolean {
  if (typeof src === 'string') {
    for (let i = src.indexOf('+'); i !== -1; i = src.indexOf('+', i + 1)) {
      if (i === 0 || !isDigit(src.charCodeAt(i - 1))) return true;
    }
    return false;
  }
  for (let i = from; i < to; i++) {
    if (src[i] === 43 && (i === from || !isDigit(src[i - 1]!))) return true;
  }
  return false;
}

function doubleColon(src: Source, from: number, to: number): boolean {
  if (typeof src === 'string') return src.includes('::');
  for (let i = from + 1; i < to; i++) if (src[i] === 58 && src[i - 1] === 58) return true;
  return false;
}

function uuidShaped(src: Source, from: number, s: TextStats): boolean {
  return (
    s.length === 36 &&
    s.nonHexLetters === 0 &&
    codeAt(src, from + 8) === 45 &&
    codeAt(src, from + 13) === 45 &&
    codeAt(src, from + 18) === 45 &&
    codeAt(src, from + 23) === 45
  );
}

const TIMESTAMP_TAIL = new Uint8Array(256);
for (const c of '0123456789.:+-Z ') TIMESTAMP_TAIL[c.charCodeAt(0)] = 1;
/** What each of the first 19 characters of a timestamp must be: 0 a digit, else that code. */
const TIMESTAMP_HEAD = Array.from('0000-00-00 00:00:00', (ch) =>
  ch === '0' ? 0 : ch.charCodeAt(0),
);
/** Where `TIMESTAMP_HEAD` wants a digit. */
const TIMESTAMP_DIGITS = Int32Array.from(
  TIMESTAMP_HEAD.flatMap((want, i) => (want === 0 ? [i] : [])),
);

/**
 * `YYYY-MM-DD[ T]HH:MM:SS` followed only by fraction, zone and offset characters. Two copies (a
 * string and bytes) because timestamp columns are common and one polymorphic read costs double.
 */
function timestampShaped(src: Source, from: number, s: TextStats): boolean {
  const n = s.length;
  if (n < 19 || n > 35 || s.upper + s.lower > 2 || s.digits < 14) return false;
  return typeof src === 'string' ? timestampText(src) : timestampBytes(src, from, n);
}

function timestampText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (!timestampUnit(i, text.charCodeAt(i))) return false;
  }
  return true;
}

/** The same as `timestampText` over bytes, the separators first (most values fail there). */
function timestampBytes(bytes: Uint8Array, from: number, n: number): boolean {
  const t = bytes[from + 10];
  if (
    bytes[from + 4] !== 45 ||
    bytes[from + 7] !== 45 ||
    (t !== 32 && t !== 84) ||
    bytes[from + 13] !== 58 ||
    bytes[from + 16] !== 58
  ) {
    return false;
  }
  for (let j = 0; j < TIMESTAMP_DIGITS.length; j++) {
    if (!isDigit(bytes[from + TIMESTAMP_DIGITS[j]!]!)) return false;
  }
  for (let i = from + 19; i < from + n; i++) if (TIMESTAMP_TAIL[bytes[i]!] !== 1) return false;
  return true;
}

function timestampUnit(i: number, c: number): boolean {
  if (i >= 19) return c < 256 && TIMESTAMP_TAIL[c] === 1;
  const want = TIMESTAMP_HEAD[i]!;
  return want === 0 ? isDigit(c) : c === want || (i === 10 && c === 84);
}

/** Flags of the characters other than letters and digits. */
function characterFlags(src: Source, from: number, present: number, ascii: boolean): number {
  const s = shared;
  const to = from + s.length;
  let flags = 0;
  if ((present & P_AT) !== 0) flags |= HAS_AT;
  if ((present & P_UNDERSCORE) !== 0) flags |= HAS_UNDERSCORE;
  if ((present & P_EQUALS) !== 0) flags |= HAS_EQUALS;
  if ((present & P_TILDE) !== 0) flags |= HAS_TILDE;
  if ((present & P_SEPARATOR) !== 0) flags |= HAS_SEPARATOR;
  if (s.colons > 0) flags |= HAS_COLON;
  if (ascii && s.dashes === 4 && uuidShaped(src, from, s)) return flags | UUID_SHAPE;
  if (ascii && s.dashes >= 2 && s.colons >= 2 && timestampShaped(src, from, s)) {
    // Its `+` is an offset and its colons separate hours; no other shape applies.
    return flags | TIMESTAMP_SHAPE;
  }
  if ((present & P_PLUS) !== 0 && leadingPlus(src, from, to)) flags |= HAS_LEADING_PLUS;
  if (s.colons > 1 && doubleColon(src, from, to)) flags |= HAS_DOUBLE_COLON;
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

/** Digit runs (longest, of three or more, of four or more); only asked when digits ≥ 7. */
function digitRuns(src: Source, from: number, to: number, s: TextStats): void {
  let run = 0;
  let maxRun = 0;
  let triples = 0;
  let quads = 0;
  for (let i = from; i < to; i++) {
    const c = codeAt(src, i);
    if (c >= 48 && c <= 57) {
      run++;
      if (run === 3) triples++;
      else if (run === 4) quads++;
      if (run > maxRun) maxRun = run;
    } else run = 0;
  }
  s.maxDigitRun = maxRun;
  s.tripleRuns = triples;
  s.quadRuns = quads;
}

/** Code units of 128 and above seen by the last `count*` pass (module state: scans are synchronous). */
let high = 0;

/** Counts `text` into `shared`; returns the `P_*` bits present. */
function countString(text: string): number {
  const s = shared;
  const n = text.length;
  let p = 0;
  let h = 0;
  let from = 0;
  do {
    const to = Math.min(n, from + CHUNK);
    let x = 0;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c < 128) {
        x += ENC[c]!;
        p |= PRESENT[c]!;
      } else h++;
    }
    addCounts(s, x, from === 0);
    from = to;
  } while (from < n);
  high = h;
  return p;
}

/**
 * The same over bytes: tables of 256 entries, so no branch per byte (bytes of 128 and above set
 * `P_HIGH` and count as nothing else).
 */
function countBytes(bytes: Uint8Array, start: number, end: number): number {
  const s = shared;
  let p = 0;
  let from = start;
  do {
    const to = Math.min(end, from + CHUNK);
    let x = 0;
    for (let i = from; i < to; i++) {
      const c = bytes[i]!;
      x += ENC[c]!;
      p |= PRESENT[c]!;
    }
    addCounts(s, x, from === start);
    from = to;
  } while (from < end);
  high = p & P_HIGH;
  return p & ~P_HIGH;
}

/** Adds one chunk's packed counters (at most CHUNK units each) to the counts, or sets them. */
function addCounts(s: TextStats, x: number, first: boolean): void {
  const hi = Math.floor(x / LOW_SPACE);
  const lo = x - hi * LOW_SPACE;
  const digits = lo & MASK;
  const upper = (lo >>> (F_UPPER * FIELD)) & MASK;
  const upperHex = (lo >>> (F_UPPER_HEX * FIELD)) & MASK;
  const lower = (lo >>> (F_LOWER * FIELD)) & MASK;
  const lowerHex = hi & MASK;
  const dots = (hi >>> ((F_DOT - 4) * FIELD)) & MASK;
  const colons = (hi >>> ((F_COLON - 4) * FIELD)) & MASK;
  const dashes = (hi >>> ((F_DASH - 4) * FIELD)) & MASK;
  if (first) {
    s.digits = digits;
    s.upper = upper + upperHex;
    s.lower = lower + lowerHex;
    s.nonHexLetters = upper + lower;
    s.dots = dots;
    s.colons = colons;
    s.dashes = dashes;
  } else {
    s.digits += digits;
    s.upper += upper + upperHex;
    s.lower += lower + lowerHex;
    s.nonHexLetters += upper + lower;
    s.dots += dots;
    s.colons += colons;
    s.dashes += dashes;
  }
}

/** Completes `shared` (its counts set) with flags, digit runs and features; returns it. */
function finish(src: Source, from: number, n: number, present: number): TextStats {
  const s = shared;
  const digits = s.digits;
  s.length = n;
  s.flags = n === digits + s.upper + s.lower ? 0 : characterFlags(src, from, present, high === 0);
  if (digits < 7) {
    // Too few digits for any digit shape: the runs are bounded by the count.
    s.maxDigitRun = digits;
    s.tripleRuns = digits >= 3 ? 1 : 0;
    s.quadRuns = digits >= 4 ? 1 : 0;
  } else if ((s.flags & INERT_SHAPES) !== 0) {
    // A UUID or a timestamp: its digits are no phone, SSN or card.
    s.maxDigitRun = 0;
    s.tripleRuns = 0;
    s.quadRuns = 0;
  } else digitRuns(src, from, from + n, s);
  s.flags |= shapeFlags(s);
  s.features =
    DIGIT_BITS[Math.min(digits, DIGIT_TOP)]! |
    UPPER_BITS[Math.min(s.upper, UPPER_TOP)]! |
    NON_HEX_BITS[Math.min(s.nonHexLetters, NON_HEX_TOP)]! |
    LOWER_BITS[Math.min(s.lower, LOWER_TOP)]! |
    DOT_BITS[Math.min(s.dots, DOT_TOP)]! |
    DASH_BITS[Math.min(s.dashes, DASH_TOP)]!;
  return s;
}

/** The text `shared` describes (`mayContain` then `scan` on one value counts once). */
let sharedText: string | undefined;
/** The bytes `shared` describes when it was last computed from bytes. */
let sharedBytes: Uint8Array | undefined;
let sharedStart = 0;
let sharedEnd = 0;

/** Counts in one pass; returns a shared object that the next call overwrites. */
export function computeStats(text: string): TextStats {
  if (text === sharedText) return shared;
  sharedText = text;
  sharedBytes = undefined;
  return finish(text, 0, text.length, countString(text));
}

/**
 * `bytes[start, end)` decoded as UTF-8. When they are the bytes last counted and all ASCII, the
 * text has the same code units, so its counts are theirs: the next `computeStats` of this text
 * (the scan that follows `mayContainBytes`) reuses them instead of counting again.
 */
export function decodeCounted(bytes: Uint8Array, start: number, end: number): string {
  const buf =
    bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buf.toString('utf8', start, end);
  if (bytes === sharedBytes && start === sharedStart && end === sharedEnd && high === 0) {
    sharedText = text;
  }
  return text;
}

/**
 * The same counts over UTF-8 bytes `[start, end)` (length in bytes, so never below the string's
 * length): what a detector's needs rule out on these stats, they rule out on the decoded text too.
 */
export function computeStatsOfBytes(bytes: Uint8Array, start: number, end: number): TextStats {
  sharedText = undefined;
  sharedBytes = bytes;
  sharedStart = start;
  sharedEnd = end;
  return finish(bytes, start, end - start, countBytes(bytes, start, end));
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
