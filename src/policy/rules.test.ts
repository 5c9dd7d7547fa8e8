import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Identity } from '../identity/types.ts';
import { analyzeSql, initSqlParser } from '../sql/analyze.ts';
import { formatExplanation } from './explain.ts';
import { sqlCommand } from './fixtures.ts';
import type { Decision, PolicyInput } from './policy.ts';
import { type CompiledPolicy, loadPolicy, loadPolicyFile, PolicyError } from './rules.ts';

before(() => initSqlParser());

const AGENT: Identity = {
  kind: 'token',
  name: 'claude',
  owner: 'alice@example.com',
  groups: [],
  roles: [],
};
const HUMAN: Identity = {
  kind: 'oidc',
  name: 'bob@example.com',
  owner: 'bob@example.com',
  groups: ['dba'],
  roles: [],
};
/** Monday 2026-11-23 10:00 UTC = 11:00 in Berlin. */
const MONDAY_10_UTC = Date.parse('2026-11-23T10:00:00Z');

function input(sql: string, over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    identity: AGENT,
    connection: 'clinic',
    command: sqlCommand(sql),
    analysis: analyzeSql(sql),
    now: MONDAY_10_UTC,
    ...over,
  };
}

function decide(p: CompiledPolicy, sql: string, over: Partial<PolicyInput> = {}): Decision {
  return p.decide(input(sql, over));
}

/** Asserts action and rule of a decision. */
function expectDecision(d: Decision, action: Decision['action'], rule: string): void {
  assert.deepEqual([d.action, d.rule], [action, rule]);
}

function problems(yaml: string): readonly string[] {
  try {
    loadPolicy(yaml, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof PolicyError, String(err));
    assert.equal(err.source, 'test.yaml');
    return err.problems;
  }
  assert.fail('expected the policy to be refused');
}

const p = (yaml: string): CompiledPolicy => loadPolicy(yaml, 'test.yaml');

describe('loadPolicy: schema errors name the key path', () => {
  test('unknown values and keys', () => {
    const rules = `version: 1
rules:
  - { name: a, action: allow }
  - { name: b, action: allow }
  - { name: c, match: { classes: [reed] }, action: deny }`;
    assert.match(problems(rules)[0]!, /^rules\[2\]\.match\.classes\[0\]: Invalid option/);
    assert.deepEqual(
      problems('version: 1\nrules: [{ name: a, match: { clases: [read] }, action: deny }]'),
      ['rules[0].match.clases: unknown key'],
    );
    assert.match(
      problems('version: 1\nrules: [{ name: a, action: block }]')[0]!,
      /^rules\[0\]\.action: /,
    );
    assert.match(
      problems('version: 1\nrules: [{ name: a, match: { facts: [dropp] }, action: deny }]')[0]!,
      /^rules\[0\]\.match\.facts\[0\]: /,
    );
    assert.match(problems('version: 2')[0]!, /^version: /);
    assert.match(problems('rules: []')[0]!, /^version: /);
    assert.match(problems('version: 1\nfoo: 1')[0]!, /^foo: unknown key/);
  });

  test('durations, time zones, windows, YAML', () => {
    const review = (extra: string) =>
      `version: 1\ndefaults: { approvers: [{ groups: [dba] }] }\nrules: [{ name: r, action: review, ${extra} }]`;
    assert.match(
      problems(review('timeout: soon'))[0]!,
      /^rules\[0\]\.timeout: expected a duration/,
    );
    assert.match(problems(review('timeout: 30d'))[0]!, /^rules\[0\]\.timeout: .*at most 7d/);
    assert.match(
      problems(review('match: { window: { tz: Mars/Olympus } }'))[0]!,
      /^rules\[0\]\.match\.window\.tz: unknown time zone/,
    );
    assert.match(
      problems(review('match: { window: { from: "9:00", to: "18:00" } }'))[0]!,
      /^rules\[0\]\.match\.window\.from: expected HH:MM/,
    );
    assert.match(
      problems(review('match: { window: { from: "09:00" } }'))[0]!,
      /^rules\[0\]\.match\.window\.from: from and to go together/,
    );
    assert.match(problems(review('match: { window: { days: [funday] } }'))[0]!, /days\[0\]/);
    assert.match(problems('version: 1\nrules: [ {')[0]!, /^YAML: /);
  });

  test('cross checks: approvers for reviews, duplicate names, review-only keys', () => {
    assert.deepEqual(problems('version: 1\nrules: [{ name: r, action: review }]'), [
      'rules[0].approvers: a review rule needs approvers (or defaults.approvers)',
    ]);
    assert.deepEqual(problems('version: 1\ndefaults: { unparsable: review }'), [
      'defaults.unparsable: review needs defaults.approvers',
    ]);
    assert.deepEqual(
      problems(
        'version: 1\ndefaults: { unparsable: deny }\nrules: [{ name: a, action: deny }, { name: a, action: deny, timeout: 5m }]',
      ),
      ['rules[1].name: duplicate rule "a"', 'rules[1].timeout: only review rules take timeout'],
    );
    assert.match(
      problems('version: 1\ndefaults: { unparsable: deny, approvers: [{ groups: [] }] }')[0]!,
      /^defaults\.approvers\[0\]\.groups: /,
    );
  });

  test('hash, version and rule names', () => {
    const text = 'version: 1\ndefaults: { unparsable: deny }\nrules: [{ name: a, action: deny }]\n';
    const policy = p(text);
    assert.equal(policy.hash, createHash('sha256').update(text).digest('hex'));
    assert.notEqual(p(`${text}# changed\n`).hash, policy.hash);
    assert.equal(policy.version, 1);
    assert.deepEqual(policy.ruleNames, ['a']);
  });

  test('loadPolicyFile reads the file; a missing file is a PolicyError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-policy-'));
    writeFileSync(join(dir, 'p.yaml'), 'version: 1\ndefaults: { unparsable: allow }\n');
    assert.equal(loadPolicyFile(join(dir, 'p.yaml')).source, join(dir, 'p.yaml'));
    assert.throws(() => loadPolicyFile(join(dir, 'nope.yaml')), /cannot read file: ENOENT/);
  });
});

