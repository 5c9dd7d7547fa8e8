import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity } from '../identity/types.ts';
import type { HttpCommand } from '../session/command.ts';
import { pathRegExp } from './http-conditions.ts';
import { loadPolicy, PolicyError } from './rules.ts';

const agent: Identity = {
  kind: 'token',
  name: 'ci-agent',
  owner: 'olivia@example.com',
  groups: ['engineering'],
  roles: ['user'],
  tokenId: 'abcdefghijkl',
};

function http(method: string, path: string, llm?: Partial<HttpCommand['llm']>): HttpCommand {
  return {
    kind: 'http',
    method,
    url: path,
    path,
    host: 'api.example',
    text: `${method} ${path}`,
    params: null,
    paramsDigest: '0',
    bodyBytes: 0,
    ...(llm
      ? {
          llm: {
            dialect: 'openai',
            operation: 'chat',
            model: 'gpt-4o',
            stream: false,
            prompt: '',
            findings: [],
            reserveTokens: 10,
            record: {},
            ...llm,
          },
        }
      : {}),
  };
}

const POLICY = `
version: 1
defaults: { action: allow, approvers: [{ groups: [sec] }] }
rules:
  - { name: sql-drop, match: { facts: [drop] }, action: deny }
  - { name: admin-deletes, match: { methods: [delete], paths: ['/admin/**'] }, action: review }
  - { name: no-secrets, match: { prompt: { contains: [aws_access_key, private_key] } }, action: deny, message: the prompt holds a secret }
  - { name: no-keygen, match: { prompt: { patterns: ['generate.{0,40}(password|api key)'] } }, action: review }
  - { name: no-o1, match: { models: ['o1*'] }, action: deny }
`;

describe('policy on HTTP and LLM requests', () => {
  const policy = loadPolicy(POLICY, 'inline');
  const decide = (command: HttpCommand) =>
    policy.decide({ identity: agent, connection: 'openai', command });

  it('matches methods and path globs, and leaves other requests to the default', () => {
    assert.equal(decide(http('DELETE', '/admin/users/7')).rule, 'admin-deletes');
    assert.equal(decide(http('DELETE', '/admin/users/7')).action, 'review');
    assert.equal(decide(http('GET', '/admin/users/7')).rule, 'default');
    assert.equal(decide(http('DELETE', '/public/x')).rule, 'default');
  });

  it('never applies SQL rules to HTTP requests', () => {
    assert.equal(decide(http('POST', '/chat/completions', {})).rule, 'default');
  });

  it('matches detector findings and patterns in the prompt, and models', () => {
    const d = decide(http('POST', '/chat/completions', { findings: ['aws_access_key'] }));
    assert.deepEqual([d.action, d.rule], ['deny', 'no-secrets']);
    assert.equal(d.action === 'deny' && d.message, 'the prompt holds a secret');
    const p = decide(
      http('POST', '/chat/completions', { prompt: 'Please GENERATE a strong password' }),
    );
    assert.equal(p.rule, 'no-keygen');
    assert.equal(decide(http('POST', '/chat/completions', { model: 'o1-mini' })).rule, 'no-o1');
    assert.equal(decide(http('POST', '/chat/completions', { model: 'gpt-4o' })).rule, 'default');
  });

  it('path globs: * stays in a segment, ** crosses, ! excludes', () => {
    assert.ok(pathRegExp('/admin/*').test('/admin/users'));
    assert.ok(!pathRegExp('/admin/*').test('/admin/users/1'));
    assert.ok(pathRegExp('/admin/**').test('/admin/users/1'));
    assert.ok(!pathRegExp('/a.b').test('/axb'));
  });

  it('refuses unsafe prompt patterns and unknown detector types, naming the key', () => {
    const bad = (match: string) => {
      try {
        loadPolicy(`version: 1\nrules: [{ name: x, match: ${match}, action: deny }]`, 'inline');
      } catch (err) {
        assert.ok(err instanceof PolicyError);
        return err.problems.join('\n');
      }
      return 'accepted';
    };
    assert.match(
      bad("{ prompt: { patterns: ['(a+)+$'] } }"),
      /rules\[0\]\.match\.prompt\.patterns\[0\]: pattern refused/,
    );
    assert.match(
      bad('{ prompt: { contains: [passwords] } }'),
      /rules\[0\]\.match\.prompt\.contains\[0\]/,
    );
    assert.match(bad('{ paths: [admin] }'), /rules\[0\]\.match\.paths\[0\]: expected a path/);
  });
});
