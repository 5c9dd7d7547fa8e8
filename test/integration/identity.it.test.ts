/**
 * Identity end to end: a real OIDC provider (oidc-provider), the gateway in front of a real
 * PostgreSQL, real clients (pg, psql) and the `airlock` CLI as separate processes. Covers OIDC
 * JWTs as PostgreSQL passwords, groups → roles → connection access, agent tokens minted with
 * the owner's OIDC identity, and offboarding cutting live sessions within seconds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import type { AuditEvent } from '../../src/audit/types.ts';
import { apiRequest } from '../helpers/api.ts';
import { airlockCli, gatewayClient, spawnCli } from '../helpers/gateway-process.ts';
import { startTestIdp, type TestIdp } from '../helpers/oidc-provider.ts';
import { run, type Stack, startStack } from '../helpers/stack.ts';

const ACCOUNTS = {
  alice: { email: 'alice@example.com', groups: ['clinicians'] },
  bob: { email: 'bob@example.com', groups: ['clinicians'] },
  eve: { email: 'eve@example.com', groups: ['contractors'] },
  paula: { email: 'paula@example.com', groups: ['platform'] },
};
const CLIENT = 'airlock-cli';
const RECHECK_MS = 300;

let idp: TestIdp;
let stack: Stack;
let configFile: string;
let env: Record<string, string>;

function yaml(issuer: string, pgPort: number, dataDir?: string): string {
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
      jwks_min_refresh_seconds: 0
  roles:
    admin: [platform]
    auditor: [compliance]
  recheck_interval_ms: ${RECHECK_MS}
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: clinic
    user: clinic_app
    password: \${env:CLINIC_DB_PASSWORD}
    ssl: require
    allow_groups: [clinicians, engineering]
`;
}

before(async () => {
  idp = await startTestIdp({ accounts: ACCOUNTS, clients: [{ client_id: CLIENT }] });
  stack = await startStack({ yaml: ({ pgPort }) => yaml(idp.issuer, pgPort) });
  const dir = mkdtempSync(join(tmpdir(), 'airlock-identity-'));
  configFile = join(dir, 'airlock.yaml');
  const api = stack.gw.addresses.api;
  writeFileSync(configFile, yaml(idp.issuer, stack.pg.port, stack.dataDir));
  env = {
    CLINIC_DB_PASSWORD: stack.dbPassword,
    AIRLOCK_HOME: join(dir, 'home'),
    AIRLOCK_API: `https://127.0.0.1:${api?.port}`,
  };
});

after(async () => {
  await stack?.close();
  await idp?.close();
});

async function connect(password: string): Promise<pg.Client> {
  const c = gatewayClient(stack.port, password);
  await c.connect();
  return c;
}

async function refused(password: string): Promise<{ code?: string; message: string }> {
  const c = gatewayClient(stack.port, password);
  c.on('error', () => {});
  const err = await c.connect().then(
    () => assert.fail('connection should have been refused'),
    (e: { code?: string; message: string }) => e,
  );
  await c.end().catch(() => {});
  return err;
}

/** Resolves with the error that ends a live client (a FATAL from the gateway). */
function endedBy(c: pg.Client): Promise<{ code?: string; message: string }> {
  // pg emits the FATAL first, then "Connection terminated unexpectedly": keep listening.
  return new Promise((resolve) => c.on('error', resolve));
}