describe('decide', () => {
  const APPROVERS = 'approvers: [{ groups: [dba], min: 1 }]';

  test('no rules: the default action, named "default"', () => {
    expectDecision(decide(p('version: 1'), 'DROP TABLE t'), 'allow', 'default');
    const denied = decide(p('version: 1\ndefaults: { action: deny, message: nope }'), 'SELECT 1');
    assert.deepEqual(denied, { action: 'deny', rule: 'default', message: 'nope' });
  });

  test('rules are ordered: the first match decides', () => {
    const policy = p(`version: 1
rules:
  - { name: allow-reads, match: { classes: [read] }, action: allow }
  - { name: deny-all, action: deny }
  - { name: never, match: { classes: [read] }, action: deny }`);
    expectDecision(decide(policy, 'SELECT 1'), 'allow', 'allow-reads');
    expectDecision(decide(policy, 'INSERT INTO t VALUES (1)'), 'deny', 'deny-all');
  });

  test('a deny carries the rule message, or a default one', () => {
    const policy = p(`version: 1
rules:
  - { name: no-drop, match: { facts: [drop] }, action: deny, message: ask a DBA }
  - { name: no-truncate, match: { facts: [truncate] }, action: deny }`);
    assert.deepEqual(decide(policy, 'DROP TABLE t'), {
      action: 'deny',
      rule: 'no-drop',
      message: 'ask a DBA',
    });
    assert.deepEqual(decide(policy, 'TRUNCATE t'), {
      action: 'deny',
      rule: 'no-truncate',
      message: 'denied by policy rule "no-truncate"',
    });
  });

  test('a review carries approvers and timeout from the rule, else the defaults', () => {
    const policy = p(`version: 1
defaults: { review_timeout: 2m, ${APPROVERS} }
rules:
  - name: drops
    match: { facts: [drop] }
    action: review
    message: dropping needs two
    approvers: [{ groups: [dba], min: 2 }, { groups: [security] }]
    timeout: 10m
  - { name: deletes, match: { statements: [delete] }, action: review }`);
    assert.deepEqual(decide(policy, 'DROP TABLE t'), {
      action: 'review',
      rule: 'drops',
      message: 'dropping needs two',
      review: {
        approvers: [
          { groups: ['dba'], min: 2 },
          { groups: ['security'], min: 1 },
        ],
        timeoutMs: 600_000,
      },
    });
    assert.deepEqual(decide(policy, 'DELETE FROM t WHERE id = 1'), {
      action: 'review',
      rule: 'deletes',
      review: { approvers: [{ groups: ['dba'], min: 1 }], timeoutMs: 120_000 },
    });
  });

  test('connections: globs, and ! excludes', () => {
    const policy = p(`version: 1
rules: [{ name: prod, match: { connections: ["clinic*", "!clinic-dev"] }, action: deny }]`);
    expectDecision(decide(policy, 'SELECT 1', { connection: 'clinic' }), 'deny', 'prod');
    expectDecision(decide(policy, 'SELECT 1', { connection: 'clinic-eu' }), 'deny', 'prod');
    expectDecision(decide(policy, 'SELECT 1', { connection: 'clinic-dev' }), 'allow', 'default');
    expectDecision(decide(policy, 'SELECT 1', { connection: 'billing' }), 'allow', 'default');
    const onlyNot = p(
      'version: 1\nrules: [{ name: r, match: { connections: ["!dev"] }, action: deny }]',
    );
    expectDecision(decide(onlyNot, 'SELECT 1', { connection: 'prod' }), 'deny', 'r');
    expectDecision(decide(onlyNot, 'SELECT 1', { connection: 'dev' }), 'allow', 'default');
  });

  test('labels: every listed label must match; a missing label does not', () => {
    const policy = p(`version: 1
rules: [{ name: phi-prod, match: { labels: { env: prod, data: [phi, "pii*"] } }, action: deny }]`);
    const d = (labels: Record<string, string> | undefined) =>
      decide(policy, 'SELECT 1', labels === undefined ? {} : { connectionLabels: labels });
    expectDecision(d({ env: 'prod', data: 'phi' }), 'deny', 'phi-prod');
    expectDecision(d({ env: 'prod', data: 'pii-eu' }), 'deny', 'phi-prod');
    expectDecision(d({ env: 'prod', data: 'none' }), 'allow', 'default');
    expectDecision(d({ env: 'dev', data: 'phi' }), 'allow', 'default');
    expectDecision(d({ env: 'prod' }), 'allow', 'default');
    expectDecision(d(undefined), 'allow', 'default');
  });

  test('identity: agent (token) vs human (oidc), names and owners', () => {
    const policy = p(`version: 1
rules:
  - { name: agents, match: { identity: { is: agent, names: ["claude*"] } }, action: deny }
  - { name: alice-agents, match: { identity: { is: agent, owners: [alice@example.com] } }, action: deny }
  - { name: humans, match: { identity: { is: human } }, action: deny }`);
    expectDecision(decide(policy, 'SELECT 1'), 'deny', 'agents');
    expectDecision(
      decide(policy, 'SELECT 1', { identity: { ...AGENT, name: 'gpt' } }),
      'deny',
      'alice-agents',
    );
    const other = { ...AGENT, name: 'gpt', owner: 'carol@example.com' };
    expectDecision(decide(policy, 'SELECT 1', { identity: other }), 'allow', 'default');
    expectDecision(decide(policy, 'SELECT 1', { identity: HUMAN }), 'deny', 'humans');
  });

  test('groups: any of; ! excludes members', () => {
    const policy = p(`version: 1
rules:
  - { name: no-contractors, match: { groups: ["!contractors"] }, action: allow }
  - { name: clinicians, match: { groups: [clinicians, "nurses-*"] }, action: review }
  - { name: rest, action: deny }
defaults: { ${APPROVERS} }`);
    const as = (groups: string[]) => decide(policy, 'SELECT 1', { identity: { ...AGENT, groups } });
    expectDecision(as(['clinicians']), 'allow', 'no-contractors');
    expectDecision(as([]), 'allow', 'no-contractors');
    expectDecision(as(['clinicians', 'contractors']), 'review', 'clinicians');
    expectDecision(as(['nurses-icu', 'contractors']), 'review', 'clinicians');
    expectDecision(as(['contractors']), 'deny', 'rest');
  });

  test('classes, statements (case-insensitive), facts, functions', () => {
    const policy = p(`version: 1
defaults: { ${APPROVERS} }
rules:
  - { name: ddl, match: { classes: [ddl] }, action: deny }
  - { name: truncate, match: { statements: ["truncate  table", truncate] }, action: deny }
  - { name: del, match: { statements: [DELETE] }, action: review }
  - { name: lock, match: { facts: [lock] }, action: deny }
  - { name: fn, match: { functions: ["pg_catalog.pg_sleep", "dblink*"] }, action: deny }`);
    expectDecision(decide(policy, 'CREATE TABLE t (a int)'), 'deny', 'ddl');
    expectDecision(decide(policy, 'TRUNCATE t'), 'deny', 'truncate');
    expectDecision(decide(policy, 'delete from t where id = 1'), 'review', 'del');
    expectDecision(
      decide(policy, 'WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT 1'),
      'review',
      'del',
    );
    expectDecision(decide(policy, 'LOCK t'), 'deny', 'lock');
    expectDecision(decide(policy, 'SELECT pg_sleep(1)'), 'deny', 'fn');
    expectDecision(decide(policy, 'SELECT pg_catalog.pg_sleep(1)'), 'deny', 'fn');
    expectDecision(decide(policy, 'SELECT myschema.pg_sleep(1)'), 'allow', 'default');
    expectDecision(decide(policy, "SELECT * FROM dblink_exec('x', 'y')"), 'deny', 'fn');
    expectDecision(decide(policy, 'SELECT lower(a) FROM t'), 'allow', 'default');
  });

  test('tables: schema.name globs; bare names match any schema; unqualified via search_path', () => {
    const policy = p(`version: 1
rules:
  - { name: patients, match: { tables: [public.patients] }, action: deny }
  - { name: billing, match: { tables: ["billing.*"], access: [write] }, action: deny }
  - { name: notes, match: { tables: [notes] }, action: deny }`);
    expectDecision(decide(policy, 'SELECT * FROM patients'), 'deny', 'patients');
    expectDecision(decide(policy, 'SELECT * FROM public.patients'), 'deny', 'patients');
    expectDecision(decide(policy, 'SELECT * FROM archive.patients'), 'allow', 'default');
    expectDecision(decide(policy, 'SELECT * FROM "Patients"'), 'allow', 'default');
    expectDecision(decide(policy, 'SELECT * FROM patients_archive'), 'allow', 'default');
    expectDecision(decide(policy, 'INSERT INTO billing.invoices VALUES (1)'), 'deny', 'billing');
    expectDecision(decide(policy, 'SELECT * FROM billing.invoices'), 'allow', 'default');
    expectDecision(decide(policy, 'INSERT INTO invoices VALUES (1)'), 'allow', 'default');
    expectDecision(decide(policy, 'SELECT * FROM notes'), 'deny', 'notes');
    expectDecision(decide(policy, 'SELECT * FROM crm.notes'), 'deny', 'notes');
    const billingPath = p(`version: 1
defaults: { search_path: [billing, public] }
rules: [{ name: billing, match: { tables: ["billing.*"] }, action: deny }]`);
    expectDecision(decide(billingPath, 'SELECT * FROM invoices'), 'deny', 'billing');
  });

  test('allow rules need every table (function, fact, tag) to match; deny rules need one', () => {
    const policy = p(`version: 1
defaults: { action: deny }
rules:
  - { name: reporting, match: { tables: ["reporting.*"], access: [read] }, action: allow }
  - { name: safe-fns, match: { classes: [read], functions: [lower, count] }, action: allow }`);
    expectDecision(
      decide(policy, 'SELECT * FROM reporting.a JOIN reporting.b ON true'),
      'allow',
      'reporting',
    );
    expectDecision(
      decide(policy, 'SELECT * FROM reporting.a JOIN public.patients ON true'),
      'deny',
      'default',
    );
    expectDecision(
      decide(policy, 'INSERT INTO reporting.a SELECT * FROM reporting.b'),
      'deny',
      'default',
    );
    expectDecision(decide(policy, 'SELECT 1'), 'deny', 'default');
    expectDecision(decide(policy, 'SELECT count(*), lower($1)'), 'allow', 'safe-fns');
    expectDecision(decide(policy, 'SELECT count(*), pg_sleep(1)'), 'deny', 'default');
  });

  test('a rule without statement keys matches any command', () => {
    const policy = p(
      'version: 1\nrules: [{ name: dev, match: { connections: [dev] }, action: deny }]',
    );
    for (const sql of ['SELECT 1', 'BEGIN', 'DROP TABLE t', 'SET ROLE x']) {
      expectDecision(decide(policy, sql, { connection: 'dev' }), 'deny', 'dev');
    }
  });

  test('has_grant', () => {
    const policy = p(`version: 1
rules:
  - { name: with-grant, match: { has_grant: true, facts: [drop] }, action: allow }
  - { name: no-drop, match: { facts: [drop] }, action: deny }
  - { name: no-grant, match: { has_grant: false, classes: [write] }, action: deny }`);
    expectDecision(decide(policy, 'DROP TABLE t', { hasGrant: true }), 'allow', 'with-grant');
    expectDecision(decide(policy, 'DROP TABLE t', { hasGrant: false }), 'deny', 'no-drop');
    expectDecision(decide(policy, 'DROP TABLE t'), 'deny', 'no-drop');
    expectDecision(decide(policy, 'INSERT INTO t VALUES (1)'), 'deny', 'no-grant');
    expectDecision(
      decide(policy, 'INSERT INTO t VALUES (1)', { hasGrant: true }),
      'allow',
      'default',
    );
  });

  test('time windows: inside and outside, in the window time zone', () => {
    const policy = p(`version: 1
rules:
  - name: office
    match: { window: { days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", tz: Europe/Berlin } }
    action: allow
  - { name: after-hours, action: deny }`);
    const at = (iso: string) => decide(policy, 'SELECT 1', { now: Date.parse(iso) });
    expectDecision(at('2026-11-23T08:00:00Z'), 'allow', 'office'); // Mon 09:00 Berlin
    expectDecision(at('2026-11-23T07:59:00Z'), 'deny', 'after-hours'); // Mon 08:59 Berlin
    expectDecision(at('2026-11-23T16:59:00Z'), 'allow', 'office'); // Mon 17:59 Berlin
    expectDecision(at('2026-11-23T17:00:00Z'), 'deny', 'after-hours'); // Mon 18:00 Berlin
    expectDecision(at('2026-11-22T10:00:00Z'), 'deny', 'after-hours'); // Sunday
    // Summer time: 2026-07-06 is a Monday; 07:00Z is 09:00 in Berlin (UTC+2).
    expectDecision(at('2026-07-06T07:00:00Z'), 'allow', 'office');
    expectDecision(at('2026-07-06T06:59:00Z'), 'deny', 'after-hours');
  });

  test('a window may run over midnight', () => {
    const policy = p(`version: 1
rules:
  - name: night
    match: { window: { from: "22:00", to: "06:00", tz: America/New_York } }
    action: deny`);
    const at = (iso: string) => decide(policy, 'SELECT 1', { now: Date.parse(iso) });
    expectDecision(at('2026-11-24T02:59:00Z'), 'allow', 'default'); // Mon 21:59 New York
    expectDecision(at('2026-11-24T03:00:00Z'), 'deny', 'night'); // Mon 22:00 New York
    expectDecision(at('2026-11-24T10:59:00Z'), 'deny', 'night'); // Tue 05:59 New York
    expectDecision(at('2026-11-24T11:00:00Z'), 'allow', 'default'); // Tue 06:00 New York
  });

  test('outside: true inverts a window', () => {
    const policy = p(`version: 1
rules:
  - name: weekend-ddl
    match: { classes: [ddl], window: { days: [mon, tue, wed, thu, fri], tz: UTC, outside: true } }
    action: deny`);
    expectDecision(decide(policy, 'DROP TABLE t'), 'allow', 'default');
    expectDecision(
      decide(policy, 'DROP TABLE t', { now: Date.parse('2026-11-22T12:00:00Z') }),
      'deny',
      'weekend-ddl',
    );
  });

  test('multi-statement: the most restrictive; a review from the first statement needing one', () => {
    const policy = p(`version: 1
defaults: { ${APPROVERS} }
rules:
  - { name: drop, match: { facts: [drop] }, action: deny }
  - { name: del, match: { statements: [DELETE] }, action: review, timeout: 1m }
  - { name: upd, match: { statements: [UPDATE] }, action: review, timeout: 2m }
  - { name: reads, match: { classes: [read] }, action: allow }`);
    expectDecision(decide(policy, 'SELECT 1; SELECT 2'), 'allow', 'reads');
    expectDecision(decide(policy, 'SELECT 1; DROP TABLE t'), 'deny', 'drop');
    expectDecision(decide(policy, 'DROP TABLE t; DELETE FROM t WHERE a = 1'), 'deny', 'drop');
    const d = decide(policy, 'SELECT 1; UPDATE t SET a = 1 WHERE b = 2; DELETE FROM t WHERE a = 1');
    expectDecision(d, 'review', 'upd');
    assert.equal(d.action === 'review' && d.review.timeoutMs, 120_000);
    expectDecision(
      decide(policy, 'DELETE FROM t WHERE a = 1; SELECT 1; DROP TABLE u'),
      'deny',
      'drop',
    );
  });

  test('unparsable SQL: defaults.unparsable, made stricter by statement-free rules', () => {
    const yaml = (mode: string) => `version: 1
defaults: { unparsable: ${mode}, ${APPROVERS} }
rules:
  - { name: contractors, match: { groups: [contractors] }, action: deny }
  - { name: dba, match: { groups: [dba] }, action: allow }
  - { name: drops, match: { facts: [drop] }, action: deny }`;
    const bad = 'DEL/**/ETE FROM patients';
    const review = decide(p(yaml('review')), bad);
    expectDecision(review, 'review', 'unparsable');
    assert.match(review.action === 'review' ? (review.message ?? '') : '', /parser rejects/);
    expectDecision(decide(p(yaml('deny')), bad), 'deny', 'unparsable');
    expectDecision(decide(p(yaml('allow')), bad), 'allow', 'unparsable');
    const contractor = { identity: { ...AGENT, groups: ['contractors'] } };
    expectDecision(decide(p(yaml('review')), bad, contractor), 'deny', 'contractors');
    expectDecision(decide(p(yaml('review')), bad, { identity: HUMAN }), 'review', 'unparsable');
    const { analysis: _omit, ...noAnalysis } = input(bad);
    expectDecision(p(yaml('deny')).decide(noAnalysis), 'deny', 'unparsable');
  });

  test('an empty command is allowed', () => {
    expectDecision(decide(p('version: 1\ndefaults: { action: deny }'), ''), 'allow', 'empty');
  });

  test('phase parse: a review is reported as allow, a deny stays', () => {
    const policy = p(`version: 1
defaults: { ${APPROVERS} }
rules:
  - { name: drop, match: { facts: [drop] }, action: deny }
  - { name: del, match: { statements: [DELETE] }, action: review }`);
    expectDecision(
      decide(policy, 'DELETE FROM t WHERE id = $1', { phase: 'parse' }),
      'allow',
      'del',
    );
    expectDecision(
      decide(policy, 'DELETE FROM t WHERE id = $1', { phase: 'execute' }),
      'review',
      'del',
    );
    expectDecision(decide(policy, 'DELETE FROM t WHERE id = $1'), 'review', 'del');
    expectDecision(decide(policy, 'DROP TABLE t', { phase: 'parse' }), 'deny', 'drop');
    expectDecision(
      decide(policy, 'DELETE FROM t WHERE a = 1; DROP TABLE t', { phase: 'parse' }),
      'deny',
      'drop',
    );
  });

  test('decisions are shared, frozen objects', () => {
    const policy = p('version: 1\nrules: [{ name: d, match: { facts: [drop] }, action: deny }]');
    const a = decide(policy, 'DROP TABLE t');
    assert.equal(a, decide(policy, 'DROP TABLE u'));
    assert.ok(Object.isFrozen(a));
  });
});

