import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SecretScanner } from '../masking/secret-scan.ts';
import { TerminalMasker, type TimedText } from './terminal-masker.ts';

const scanner = new SecretScanner();
const GITHUB = `ghp_${'A1b2C3d4E5'.repeat(3)}abcdef`;
const PEM = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACDfakefakefakefakefakefakefakefakefakefakefakeAAAAJgAAAAAAAA',
  '-----END OPENSSH PRIVATE KEY-----',
].join('\n');

function feed(m: TerminalMasker, pieces: readonly string[]): TimedText[] {
  const out: TimedText[] = [];
  for (const [i, p] of pieces.entries()) out.push(...m.push(p, i + 1));
  return [...out, ...m.flush()];
}

const text = (pieces: readonly TimedText[]) => pieces.map((p) => p.text).join('');

describe('TerminalMasker', () => {
  test('a secret split across many pieces is masked, length and line breaks kept', () => {
    const m = new TerminalMasker(scanner, { holdBack: 256 });
    const input = `$ echo ${GITHUB}\r\n${'x'.repeat(600)}\r\n`;
    const pieces = input.match(/.{1,3}/gs) ?? [];
    const out = text(feed(m, pieces));
    assert.equal(out.length, input.length);
    assert.ok(!out.includes(GITHUB));
    assert.ok(out.includes('*'.repeat(GITHUB.length)));
    assert.deepEqual(m.counts, { github_token: 1 });
  });

  test('times stay with the characters they came with', () => {
    const m = new TerminalMasker(scanner, { holdBack: 256 });
    const out = feed(m, ['a'.repeat(300), 'b'.repeat(300)]);
    for (const p of out)
      assert.ok(p.t === 1 ? /^a+$/.test(p.text) : /^b+$/.test(p.text), JSON.stringify(p));
    assert.equal(text(out), `${'a'.repeat(300)}${'b'.repeat(300)}`);
  });

  test('an unterminated private key block is held until its END line, then masked whole', () => {
    const m = new TerminalMasker(scanner, { holdBack: 256 });
    const lines = `${'y'.repeat(700)}\n${PEM}\n${'z'.repeat(700)}`.split('\n');
    const out: TimedText[] = [];
    for (const [i, l] of lines.entries()) {
      const released = m.push(`${l}\n`, i);
      assert.ok(!text(released).includes('b3BlbnNz'), 'key material never released in the clear');
      out.push(...released);
    }
    out.push(...m.flush());
    assert.ok(!text(out).includes('QyNTUxOQ'));
    assert.equal(m.counts.private_key, 1);
  });

  test('releases in batches: nothing before 2 × holdBack characters', () => {
    const m = new TerminalMasker(scanner, { holdBack: 256 });
    assert.deepEqual(m.push('x'.repeat(511), 1), []);
    assert.equal(m.oldest, 1);
    assert.equal(text(m.push('x', 2)).length, 256);
  });

  test('any split of a line with secrets masks the same as one piece', () => {
    const line = `token alk_abcdefghijkl_${'Q'.repeat(42)}A and ${GITHUB} end `.repeat(3);
    const whole = new TerminalMasker(scanner, { holdBack: 256 });
    const expected = text(feed(whole, [line]));
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: line.length - 1 }), { maxLength: 12 }),
        (cuts) => {
          const points = [...new Set(cuts)].sort((a, b) => a - b);
          const pieces = [0, ...points].map((p, i) => line.slice(p, points[i] ?? line.length));
          assert.equal(
            text(feed(new TerminalMasker(scanner, { holdBack: 256 }), pieces)),
            expected,
          );
        },
      ),
      { numRuns: 200 },
    );
    assert.ok(!expected.includes('alk_') && !expected.includes('ghp_'));
  });
});
