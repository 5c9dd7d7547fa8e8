/**
 * Property tests for the SQL analyser: no string, valid, mangled or random, makes `analyzeSql`
 * throw, and every answer is frozen and well formed.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { analyzeSql, initSqlParser, type SqlAnalysis } from '../../src/sql/analyze.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const CORPUS = [
  'SELECT a, b FROM s.t JOIN u ON t.id = u.id WHERE x = $1 ORDER BY 1 LIMIT 10',
  'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
  'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r',
  'INSERT INTO t (a) SELECT a FROM u ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a RETURNING *',
  'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2',
  'DELETE FROM t USING u WHERE t.id = u.id',
  'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)',
  'COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv, HEADER true)',
  'CREATE TABLE "Q"."T" (id int PRIMARY KEY REFERENCES p, LIKE q)',
  'EXPLAIN (ANALYZE, BUFFERS) SELECT pg_read_file($1)',
  "DO $$ BEGIN RAISE NOTICE 'x'; END $$",
  'BEGIN; LOCK t IN ACCESS SHARE MODE; SELECT 1 INTO x UNION SELECT 2; COMMIT;',
  'GRANT SELECT ON t, u TO bob; DROP TABLE a, b CASCADE; TRUNCATE c',
  'PREPARE p(int) AS SELECT * FROM t WHERE id = $1; EXECUTE p(1); SET ROLE x; SHOW all',
  '/* c */ SELECT 1 -- end',
];

const TOKENS = [
  ' ',
  ';',
  '(',
  ')',
  ',',
  '.',
  "'",
  '"',
  '$$',
  '$1',
  '--',
  '/*',
  '*/',
  "E'\\",
  'U&"',
  'SELECT',
  'FROM',
  'WITH',
  'AS',
  'INSERT',
  'INTO',
  'DELETE',
  'UPDATE',
  'SET',
  'JOIN',
  'UNION',
  'EXPLAIN',
  'ANALYZE',
  'CREATE',
  'TABLE',
  'DROP',
  'COPY',
  'TO',
  'LATERAL',
  '::',
  '[',
  ']',
  '\u0000',
  '😀',
  '\uD800',
  '\\',
];

/** Any UTF-16 unit (lone surrogates included) or any code point. */
const anyChar = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  fc.integer({ min: 0, max: 0x10ffff }).map((point) => String.fromCodePoint(point)),
);

type Edit = { at: number; cut: number; insert: string };

const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  cut: fc.nat({ max: 12 }),
  insert: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 }), fc.constant('')),
});

function mutate(sql: string, edits: readonly Edit[]): string {
  let out = sql;
  for (const { at, cut, insert } of edits) {
    const i = at % (out.length + 1);
    out = out.slice(0, i) + insert + out.slice(i + cut);
  }
  return out;
}

function assertWellFormed(r: SqlAnalysis): void {
  assert.ok(Object.isFrozen(r));
  if (!r.ok) {
    assert.equal(typeof r.error, 'string');
    assert.ok(r.error.length > 0 && r.error.length <= 250, r.error);
    return;
  }
  for (const s of r.statements) {
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.tables));
    assert.equal(typeof s.kind, 'string');
    assert.equal(typeof s.readOnly, 'boolean');
    for (const t of s.tables) assert.ok(['read', 'write', 'ddl'].includes(t.access));
    for (const f of s.functions) assert.equal(typeof f, 'string');
  }
}

describe('analyzeSql properties', () => {
  before(() => initSqlParser());

  it('never throws for arbitrary strings', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.array(anyChar, { maxLength: 40 }).map((chars) => chars.join('')),
      fc.array(fc.constantFrom(...TOKENS), { maxLength: 20 }).map((t) => t.join(' ')),
    );
    fc.assert(
      fc.property(text, (sql) => assertWellFormed(analyzeSql(sql))),
      { numRuns: RUNS * 3 },
    );
  });

  it('never throws for mutations of valid SQL', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CORPUS),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (sql, edits) => assertWellFormed(analyzeSql(mutate(sql, edits))),
      ),
      { numRuns: RUNS * 3 },
    );
  });

  it('analyses every corpus statement, and concatenations of them', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...CORPUS), { minLength: 1, maxLength: 4 }), (parts) => {
        const r = analyzeSql(parts.join('\n;\n'));
        assertWellFormed(r);
        assert.ok(r.ok);
      }),
      { numRuns: RUNS },
    );
  });
});
