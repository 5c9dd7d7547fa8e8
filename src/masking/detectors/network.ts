/**
 * IP addresses: dotted IPv4 (not version strings such as `v1.2.3.4`, `version 1.2.3.4` or
 * `Chrome/120.0.0.0`) and IPv6 text forms (RFC 4291 section 2.2).
 */
import { withContext } from './context.ts';
import {
  type Candidate,
  type Detector,
  defineDetector,
  forEachMatch,
  INERT_SHAPES,
  IPV4_SHAPE,
  IPV6_SHAPE,
  isAlnum,
  isWord,
  type ScanInput,
} from './detector.ts';
import { validIpv4, validIpv6 } from './validate.ts';

const IP_SCORE = 0.6;
const IPV4_RE = /(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d|[.-][A-Za-z_])/g;
const VERSION_BEFORE_RE = /(?:version|ver|release|rel|build|firmware|fw|v)\.?[\s:=#]{0,3}$/i;

/** `version 1.2.3.4`, `v 1.2.3.4`, `Chrome/120.0.0.0` (a product token, not `http://`). */
function looksLikeVersion(text: string, start: number): boolean {
  if (start >= 2 && text.charCodeAt(start - 1) === 47 && isAlnum(text.charCodeAt(start - 2))) {
    return true;
  }
  return VERSION_BEFORE_RE.test(text.slice(Math.max(0, start - 16), start));
}

function findIpv4(input: ScanInput, out: Candidate[]): void {
  forEachMatch(IPV4_RE, input.text, (m) => {
    if (!validIpv4([m[1]!, m[2]!, m[3]!, m[4]!])) return;
    if (looksLikeVersion(input.text, m.index)) return;
    const start = m.index;
    const end = start + m[0].length;
    out.push({
      type: 'ip_address',
      start,
      end,
      score: withContext(input, 'ip_address', IP_SCORE, start, end),
    });
  });
}

function isV6Char(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46;
}

/** Each run of hex digits, colons and dots around a colon, visited once (left edge floored). */
function findIpv6(input: ScanInput, out: Candidate[]): void {
  const { text } = input;
  let floor = 0;
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', floor)) {
    let s = i;
    while (s > floor && isV6Char(text.charCodeAt(s - 1))) s--;
    let e = i + 1;
    while (e < text.length && isV6Char(text.charCodeAt(e))) e++;
    floor = e;
    let end = e;
    while (end > s && text.charCodeAt(end - 1) === 46) end--;
    if (end - s > 45 || (s > 0 && isWord(text.charCodeAt(s - 1)))) continue;
    if (e < text.length && isWord(text.charCodeAt(e))) continue;
    if (!validIpv6(text.slice(s, end))) continue;
    out.push({
      type: 'ip_address',
      start: s,
      end,
      score: withContext(input, 'ip_address', IP_SCORE, s, end),
    });
  }
}

export const ipAddress: Detector = defineDetector(
  'ip_address',
  { minLength: 3, minDigits: 1, anyFlags: IPV4_SHAPE | IPV6_SHAPE, noFlags: INERT_SHAPES },
  (input, out) => {
    if ((input.stats.flags & IPV4_SHAPE) !== 0) findIpv4(input, out);
    if ((input.stats.flags & IPV6_SHAPE) !== 0) findIpv6(input, out);
  },
);
