import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { initSqlParser } from '../sql/analyze.ts';
import { caseInput, FixtureError, parseFixtures, runFixtures } from './fixtures.ts';
import { loadPolicy, loadPolicyFile } from './rules.ts';

before(() => initSqlParser());

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

describe('fixtures', () => {
  test('the example clinic policy passes its fixtures', () => {
    const fixtures = parseFixtures(readFileSync(`${EXAMPLES}policy-tests.yaml`, 'utf8'), 'x');
    const policy = loadPolicyFile(`${EXAMPLES}${fixtures.policy}`);
    const failed = runFixtures(policy, fixtures).filter((r) => !r.ok);
    assert.deepEqual(failed, []);
  });

  test('the example SSH policy passes its fixtures', () => {
    const fixtures = parseFixtures(readFileSync(`${EXAMPLES}ssh-policy-tests.yaml`, 'utf8'), 'x');
    const policy = loadPolicyFile(`${EXAMPLES}${fixtures.policy}`);
    const results = runFixtures(policy, fixtures);
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
    );
    assert.ok(results.length >= 16);
  });

  test('cases inherit the file defaults and build the gateway input', () => {
    const fixtures = parseFixtures(
      `defaults: { connection: clinic, labels: { env: prod }, at: "2026-11-23T10:00:00Z" }
cases:
  - { name: a, sql: "SELECT $1", params: ["1", null], expect: allow }
  - { name: b, sql: "SELECT 1", connection: dev, labels: {}, identity: { kind: oidc }, phase: parse, has_grant: true, expect: deny }`,
      'f.yaml',
    );
    const [a, b] = fixtures.cases;
    const ia = caseInput(a!, fixtures.defaults);
    assert.equal(ia.connection, 'clinic');
    assert.deepEqual(ia.connectionLabels, { env: 'prod' });
    assert.equal(ia.now, Date.parse('2026-11-23T10:00:00Z'));
    assert.equal(ia.identity.kind, 'token');
    assert.deepEqual(ia.command, {
      kind: 'sql',
      text: 'SELECT $1',
      protocol: 'extended',
      params: [
        { format: 'text', value: '1', bytes: 1 },
        { format: 'text', value: null, bytes: 0 },
      ],
    });
    const ib = caseInput(b!, fixtures.defaults);
    assert.deepEqual([ib.connection, ib.connectionLabels, ib.identity.kind], ['dev', {}, 'oidc']);
    assert.deepEqual(
      [ib.phase, ib.hasGrant, ib.command.kind === 'sql' && ib.command.protocol],
      ['parse', true, 'simple'],
    );
  });

  test('results say what was expected and what came', () => {
    const policy = loadPolicy(
      'version: 1\nrules: [{ name: d, match: { facts: [drop] }, action: deny }]',
      'p',
    );
    const fixtures = parseFixtures(
      `cases:
  - { name: ok, sql: DROP TABLE t, expect: deny, expect_rule: d }
  - { name: wrong rule, sql: DROP TABLE t, expect: deny, expect_rule: x }
  - { name: wrong action, sql: SELECT 1, expect: deny }`,
      'f.yaml',
    );
    const results = runFixtures(policy, fixtures);
    assert.deepEqual(
      results.map((r) => [
        r.name,
        r.ok,
        r.expected,
        r.expectedRule,
        r.actual.action,
        r.actual.rule,
      ]),
      [
        ['ok', true, 'deny', 'd', 'deny', 'd'],
        ['wrong rule', false, 'deny', 'x', 'deny', 'd'],
        ['wrong action', false, 'deny', undefined, 'allow', 'default'],
      ],
    );
  });

  test('a bad fixture file names the key', () => {
    const problems = (text: string) => {
      try {
        parseFixtures(text, 'f.yaml');
      } catch (err) {
        assert.ok(err instanceof FixtureError);
        return err.problems;
      }
      assert.fail('expected a FixtureError');
    };
    assert.match(
      problems('cases: [{ name: a, sql: x, expect: block }]')[0]!,
      /^cases\[0\]\.expect: /,
    );
    assert.match(
      problems('cases: [{ name: a, sql: x, expect: deny, at: soon }]')[0]!,
      /^cases\[0\]\.at: expected an ISO/,
    );
    assert.match(
      problems('cases: [{ name: a, sql: x, expect: deny, foo: 1 }]')[0]!,
      /^cases\[0\]\.foo: unknown key/,
    );
    assert.match(problems('cases: []')[0]!, /^cases: expected at least one case/);
    assert.match(problems('cases: [')[0]!, /^YAML: /);
  });
});
