import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyStyle, FULL_MASK, maskFormat, maskHash, maskLast4 } from './styles.ts';

const salt = Buffer.from('a-test-salt-of-32-characters-xyz');
const other = Buffer.from('another-salt-of-32-characters-ab');

describe('masking styles', () => {
  it('full replaces the value with ****', () => {
    assert.equal(applyStyle('full', '137-23-1379'), FULL_MASK);
    assert.equal(applyStyle('full', ''), FULL_MASK);
  });

  it('last4 keeps the last four letters or digits and every separator', () => {
    assert.equal(maskLast4('4111 1111 1111 1111'), '**** **** **** 1111');
    assert.equal(maskLast4('4111111111111111'), '************1111');
    assert.equal(maskLast4('137-23-1379'), '***-**-1379');
    assert.equal(maskLast4('ab12'), FULL_MASK, 'four or fewer: nothing kept');
    assert.equal(maskLast4('--'), FULL_MASK);
  });

  it('format keeps length, separators and character classes, deterministically', () => {
    const v = 'Amelia.Okafor@Example.com 137-23-1379';
    const a = maskFormat(v, salt);
    assert.equal(a, maskFormat(v, salt), 'deterministic per value and salt');
    assert.notEqual(a, maskFormat(v, other), 'depends on the salt');
    assert.notEqual(a, v);
    assert.equal([...a].length, [...v].length);
    for (let i = 0; i < v.length; i++) {
      const o = v[i] as string;
      const m = a[i] as string;
      if (/\d/.test(o)) assert.match(m, /\d/);
      else if (/[a-z]/.test(o)) assert.match(m, /[a-z]/);
      else if (/[A-Z]/.test(o)) assert.match(m, /[A-Z]/);
      else assert.equal(m, o);
    }
    assert.match(maskFormat('137-23-1379', salt), /^\d{3}-\d{2}-\d{4}$/);
    const long = '9'.repeat(200);
    assert.match(maskFormat(long, salt), /^\d{200}$/, 'key stream extends past one HMAC block');
  });

  it('format of non-ASCII letters gives ASCII letters of the same case', () => {
    assert.match(maskFormat('Łódź', salt), /^[A-Z][a-z]{3}$/);
  });

  it('hash gives a salted, deterministic token (joins still work)', () => {
    const t = maskHash('amelia.okafor@example.com', salt);
    assert.match(t, /^tok_[0-9a-f]{24}$/);
    assert.equal(t, maskHash('amelia.okafor@example.com', salt));
    assert.notEqual(t, maskHash('amelia.okafor@example.org', salt));
    assert.notEqual(t, maskHash('amelia.okafor@example.com', other));
  });

  it('salted styles refuse to run without a salt', () => {
    assert.throws(() => applyStyle('hash', 'x'), /salt/);
    assert.throws(() => applyStyle('format', 'x', new Uint8Array(0)), /salt/);
  });
});
