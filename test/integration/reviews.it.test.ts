/**
 * Just-in-time approvals end to end: a real PostgreSQL behind the gateway, a real OIDC provider
 * for the humans, `pg` clients whose statements are held, and approvers deciding through the
 * API and the `airlock reviews` CLI. A local HTTP receiver checks the signed webhooks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import type { AuditEvent } from '../../src/audit/types.ts';
import { verifyReviewSignature } from '../../src/review/notifier.ts';
import { apiRequest } from '../helpers/api.ts';
import { airlockCli, gatewayClient } from '../helpers/gateway-process.ts';
import { startTestIdp, type TestIdp } from '../helpers/oidc-provider.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const ACCOUNTS = {
  alice: { email: 'alice@example.com', groups: ['clinicians'] },
  bob: { email: 'bob@example.com', groups: ['clinicians'] },
  dave: { email: 'dave@example.com', groups: ['clinicians', 'dba'] },
  dana: { email: 'dana@example.com', groups: ['dba'] },
};
const CLIENT = 'airlock-cli';
const HOOK_SECRET = 'hook-secret-for-tests';

const POLICY = `
version: 1
defaults:
  action: allow
  unparsable: review
  review_timeout: 20s
  approvers: [{ groups: [dba], min: 1 }]
rules:
  - name: grant-holders-may-write-visits
    match: { tables: [visits], classes: [write], has_grant: true }
    action: allow
  - name: visits-writes-time-out-fast
    match: { tables: [visits], classes: [write] }
    action: review
    timeout: 1s
  - name: no-copy-to-program
    match: { facts: [copy_to_program] }
    action: deny
    message: COPY TO PROGRAM is not allowed through Airlock
  - name: drops-need-a-dba
    match: { facts: [drop] }
    action: review
    message: Dropping a table needs a DBA
  - name: patient-deletes-need-a-dba
    match: { statements: [DELETE], tables: [patients] }
    action: review
    message: Deleting patients needs a DBA
`;

let idp: TestIdp;
let stack: Stack;
let configFile: string;
let policyFile: string;
let hook: Server;
const hookCalls: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];

function yaml(
  issuer: string,
  pgPort: number,
  policyFile: string,
  hookUrl: string,
  dataDir?: string,
) {
  return `
${dataDir ? `data_dir: ${dataDir}` : ''}
listen:
  postgres: 127.0.0.1:0
  api: 127.0.0.1:0
audit:
  sync: normal
identity:
  oidc:
    - issuer: ${issuer}
      audience: ${CLIENT}
      client_id: ${CLIENT}
  roles:
    approver: [dba]
policy:
  file: ${policyFile}
reviews:
  grant_approvers: [{ groups: [dba], min: 1 }]
  webhooks:
    - name: slack
      url: ${hookUrl}
      format: slack
      secret: \${env:HOOK_SECRET}
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: clinic
    user: clinic_app
    password: \${env:CLINIC_DB_PASSWORD}
    ssl: require
`;
}

before(async () => {
  process.env.HOOK_SECRET = HOOK_SECRET;
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      hookCalls.push({ headers: req.headers, body });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  idp = await startTestIdp({ accounts: ACCOUNTS, clients: [{ client_id: CLIENT }] });
  const dir = mkdtempSync(join(tmpdir(), 'airlock-reviews-'));
  policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY);
  stack = await startStack({ yaml: ({ pgPort }) => yaml(idp.issuer, pgPort, policyFile, hookUrl) });
  configFile = join(dir, 'airlock.yaml');
  // Patients with no visits or bills, so deleting them only needs the review.
  await stack.pg.sql(
    'clinic',
    `SET ROLE clinic_app; INSERT INTO patients (id, mrn, first_name, last_name, date_of_birth, ssn)
     SELECT g, 'MRN-T' || g, 'Test', 'Patient' || g, '1980-01-01', '000-00-' || g
     FROM generate_series(1001, 1010) g;`,
  );
  writeFileSync(configFile, yaml(idp.issuer, stack.pg.port, policyFile, hookUrl, stack.dataDir));
});

after(async () => {
  await stack?.close();
  await idp?.close();
  await new Promise((r) => hook?.close(r));
});

async function as(account: keyof typeof ACCOUNTS): Promise<pg.Client> {
  const c = gatewayClient(stack.port, await idp.idToken(account, CLIENT));
  await c.connect();
  return c;
}

/** Waits (bounded) for the pending review of a session's held statement. */
async function pendingReview(sessionOwner: string, text: RegExp) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = stack.gw.reviews
      .list({ status: 'pending' })
      .find((r) => r.requester.owner === sessionOwner && text.test(r.statement));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no pending review for ${sessionOwner} ${text}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function api(method: string, path: string, account: keyof typeof ACCOUNTS, body?: unknown) {
  return apiRequest(stack.gw, method, path, await idp.idToken(account, CLIENT), body);
}