describe('explain', () => {
  const policy = p(`version: 1
defaults: { approvers: [{ groups: [dba] }] }
rules:
  - { name: dev-only, match: { connections: [dev] }, action: allow }
  - { name: humans, match: { identity: { is: human } }, action: allow }
  - { name: reads, match: { classes: [read] }, action: allow }
  - { name: phi, match: { tables: [public.patients], access: [write] }, action: review }
  - { name: after, action: deny }`);

  test('names the deciding rule and why the earlier ones did not match', () => {
    const e = policy.explain(
      input('DELETE FROM patients WHERE id = 1', { connectionLabels: { env: 'prod' } }),
    );
    expectDecision(e.decision, 'review', 'phi');
    assert.equal(e.statements.length, 1);
    const s = e.statements[0]!;
    assert.equal(s.class, 'write');
    assert.deepEqual(s.facts, []);
    assert.deepEqual(
      s.rules.map((r) => [r.rule, r.matched, r.reason]),
      [
        ['dev-only', false, 'connections: connection "clinic" is not in [dev]'],
        ['humans', false, 'identity.is: claude is an agent (token), not a human'],
        ['reads', false, 'classes: class write is not in [read]'],
        ['phi', true, 'matched tables'],
      ],
    );
    const text = formatExplanation(e);
    assert.match(text, /^decision: review \(rule phi\) by 1 of \[dba\], timeout 5m/);
    assert.match(text, /\+ phi +review +matched tables/);
    assert.match(text, /- reads +allow +classes: class write is not in \[read\]/);
  });

  test('every statement, the facts, the default when nothing matched', () => {
    const e = policy.explain(input('SELECT 1; TRUNCATE patients'));
    expectDecision(e.decision, 'review', 'phi');
    assert.deepEqual(
      e.statements.map((s) => s.decision.rule),
      ['reads', 'phi'],
    );
    assert.deepEqual(e.statements[1]?.facts, ['truncate']);
    const none = p('version: 1\nrules: [{ name: x, match: { facts: [drop] }, action: deny }]');
    const d = none.explain(input('SELECT 1'));
    expectDecision(d.statements[0]!.decision, 'allow', 'default');
    assert.deepEqual(
      d.statements[0]!.rules.map((r) => r.reason),
      ['facts: none of [drop] holds (facts: none)'],
    );
  });

  test('unparsable SQL: the parser error and the statement-free rules tried', () => {
    const e = policy.explain(input('SELEC 1'));
    // `after` matches any command and is stricter than the review of defaults.unparsable.
    expectDecision(e.decision, 'deny', 'after');
    assert.match(e.unparsable?.error ?? '', /syntax error at or near "SELEC"/);
    assert.deepEqual(
      e.unparsable?.rules.map((r) => r.rule),
      ['dev-only', 'humans', 'after'],
    );
    assert.deepEqual(e.statements, []);
  });

  test('explains a window miss with the local time', () => {
    const w = p(`version: 1
rules: [{ name: office, match: { window: { days: [sat], tz: Europe/Berlin } }, action: deny }]`);
    const r = w.explain(input('SELECT 1')).statements[0]!.rules[0]!;
    assert.equal(
      r.reason,
      'window: mon 11:00 Europe/Berlin is not inside the window sat all day Europe/Berlin',
    );
  });

  test('the explained decision is the decided one, also at parse', () => {
    for (const sql of ['SELECT 1', 'DELETE FROM patients', 'SELEC', 'DROP TABLE x; SELECT 1']) {
      for (const phase of ['parse', 'execute'] as const) {
        const i = input(sql, { phase });
        assert.deepEqual(policy.explain(i).decision, policy.decide(i));
      }
    }
  });
});
