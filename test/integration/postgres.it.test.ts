/**
 * The PostgreSQL data path end to end: real PostgreSQL 15 (SCRAM), real clients (psql, pg,
 * pgbench), the gateway in between, and the audit ledger checked after each step.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import pg from 'pg';
import type { CommandRecord } from '../../src/audit/types.ts';
import { encodePassword, encodeStartup } from '../../src/protocols/postgres/codec/serializer.ts';
import { run, type Stack, startStack } from '../helpers/stack.ts';

let stack: Stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

async function commands(filter: { text?: string } = {}): Promise<CommandRecord[]> {
  // closing records are written without waiting; give the group commit a moment
  await new Promise((r) => setTimeout(r, 100));
  const all = await stack.gw.ledger.commands({ limit: 10_000 });
  return filter.text ? all.filter((c) => textOf(c).includes(filter.text as string)) : all;
}

const errorCode = (c: CommandRecord | undefined): string | undefined =>
  (c?.outcome?.error as { code?: string } | undefined)?.code;

const textOf = (c: CommandRecord): string =>
  String((c.request.command as { text?: string })?.text ?? '');

function client(extra: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: stack.port,
    database: 'clinic',
    user: 'agent',
    password: stack.token,
    ssl: { rejectUnauthorized: false },
    ...extra,
  });
}

describe('psql through the gateway', () => {
  it('queries the sample data over TLS and the statement is audited with identity and owner', async () => {
    const r = await stack.psql([
      '-At',
      '-c',
      'SELECT count(*) FROM patients WHERE id > 0 /* psql-count */',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Number(r.stdout.trim()) >= 20);
    const [rec] = await commands({ text: 'psql-count' });
    assert.ok(rec, 'statement recorded');
    assert.equal(rec.connection, 'clinic');
    assert.equal(rec.actor?.identity, 'ci-agent');
    assert.equal(rec.actor?.owner, 'olivia.owner@example.com');
    assert.match(rec.clientAddr ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(rec.outcome?.outcome, 'ok');
    assert.deepEqual(rec.outcome?.tags, ['SELECT 1']);
    assert.equal(rec.outcome?.rows, 1);
  });

  it('records a multi-statement query with every tag, and an error in the middle', async () => {
    const r = await stack.psql([
      '-c',
      'SELECT 1 /* multi */; SELECT 2; SELECT * FROM no_such_table; SELECT 3',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no_such_table/);
    const [rec] = await commands({ text: '/* multi */' });
    assert.equal(rec?.outcome?.outcome, 'error');
    assert.deepEqual(rec?.outcome?.tags, ['SELECT 1', 'SELECT 1']);
    assert.equal(errorCode(rec), '42P01');
  });

  it('passes application_name through to the ledger and upstream', async () => {
    const r = await stack.psql(
      ['-At', '-c', 'SELECT current_setting($$application_name$$) /* appname */'],
      {
        env: { PGAPPNAME: 'copilot-agent' },
      },
    );
    assert.equal(r.stdout.trim(), 'copilot-agent');
    const started = await stack.gw.ledger.query({ types: ['session.started'] });
    assert.ok(started.some((e) => e.data.applicationName === 'copilot-agent'));
  });

  it('runs COPY FROM STDIN and COPY TO STDOUT', async () => {
    const input = 'id,code\n1,alpha\n2,beta\n3,gamma\n';
    const r = await stack.psql(
      [
        '-q',
        '-c',
        'CREATE TEMP TABLE t(id int, code text)',
        '-c',
        '\\copy t FROM STDIN WITH (FORMAT csv, HEADER)',
        '-c',
        'COPY (SELECT * FROM t ORDER BY id) TO STDOUT',
      ],
      { input },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1\talpha\n2\tbeta\n3\tgamma\n');
    const recs = await commands({ text: 'COPY' });
    assert.ok(recs.some((c) => (c.outcome?.tags as string[] | undefined)?.includes('COPY 3')));
  });

  it('cancels a running statement with Ctrl-C (CancelRequest mapped upstream)', async () => {
    const { spawn } = await import('node:child_process');
    const psql = spawn('psql', [
      '-X',
      '-d',
      stack.conninfo(),
      '-c',
      'SELECT pg_sleep(30) /* cancel-me */',
    ]);
    let stderr = '';
    psql.stderr.on('data', (d) => {
      stderr += d;
    });
    await new Promise((r) => setTimeout(r, 1500));
    psql.kill('SIGINT');
    await new Promise((r) => psql.once('close', r));
    const r = { stderr };
    assert.match(r.stderr, /canceling statement due to user request/);
    const [rec] = await commands({ text: 'cancel-me' });
    assert.equal(errorCode(rec), '57014');
  });
});

