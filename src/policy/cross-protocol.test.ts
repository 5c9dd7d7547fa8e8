// One policy file serves SQL, HTTP/LLM and SSH: each side's match keys only ever match its own
// command kinds (the merge of the SSH and HTTP gateways must keep that).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initSqlParser } from '../sql/analyze.ts';
import { caseInput, parseFixtures } from './fixtures.ts';
import { loadPolicy } from './rules.ts';

const POLICY = `
version: 1
defaults: { action: allow, approvers: [{ groups: [sec] }] }
rules:
  - { name: sql-drop, match: { facts: [drop] }, action: deny }
  - { name: sql-writes, match: { access: [write] }, action: review }
  - { name: http-deletes, match: { methods: [delete] }, action: deny }
  - { name: http-admin, match: { paths: ['/admin/**'] }, action: deny }
  - { name: llm-o1, match: { models: ['o1*'] }, action: deny }
  - { name: llm-keys, match: { prompt: { contains: [private_key] } }, action: deny }
  - { name: ssh-rm, match: { commands: ['rm'] }, action: deny }
  - { name: ssh-shells, match: { session: shell }, action: review }
  - { name: ssh-fwd, match: { forwards: ['db.internal:5432'] }, action: allow }
`;

const FIXTURES = `
cases:
  - { name: sql drop, sql: DROP TABLE t, expect: deny, expect_rule: sql-drop }
  - { name: sql write, sql: DELETE FROM t WHERE id = 1, expect: review, expect_rule: sql-writes }
  - { name: sql read, sql: SELECT 1, expect: allow }
  - { name: http delete, http: { method: DELETE, path: /x }, expect: deny, expect_rule: http-deletes }
  - { name: http admin, http: { method: GET, path: /admin/users }, expect: deny, expect_rule: http-admin }
  - { name: http get, http: { method: GET, path: /rm }, expect: allow }
  - { name: llm o1, http: { path: /chat/completions, model: o1-mini, prompt: hi }, expect: deny, expect_rule: llm-o1 }
  - { name: llm other model, http: { path: /chat/completions, model: gpt-4o, prompt: DROP TABLE t }, expect: allow }
  - { name: exec rm, exec: rm -rf /tmp/x, expect: deny, expect_rule: ssh-rm }
  - { name: exec delete word, exec: echo delete /admin/x DROP TABLE t, expect: allow }
  - { name: shell, session: shell, expect: review, expect_rule: ssh-shells }
  - { name: sftp, session: sftp, expect: allow }
  - { name: forward allowed, forward: 'db.internal:5432', expect: allow, expect_rule: ssh-fwd }
  - { name: forward elsewhere, forward: 'other:22', expect: deny }
`;

describe('one policy across SQL, HTTP/LLM and SSH', () => {
  before(() => initSqlParser());

  it('keys of each protocol match only their own commands', () => {
    const policy = loadPolicy(POLICY, 'inline');
    const fixtures = parseFixtures(FIXTURES, 'inline');
    for (const c of fixtures.cases) {
      const d = policy.decide(caseInput(c));
      assert.equal(d.action, c.expect, `${c.name}: ${d.rule ?? '(default)'}`);
      if (c.expect_rule !== undefined) assert.equal(d.rule, c.expect_rule, c.name);
    }
  });
});
