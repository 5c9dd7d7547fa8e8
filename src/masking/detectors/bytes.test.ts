/**
 * `mayContainBytes` lets the PostgreSQL path skip decoding a value. It may say "maybe" too often,
 * never "no" where a scan of the decoded text would find something: that would be a leak.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  KEYWORD_AWS,
  KEYWORD_AZURE,
  KEYWORD_BIRTH,
  KEYWORD_SECRET,
  keywordsOf,
} from './context.ts';
import { computeStats, computeStatsOfBytes, type ScanInput } from './detector.ts';
import { createDetectors, DETECTOR_TYPES, type DetectorType, type ScanOptions } from './index.ts';
import {
  LIT_AWS_WORD,
  LIT_AZURE_WORD,
  LIT_BIRTH_WORD,
  LIT_SECRET_WORD,
  literalsOf,
  literalsOfBytes,
} from './literals.ts';
import { loadCorpus } from './testing/corpus.ts';

const KEYWORD_LITERALS = [
  [KEYWORD_SECRET, LIT_SECRET_WORD],
  [KEYWORD_BIRTH, LIT_BIRTH_WORD],
  [KEYWORD_AWS, LIT_AWS_WORD],
  [KEYWORD_AZURE, LIT_AZURE_WORD],
] as const;
const LITERAL_PIECES = [
  'pAsSw',
  'pwd',
  'Secret',
  'api_key',
  'auth',
  'dob',
  'd.o.b',
  'AWS',
  'azure',
  'AKIA',
  'a3t',
  'ghr_',
  'github_pat_',
  'gl',
  'gr1348941',
  'XOX',
  'xapp-',
  'Hooks.Slack',
  'ccountKey=',
  'q~',
  'eyJ',
  '-----BEGIN ',
  'é',
  '\u212a',
  'ſecret',
];

const detectors = createDetectors({ mrnPatterns: ['MRN-\\d{7}'] });

function bytesSayNo(
  text: string,
  hint?: string,
  types?: ReadonlySet<string>,
  set = detectors,
): boolean {
  // A value inside a larger buffer, as in a DataRow.
  const pad = Buffer.from('\u00e9xx');
  const body = Buffer.from(text, 'utf8');
  const buf = Buffer.concat([pad, body, pad]);
  const opts: ScanOptions = {
    ...(hint === undefined ? {} : { columnHint: hint }),
    ...(types === undefined ? {} : { types: types as ReadonlySet<DetectorType> }),
  };
  return !set.mayContainBytes(buf, pad.length, pad.length + body.length, opts);
}

test('never rules out a value of the labelled corpus that has findings', () => {
  for (const line of loadCorpus()) {
    const found = detectors.scan(line.text);
    if (found.length === 0) continue;
    assert.equal(bytesSayNo(line.text), false, `ruled out: ${JSON.stringify(line.text)}`);
    for (const f of found) {
      const only = new Set([f.type]);
      assert.equal(bytesSayNo(line.text, undefined, only), false, `${f.type} ruled out`);
    }
  }
});

/** Pieces of values: findings, near misses, keywords, prefixes and the characters shapes read. */
const pieces = fc.constantFrom(
  '4111 1111 1111 1111',
  '536-22-8745',
  '(415) 555-0132',
  '+44 20 7946 0958',
  'ana@example.org',
  '10.0.0.1',
  'fe80::1',
  'AKIAIOSFODNN7EXAMPLE',
  '2024-03-05 10:22:31.123+00',
  '2024-03-05T10:22:31Z',
  '123e4567-e89b-12d3-a456-426614174000',
  'password=',
  'é',
  '日本',
  '🙂',
  ' ',
  '\t',
  ':',
  '::',
  '+',
  '-',
  '.',
  'MRN-1234567',
  'born 1984-02-29',
  'Password: ',
  'api-KEY=',
  'D.O.B ',
  'aws_secret_access_key = ',
  'Azure ',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'AccountKey=',
  'abc1Q~',
  'ghp_',
  'glpat-',
  'GR1348941',
  'xoxb-',
  'hooks.slack.com/services/',
  'eyJhbGciOiJIUzI1NiJ9.',
  '-----BEGIN RSA PRIVATE KEY-----',
);

test('never says no where the decoded text may contain a finding (property)', () => {
  const text = fc.array(fc.oneof(pieces, fc.string({ maxLength: 6 })), { maxLength: 8 });
  fc.assert(
    fc.property(text, fc.constantFrom(undefined, 'ssn', 'notes', 'dob'), (parts, hint) => {
      const value = parts.join('');
      const opts: ScanOptions = hint === undefined ? {} : { columnHint: hint };
      if (detectors.mayContain(value, opts)) {
        assert.equal(bytesSayNo(value, hint), false, JSON.stringify(value));
      }
      for (const f of detectors.scan(value, opts)) {
        assert.equal(bytesSayNo(value, hint, new Set([f.type])), false, `${f.type} in ${value}`);
      }
    }),
    { numRuns: 3000 },
  );
});

