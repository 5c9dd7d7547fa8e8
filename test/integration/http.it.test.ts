/**
 * Generic HTTP connections (internal web apps, REST APIs) through Airlock: routes by path, Host
 * and proxy form; the brokered credential; method/path rules with review; JSON bodies masked
 * both ways; what the ledger keeps (clipped); problem+json errors; unsafe paths refused.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import type { Identity } from '../../src/identity/types.ts';
import { startLlmStack } from '../helpers/llm-stack.ts';

const POLICY = `version: 1
defaults: { approvers: [{ groups: [security] }] }
rules:
  - { name: admin-deletes, match: { methods: [DELETE], paths: ['/admin/**'] }, action: review }
  - { name: no-puts, match: { connections: [admin], methods: [PUT] }, action: deny, message: the admin API is read-mostly }
`;

const YAML = `
http: { record_body_bytes: 48 }
masking:
  rules:
    - { name: pii, connections: [admin], types: [email], style: full }
`;

const approver: Identity = {
  kind: 'oidc',
  name: 'sam.security@example.com',
  owner: 'sam.security@example.com',
  groups: ['security'],
  roles: ['user', 'approver'],
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('HTTP connections', () => {
  it('routes, brokers the credential, masks JSON both ways, records clipped bodies', async () => {
    await using s = await startLlmStack({
      yaml: YAML,
      policy: POLICY,
      connections: (url) =>
        `  - { name: admin, type: http, url: '${url}', hosts: [admin.internal], credential: { type: bearer, token: admin-secret-token } }\n`,
    });
    const port = s.gw.addresses.http?.port as number;
    const auth = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ contact: 'amelia.watson@example.org', note: 'x'.repeat(100) });
    const r = await call(port, 'POST', '/c/admin/admin/users?team=7', auth, body);
    assert.equal(r.status, 200, r.text);
    const echoed = JSON.parse(r.text);
    assert.equal(echoed.path, '/admin/users');
    assert.ok(!echoed.body.includes('amelia'), 'the request body was masked before it left');
    assert.match(r.headers['x-airlock-event-id'] as string, /^c_[0-9a-f]{30}$/);
    const seen = s.upstream.received.at(-1);
    assert.equal(seen?.headers.authorization, 'Bearer admin-secret-token');
    assert.ok(!JSON.stringify(seen?.headers).includes(s.token));

    const byHost = await call(port, 'GET', '/admin/ping', { ...auth, host: 'admin.internal' });
    assert.equal(JSON.parse(byHost.text).path, '/admin/ping');
    const proxied = await call(port, 'GET', 'http://admin.internal/admin/proxy', {
      'proxy-authorization': `Basic ${Buffer.from(`agent:${s.token}`).toString('base64')}`,
    });
    assert.equal(JSON.parse(proxied.text).path, '/admin/proxy');

    await new Promise((r) => setTimeout(r, 50));
    const [first] = await s.gw.ledger.commands({ connection: 'admin', limit: 10 });
    const cmd = first?.request.command as { text: string; body: string; method: string };
    assert.equal(cmd.method, 'POST');
    assert.equal(cmd.text, 'POST /admin/users?team=7');
    assert.match(cmd.body, /^\{"contact":"\[masked:email\]",.*… \[truncated, \d+ in all\]$/);
    assert.equal(first?.outcome?.status, 200);
  });

  it('holds DELETE /admin/** for review, denies by rule, refuses unsafe paths', async () => {
    await using s = await startLlmStack({
      policy: POLICY,
      connections: (url) => `  - { name: admin, type: http, url: '${url}' }\n`,
    });
    const port = s.gw.addresses.http?.port as number;
    const auth = { authorization: `Bearer ${s.token}` };
    const held = call(port, 'DELETE', '/c/admin/admin/users/7', auth);
    let review = s.gw.reviews.list({ status: 'pending' })[0];
    for (let i = 0; i < 100 && !review; i++) {
      await new Promise((r) => setTimeout(r, 20));
      review = s.gw.reviews.list({ status: 'pending' })[0];
    }
    assert.ok(review);
    assert.equal(review.statement, 'DELETE /admin/users/7');
    await s.gw.reviews.decide(review.id, approver, 'approve', 'cleanup ticket 12');
    const r = await held;
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).method, 'DELETE');

    const put = await call(port, 'PUT', '/c/admin/admin/users/7', auth, '{}');
    assert.equal(put.status, 403);
    assert.match(put.headers['content-type'] as string, /application\/problem\+json/);
    const problem = JSON.parse(put.text);
    assert.deepEqual(
      [problem.code, problem.detail],
      ['GW_POLICY_DENIED', 'the admin API is read-mostly'],
    );

    for (const bad of ['/c/admin/admin/../secret', '/c/admin/%2e%2e/secret', '/c/admin/a%2fb']) {
      const x = await call(port, 'GET', bad, auth);
      assert.equal(x.status, 400, bad);
    }
    assert.equal((await call(port, 'GET', '/c/nope/x', auth)).status, 404);
    assert.equal((await call(port, 'GET', '/elsewhere', auth)).status, 404);
    assert.equal((await call(port, 'GET', '/healthz', {})).status, 200);
    assert.equal((await call(port, 'GET', '/c/admin/admin/x', {})).status, 401);
  });
});