async function cliEnv(account: keyof typeof ACCOUNTS): Promise<Record<string, string>> {
  return {
    CLINIC_DB_PASSWORD: stack.dbPassword,
    HOOK_SECRET,
    AIRLOCK_TOKEN: await idp.idToken(account, CLIENT),
    AIRLOCK_API: `https://127.0.0.1:${stack.gw.addresses.api?.port}`,
  };
}

async function eventsFor(commandId: string | null): Promise<AuditEvent[]> {
  await new Promise((r) => setTimeout(r, 100));
  const all = await stack.gw.ledger.query({});
  return all.filter((e) => e.commandId === commandId);
}

describe('held statements', () => {
  it('a held DELETE approved from the CLI runs, and its rows are gone', async () => {
    const alice = await as('alice');
    const notices: string[] = [];
    alice.on('notice', (n) => notices.push(n.message ?? ''));
    const before = await alice.query('select count(*)::int as n from patients where id = 1003');
    assert.equal(before.rows[0].n, 1);
    const running = alice.query('DELETE FROM patients WHERE id = 1003');
    const review = await pendingReview('alice@example.com', /DELETE FROM patients WHERE id = 1003/);
    assert.equal(review.rule, 'patient-deletes-need-a-dba');
    assert.deepEqual(review.tables, ['patients']);
    const env = await cliEnv('dave');
    const listed = await airlockCli(
      ['reviews', 'list', '--status', 'pending', '--config', configFile],
      env,
    );
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${review.id}\tpending\tcommand\tclinic`));
    const shown = await airlockCli(['reviews', 'show', review.id, '--config', configFile], env);
    assert.match(shown.stdout, /requester +alice@example.com \(oidc/);
    assert.match(shown.stdout, /impact +~\d+ rows \(Delete on patients\)/);
    const r = await airlockCli(
      ['reviews', 'approve', review.id, '--config', configFile, '--reason', 'ticket 42'],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const done = await running;
    assert.equal(done.rowCount, 1);
    assert.match(notices.join('\n'), new RegExp(`waiting for review ${review.id}`));
    const after = await alice.query('select count(*)::int as n from patients where id = 1003');
    assert.equal(after.rows[0].n, 0);
    await alice.end();
    const events = await eventsFor(review.commandId);
    assert.deepEqual(
      events.map((e) => e.type),
      ['command.requested', 'review.voted', 'command.approved', 'command.completed'],
    );
    assert.equal(events[0]?.data.decision, 'hold');
    assert.equal(events[0]?.data.reviewId, review.id);
    assert.deepEqual(events[2]?.data.approvers, ['dave@example.com']);
    assert.equal(events[1]?.data.reason, 'ticket 42');
    const decided = await api('GET', `/api/reviews/${review.id}`, 'dana');
    assert.equal(decided.body.status, 'approved');
    assert.equal(typeof decided.body.impact?.estimatedRows, 'number', 'approvers see the impact');
  });

  it('a denied DROP TABLE leaves the table, returns 42501 with the reason, session usable', async () => {
    const alice = await as('alice');
    const running = alice.query('DROP TABLE visits').then(
      () => assert.fail('the drop should have been denied'),
      (e: { code?: string; message: string }) => e,
    );
    const review = await pendingReview('alice@example.com', /DROP TABLE visits/);
    const res = await api('POST', `/api/reviews/${review.id}/deny`, 'dana', {
      reason: 'not today',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const err = await running;
    assert.equal(err.code, '42501');
    assert.match(err.message, /denied by dana@example.com .*not today/);
    const still = await alice.query("select to_regclass('visits') is not null as present");
    assert.equal(still.rows[0].present, true);
    await alice.end();
  });

  it('refuses self-approval, approval of one’s own agent, and non-approvers', async () => {
    const minted = await api('POST', '/v1/tokens', 'dave', {
      name: 'dave-agent',
      purpose: 'cleanup',
      groups: ['clinicians'],
    });
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    const agent = gatewayClient(stack.port, minted.body.token);
    await agent.connect();
    const running = agent.query('DELETE FROM patients WHERE id = 1004');
    const review = await pendingReview('dave@example.com', /id = 1004/);
    const self = await api('POST', `/api/reviews/${review.id}/approve`, 'dave', { reason: 'mine' });
    assert.equal(self.status, 403);
    assert.equal(self.body.error.code, 'GW_REVIEW_SELF_APPROVAL');
    const outsider = await api('POST', `/api/reviews/${review.id}/approve`, 'bob', {});
    assert.equal(outsider.status, 403);
    assert.equal(outsider.body.error.code, 'GW_REVIEW_NOT_ELIGIBLE');
    const byToken = await fetchWithToken(`/api/reviews/${review.id}/approve`, minted.body.token);
    assert.equal(byToken, 403, 'agent tokens never approve');
    const ok = await api('POST', `/api/reviews/${review.id}/approve`, 'dana', { reason: 'fine' });
    assert.equal(ok.status, 200);
    assert.equal((await running).rowCount, 1);
    await agent.end();
  });

  it('an approval is bound to one statement: the next one waits for its own review', async () => {
    const alice = await as('alice');
    const first = alice.query('DELETE FROM patients WHERE id = 1005');
    const r1 = await pendingReview('alice@example.com', /id = 1005/);
    await api('POST', `/api/reviews/${r1.id}/approve`, 'dana', { reason: 'ok' });
    await first;
    const second = alice.query('DELETE FROM patients WHERE id = 1006').catch((e) => e);
    const r2 = await pendingReview('alice@example.com', /id = 1006/);
    assert.notEqual(r2.id, r1.id);
    assert.notEqual(r2.fingerprint, r1.fingerprint);
    const again = await api('POST', `/api/reviews/${r1.id}/approve`, 'dave', { reason: 'reuse?' });
    assert.equal(again.status, 409, 'a decided review takes no more votes');
    await api('POST', `/api/reviews/${r2.id}/deny`, 'dana', { reason: 'one is enough' });
    assert.equal((await second).code, '42501');
    const kept = await alice.query('select count(*)::int as n from patients where id = 1006');
    assert.equal(kept.rows[0].n, 1);
    await alice.end();
  });

  it('a review that times out denies the statement', async () => {
    const alice = await as('alice');
    const t0 = Date.now();
    const err = await alice.query("UPDATE visits SET notes = 'x' WHERE id = 1").catch((e) => e);
    assert.equal(err.code, '42501');
    assert.match(err.message, /timed out/);
    assert.ok(Date.now() - t0 >= 900);
    await alice.end();
  });

  it('held statements in different sessions are independent', async () => {
    const alice = await as('alice');
    const bob = await as('bob');
    const a = alice.query('DELETE FROM patients WHERE id = 1007').catch((e) => e);
    const b = bob.query('DELETE FROM patients WHERE id = 1008');
    const ra = await pendingReview('alice@example.com', /id = 1007/);
    const rb = await pendingReview('bob@example.com', /id = 1008/);
    await api('POST', `/api/reviews/${rb.id}/approve`, 'dana', { reason: 'ok' });
    assert.equal((await b).rowCount, 1);
    assert.equal(stack.gw.reviews.get(ra.id)?.status, 'pending', 'alice still waits');
    assert.equal((await bob.query('select 1 as one')).rows[0].one, 1);
    await api('POST', `/api/reviews/${ra.id}/deny`, 'dave', { reason: 'no' });
    assert.equal((await a).code, '42501');
    await alice.end();
    await bob.end();
  });

  it('a held statement whose client vanishes is cancelled and recorded', async () => {
    const alice = await as('alice');
    alice.on('error', () => {});
    void alice.query('DELETE FROM patients WHERE id = 1009').catch(() => {});
    const review = await pendingReview('alice@example.com', /id = 1009/);
    (
      alice as unknown as { connection: { stream: { destroy(): void } } }
    ).connection.stream.destroy();
    const deadline = Date.now() + 5000;
    while (stack.gw.reviews.get(review.id)?.status === 'pending' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(stack.gw.reviews.get(review.id)?.status, 'cancelled');
    const events = await eventsFor(review.commandId);
    const rejected = events.find((e) => e.type === 'command.rejected');
    assert.equal(rejected?.data.status, 'cancelled');
  });

  it('judges a prepared statement at Parse: a denied one never reaches the database', async () => {
    const alice = await as('alice');
    const err = await alice
      .query({ name: 'exfil', text: "COPY patients TO PROGRAM 'cat > /tmp/x' " })
      .catch((e) => e);
    assert.equal(err.code, '42501');
    assert.match(err.message, /COPY TO PROGRAM is not allowed/);
    assert.equal((await alice.query('select 1 as one')).rows[0].one, 1);
    await alice.end();
  });

  it('sends signed Slack-compatible webhooks for requested and decided reviews', async () => {
    const requested = hookCalls
      .map((c) => JSON.parse(c.body))
      .filter((b) => /review/i.test(b.text));
    assert.ok(requested.length >= 2, `webhooks received: ${hookCalls.length}`);
    for (const c of hookCalls) {
      const ts = String(c.headers['x-airlock-timestamp']);
      const sig = String(c.headers['x-airlock-signature']);
      assert.ok(verifyReviewSignature(HOOK_SECRET, ts, c.body, sig, Math.floor(Date.now() / 1000)));
      assert.ok(!c.body.includes(HOOK_SECRET));
    }
  });
});

describe('policy file', () => {
  it('is reloaded when it changes, recorded with its hash; a bad version is refused', async () => {
    const before = await stack.gw.ledger.query({ types: ['policy.changed'] });
    assert.equal(before.length, 1, 'the policy in force at start is recorded');
    const alice = await as('alice');
    const stricter = `${POLICY}
  - name: no-reading-billing
    match: { tables: [billing] }
    action: deny
    message: billing is off limits
`;
    writeFileSync(policyFile, stricter.replace('version: 1', 'version: 1\ndescription: v2'));
    const deadline = Date.now() + 5000;
    let err: { code?: string; message?: string } | undefined;
    while (Date.now() < deadline) {
      err = await alice.query('select count(*) from billing').then(
        () => undefined,
        (e) => e,
      );
      if (err) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(err?.code, '42501');
    assert.match(err?.message ?? '', /billing is off limits/);
    const changed = await stack.gw.ledger.query({ types: ['policy.changed'] });
    assert.equal(changed.length, 2);
    assert.equal(changed[1]?.data.previousHash, changed[0]?.data.hash);
    writeFileSync(policyFile, 'version: 1\nrules: [{ name: x, action: explode }]\n');
    await new Promise((r) => setTimeout(r, 2500));
    const still = await alice.query('select count(*) from billing').catch((e) => e);
    assert.equal(still.code, '42501', 'the running policy stays when the new one is bad');
    assert.equal((await stack.gw.ledger.query({ types: ['policy.changed'] })).length, 2);
    writeFileSync(policyFile, POLICY);
    await alice.end();
  });
});

describe('time-boxed access grants', () => {
  it('an approved grant unlocks the rules it names until it ends', async () => {
    const asked = await airlockCli(
      [
        'access',
        'request',
        'clinic',
        '--for',
        '30m',
        '--reason',
        'incident 77',
        '--config',
        configFile,
      ],
      await cliEnv('bob'),
    );
    assert.equal(asked.code, 0, asked.stderr);
    const id = asked.stdout.trim();
    assert.equal(stack.gw.reviews.get(id)?.kind, 'grant');
    const self = await api('POST', `/api/reviews/${id}/approve`, 'bob', {});
    assert.equal(self.status, 403);
    const ok = await api('POST', `/api/reviews/${id}/approve`, 'dana', { reason: 'ok' });
    assert.equal(ok.body.status, 'approved');
    assert.ok(ok.body.grantUntil > Date.now());
    const bob = await as('bob');
    const r = await bob.query("UPDATE visits SET notes = 'checked' WHERE id = 1");
    assert.equal(r.rowCount, 1, 'no review needed while the grant lasts');
    await bob.end();
    const alice = await as('alice');
    const err = await alice.query("UPDATE visits SET notes = 'x' WHERE id = 1").catch((e) => e);
    assert.equal(err.code, '42501', 'the grant is bob’s alone');
    await alice.end();
  });
});

async function fetchWithToken(path: string, token: string): Promise<number> {
  return (await apiRequest(stack.gw, 'POST', path, token, {})).status;
}
