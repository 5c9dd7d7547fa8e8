/**
 * The leak test: known sensitive values (the sample data's SSNs, card numbers and e-mails, plus
 * an AWS access key and a GitHub token planted in visit notes) must not appear anywhere an agent
 * or an auditor can read them: client output (rows, COPY, errors, notices, notifications), the
 * ledger file read raw, `airlock audit export` (jsonl and OCSF), and the gateway's logs.
 *
 * Values the agent types itself (a literal in a WHERE clause, a bound parameter) reach the
 * server from the client, and psql may print its own input back; those are checked in everything
 * the gateway writes (ledger, exports, logs) and in what the server sends back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/telemetry/logger.ts';
import { run, type Stack, startStack } from '../helpers/stack.ts';

const AWS_KEY = 'AKIAQ3EGTNXMR7ZP4HWK';
const GITHUB_TOKEN = 'ghp_R2x9KqT7vLmN4pZ8sW1yB6cD3fG5hJ0kE9aQ';
process.env.AIRLOCK_LEAK_SALT = 'leak-test-salt-0123456789abcdef';

const yaml = ({ pgPort }: { pgPort: number }) => `
listen:
  postgres: 127.0.0.1:0
audit:
  sync: normal
masking:
  salt: \${env:AIRLOCK_LEAK_SALT}
  rules:
    - name: identifiers
      columns: ['patients.ssn', 'patients.email', 'billing.card_number']
    - name: pii
      types: [us_ssn, email, credit_card]
      style: hash
    - name: secrets
      types: [aws_access_key, aws_secret_key, github_token, gitlab_token, slack_token, private_key, jwt]
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

let stack: Stack;
const logs: string[] = [];
let seeded: string[] = [];
/** Everything the agent's clients received from the gateway (never the agent's own input). */
const received: string[] = [];

before(async () => {
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  stack = await startStack({ yaml, logger });
  await stack.pg.sql(
    'clinic',
    `UPDATE visits SET notes = notes || ' Portal key ${AWS_KEY} rotated.' WHERE id = 3;
     UPDATE visits SET notes = notes || ' CI token ${GITHUB_TOKEN} expires soon.' WHERE id = 4;
     CREATE UNIQUE INDEX patients_ssn_key ON patients (ssn);
     ALTER TABLE patients ADD CONSTRAINT first_name_short CHECK (length(first_name) < 40);`,
  );
  const col = async (sql: string) => (await stack.pg.sql('clinic', sql)).trim().split('\n');
  seeded = [
    ...(await col('SELECT ssn FROM patients')),
    ...(await col('SELECT email FROM patients')),
    ...(await col('SELECT DISTINCT card_number FROM billing')),
    AWS_KEY,
    GITHUB_TOKEN,
  ];
  assert.equal(seeded.length, 25 + 25 + 12 + 2);
});
after(async () => {
  await stack?.close();
});

function leaks(text: string): string[] {
  return seeded.filter((v) => text.includes(v));
}

function assertClean(text: string, where: string): void {
  const found = leaks(text);
  assert.deepEqual(
    found.map((v) => `${v.slice(0, 4)}…`),
    [],
    `${where} contains ${found.length} seeded values`,
  );
}

async function psqlReceived(args: string[]): Promise<string> {
  const r = await stack.psql(['-X', ...args]);
  const out = `${r.stdout}\n${r.stderr}`;
  received.push(out);
  return out;
}

/** `binary: true` asks for binary results (node-postgres supports it; its types omit it). */
const binaryQuery = (text: string, values: unknown[]) =>
  ({ text, values, binary: true }) as pg.QueryConfig;

async function withPg<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: stack.port,
    database: 'clinic',
    user: 'agent',
    password: stack.token,
    ssl: { rejectUnauthorized: false },
  });
  c.on('notice', (n) => received.push(JSON.stringify({ ...n, message: n.message })));
  c.on('notification', (n) => received.push(JSON.stringify(n)));
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A server error as the client sees it: every field, message included. */
async function pgError(c: pg.Client, text: string, values?: unknown[]): Promise<string> {
  const err = await c.query(text, values).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err, `${text} should fail`);
  const seen = JSON.stringify({ ...err, message: err.message });
  received.push(seen);
  return seen;
}

