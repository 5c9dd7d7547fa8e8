import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { commandFacts } from '../policy/facts.ts';
import { analyzeSql, clearSqlAnalysisCache, initSqlParser, type SqlAnalysis } from './analyze.ts';
import { literalShape } from './literal-shape.ts';

before(async () => {
  await initSqlParser();
});

describe('literalShape', () => {
  test('replaces plain string and number literals, keeping everything else', () => {
    assert.equal(
      literalShape("SELECT * FROM t WHERE a = 'x' AND b = 1.5 AND c = 2e-3 AND d = $1"),
      "SELECT * FROM t WHERE a = '' AND b = 0 AND c = 0 AND d = $1",
    );
    assert.equal(literalShape("SELECT 'it''s', \"col'x\", t1.c2"), "SELECT '', \"col'x\", t1.c2");
    assert.equal(
      literalShape('SELECT abalance FROM pgbench_accounts WHERE aid = 42;'),
      literalShape('SELECT abalance FROM pgbench_accounts WHERE aid = 7;'),
    );
    assert.equal(literalShape('SELECT 1'), 'SELECT 0');
    assert.equal(literalShape("SELECT 'é'"), "SELECT ''");
    assert.equal(literalShape('SELECT a FROM t'), 'SELECT a FROM t');
  });

  test('gives no shape where a literal could change how the text around it reads', () => {
    for (const text of [
      "SELECT E'\\''",
      "SELECT 'a\\'",
      "SELECT B'101', X'1F'",
      "SELECT U&'d\\0061t'",
      "SELECT n'x'",
      'SELECT $$x$$',
      'SELECT $tag$x$tag$',
      'SELECT 1 -- c',
      'SELECT /* c */ 1',
      'SELECT 0x1F',
      'SELECT 1_000',
      'SELECT 1.e',
      'SELECT 1..2',
      'SELECT t.1',
      'SELECT 1abc',
      "SELECT 'unterminated",
      'SELECT "unterminated',
      'SELECT é FROM t',
      'SELECT 1\u0000',
    ]) {
      assert.equal(literalShape(text), undefined, text);
    }
  });
});

describe('analysis by shape', () => {
  test('plain DML with other constants reuses the analysis', () => {
    clearSqlAnalysisCache();
    const a = analyzeSql('SELECT abalance FROM pgbench_accounts WHERE aid = 42');
    const b = analyzeSql('SELECT abalance FROM pgbench_accounts WHERE aid = 31337');
    assert.equal(a, b);
  });

  test('statements whose facts read constants are never shared', () => {
    clearSqlAnalysisCache();
    const role = analyzeSql("SELECT set_config('role', 'admin', false)");
    const path = analyzeSql("SELECT set_config('search_path', 'x', false)");
    assert.notEqual(role, path);
    assert.equal(commandFacts(role)?.[0]?.facts.set_role, true);
    assert.equal(commandFacts(path)?.[0]?.facts.set_role, false);
    const off = analyzeSql('SET standard_conforming_strings = off');
    const on = analyzeSql('SET standard_conforming_strings = on');
    assert.equal(commandFacts(off)?.[0]?.facts.changes_parsing, true);
    assert.equal(commandFacts(on)?.[0]?.facts.changes_parsing, false);
  });

  /** A full parse of `text`, bypassing both caches. */
  function fresh(text: string): SqlAnalysis {
    clearSqlAnalysisCache();
    return analyzeSql(text);
  }

  /** What policy sees of an analysis, constants aside. */
  function judged(a: SqlAnalysis): unknown {
    if (!a.ok) return 'error';
    return {
      statements: a.statements.map((s) => ({
        kind: s.kind,
        tables: s.tables,
        functions: s.functions,
        readOnly: s.readOnly,
      })),
      facts: commandFacts(a),
    };
  }

  const literal = fc.oneof(
    fc.string({ maxLength: 8 }).map((s) => `'${s.replaceAll("'", "''")}'`),
    fc.constantFrom("'\\'", "''''", "'--'", "'/*'", "';DROP TABLE x;'", "'$$'", "'\"'"),
    fc.nat().map(String),
    fc.constantFrom('0', '1.5', '2e10', '3E-2', '007', '99999999999999999999'),
  );
  const word = fc.constantFrom(
    'SELECT',
    'a',
    'b',
    'FROM',
    't',
    'u',
    's.t',
    'WHERE',
    '=',
    '<',
    ',',
    '(',
    ')',
    'AND',
    'OR',
    ';',
    'DELETE',
    'UPDATE',
    'SET',
    'INSERT INTO',
    'VALUES',
    'LIMIT',
    '::int',
    'IN',
    '*',
    '.',
    'E',
    'interval',
    'AS',
    'x',
    'DROP TABLE',
    'RETURNING',
    '-',
    '+',
    '"q"',
    '$1',
    'JOIN',
    'ON',
  );
  const piece = fc.oneof(
    { weight: 3, arbitrary: word.map((w) => ({ w })) },
    { weight: 2, arbitrary: fc.constant({ lit: true }) },
  );
  const templates = fc.constantFrom(
    'SELECT a FROM t WHERE b = ? AND a < ?',
    'UPDATE t SET a = ? WHERE b = ? RETURNING a',
    'INSERT INTO s.t (a, b) VALUES (?, ?)',
    'DELETE FROM t WHERE a IN (?, ?)',
    'SELECT a FROM t JOIN u ON t.a = u.a WHERE u.b = ?::int LIMIT ?',
    'SELECT a FROM t WHERE b = ?; DROP TABLE u',
    'WITH d AS (DELETE FROM t WHERE a = ? RETURNING *) SELECT * FROM d',
  );
  const statement = fc.oneof(
    fc.array(piece, { minLength: 1, maxLength: 14 }),
    templates.map((t) =>
      t
        .split(/(\?)/)
        .filter(Boolean)
        .map((p) => (p === '?' ? { lit: true } : { w: p })),
    ),
  );

  /** Sixteen literals: the statement's `lit` slots take them in turn. */
  const literals = fc.array(literal, { minLength: 16, maxLength: 16 });
  const render = (
    pieces: readonly ({ w: string } | { lit: boolean })[],
    lits: readonly string[],
    gap = ' ',
  ) => pieces.map((p, i) => ('w' in p ? p.w : lits[i % lits.length])).join(gap);

  test('texts of one shape parse alike and are judged alike (property)', () => {
    fc.assert(
      fc.property(
        statement,
        literals,
        literals,
        fc.constantFrom(' ', '\n', '  '),
        (pieces, xs, ys, gap) => {
          const a = render(pieces, xs, gap);
          const b = render(pieces, ys, gap);
          const shape = literalShape(a);
          if (shape === undefined || shape !== literalShape(b)) return;
          assert.deepEqual(judged(fresh(a)), judged(fresh(b)), `${a}\n${b}`);
        },
      ),
      { numRuns: 400 },
    );
  });

  test('a shared analysis is judged as a fresh parse would judge it (property)', () => {
    fc.assert(
      fc.property(statement, literals, literals, (pieces, xs, ys) => {
        const a = render(pieces, xs);
        const b = render(pieces, ys);
        clearSqlAnalysisCache();
        analyzeSql(a);
        const viaCache = analyzeSql(b);
        assert.deepEqual(judged(viaCache), judged(fresh(b)), `${a}\n${b}`);
      }),
      { numRuns: 400 },
    );
  });
});
