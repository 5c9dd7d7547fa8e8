/**
 * Context words: a word such as `ssn` shortly before a candidate (or in the column name) raises its
 * score, as Presidio's context enhancer does. Words match at a word start (`_` and `-` count as
 * separators, so `date_of_birth` and `card-number` match), case-insensitively.
 */
import type { HintInfo, ScanInput } from './detector.ts';
import type { DetectorType } from './types.ts';

/** How much a context word adds to a candidate's score (Presidio's default factor). */
export const CONTEXT_BOOST = 0.35;
/** Characters searched before a candidate, and after it. */
export const WINDOW_BEFORE = 48;
export const WINDOW_AFTER = 24;

const WORDS: Partial<Record<DetectorType, readonly string[]>> = {
  email: ['e-?mail', 'mail', 'contact'],
  phone: ['phone', 'tel', 'mobile', 'cell', 'fax', 'call', 'sms', 'whatsapp', 'contact'],
  credit_card: [
    'credit',
    'card',
    'cc',
    'visa',
    'master',
    'amex',
    'american express',
    'discover',
    'diners',
    'jcb',
    'unionpay',
    'maestro',
    'debit',
    'pan',
    'payment',
  ],
  us_ssn: ['ssn', 'social security', 'social sec', 'ss#', 'ss no', 'tax id', 'tin'],
  iban: ['iban', 'bank', 'account', 'acct', 'bic', 'swift', 'wire', 'transfer', 'sepa'],
  ip_address: ['ip', 'address', 'addr', 'host', 'client', 'server', 'remote', 'src', 'dst'],
  date_of_birth: ['dob', 'd\\.o\\.b', 'birth', 'born', 'bday'],
  mrn: ['mrn', 'medical record', 'med rec', 'patient id', 'patient no', 'chart'],
  aws_secret_key: [
    'aws_?secret',
    'secret_?access_?key',
    'secret access key',
    'aws secret',
    'aws_?sk',
  ],
  azure_key: ['azure', 'client_?secret', 'client secret', 'account_?key', 'shared_?access'],
  generic_secret: [
    'passw(?:or)?d',
    'pwd',
    'passphrase',
    'secret',
    'token',
    'api[_-]?key',
    'auth',
    'credential',
  ],
};

function wordRegex(words: readonly string[]): RegExp {
  return new RegExp(`(?<![a-z])(?:${words.join('|')})`, 'i');
}

const CONTEXT_RE: Partial<Record<DetectorType, RegExp>> = Object.fromEntries(
  Object.entries(WORDS).map(([type, words]) => [type, wordRegex(words)]),
);

/** Keywords that make a nearby high-entropy string a generic secret (gitleaks' generic rule). */
export const SECRET_KEYWORD_RE =
  /passw(?:or)?d|pwd|passphrase|secret|token|api[_-]?key|auth|credential/gi;

export const KEYWORD_SECRET = 1;
export const KEYWORD_BIRTH = 2;
export const KEYWORD_AWS = 4;
export const KEYWORD_AZURE = 8;
const KEYWORDS_RE =
  /(passw|pwd|passphrase|secret|token|api[_-]?key|auth|credential)|(dob|d\.o\.b|birth|born|bday)|(aws)|(azure)/gi;

/** Which keyword families the text contains: one regex pass, at most once per scan. */
export function keywordsOf(input: ScanInput): number {
  if (input.keywords !== -1) return input.keywords;
  let bits = 0;
  KEYWORDS_RE.lastIndex = 0;
  for (let m = KEYWORDS_RE.exec(input.text); m !== null; m = KEYWORDS_RE.exec(input.text)) {
    if (m[1] !== undefined) bits |= KEYWORD_SECRET;
    else if (m[2] !== undefined) bits |= KEYWORD_BIRTH;
    else if (m[3] !== undefined) bits |= KEYWORD_AWS;
    else bits |= KEYWORD_AZURE;
  }
  input.keywords = bits;
  return bits;
}

/** True when a context word for `type` is within the window around [start, end). */
export function hasNearbyContext(
  type: DetectorType,
  text: string,
  start: number,
  end: number,
): boolean {
  const re = CONTEXT_RE[type];
  if (re === undefined) return false;
  if (re.test(text.slice(Math.max(0, start - WINDOW_BEFORE), start))) return true;
  return end < text.length && re.test(text.slice(end, end + WINDOW_AFTER));
}

/** `base`, raised by the column hint or a nearby context word. */
export function withContext(
  input: ScanInput,
  type: DetectorType,
  base: number,
  start: number,
  end: number,
): number {
  if (input.hint.boosts.has(type) || hasNearbyContext(type, input.text, start, end)) {
    return Math.min(1, Math.round((base + CONTEXT_BOOST) * 100) / 100);
  }
  return base;
}

/** No column name: nothing boosted. */
export const NO_HINT: HintInfo = { boosts: new Set(), secret: false };
const HINT_CACHE_MAX = 1024;
const hintCache = new Map<string, HintInfo>();

/** `patientDOB` and `patient-dob` read as `patient_dob`. */
function normaliseHint(hint: string): string {
  return hint.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function computeHint(hint: string): HintInfo {
  const name = normaliseHint(hint);
  const boosts = new Set<DetectorType>();
  for (const [type, re] of Object.entries(CONTEXT_RE)) {
    if (re.test(name)) boosts.add(type as DetectorType);
  }
  return { boosts, secret: boosts.has('generic_secret') };
}

/** What a column name says, cached per distinct name (the same column repeats every row). */
export function hintInfo(hint: string | undefined): HintInfo {
  if (hint === undefined || hint === '') return NO_HINT;
  let info = hintCache.get(hint);
  if (info === undefined) {
    if (hintCache.size >= HINT_CACHE_MAX) hintCache.clear();
    info = computeHint(hint.slice(0, 128));
    hintCache.set(hint, info);
  }
  return info;
}