test('a column filter decides each value as a filter made for that value alone (property)', () => {
  // A column's filter keeps one decision per count signature; a fresh filter decides from the
  // value's own counts, hint and literals. They must agree for every value of the column.
  const hints = [undefined, 'notes', 'dob', 'password', 'aws_secret'] as const;
  const typeSets = [undefined, new Set<DetectorType>(['email', 'date_of_birth', 'gitlab_token'])];
  const shared = hints.flatMap((hint) =>
    typeSets.map((types) => {
      const opts: ScanOptions = {
        ...(hint === undefined ? {} : { columnHint: hint }),
        ...(types === undefined ? {} : { types }),
      };
      return { opts, filter: detectors.byteFilter(opts) };
    }),
  );
  const value = fc.array(fc.oneof(pieces, fc.string({ maxLength: 6 })), { maxLength: 8 });
  fc.assert(
    fc.property(value, (parts) => {
      const text = parts.join('');
      const buf = Buffer.from(`\u00e9${text}x`, 'utf8');
      const start = 2;
      const end = buf.length - 1;
      for (const { opts, filter } of shared) {
        const fresh = detectors.byteFilter({ ...opts }).mayContain(buf, start, end);
        assert.equal(filter.mayContain(buf, start, end), fresh, JSON.stringify([text, opts]));
      }
    }),
    { numRuns: 3000 },
  );
});

test('rules out ordinary values without decoding them', () => {
  const plain = createDetectors();
  for (const v of ['Olivia', '1024.50', 'shipped', '2024-03-05 10:22:31.123+00', '42']) {
    assert.equal(bytesSayNo(v, 'notes', undefined, plain), true, v);
  }
  assert.equal(bytesSayNo('ana@example.org', 'notes', new Set(DETECTOR_TYPES)), false);
  assert.equal(bytesSayNo('ana@example.org', 'notes', new Set(['us_ssn'])), true);
});

test('finds the literal families in bytes as in the decoded text', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constantFrom(...LITERAL_PIECES), fc.string()), { maxLength: 6 }),
      (parts) => {
        const text = parts.join('');
        const body = Buffer.from(text, 'utf8');
        const input = { text, keywords: -1, literals: -1 } as unknown as ScanInput;
        const lit = literalsOf(input);
        assert.equal(literalsOfBytes(body, 0, body.length), lit, JSON.stringify(text));
        // Every keyword the text gates look for is one of the literals.
        const kw = keywordsOf(input);
        for (const [k, l] of KEYWORD_LITERALS) {
          if ((kw & k) !== 0) assert.ok((lit & l) !== 0, JSON.stringify(text));
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test('rules out free text without a keyword, not with one', () => {
  const plain = createDetectors();
  const note = 'Follow-up scheduled after the quarterly review; no action needed.';
  assert.equal(bytesSayNo(note, 'notes', undefined, plain), true);
  assert.equal(bytesSayNo(`${note} password: hunter2hunter2x`, 'notes', undefined, plain), false);
  assert.equal(bytesSayNo(`${note} PASSWORD: hunter2hunter2x`, 'notes', undefined, plain), false);
});

test('a value decoded right after its bytes were counted reuses counts equal to its own', () => {
  const pieces = fc.constantFrom('4111 1111 1111 1111', 'ana@example.org', '10.0.0.1', 'é', ':');
  fc.assert(
    fc.property(fc.array(fc.oneof(pieces, fc.string({ maxLength: 8 })), { maxLength: 6 }), (p) => {
      const value = p.join('');
      const pad = Buffer.from('xx');
      const buf = Buffer.concat([pad, Buffer.from(value, 'utf8'), pad]);
      const end = buf.length - pad.length;
      detectors.mayContainBytes(buf, pad.length, end);
      const text = detectors.decode(buf, pad.length, end);
      assert.equal(text, value);
      const reused = { ...computeStats(text) };
      computeStats('-');
      assert.deepEqual(reused, { ...computeStats(value) });
    }),
    { numRuns: 2000 },
  );
});

test('ASCII bytes count as their text, timestamps and near misses included (property)', () => {
  const stamp = fc
    .tuple(
      fc.constantFrom('2024-03-05 10:22:31', '1999-12-31T23:59:59', '2024-03-05 10:22'),
      fc.constantFrom('', '.123', '.123456+00', '+05:30', 'Z', ' UTC', '-08', 'x', '::1'),
      fc.array(fc.tuple(fc.nat(24), fc.constantFrom(...'0-: T.+Zab9')), { maxLength: 2 }),
    )
    .map(([head, tail, edits]) => {
      const chars = [...(head + tail)];
      for (const [at, ch] of edits) chars[at % chars.length] = ch;
      return chars.join('');
    });
  const other = fc.string({ unit: fc.constantFrom(...'0123456789-:.+ TZa'), maxLength: 40 });
  fc.assert(
    fc.property(fc.oneof(stamp, other), (text) => {
      const buf = Buffer.from(`x${text}x`, 'latin1');
      const fromBytes = { ...computeStatsOfBytes(buf, 1, buf.length - 1) };
      assert.deepEqual(fromBytes, { ...computeStats(text) }, JSON.stringify(text));
    }),
    { numRuns: 5000 },
  );
});

test('counts equal a plain count of each class, over many chunks too (property)', () => {
  const unit = fc.constantFrom(...'09azAFGZgz.:-_@ +é', '\u{1f642}');
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 400 }), (text) => {
      const count = (re: RegExp) => (text.match(re) ?? []).length;
      const want = {
        digits: count(/[0-9]/g),
        upper: count(/[A-Z]/g),
        lower: count(/[a-z]/g),
        nonHexLetters: count(/[G-Zg-z]/g),
        dots: count(/\./g),
        colons: count(/:/g),
        dashes: count(/-/g),
      };
      const body = Buffer.from(text, 'utf8');
      for (const s of [computeStats(text), computeStatsOfBytes(body, 0, body.length)]) {
        const got = {
          digits: s.digits,
          upper: s.upper,
          lower: s.lower,
          nonHexLetters: s.nonHexLetters,
          dots: s.dots,
          colons: s.colons,
          dashes: s.dashes,
        };
        assert.deepEqual(got, want, JSON.stringify(text));
      }
    }),
    { numRuns: 2000 },
  );
});