describe('agent queries through a masked connection', () => {
  it('psql reads every sensitive table, joins them, and COPYs them out', async () => {
    const out = await psqlReceived([
      '-c',
      'SELECT * FROM patients',
      '-c',
      'SELECT * FROM visits',
      '-c',
      'SELECT * FROM billing',
      '-c',
      'SELECT p.*, b.*, v.notes FROM patients p JOIN billing b ON b.patient_id = p.id JOIN visits v ON v.patient_id = p.id',
      '-c',
      "SELECT first_name || ' ' || ssn || ' ' || email AS card, notes FROM patients, visits WHERE visits.patient_id = patients.id",
      '-c',
      'COPY patients TO STDOUT',
      '-c',
      'COPY visits TO STDOUT WITH (FORMAT csv, HEADER)',
      '-c',
      '\\copy billing TO STDOUT CSV',
      '-c',
      'COPY (SELECT notes FROM visits) TO STDOUT',
    ]);
    assert.match(out, /\*\*\*\*/, 'masked values are there');
    assert.match(out, /tok_[0-9a-f]{24}/);
    assert.ok(out.includes('Portal key ****'), 'the AWS key is masked inside the note');
  });

  it('psql: errors, notices and notifications from the server that echo values', async () => {
    const cases = [
      'SELECT ssn::int FROM patients',
      'SELECT email::int FROM patients WHERE id = 2',
      'SELECT card_number::int FROM billing LIMIT 1',
      'SELECT notes::int FROM visits WHERE id = 3',
      "INSERT INTO patients (mrn, first_name, last_name, date_of_birth, ssn) SELECT 'MRN-dup', 'A', 'B', '2000-01-01', ssn FROM patients WHERE id = 1",
      "UPDATE patients SET first_name = repeat('x', 50) WHERE id = 1",
      "DO $$ BEGIN RAISE NOTICE 'patient % at %', (SELECT ssn FROM patients WHERE id = 5), (SELECT email FROM patients WHERE id = 5); END $$",
      "DO $$ BEGIN RAISE EXCEPTION 'bad note: %', (SELECT notes FROM visits WHERE id = 4); END $$",
    ];
    for (const sql of cases) {
      const out = await psqlReceived(['-c', sql]);
      assert.match(out, /ERROR|NOTICE/, sql);
    }
    const notify = await psqlReceived([
      '-c',
      'LISTEN leak',
      '-c',
      "SELECT pg_notify('leak', (SELECT email || ' ' || ssn FROM patients WHERE id = 6))",
    ]);
    assert.match(notify, /Asynchronous notification "leak" with payload/);
    const dup = received.find((r) => r.includes('already exists')) ?? '';
    assert.match(dup, /Key \(ssn\)=\(\*\*\*\*\) already exists/);
    assert.ok(received.some((r) => r.includes('Failing row contains (****)')));
  });

  it('pg: simple and extended, text and binary, errors, notices and notifications', async () => {
    await withPg(async (c) => {
      for (const sql of [
        'SELECT * FROM patients',
        'SELECT * FROM visits',
        'SELECT * FROM billing',
      ]) {
        received.push(JSON.stringify((await c.query(sql)).rows));
        const bin = await c.query(binaryQuery(`${sql} WHERE id > $1`, [0]));
        received.push(JSON.stringify(bin.rows.map((r) => Object.values(r).map(String))));
      }
      const prepared = await c.query({
        name: 'by-patient',
        text: 'SELECT v.notes, p.ssn, p.email FROM visits v JOIN patients p ON p.id = v.patient_id WHERE v.id = $1',
        values: [3],
      });
      received.push(JSON.stringify(prepared.rows));
      assert.match(prepared.rows[0].notes, /Portal key \*\*\*\*/);
      await pgError(c, 'SELECT ssn::int FROM patients');
      await pgError(c, 'SELECT (SELECT notes FROM visits WHERE id = 4)::int');
      const dup = await pgError(
        c,
        "INSERT INTO patients (mrn, first_name, last_name, date_of_birth, ssn) SELECT 'MRN-dup2', 'A', 'B', '2000-01-01', ssn FROM patients WHERE id = 2",
      );
      assert.match(dup, /Key \(ssn\)=\(\*\*\*\*\)/);
      await c.query(
        "DO $$ BEGIN RAISE NOTICE 'card %', (SELECT card_number FROM billing LIMIT 1); END $$",
      );
      await c.query('LISTEN leak2');
      await c.query("SELECT pg_notify('leak2', (SELECT email FROM patients WHERE id = 7))");
      await new Promise((r) => setTimeout(r, 100));
    });
  });

  it('values the agent types itself are kept out of the ledger and logs, and out of server echoes', async () => {
    const [ssn, , email] = [seeded[0] as string, seeded[1] as string, seeded[25] as string];
    await psqlReceived(['-c', `SELECT 1/0 FROM patients WHERE ssn = '${ssn}' /* own-literal */`]);
    await stack.psql(['-c', `SELEC '${email}'`]);
    await withPg(async (c) => {
      const r = await c.query('SELECT id FROM patients WHERE ssn = $1 OR email = $2', [ssn, email]);
      assert.equal(r.rows.length, 1);
      const echoed = await pgError(c, 'SELECT $1::int', [ssn]);
      assert.match(echoed, /invalid input syntax for type integer: \\"tok_/);
      await pgError(c, `SELECT '${AWS_KEY}'::int`);
    });
  });
});

describe('nothing leaked', () => {
  it('into what the clients received', () => {
    assert.ok(received.length > 10);
    assertClean(received.join('\n'), 'client output');
  });

  it('into the ledger file, read raw', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const commands = await stack.gw.ledger.commands({ limit: 10_000 });
    const own = commands.find((c) =>
      String((c.request.command as { text?: string }).text).includes('own-literal'),
    );
    assert.ok(own, 'the statement with the literal was recorded');
    assert.match(String((own.request.command as { text?: string }).text), /\[masked:us_ssn\]/);
    const params = commands.flatMap(
      (c) => (c.request.command as { params?: { value: string }[] }).params ?? [],
    );
    assert.ok(
      params.some((p) => p.value === '[masked:us_ssn]'),
      'bound parameters redacted',
    );
    const masked = await stack.gw.ledger.query({ types: ['data.masked'], limit: 10_000 });
    assert.ok(masked.length >= 10, 'data.masked recorded');
    let raw = '';
    for (const f of ['ledger.db', 'ledger.db-wal']) {
      try {
        raw += readFileSync(join(stack.dataDir, f)).toString('latin1');
      } catch {
        // no WAL file
      }
    }
    assert.ok(raw.length > 10_000);
    assertClean(raw, 'ledger.db');
  });

  it('into airlock audit export (jsonl and OCSF)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-leak-'));
    try {
      const cfg = join(dir, 'airlock.yaml');
      writeFileSync(cfg, `data_dir: ${stack.dataDir}\n`);
      const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;
      for (const format of ['jsonl', 'ocsf']) {
        const out = join(dir, `export.${format}`);
        const r = await run(process.execPath, [
          cli,
          'audit',
          'export',
          '--config',
          cfg,
          '--format',
          format,
          '--since',
          '1h',
          '--out',
          out,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const text = readFileSync(out, 'utf8');
        assert.match(text, /data\.masked|Mask/);
        assertClean(text + r.stdout + r.stderr, `${format} export`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('into the gateway logs', () => {
    assert.ok(logs.length > 0);
    assertClean(logs.join('\n'), 'gateway logs');
  });
});
