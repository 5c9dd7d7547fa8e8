/**
 * A small regex DetectorSet for unit tests of the masking engine, independent of the real
 * detector library: email, us_ssn, credit_card (16 digits, optional separators), aws_access_key.
 */
import type { DetectorSet, DetectorType, Finding, ScanOptions } from '../detectors/types.ts';

const PATTERNS: readonly [DetectorType, RegExp][] = [
  ['email', /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g],
  ['us_ssn', /\b\d{3}-\d{2}-\d{4}\b/g],
  ['credit_card', /\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b/g],
  ['aws_access_key', /\bAKIA[0-9A-Z]{16}\b/g],
];

/**
 * @example
 * fakeDetectors().scan('a@b.co', { types: new Set(['email']) }); // [{ type: 'email', start: 0, end: 6, score: 1 }]
 */
export function fakeDetectors(opts: { throwOn?: string } = {}): DetectorSet & { scans: number } {
  const set = {
    scans: 0,
    mayContain(text: string): boolean {
      return /[@\d]/.test(text);
    },
    /** Always "maybe": the byte pre-check is the real library's, tested there. */
    mayContainBytes(): boolean {
      return true;
    },
    byteFilter() {
      return { mayContain: () => true };
    },
    decode(bytes: Uint8Array, start: number, end: number): string {
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
        'utf8',
        start,
        end,
      );
    },
    scan(text: string, o: ScanOptions = {}): Finding[] {
      set.scans++;
      if (opts.throwOn && text.includes(opts.throwOn)) throw new Error('detector bug');
      const out: Finding[] = [];
      for (const [type, re] of PATTERNS) {
        if (o.types && !o.types.has(type)) continue;
        for (const m of text.matchAll(re)) {
          const start = m.index ?? 0;
          out.push({ type, start, end: start + m[0].length, score: 1 });
        }
      }
      out.sort((a, b) => a.start - b.start);
      return out.filter((f, i) => i === 0 || f.start >= (out[i - 1] as Finding).end);
    },
  };
  return set;
}
