/**
 * Literal strings that some detectors cannot match without (context keywords such as `password`,
 * prefixes such as `AKIA`), looked for in UTF-8 bytes in one pass, so that a text value can be
 * ruled out before it is decoded. Every literal is ASCII and matched ignoring ASCII case (a
 * superset of the case-sensitive prefixes). A byte of 128 or above matches nothing, and neither
 * does a non-ASCII character in the text gates: a non-`u` regex never folds one to ASCII, and
 * `includes` compares code units. So whatever literal a gate finds in the decoded text, this
 * finds in its bytes.
 */

import type { ScanInput } from './detector.ts';

/** `passw|pwd|passphrase|secret|token|api[_-]?key|auth|credential` (`KEYWORD_SECRET`). */
export const LIT_SECRET_WORD = 1;
/** `dob|d.o.b|birth|born|bday` (`KEYWORD_BIRTH`). */
export const LIT_BIRTH_WORD = 2;
export const LIT_AWS_WORD = 4;
export const LIT_AZURE_WORD = 8;
/** `AKIA|A3T|ASIA|ABIA|ACCA`: every AWS access key id starts with one. */
export const LIT_AWS_KEY_ID = 16;
export const LIT_GCP = 32;
/** `gh[pousr]_|github_pat_`. */
export const LIT_GITHUB = 64;
/** `gl|GR1348941`, what the GitLab gate looks for. */
export const LIT_GITLAB = 128;
export const LIT_SLACK = 256;
/** `ccountKey=|ccessKey=|Q~`, the Azure rules without a keyword. */
export const LIT_AZURE_KEY = 512;
export const LIT_JWT = 1024;
export const LIT_PEM = 2048;

const LITERALS: readonly (readonly [string, number])[] = [
  ...['passw', 'pwd', 'passphrase', 'secret', 'token', 'apikey', 'api_key', 'api-key', 'auth'].map(
    (w) => [w, LIT_SECRET_WORD] as const,
  ),
  ['credential', LIT_SECRET_WORD],
  ...['dob', 'd.o.b', 'birth', 'born', 'bday'].map((w) => [w, LIT_BIRTH_WORD] as const),
  ['aws', LIT_AWS_WORD],
  ['azure', LIT_AZURE_WORD],
  ...['akia', 'a3t', 'asia', 'abia', 'acca'].map((w) => [w, LIT_AWS_KEY_ID] as const),
  ['aiza', LIT_GCP],
  ...['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'].map((w) => [w, LIT_GITHUB] as const),
  ['gl', LIT_GITLAB],
  ['gr1348941', LIT_GITLAB],
  ...['xox', 'xapp-', 'hooks.slack'].map((w) => [w, LIT_SLACK] as const),
  ...['ccountkey=', 'ccesskey=', 'q~'].map((w) => [w, LIT_AZURE_KEY] as const),
  ['eyj', LIT_JWT],
  ['-----begin ', LIT_PEM],
];

/** ASCII lower-cased; 0 for bytes of 128 and above (and NUL), which no literal holds. */
const FOLD = new Uint8Array(256);
for (let c = 1; c < 128; c++) FOLD[c] = c >= 65 && c <= 90 ? c + 32 : c;

interface Literal {
  readonly bytes: Uint8Array;
  readonly family: number;
}

/** Literals by their first two (folded) bytes: `PAIRS[a << 7 | b]` is an index into `GROUPS` + 1. */
const PAIRS = new Uint8Array(128 * 128);
const GROUPS: Literal[][] = [];
for (const [word, family] of LITERALS) {
  const bytes = Uint8Array.from(word, (ch) => ch.charCodeAt(0));
  const pair = ((bytes[0] as number) << 7) | (bytes[1] as number);
  if (PAIRS[pair] === 0) PAIRS[pair] = GROUPS.push([]);
  GROUPS[(PAIRS[pair] as number) - 1]?.push({ bytes, family });
}
/** The same by two raw bytes (`a << 8 | b`, either case), so the byte scan folds nothing first. */
const RAW_PAIRS = new Uint8Array(256 * 256);
for (let a = 0; a < 256; a++) {
  for (let b = 0; b < 256; b++) {
    RAW_PAIRS[(a << 8) | b] = PAIRS[((FOLD[a] as number) << 7) | (FOLD[b] as number)] as number;
  }
}

/**
 * The `LIT_*` families whose literals occur in `bytes[start, end)`.
 *
 * @example
 * literalsOfBytes(Buffer.from('Password: x'), 0, 11); // LIT_SECRET_WORD
 */
export function literalsOfBytes(bytes: Uint8Array, start: number, end: number): number {
  let bits = 0;
  let prev = start < end ? (bytes[start] as number) << 8 : 0;
  for (let i = start + 1; i < end; i++) {
    const c = bytes[i] as number;
    const group = RAW_PAIRS[prev | c] as number;
    if (group !== 0) bits |= matchAt(bytes, i - 1, end, GROUPS[group - 1] as Literal[]);
    prev = c << 8;
  }
  return bits;
}

/** Families of the literals of `group` found at `at` (their first two bytes already match). */
function matchAt(bytes: Uint8Array, at: number, end: number, group: readonly Literal[]): number {
  let bits = 0;
  for (const lit of group) {
    const n = lit.bytes.length;
    if (at + n > end) continue;
    let j = 2;
    while (j < n && FOLD[bytes[at + j] as number] === lit.bytes[j]) j++;
    if (j === n) bits |= lit.family;
  }
  return bits;
}

/** The same over a string (code units of 128 and above match nothing), once per scan. */
export function literalsOf(input: ScanInput): number {
  if (input.literals !== -1) return input.literals;
  const text = input.text;
  let bits = 0;
  let prev = text.length > 0 ? foldUnit(text.charCodeAt(0)) : 0;
  for (let i = 1; i < text.length; i++) {
    const c = foldUnit(text.charCodeAt(i));
    const group = PAIRS[(prev << 7) | c] as number;
    if (group !== 0) bits |= matchTextAt(text, i - 1, GROUPS[group - 1] as Literal[]);
    prev = c;
  }
  input.literals = bits;
  return bits;
}

function foldUnit(c: number): number {
  return c < 128 ? (FOLD[c] as number) : 0;
}

function matchTextAt(text: string, at: number, group: readonly Literal[]): number {
  let bits = 0;
  for (const lit of group) {
    const n = lit.bytes.length;
    if (at + n > text.length) continue;
    let j = 2;
    while (j < n && foldUnit(text.charCodeAt(at + j)) === lit.bytes[j]) j++;
    if (j === n) bits |= lit.family;
  }
  return bits;
}
