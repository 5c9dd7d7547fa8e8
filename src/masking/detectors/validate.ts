/**
 * Validators: checksums and structural rules that turn a pattern match into a finding. Each works
 * on a short candidate (bounded by the finder), so none of them sees hostile-length input.
 */
import { Buffer } from 'node:buffer';
import { isValidPhoneNumber } from 'libphonenumber-js/max';

/** Luhn (mod 10) over a string of digits. */
export function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** ISO 13616 check: move the first four characters to the end, letters to 10..35, mod 97 = 1. */
export function ibanMod97(iban: string): boolean {
  const s = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

/** Numbers the SSA never issued or that were published (Woolworth's wallet card, ads, LifeLock). */
const INVALID_SSNS = new Set(['078051120', '219099999', '123456789', '457555462', '111111111']);

/** SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000; no famous fakes. */
export function validSsn(area: string, group: string, serial: string): boolean {
  if (area === '000' || area === '666' || area.charCodeAt(0) === 57) return false;
  if (group === '00' || serial === '0000') return false;
  const all = area + group + serial;
  if (INVALID_SSNS.has(all)) return false;
  return !/^(\d)\1{8}$/.test(all);
}

/** Four decimal octets, each 0..255 without a leading zero. */
export function validIpv4(parts: readonly string[]): boolean {
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3) return false;
    if (p.length > 1 && p.charCodeAt(0) === 48) return false;
    if (Number(p) > 255) return false;
  }
  return true;
}

function isHexGroup(g: string): boolean {
  return /^[0-9A-Fa-f]{1,4}$/.test(g);
}

/** Groups of an IPv6 address half; an IPv4 tail counts as two groups. -1 when malformed. */
function countIpv6Groups(half: string, allowV4Tail: boolean): number {
  if (half === '') return 0;
  const groups = half.split(':');
  let count = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
      if (!validIpv4(g.split('.'))) return -1;
      count += 2;
    } else if (isHexGroup(g)) count++;
    else return -1;
  }
  return count;
}

/**
 * RFC 4291 section 2.2 text forms: eight groups, or fewer with one `::`, optionally ending in a
 * dotted IPv4. We also ask for a digit, so that `Abc::Def` in code is not an address.
 */
export function validIpv6(s: string): boolean {
  if (s.length < 2 || s.length > 45 || !/\d/.test(s)) return false;
  const gap = s.indexOf('::');
  if (gap === -1) return countIpv6Groups(s, true) === 8;
  if (s.indexOf('::', gap + 1) !== -1) return false;
  const head = countIpv6Groups(s.slice(0, gap), false);
  const tail = countIpv6Groups(s.slice(gap + 2), true);
  return head >= 0 && tail >= 0 && head + tail <= 7;
}

const PHONE_CACHE_MAX = 8192;
const phoneCache = new Map<string, boolean>();

/**
 * libphonenumber's full metadata check (`+` numbers by their country, others as US numbers).
 * It compiles regexes per call (about 10 µs), so results are cached per candidate.
 */
export function validPhone(candidate: string): boolean {
  let ok = phoneCache.get(candidate);
  if (ok === undefined) {
    if (phoneCache.size >= PHONE_CACHE_MAX) phoneCache.clear();
    ok = isValidPhoneNumber(candidate, 'US');
    phoneCache.set(candidate, ok);
  }
  return ok;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A real calendar date with a plausible birth year (1900 up to this year). */
export function validBirthDate(year: number, month: number, day: number): boolean {
  if (year < 1900 || year > new Date().getUTCFullYear()) return false;
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > DAYS_IN_MONTH[month - 1]!) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month !== 2 || day <= 28 || leap;
}

const counts = new Uint16Array(256);

/** Shannon entropy in bits per character (code units folded to 8 bits; strings are short). */
export function shannonEntropy(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[s.charCodeAt(i) & 255]!++;
  let h = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h;
}

const PLACEHOLDER_RE =
  /x{4}|\*{3}|\.{3}|example|sample|dummy|placeholder|redacted|changeme|your[_-]|\$\{|\{\{|<[\w -]{1,40}>|(.)\1{4}/i;

/** `xxxx`, `<token>`, `${SECRET}`, `AKIA...EXAMPLE`, five equal characters in a row. */
export function looksLikePlaceholder(s: string): boolean {
  return PLACEHOLDER_RE.test(s);
}

/** Letters in both cases, digits, other: how many of the four classes appear. */
export function charClasses(s: string): number {
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let other = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 97 && c <= 122) lower = 1;
    else if (c >= 65 && c <= 90) upper = 1;
    else if (c >= 48 && c <= 57) digit = 1;
    else other = 1;
  }
  return lower + upper + digit + other;
}

/** A JOSE header: base64url of a JSON object with a string `alg` (RFC 7515 section 4.1.1). */
export function jwtHeaderHasAlg(segment: string): boolean {
  if (segment.length > 2048) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return (
      typeof header === 'object' &&
      header !== null &&
      typeof (header as { alg?: unknown }).alg === 'string'
    );
  } catch {
    return false;
  }
}

/** base64url of a JSON object (a JWT payload). */
export function isBase64Json(segment: string): boolean {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null;
  } catch {
    return false;
  }
}
