/**
 * `airlock policy test|check|explain` as a user runs them: separate processes, files, exit codes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { airlockCli } from '../helpers/gateway-process.ts';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

const POLICY = `version: 1
defaults: { approvers: [{ groups: [dba] }] }
rules:
  - { name: no-drop-for-agents, match: { identity: { is: agent }, facts: [drop] }, action: deny }
  - { name: bulk, match: { facts: [delete_without_where] }, action: review }
`;

const FIXTURES = `policy: ./policy.yaml
cases:
  - name: agents cannot drop patients
    sql: DROP TABLE patients
    connection: clinic
    identity: { kind: token, name: claude, owner: alice@example.com }
    expect: deny
    expect_rule: no-drop-for-agents
  - name: humans may
    sql: DROP TABLE patients
    identity: { kind: oidc, name: bob@example.com, owner: bob@example.com, groups: [dba] }
    expect: allow
  - name: bulk deletes are reviewed
    sql: DELETE FROM visits
    params: []
    expect: review
    expect_rule: bulk
`;

/** A folder holding `files`; returns its path. */
function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'airlock-policy-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

describe('airlock policy test', () => {
  it('passes a good fixture file: one ok line per case, exit 0', async () => {
    const d = dir({ 'policy.yaml': POLICY, 'tests.yaml': FIXTURES });
    const r = await airlockCli(['policy', 'test', join(d, 'tests.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok +agents cannot drop patients$/m);
    assert.match(r.stdout, /^ok +bulk deletes are reviewed$/m);
    assert.match(r.stdout, /^3 passed, 0 failed/m);
  });

  it('fails naming the case, the expected and the actual decision, exit 1', async () => {
    const wrong = FIXTURES.replace('expect: allow', 'expect: deny');
    const d = dir({ 'policy.yaml': POLICY, 'tests.yaml': wrong });
    const r = await airlockCli(['policy', 'test', join(d, 'tests.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL +humans may: expected deny, got allow \(rule default\)$/m);
    assert.match(r.stdout, /^2 passed, 1 failed/m);
  });

  it('reports a wrong expected rule', async () => {
    const wrong = FIXTURES.replace('expect_rule: bulk', 'expect_rule: other');
    const d = dir({ 'policy.yaml': POLICY, 'tests.yaml': wrong });
    const r = await airlockCli(['policy', 'test', join(d, 'tests.yaml')]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^FAIL +bulk deletes are reviewed: expected review \(rule other\), got review \(rule bulk\)/m,
    );
  });

  it('refuses a bad policy naming the key, exit 2', async () => {
    const bad = POLICY.replace('facts: [drop]', 'facts: [drop], classes: [reed]');
    const d = dir({ 'policy.yaml': bad, 'tests.yaml': FIXTURES });
    const r = await airlockCli(['policy', 'test', join(d, 'tests.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid policy .*policy\.yaml:\n {2}rules\[0\]\.match\.classes\[0\]: /);
  });

  it('refuses a bad fixture file naming the key, exit 2', async () => {
    const d = dir({
      'policy.yaml': POLICY,
      'tests.yaml': FIXTURES.replace('expect: deny', 'expect: block'),
    });
    const r = await airlockCli(['policy', 'test', join(d, 'tests.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cases\[0\]\.expect: /);
  });

  it('--policy overrides the fixture file', async () => {
    const d = dir({ 'policy.yaml': POLICY, 'tests.yaml': FIXTURES, 'open.yaml': 'version: 1\n' });
    const r = await airlockCli([
      'policy',
      'test',
      join(d, 'tests.yaml'),
      '--policy',
      join(d, 'open.yaml'),
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^FAIL +agents cannot drop patients: expected deny \(rule no-drop-for-agents\), got allow \(rule default\)/m,
    );
  });

  it('passes the example clinic policy', async () => {
    const r = await airlockCli(['policy', 'test', join(EXAMPLES, 'policy-tests.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, / 0 failed/);
    assert.doesNotMatch(r.stdout, /FAIL/);
  });
});

describe('airlock policy check and explain', () => {
  it('check prints the hash of the file', async () => {
    const file = join(EXAMPLES, 'policy.yaml');
    const r = await airlockCli(['policy', 'check', '--policy', file]);
    assert.equal(r.code, 0, r.stderr);
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex');
    assert.match(r.stdout, new RegExp(`sha256:${hash}`));
  });

  it('explain names the deciding rule, as text and as JSON', async () => {
    const d = dir({ 'policy.yaml': POLICY });
    const args = [
      'policy',
      'explain',
      '--policy',
      join(d, 'policy.yaml'),
      '--sql',
      'SELECT 1; DROP TABLE t',
    ];
    const text = await airlockCli([...args, '--identity-kind', 'token', '--name', 'claude']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^decision: deny \(rule no-drop-for-agents\)/);
    assert.match(text.stdout, /\+ no-drop-for-agents +deny +matched identity\.is, facts/);
    const json = await airlockCli([
      ...args,
      '--identity-kind',
      'oidc',
      '--label',
      'env=prod',
      '--json',
    ]);
    assert.equal(json.code, 0, json.stderr);
    const e = JSON.parse(json.stdout) as { decision: { action: string; rule: string } };
    assert.deepEqual(e.decision, { action: 'allow', rule: 'default' });
  });

  it('explain without --policy and without a config is a usage error', async () => {
    const d = dir({});
    const r = await airlockCli([
      'policy',
      'explain',
      '--sql',
      'SELECT 1',
      '--config',
      join(d, 'none.yaml'),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--policy is required/);
  });
});
