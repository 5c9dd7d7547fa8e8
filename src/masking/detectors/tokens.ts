/**
 * Structured credentials found by walking the text rather than by regex: JWTs (three base64url
 * segments whose header is a JOSE header) and PEM private key blocks. Both walks move forward
 * only, so they stay linear on hostile input (`eyJeyJ…`, `-----BEGIN` repeated).
 */
import {
  type Candidate,
  type Detector,
  defineDetector,
  isAlnum,
  type ScanInput,
} from './detector.ts';
import { LIT_JWT, LIT_PEM } from './literals.ts';
import { isBase64Json, jwtHeaderHasAlg } from './validate.ts';

const JWT_SCORE = 0.95;
/** RFC 7518 section 3.1 `none` tokens have an empty signature; signed ones have at least this. */
const MIN_SIGNATURE = 16;

function isB64Url(c: number): boolean {
  return isAlnum(c) || c === 45 || c === 95;
}

function runEnd(text: string, i: number): number {
  let j = i;
  while (j < text.length && isB64Url(text.charCodeAt(j))) j++;
  return j;
}

/** End of the JWT starting at `i`, or the negative of where to resume when there is none. */
function jwtAt(text: string, i: number): number {
  const h = runEnd(text, i);
  if (text.charCodeAt(h) !== 46) return -h;
  const p = runEnd(text, h + 1);
  if (p === h + 1 || text.charCodeAt(p) !== 46) return -p;
  const s = runEnd(text, p + 1);
  if (text.charCodeAt(s) === 46 && isB64Url(text.charCodeAt(s + 1))) return -s; // JWE / longer
  const sig = s - p - 1;
  if (sig !== 0 && sig < MIN_SIGNATURE) return -s;
  if (!jwtHeaderHasAlg(text.slice(i, h)) || !isBase64Json(text.slice(h + 1, p))) return -s;
  return s;
}

function findJwts(input: ScanInput, out: Candidate[]): void {
  const { text } = input;
  let from = 0;
  for (let i = text.indexOf('eyJ'); i !== -1; i = text.indexOf('eyJ', from)) {
    const prev = text.charCodeAt(i - 1);
    if (i > 0 && (isB64Url(prev) || prev === 46)) {
      from = i + 1;
      continue;
    }
    const end = jwtAt(text, i);
    if (end <= 0) {
      from = Math.max(i + 1, -end);
      continue;
    }
    out.push({ type: 'jwt', start: i, end, score: JWT_SCORE });
    from = end;
  }
}

export const jwt: Detector = defineDetector(
  'jwt',
  { minLength: 30, minUpper: 1, minNonHex: 2, minDots: 2 },
  findJwts,
  (t) => t.text.includes('eyJ'),
  { literals: LIT_JWT },
);

const BEGIN = '-----BEGIN ';
const DASHES = '-----';
const MAX_LABEL = 40;
const PRIVATE_LABEL_RE = /^(?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?$/;
const TRUNCATED_SCORE = 0.8;
const MAX_TRUNCATED_BODY = 16384;

/** End of a key body without its END line: base64, whitespace and escaped `\n`. */
function bodyEnd(text: string, i: number): number {
  let j = i;
  const max = Math.min(text.length, i + MAX_TRUNCATED_BODY);
  while (j < max) {
    const c = text.charCodeAt(j);
    if (isAlnum(c) || c === 43 || c === 47 || c === 61 || c === 10 || c === 13 || c === 32) j++;
    else if (c === 92 && (text[j + 1] === 'n' || text[j + 1] === 'r')) j += 2;
    else break;
  }
  return j;
}

/**
 * `-----BEGIN … PRIVATE KEY-----` through its END line; a block cut short (no END) is masked from
 * BEGIN to the end of its base64 body. An END line missing once is missing for every later BEGIN
 * of that label, which keeps repeated BEGINs linear.
 */
function findPrivateKeys(input: ScanInput, out: Candidate[]): void {
  const { text } = input;
  const missingEnd = new Set<string>();
  let from = 0;
  for (let i = text.indexOf(BEGIN); i !== -1; i = text.indexOf(BEGIN, from)) {
    const labelStart = i + BEGIN.length;
    const close = text.indexOf(DASHES, labelStart);
    if (close === -1) return;
    const label = text.slice(labelStart, close);
    from = labelStart;
    if (close - labelStart > MAX_LABEL || !PRIVATE_LABEL_RE.test(label)) continue;
    const endLine = `-----END ${label}-----`;
    const e = missingEnd.has(label) ? -1 : text.indexOf(endLine, close + DASHES.length);
    if (e === -1) {
      missingEnd.add(label);
      from = bodyEnd(text, close + DASHES.length);
      out.push({ type: 'private_key', start: i, end: from, score: TRUNCATED_SCORE });
      continue;
    }
    from = e + endLine.length;
    out.push({ type: 'private_key', start: i, end: from, score: 1 });
  }
}

export const privateKey: Detector = defineDetector(
  'private_key',
  { minLength: 30, minUpper: 8, minNonHex: 2, minDashes: 10 },
  findPrivateKeys,
  (t) => t.text.includes(BEGIN),
  { literals: LIT_PEM },
);
