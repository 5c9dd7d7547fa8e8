import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createDetectors } from './detectors/index.ts';
import type { DetectorType } from './detectors/types.ts';
import { StreamMasker } from './stream-masker.ts';

const detectors = createDetectors();
const TYPES = new Set<DetectorType>([
  'aws_access_key',
  'email',
  'private_key',
  'jwt',
  'credit_card',
]);

function masker(holdBack = 32) {
  const masked: string[] = [];
  const m = new StreamMasker({
    holdBack,
    scan: (t) => detectors.scan(t, { types: TYPES }),
    replace: (type) => `[${type}]`,
    onMasked: (t) => masked.push(t),
  });
  return { m, masked };
}

function run(pieces: readonly string[], holdBack = 32): { out: string; emitted: string[] } {
  const { m } = masker(holdBack);
  const emitted = pieces.map((p) => m.push(p));
  emitted.push(m.flush());
  return { out: emitted.join(''), emitted };
}

const TEXT =
  'Here is the key AKIA47VZF25VF7HPOEAV for prod, mail amelia.watson@example.org and card ' +
  '4111 1111 1111 1111. That is all for today, thanks for asking nicely.';
const MASKED =
  'Here is the key [aws_access_key] for prod, mail [email] and card [credit_card]. That is all ' +
  'for today, thanks for asking nicely.';

describe('StreamMasker', () => {
  it('masks whole text the same as one scan', () => {
    assert.equal(run([TEXT]).out, MASKED);
  });

  it('masks a secret split at every offset, and never emits a piece of it', () => {
    for (let i = 1; i < TEXT.length; i++) {
      const { out, emitted } = run([TEXT.slice(0, i), TEXT.slice(i)]);
      assert.equal(out, MASKED, `split at ${i}`);
      for (const e of emitted)
        assert.ok(!/AKIA47|F7HPOEAV|amelia|1111 1111/.test(e), `leak at ${i}: ${e}`);
    }
  });

  it('masks however the text is chunked (token by token, random splits)', () => {
    assert.equal(run(TEXT.split(/(?<= )/)).out, MASKED);
    assert.equal(run([...TEXT]).out, MASKED);
    fc.assert(
      fc.property(fc.array(fc.nat(TEXT.length), { maxLength: 20 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const pieces = [0, ...points].map((p, i) => TEXT.slice(p, points[i] ?? TEXT.length));
        assert.equal(run(pieces).out, MASKED);
      }),
      { numRuns: 300 },
    );
  });

  it('holds an unterminated private key block until its end', () => {
    const key = `-----BEGIN PRIVATE KEY-----\n${'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n'.repeat(20)}-----END PRIVATE KEY-----`;
    const text = `here: ${key} done and some more words to pass the window easily.`;
    const { out, emitted } = run(text.match(/[\s\S]{1,7}/g) ?? [], 32);
    assert.ok(!out.includes('MIIEvQ'), out);
    for (const e of emitted) assert.ok(!e.includes('MIIEvQ'));
  });

  it('forwards plain text once it is past the window, without waiting for the end', () => {
    const { m } = masker(16);
    const first = m.push('The quick brown fox jumps over the lazy dog and keeps running ');
    assert.ok(
      first.length > 0 &&
        'The quick brown fox jumps over the lazy dog and keeps running '.startsWith(first),
    );
    assert.ok(m.held <= 16 + 8);
  });
});