describe('authentication', () => {
  it('refuses a bad token with 28000 and records the failure without the token', async () => {
    const r = await stack.psql(['-c', 'SELECT 1'], {});
    assert.equal(r.code, 0);
    const bad = await run('psql', [
      '-X',
      '-d',
      stack.conninfo({ password: 'alk_aaaaaaaaaaaa_notavalidsecret' }),
      '-c',
      'SELECT 1',
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /authentication failed/);
    const failed = await stack.gw.ledger.query({ types: ['auth.failed'] });
    assert.ok(failed.length > 0);
    assert.ok(!JSON.stringify(failed).includes('notavalidsecret'));
  });

  it('refuses revoked and expired tokens', async () => {
    const { token, record } = stack.gw.tokens.create({
      owner: 'x@example.com',
      name: 'short',
      groups: [],
      purpose: 'integration tests',
      ttlMs: 60_000,
    });
    const ok = await run('psql', [
      '-X',
      '-At',
      '-d',
      stack.conninfo({ password: token }),
      '-c',
      'SELECT 1',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    stack.gw.tokens.revoke(record.id);
    const revoked = await run('psql', [
      '-X',
      '-d',
      stack.conninfo({ password: token }),
      '-c',
      'SELECT 1',
    ]);
    assert.notEqual(revoked.code, 0);
    assert.match(revoked.stderr, /token revoked/);
    const expired = stack.gw.tokens.create({
      owner: 'x@example.com',
      name: 'stale',
      groups: [],
      purpose: 'integration tests',
      ttlMs: 1000,
      now: Date.now() - 60_000,
    });
    const late = await run('psql', [
      '-X',
      '-d',
      stack.conninfo({ password: expired.token }),
      '-c',
      'SELECT 1',
    ]);
    assert.notEqual(late.code, 0);
    assert.match(late.stderr, /token expired/);
    const failed = await stack.gw.ledger.query({ types: ['auth.failed'] });
    assert.ok(
      failed.some((e) => e.data.reason === 'token revoked' && e.data.tokenId === record.id),
    );
    assert.ok(
      failed.some((e) => e.data.reason === 'token expired' && e.data.tokenId === expired.record.id),
    );
  });

  it('requires TLS for a cleartext token, with a clear message', async () => {
    const r = await run('psql', [
      '-X',
      '-d',
      stack.conninfo({ sslmode: 'disable' }),
      '-c',
      'SELECT 1',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /TLS/);
  });

  it('authenticates with SCRAM-SHA-256 when the user is the token id (no TLS, token never sent)', async () => {
    const id = stack.token.split('_')[1] as string;
    const r = await run('psql', [
      '-X',
      '-At',
      '-d',
      stack.conninfo({ sslmode: 'disable', user: id }),
      '-c',
      'SELECT 42',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '42');
    const c = client({ ssl: false, user: id });
    await c.connect();
    assert.equal((await c.query('SELECT 7 AS n')).rows[0].n, 7);
    await c.end();
  });

  it('does not say whether a connection exists before authentication', async () => {
    const r = await run('psql', [
      '-X',
      '-d',
      stack.conninfo({ dbname: 'nope', password: 'bad' }),
      '-c',
      'SELECT 1',
    ]);
    assert.match(r.stderr, /authentication failed/);
    const ok = await run('psql', [
      '-X',
      '-d',
      stack.conninfo({ dbname: 'nope' }),
      '-c',
      'SELECT 1',
    ]);
    assert.match(ok.stderr, /connection "nope" does not exist/);
  });
});

describe('node-postgres through the gateway', () => {
  it('runs prepared statements and records their bound parameters', async () => {
    const c = client();
    await c.connect();
    try {
      const q = {
        name: 'by-mrn',
        text: 'SELECT first_name FROM patients WHERE mrn = $1 /* prep */',
        values: ['MRN-000000'],
      };
      await c.query(q);
      await c.query({ ...q, values: ['MRN-999999'] });
      const res = await c.query('SELECT $1::int + $2::int AS sum /* unnamed */', [2, 3]);
      assert.equal(res.rows[0].sum, 5);
    } finally {
      await c.end();
    }
    const recs = await commands({ text: '/* prep */' });
    assert.equal(recs.length, 2);
    assert.deepEqual(
      recs.map((r) =>
        (r.request.command as { params: { value: string }[] }).params.map((p) => p.value),
      ),
      [['MRN-000000'], ['MRN-999999']],
    );
    assert.equal(
      (recs[0]?.request.command as { statementName?: string } | undefined)?.statementName,
      'by-mrn',
    );
    const [sum] = await commands({ text: '/* unnamed */' });
    assert.equal(sum?.outcome?.rows, 1);
  });

  it('keeps the session usable after an error in the middle of a pipeline', async () => {
    const c = client();
    await c.connect();
    try {
      const results = await Promise.allSettled([
        c.query('SELECT $1::int AS a /* pipe-1 */', [1]),
        c.query('SELECT $1::int / 0 AS b /* pipe-2 */', [1]),
        c.query('SELECT $1::text AS c /* pipe-3 */', ['x']),
      ]);
      assert.equal(results[0].status, 'fulfilled');
      assert.equal(results[1].status, 'rejected');
      assert.equal(results[2].status, 'fulfilled');
      const r = await c.query('SELECT 1 AS ok');
      assert.equal(r.rows[0].ok, 1);
    } finally {
      await c.end();
    }
    const [two] = await commands({ text: 'pipe-2' });
    assert.equal(two?.outcome?.outcome, 'error');
    assert.equal(errorCode(two), '22012');
  });

  it('handles a transaction with writes and reports rows affected', async () => {
    const c = client();
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('CREATE TEMP TABLE w(id int)');
      const ins = await c.query(
        'INSERT INTO w SELECT generate_series(1, $1::int) /* insert-many */',
        [25],
      );
      assert.equal(ins.rowCount, 25);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    const [rec] = await commands({ text: 'insert-many' });
    assert.deepEqual(rec?.outcome?.tags, ['INSERT 0 25']);
  });

  it('relays a large result (50,000 rows, over 5 MB) and records its size', async () => {
    const c = client();
    await c.connect();
    try {
      const r = await c.query(
        "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 50000) g /* big */",
      );
      assert.equal(r.rowCount, 50000);
    } finally {
      await c.end();
    }
    const [rec] = await commands({ text: '/* big */' });
    assert.equal(rec?.outcome?.rows, 50000);
    assert.ok(Number(rec?.outcome?.bytes) > 5_000_000);
  });
});

describe('pgbench through the gateway', () => {
  it('initialises with COPY, then runs simple and prepared select-only workloads', async () => {
    const env = { PGPASSWORD: stack.token, PGSSLMODE: 'require' };
    const base = ['-h', '127.0.0.1', '-p', String(stack.port), '-U', 'agent'];
    const init = await run('pgbench', [...base, '-i', '-s', '1', '-q', 'clinic'], { env });
    assert.equal(init.code, 0, init.stderr);
    for (const mode of ['simple', 'prepared']) {
      const r = await run(
        'pgbench',
        [...base, '-n', '-S', '-c', '4', '-t', '50', '-M', mode, 'clinic'],
        { env },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /number of transactions actually processed: 200\/200/);
    }
    const selects = await commands({ text: 'pgbench_accounts WHERE aid' });
    assert.ok(selects.length >= 400, `audited ${selects.length} pgbench statements`);
  });
});

describe('malformed clients', () => {
  it('ends an authenticated session that sends a malformed message with 08P01, others unaffected', async () => {
    const other = client();
    await other.connect();
    try {
      const reply = await authenticatedExchange(Buffer.from([0x51, 0x00, 0x00, 0x00, 0x02]));
      assert.match(reply, /08P01/);
      assert.match(reply, /invalid message length/);
      assert.equal(
        (await other.query('SELECT 1 AS ok')).rows[0].ok,
        1,
        'a concurrent session survives',
      );
    } finally {
      await other.end();
    }
  });

  it('answers non-PostgreSQL bytes and an unauthenticated startup with clear errors', async () => {
    const garbage = await rawExchange((s) => s.write(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
    assert.match(garbage, /08P01/);
    const plain = await rawExchange((s) =>
      s.write(
        encodeStartup({
          type: 'StartupMessage',
          protocolVersion: 196608,
          parameters: { user: 'x', database: 'clinic' },
        }),
      ),
    );
    assert.match(plain, /28000/);
    assert.match(plain, /TLS/);
    const r = await stack.psql(['-At', '-c', 'SELECT 1']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('rejects an oversized message from an authenticated client with 08P01', async () => {
    const c = client();
    await c.connect();
    c.on('error', () => {});
    const big = 'x'.repeat(70 * 1024 * 1024);
    await assert.rejects(c.query(`SELECT '${big}'`), (err: { code?: string; message: string }) => {
      assert.equal(err.code, '08P01');
      assert.match(err.message, /exceeds the \d+-byte limit/);
      return true;
    });
    await c.end().catch(() => {});
    const r = await stack.psql(['-At', '-c', 'SELECT 1']);
    assert.equal(r.code, 0);
  });
});

/** TLS + token login by hand, then `payload` once the session is ready; resolves with all replies. */
function authenticatedExchange(payload: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const raw = connect({ host: '127.0.0.1', port: stack.port });
    raw.on('error', reject);
    raw.once('connect', () => raw.write(encodeStartup({ type: 'SSLRequest' })));
    raw.once('data', (answer) => {
      assert.equal(answer.toString(), 'S');
      const s = tlsConnect({ socket: raw, rejectUnauthorized: false }, () => {
        s.write(
          encodeStartup({
            type: 'StartupMessage',
            protocolVersion: 196608,
            parameters: { user: 'agent', database: 'clinic' },
          }),
        );
      });
      let data = '';
      let sent = false;
      s.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        if (d[0] === 0x52 && d.readInt32BE(5) === 3) s.write(encodePassword(stack.token));
        if (!sent && data.includes('Z\x00\x00\x00\x05I')) {
          sent = true;
          data = '';
          s.write(payload);
        }
      });
      s.on('error', () => {});
      s.on('close', () => resolve(data));
      setTimeout(() => s.destroy(), 5000);
    });
  });
}

function rawExchange(send: (s: import('node:net').Socket) => void): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: stack.port });
    let data = '';
    s.on('data', (d) => {
      data += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => resolve(data));
    s.once('connect', () => send(s));
    setTimeout(() => s.destroy(), 5000);
  });
}

describe('fail closed', () => {
  it('refuses statements with 57P03 while the ledger cannot write, then recovers', async () => {
    const { renameSync } = await import('node:fs');
    const { join } = await import('node:path');
    const c = client();
    await c.connect();
    try {
      assert.equal((await c.query('SELECT 1 AS ok')).rows[0].ok, 1);
      const db = join(stack.dataDir, 'ledger.db');
      renameSync(db, `${db}.moved`);
      const err = await c.query('SELECT 2 /* must-not-run */').then(
        () => assert.fail('statement ran without an audit record'),
        (e: { code?: string; message: string }) => e,
      );
      assert.equal(err.code, '57P03');
      assert.match(err.message, /audit ledger unavailable/);
      renameSync(`${db}.moved`, db);
      let recovered = false;
      for (let i = 0; i < 50 && !recovered; i++) {
        await new Promise((r) => setTimeout(r, 200));
        recovered = await c.query('SELECT 3 AS ok /* after-recovery */').then(
          () => true,
          () => false,
        );
      }
      assert.ok(recovered, 'the session stays usable and recovers with the ledger');
    } finally {
      await c.end();
    }
    assert.equal((await commands({ text: 'must-not-run' })).length, 0);
    assert.equal((await commands({ text: 'after-recovery' })).at(-1)?.outcome?.outcome, 'ok');
  });
});

describe('auditor questions through the CLI', () => {
  it('"who changed table patients, and was it approved?" then show-session, export, offline verify', async () => {
    const r = await stack.psql([
      '-c',
      'UPDATE patients SET phone = phone WHERE id = 1 /* auditor-q */',
    ]);
    assert.equal(r.code, 0, r.stderr);
    await commands();
    const { mkdtempSync, writeFileSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'airlock-auditor-'));
    const cfg = join(dir, 'airlock.yaml');
    writeFileSync(cfg, `data_dir: ${stack.dataDir}\n`);
    const cli = (args: string[]) =>
      run(process.execPath, [new URL('../../src/cli/main.ts', import.meta.url).pathname, ...args]);

    const q = await cli([
      'audit',
      'query',
      '--config',
      cfg,
      '--table',
      'patients',
      '--access',
      'write',
      '--since',
      '1h',
      '--json',
    ]);
    assert.equal(q.code, 0, q.stderr);
    const rows = q.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as CommandRecord);
    const mine = rows.find((x) => textOf(x).includes('auditor-q'));
    assert.ok(mine, 'the UPDATE is found by table and access');
    assert.equal(mine.actor?.owner, 'olivia.owner@example.com');
    assert.equal(mine.request.decision, 'allow');
    assert.equal(mine.approval, null);
    assert.deepEqual((mine.request.statements as { tables: unknown }[])[0]?.tables, [
      { schema: null, name: 'patients', access: 'write' },
    ]);
    assert.ok(
      rows.every((x) => !textOf(x).startsWith('SELECT count')),
      'reads are not writes',
    );

    const show = await cli(['audit', 'show-session', String(mine.sessionId), '--config', cfg]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /session\.started/);
    assert.match(show.stdout, /command\.requested .*auditor-q/);

    const out = join(dir, 'export.ocsf.jsonl');
    const ex = await cli([
      'audit',
      'export',
      '--config',
      cfg,
      '--format',
      'ocsf',
      '--since',
      '1h',
      '--out',
      out,
    ]);
    assert.equal(ex.code, 0, ex.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    const header = JSON.parse(lines[0] ?? '{}').airlock_export;
    assert.equal(header.ocsfVersion, '1.3.0');
    const update = lines
      .map((l) => JSON.parse(l))
      .find((l) => l.class_uid === 6005 && JSON.stringify(l).includes('auditor-q'));
    assert.ok(update, 'the UPDATE is an OCSF Datastore Activity');
    assert.ok(!readFileSync(out, 'utf8').includes(stack.token), 'no token in the export');

    const pub = await cli(['audit', 'pubkey', '--config', cfg]);
    assert.match(pub.stdout, /BEGIN PUBLIC KEY/);
    writeFileSync(join(dir, 'ledger.pub'), pub.stdout);
    const ok = await cli([
      'audit',
      'verify',
      '--from-export',
      out,
      '--pubkey',
      join(dir, 'ledger.pub'),
    ]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    writeFileSync(out, lines.map((l) => l.replaceAll('auditor-q', 'auditor-x')).join('\n'));
    const bad = await cli([
      'audit',
      'verify',
      '--from-export',
      out,
      '--pubkey',
      join(dir, 'ledger.pub'),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAILED at seq \d+: altered/);

    const whole = await cli(['audit', 'verify', '--config', cfg]);
    assert.equal(whole.code, 0, whole.stdout + whole.stderr);
  });
});