/** The ledger's events of a type; waits (bounded) for at least `min` of them to be committed. */
async function events(type: AuditEvent['type'], min = 0): Promise<AuditEvent[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = await stack.gw.ledger.query({ types: [type] });
    if (found.length >= min || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const api = (method: string, path: string, bearer: string, body?: unknown) =>
  apiRequest(stack.gw, method, path, bearer, body);

describe('OIDC identities on the PostgreSQL data path', () => {
  it('accepts a provider-issued ID token as the password, with groups and roles', async () => {
    const jwt = await idp.idToken('alice', CLIENT);
    const c = await connect(jwt);
    const r = await c.query('select count(*)::int as n from patients');
    assert.ok(r.rows[0].n > 0);
    await c.end();
    const ok = (await events('auth.succeeded', 1)).at(-1);
    assert.equal(ok?.actor?.kind, 'oidc');
    assert.equal(ok?.actor?.owner, 'alice@example.com');
    assert.deepEqual(ok?.actor?.groups, ['clinicians']);
    assert.equal(ok?.data.method, 'oidc-jwt');
    assert.equal(ok?.data.issuer, idp.issuer);
    const body = JSON.stringify(await events('auth.succeeded'));
    assert.ok(!body.includes(jwt.split('.')[2] as string), 'the JWT is never recorded');
  });

  it('refuses a user whose groups do not open the connection, before any upstream', async () => {
    const before = (await events('session.started')).length;
    const err = await refused(await idp.idToken('eve', CLIENT));
    assert.equal(err.code, '42501');
    assert.match(err.message, /access to connection "clinic" denied/);
    const denied = (await events('access.denied')).at(-1);
    assert.equal(denied?.actor?.owner, 'eve@example.com');
    assert.equal(denied?.data.reason, 'not in allow_groups');
    assert.equal((await events('session.started')).length, before, 'no session was opened');
  });

  it('records a bad JWT with its reason and never the token', async () => {
    const jwt = await idp.idToken('alice', CLIENT);
    const [h, p, s] = jwt.split('.') as [string, string, string];
    const tampered = `${h}.${p}.${s.slice(0, -4)}AAAA`;
    const err = await refused(tampered);
    assert.equal(err.code, '28000');
    const failed = (await events('auth.failed')).at(-1);
    assert.equal(failed?.data.reason, 'oidc bad signature');
    assert.equal(failed?.data.method, 'oidc-jwt');
    assert.ok(!JSON.stringify(failed).includes(p), 'no part of the token is recorded');
  });
});

describe('agent tokens minted with the owner’s OIDC identity', () => {
  it('mints a token owned by the caller, with groups no wider than theirs', async () => {
    const jwt = await idp.idToken('alice', CLIENT);
    const created = await api('POST', '/v1/tokens', jwt, {
      name: 'claude-code',
      purpose: 'triage reports',
      groups: ['clinicians'],
      ttl_hours: 2,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.owner, 'alice@example.com');
    assert.equal(created.body.ownerProof, 'oidc');
    const c = await connect(created.body.token);
    await c.query('select 1');
    await c.end();
    const wider = await api('POST', '/v1/tokens', jwt, {
      name: 'x',
      purpose: 'y',
      groups: ['platform'],
    });
    assert.equal(wider.status, 403);
    assert.match(wider.body.error.message, /not in group\(s\) platform/);
    const byToken = await api('POST', '/v1/tokens', created.body.token, {
      name: 'x',
      purpose: 'y',
    });
    assert.equal(byToken.status, 403, 'a token cannot mint tokens');
    const unauth = await api('POST', '/v1/tokens', 'not-a-token', { name: 'x', purpose: 'y' });
    assert.equal(unauth.status, 401);
  });

  it('airlock login (PKCE) then token create and login token, as the CLI', async () => {
    const login = spawnCli(['login', '--config', configFile], env);
    const url = await login.waitFor(/(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)/);
    await idp.loginAs(url, 'bob');
    const done = await login.result;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /signed in as bob@example.com/);
    const credFile = join(env.AIRLOCK_HOME as string, 'credentials.json');
    assert.equal(statSync(credFile).mode & 0o777, 0o600);
    const created = await airlockCli(
      [
        'token',
        'create',
        '--config',
        configFile,
        '--name',
        'nightly-ci',
        '--purpose',
        'nightly data checks',
        '--groups',
        'clinicians',
        '--ttl',
        '1h',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^alk_/);
    const listed = await airlockCli(['token', 'list', '--config', configFile, '--json'], env);
    const row = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((t) => t.name === 'nightly-ci');
    assert.equal(row.owner, 'bob@example.com');
    assert.equal(row.purpose, 'nightly data checks');
    assert.equal(row.ownerProof, 'oidc');
    assert.ok(!readFileSync(credFile, 'utf8').includes(token), 'agent tokens are not cached');
    const printed = await airlockCli(['login', 'token', '--config', configFile], env);
    assert.equal(printed.code, 0, printed.stderr);
    const psql = await run(
      'psql',
      [
        '-X',
        '-At',
        '-c',
        'select current_user',
        stack.conninfo({ password: printed.stdout.trim() }),
      ],
      {},
    );
    assert.equal(psql.code, 0, psql.stderr);
    assert.equal(psql.stdout.trim(), 'clinic_app');
  });
});

describe('offboarding', () => {
  it('airlock user disable ends the human’s and their agents’ live sessions within seconds', async () => {
    const jwt = await idp.idToken('alice', CLIENT);
    const minted = await api('POST', '/v1/tokens', jwt, {
      name: 'copilot',
      purpose: 'code review queries',
      groups: ['clinicians'],
    });
    const human = await connect(jwt);
    const agent = await connect(minted.body.token);
    const bystander = await connect(await idp.idToken('bob', CLIENT));
    const humanEnded = endedBy(human);
    const agentEnded = endedBy(agent);
    const t0 = Date.now();
    const r = await airlockCli(
      [
        'user',
        'disable',
        'alice@example.com',
        '--config',
        configFile,
        '--reason',
        'contract ended',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const [h, a] = await Promise.all([humanEnded, agentEnded]);
    const tookMs = Date.now() - t0;
    assert.ok(tookMs < 5000, `sessions ended after ${tookMs} ms`);
    assert.equal(h.code, '57P01');
    assert.match(h.message, /session ended: user disabled/);
    assert.equal(a.code, '57P01');
    assert.match(a.message, /session ended: token (revoked|owner disabled)/);
    assert.equal((await bystander.query('select 1 as one')).rows[0].one, 1, 'others are untouched');
    await bystander.end();

    const again = await refused(await idp.idToken('alice', CLIENT));
    assert.match(again.message, /user disabled/);
    assert.match((await refused(minted.body.token)).message, /token revoked|authentication failed/);

    const disabled = (await events('user.disabled')).at(-1);
    assert.equal(disabled?.data.user, 'alice@example.com');
    assert.equal(disabled?.data.reason, 'contract ended');
    assert.ok((disabled?.data.revokedTokens as string[] | undefined)?.includes(minted.body.id));
    const terminated = await events('session.terminated', 2);
    const owners = terminated.map((e) => `${e.actor?.kind}:${e.actor?.owner}`).sort();
    assert.deepEqual(owners, ['oidc:alice@example.com', 'token:alice@example.com']);
  });

  it('the API disables a user for admins only, and takes effect at once', async () => {
    const bob = await connect(await idp.idToken('bob', CLIENT));
    const bobEnded = endedBy(bob);
    for (const who of ['bob', 'eve'] as const) {
      const jwt = await idp.idToken(who, CLIENT);
      const r = await api('POST', '/v1/users/bob@example.com/disable', jwt);
      assert.equal(r.status, 403, `${who} is not an admin`);
      assert.equal(r.body.error.code, 'GW_AUTH_FORBIDDEN');
    }
    const admin = await idp.idToken('paula', CLIENT);
    const t0 = Date.now();
    const res = await api('POST', '/v1/users/bob%40example.com/disable', admin, { reason: 'left' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const ended = await bobEnded;
    assert.ok(Date.now() - t0 < RECHECK_MS, 'the API ends sessions without waiting for a tick');
    assert.equal(ended.code, '57P01');
    const users = await api('GET', '/v1/users', admin);
    assert.deepEqual(
      users.body.users.map((u: { name: string; disabledAt: number | null }) => u.name).sort(),
      ['alice@example.com', 'bob@example.com'],
    );
    const enabled = await api('POST', '/v1/users/bob@example.com/enable', admin);
    assert.equal(enabled.body.enabled, true);
    const back = await connect(await idp.idToken('bob', CLIENT));
    await back.end();
  });
});
