import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRules, SessionRules } from './rules.ts';
import { fakeDetectors } from './testing/fake-detectors.ts';
import { forEachJsonScalar, ValueMasker } from './value-masker.ts';

const rules = new SessionRules(
  compileRules([
    { name: 'emails', types: ['email'], style: 'hash', on_error: 'mask' },
    { name: 'ids', types: ['us_ssn'], style: 'full', on_error: 'mask' },
  ]),
);
const spec = rules.allScan;
const salt = Buffer.from('a-long-enough-masking-salt');

describe('value masker', () => {
  it('replaces each finding with its rule style and reports it', () => {
    assert.ok(spec);
    const m = new ValueMasker(fakeDetectors(), salt);
    const seen: string[] = [];
    const out = m.scan(
      'a@b.io and 137-23-1379, again a@b.io',
      spec,
      { types: spec.types },
      (t, r) => seen.push(`${t}:${r.name}`),
    );
    assert.match(out ?? '', /^tok_[0-9a-f]{24} and \*\*\*\*, again tok_[0-9a-f]{24}$/);
    const tokens = (out ?? '').match(/tok_[0-9a-f]{24}/g) ?? [];
    assert.equal(tokens[0], tokens[1], 'same value, same token');
    assert.deepEqual(seen, ['email:emails', 'us_ssn:ids', 'email:emails']);
    assert.equal(m.scan('nothing', spec, { types: spec.types }), null);
  });

  it('masks inside JSON strings and numbers and keeps the document valid and byte-identical elsewhere', () => {
    assert.ok(spec);
    const m = new ValueMasker(fakeDetectors(), salt);
    const doc =
      '{"who": "a@b.io",  "ssn": "137-23-1379", "n": 1.50, "k": {"x@y.io": [true, null]}}';
    const out = m.scanJson(doc, spec, { types: spec.types }) ?? '';
    const parsed = JSON.parse(out);
    assert.match(parsed.who, /^tok_/);
    assert.equal(parsed.ssn, '****');
    assert.ok(out.includes('"n": 1.50'), 'untouched tokens byte for byte');
    assert.match(Object.keys(parsed.k)[0] ?? '', /^tok_/, 'keys are scanned too');
    assert.equal(m.styleJson(rules.rules[1] as never, '{"a": 1}'), '"****"');
  });

  it('finds every scalar token of JSON', () => {
    const spans: string[] = [];
    const text = '[1, -2.5e3, "a\\"b", {"k": "v"}, true]';
    forEachJsonScalar(text, (s, e) => spans.push(text.slice(s, e)));
    assert.deepEqual(spans, ['1', '-2.5e3', '"a\\"b"', '"k"', '"v"']);
  });

  it('lets a detector failure propagate so the caller can fail closed', () => {
    assert.ok(spec);
    const m = new ValueMasker(fakeDetectors({ throwOn: 'boom' }), salt);
    assert.throws(() => m.scan('boom a@b.io', spec, { types: spec.types }), /detector bug/);
  });
});
