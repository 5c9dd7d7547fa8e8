/**
 * Inline masking end to end: real PostgreSQL with the sample clinic data, psql and pg through the
 * gateway, the catalog naming columns behind aliases, binary results, COPY, a large streamed
 * result, `data.masked` in the ledger, exempt groups, and the fail-closed paths.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { AuditEvent } from '../../src/audit/types.ts';
import { maskHash } from '../../src/masking/styles.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const SALT = 'masking-it-salt-0123456789abcdef';
process.env.AIRLOCK_IT_MASKING_SALT = SALT;

const yaml = ({ pgPort }: { pgPort: number }) => {
  const conn = (name: string) => `  - name: ${name}
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: clinic
    user: clinic_app
    password: \${env:CLINIC_DB_PASSWORD}
    ssl: require
`;
  return `
listen:
  postgres: 127.0.0.1:0
audit:
  sync: normal
masking:
  salt: \${env:AIRLOCK_IT_MASKING_SALT}
  rules:
    - name: ssn
      columns: ['patients.ssn']
      exempt_groups: [clinicians-with-need]
    - name: cards
      columns: ['billing.card_number']
      style: last4
      exempt_groups: [clinicians-with-need]
    - name: dob-strict
      connections: [clinic_strict]
      columns: ['patients.date_of_birth']
      on_error: fail
    - name: dob-lenient
      connections: [clinic_lenient]
      columns: ['patients.date_of_birth']
    - name: emails
      types: [email]
      style: hash
      exempt_groups: [clinicians-with-need]
    - name: ssn-anywhere
      types: [us_ssn]
      exempt_groups: [clinicians-with-need]
connections:
${conn('clinic')}${conn('clinic_strict')}${conn('clinic_lenient')}`;
};

let stack: Stack;
let ssns: string[];
let emails: string[];
let cards: string[];

before(async () => {
  stack = await startStack({ yaml });
  ssns = (await stack.pg.sql('clinic', 'SELECT ssn FROM patients ORDER BY id')).trim().split('\n');
  emails = (await stack.pg.sql('clinic', 'SELECT email FROM patients ORDER BY id'))
    .trim()
    .split('\n');
  cards = (await stack.pg.sql('clinic', 'SELECT DISTINCT card_number FROM billing'))
    .trim()
    .split('\n');
  assert.equal(ssns.length, 25);
});
after(async () => {
  await stack?.close();
});

/** `binary: true` asks for binary results (node-postgres supports it; its types omit it). */
const binaryQuery = (text: string, values: unknown[]) =>
  ({ text, values, binary: true }) as pg.QueryConfig;

function client(extra: Partial<pg.ClientConfig> = {}, token = stack.token): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: stack.port,
    database: 'clinic',
    user: 'agent',
    password: token,
    ssl: { rejectUnauthorized: false },
    ...extra,
  });
}

async function withClient<T>(
  fn: (c: pg.Client) => Promise<T>,
  extra: Partial<pg.ClientConfig> = {},
  token?: string,
): Promise<T> {
  const c = client(extra, token);
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function psql(sql: string, extra: string[] = []) {
  const r = await stack.psql(['-At', ...extra, '-c', sql]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

function assertNoneOf(text: string, values: readonly string[], what: string): void {
  for (const v of values) assert.ok(!text.includes(v), `${what} leaked ${v.slice(0, 3)}…`);
}

async function maskedEvents(): Promise<AuditEvent[]> {
  await new Promise((r) => setTimeout(r, 150));
  return stack.gw.ledger.query({ types: ['data.masked'], limit: 10_000 });
}

describe('column rules', () => {
  it('masks patients.ssn in full, card numbers to their last four, emails by type', async () => {
    const rows = await psql('SELECT id, ssn, email FROM patients ORDER BY id LIMIT 3');
    for (const [i, row] of rows.entries()) {
      const [id, ssn, email] = row.split('|');
      assert.equal(id, String(i + 1));
      assert.equal(ssn, '****');
      assert.equal(email, maskHash(emails[i] as string, Buffer.from(SALT)));
    }
    const billed = await psql('SELECT DISTINCT card_number FROM billing');
    for (const c of billed) assert.match(c, /^\*{11,12}\d{4}$/);
    assert.deepEqual(
      new Set(billed.map((c) => c.slice(-4))),
      new Set(cards.map((c) => c.slice(-4))),
    );
    assertNoneOf(rows.join('\n') + billed.join('\n'), [...ssns, ...emails, ...cards], 'psql');
  });

  it('hash tokens are deterministic, so joins and GROUP BY still work on masked data', async () => {
    const a = await psql('SELECT email FROM patients WHERE id = 4');
    const b = await psql('SELECT email FROM patients WHERE id = 4 AND true');
    assert.deepEqual(a, b);
    assert.match(a[0] ?? '', /^tok_[0-9a-f]{24}$/);
  });

  it('is not fooled by aliases, joins, subqueries, CTEs or views', async () => {
    await stack.pg.sql(
      'clinic',
      'CREATE OR REPLACE VIEW patient_ids AS SELECT id, ssn FROM patients',
    );
    await stack.pg.sql('clinic', 'GRANT SELECT ON patient_ids TO clinic_app');
    const queries = [
      'SELECT ssn AS x FROM patients',
      'SELECT p.ssn FROM patients p JOIN visits v ON v.patient_id = p.id',
      'SELECT s.z FROM (SELECT ssn AS z FROM patients) s',
      'WITH t AS (SELECT ssn FROM patients) SELECT ssn FROM t',
    ];
    for (const q of queries) {
      const out = await psql(q);
      assert.ok(out.length > 0 && out.every((v) => v === '****'), `${q}: ${out[0]}`);
    }
  });

  it('computed columns are caught by detector types (us_ssn), not by column rules', async () => {
    const out = await psql("SELECT ssn || '' AS s, upper(ssn) FROM patients ORDER BY id");
    assertNoneOf(out.join('\n'), ssns, 'computed column');
    assert.equal(out[0], '****|****');
  });
});

describe('extended protocol', () => {
  it('masks text, binary text and binary jsonb results with pg', async () => {
    await withClient(async (c) => {
      const text = await c.query('SELECT id, ssn, email FROM patients WHERE id = $1', [2]);
      assert.equal(text.rows[0].ssn, '****');
      assert.match(text.rows[0].email, /^tok_/);
      const bin = await c.query(
        binaryQuery(
          'SELECT id, ssn, email, jsonb_build_object($$e$$, email) AS doc, date_of_birth FROM patients WHERE id = $1',
          [2],
        ),
      );
      const row = bin.rows[0];
      assert.equal(row.id, 2);
      assert.equal(String(row.ssn), '****');
      assert.match(String(row.email), /^tok_/);
      const doc = Buffer.isBuffer(row.doc)
        ? row.doc.subarray(1).toString()
        : JSON.stringify(row.doc);
      assert.match(doc, /tok_[0-9a-f]{24}/);
      assertNoneOf(
        JSON.stringify(bin.rows) + doc,
        [ssns[1] as string, emails[1] as string],
        'binary',
      );
      assert.ok(row.date_of_birth, 'unmasked binary columns pass');
    });
  });

  it('masks a prepared statement executed many times, and rows fetched in pages', async () => {
    await withClient(async (c) => {
      for (let i = 1; i <= 3; i++) {
        const r = await c.query({
          name: 'by-id',
          text: 'SELECT ssn FROM patients WHERE id = $1',
          values: [i],
        });
        assert.equal(r.rows[0].ssn, '****');
      }
      await c.query('BEGIN');
      await c.query('DECLARE cur CURSOR FOR SELECT ssn, email FROM patients ORDER BY id');
      const page = await c.query('FETCH 5 FROM cur');
      assert.equal(page.rows.length, 5);
      assert.ok(page.rows.every((r) => r.ssn === '****' && /^tok_/.test(r.email)));
      await c.query('COMMIT');
    });
  });
});

describe('COPY TO STDOUT', () => {
  it('masks text COPY of a table, mapping fields through its columns', async () => {
    const r = await stack.psql(['-c', 'COPY patients (id, ssn, email, phone) TO STDOUT']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 25);
    assert.match(lines[0] ?? '', /^1\t\*\*\*\*\ttok_[0-9a-f]{24}\t\(\d{3}\) 555-01\d\d$/);
    assertNoneOf(r.stdout, [...ssns, ...emails], 'COPY');
  });

  it('masks \\copy … CSV HEADER and keeps the header row', async () => {
    const r = await stack.psql([
      '-c',
      '\\copy billing (id, card_number) TO STDOUT WITH CSV HEADER',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'id,card_number');
    assert.match(lines[1] ?? '', /^1,"\*+\d{4}"$/);
    assertNoneOf(r.stdout, cards, 'CSV COPY');
  });

  it('masks binary COPY field by field in the binary send format', async () => {
    const r = await stack.psql(['-c', 'COPY patients (id, ssn, email) TO STDOUT (FORMAT binary)']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith('PGCOPY\n'));
    assert.ok(r.stdout.includes('****'));
    assert.match(r.stdout, /tok_[0-9a-f]{24}/);
    assertNoneOf(r.stdout, [...ssns, ...emails], 'binary COPY');
  });

  it('COPY (query) over a table with column rules masks every field (fail closed)', async () => {
    const r = await stack.psql(['-c', 'COPY (SELECT id, ssn FROM patients) TO STDOUT']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.split('\n')[0] ?? '', /^\*\*\*\*\t\*\*\*\*$/);
    const plain = await stack.psql([
      '-c',
      'COPY (SELECT id, department FROM visits LIMIT 1) TO STDOUT',
    ]);
    assert.match(plain.stdout, /^\d+\t\w/, 'queries over other tables pass');
  });
});

describe('streaming', () => {
  it('streams a 50k-row masked result: rows arrive before the query ends, memory stays bounded', async () => {
    await withClient(async (c) => {
      const pad = 'x'.repeat(1000);
      const sql = `SELECT i, 'user' || i || '@example.com' AS email, '${pad}' AS pad
        FROM generate_series(1, 50000) AS i
        UNION ALL SELECT 0, 'late@example.com', pg_sleep(1.5)::text`;
      const started = performance.now();
      let firstRowAt = 0;
      let rows = 0;
      let masked = 0;
      let peak = 0;
      global.gc?.();
      const base = process.memoryUsage().heapUsed;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().heapUsed - base);
      }, 5);
      const q = c.query(new pg.Query(sql));
      q.on('row', (row: { email: string }) => {
        rows++;
        if (rows === 1) firstRowAt = performance.now();
        if (row.email.startsWith('tok_')) masked++;
      });
      await new Promise<void>((resolve, reject) => {
        q.on('end', () => resolve());
        q.on('error', reject);
      });
      clearInterval(sampler);
      const total = performance.now() - started;
      assert.equal(rows, 50_001);
      assert.equal(masked, 50_001);
      assert.ok(
        firstRowAt - started < total - 1000,
        `first row at ${firstRowAt - started} ms of ${total} ms`,
      );
      const resultBytes = 50_000 * 1050;
      assert.ok(
        peak < resultBytes / 2,
        `heap grew by ${(peak / 1e6).toFixed(1)} MB for a ${(resultBytes / 1e6).toFixed(0)} MB result`,
      );
    });
  });
});

describe('audit', () => {
  it('records one data.masked per command with policy version and counts, never a value', async () => {
    const rows = await psql('SELECT ssn, email FROM patients ORDER BY id /* masked-audit */');
    assert.equal(rows.length, 25);
    const events = await maskedEvents();
    const commands = await stack.gw.ledger.commands({ limit: 10_000 });
    const cmd = commands.find((c) =>
      String((c.request.command as { text?: string }).text).includes('masked-audit'),
    );
    assert.ok(cmd);
    const mine = events.filter((e) => e.commandId === cmd.commandId);
    assert.equal(mine.length, 1);
    const ev = mine[0] as AuditEvent;
    assert.equal(ev.connection, 'clinic');
    assert.equal(ev.sessionId, cmd.sessionId);
    assert.match(String(ev.data.policyVersion), /^mv_[0-9a-f]{16}$/);
    assert.equal(ev.data.values, 50);
    assert.equal(ev.data.rows, 25);
    assert.deepEqual(ev.data.columns, [
      { column: 'public.patients.ssn', rule: 'ssn', style: 'full', values: 25 },
      { column: 'public.patients.email', rule: 'emails', style: 'hash', values: 25 },
    ]);
    assert.deepEqual(ev.data.types, [{ type: 'email', rule: 'emails', findings: 25 }]);
    assertNoneOf(JSON.stringify(mine), [...ssns, ...emails], 'data.masked');
    const loaded = await stack.gw.ledger.query({ types: ['config.loaded'] });
    assert.equal(
      (loaded.at(-1)?.data.masking as { policyVersion?: string } | undefined)?.policyVersion,
      ev.data.policyVersion,
    );
  });

  it('records no data.masked when nothing was masked', async () => {
    const before = (await maskedEvents()).length;
    await psql('SELECT id, department FROM visits LIMIT 2');
    assert.equal((await maskedEvents()).length, before);
  });
});

describe('exempt groups', () => {
  it('members of clinicians-with-need see clear values', async () => {
    const { token } = stack.gw.tokens.create({
      owner: 'dr.rosa@example.com',
      name: 'clinician-agent',
      groups: ['clinicians-with-need'],
      purpose: 'care',
      ttlMs: 3_600_000,
    });
    await withClient(
      async (c) => {
        const r = await c.query('SELECT ssn, email FROM patients ORDER BY id LIMIT 2');
        assert.equal(r.rows[0].ssn, ssns[0]);
        assert.equal(r.rows[0].email, emails[0]);
      },
      {},
      token,
    );
  });
});

describe('fail closed', () => {
  it('a value its column type cannot hold becomes NULL with on_error: mask', async () => {
    await withClient(
      async (c) => {
        const r = await c.query('SELECT id, date_of_birth FROM patients ORDER BY id LIMIT 2');
        assert.equal(r.rows[0].date_of_birth, null);
        assert.equal(r.rows[0].id, 1);
      },
      { database: 'clinic_lenient' },
    );
  });

  it('ends the session with GW_MASKING_FAILED with on_error: fail, and records it', async () => {
    const err = await withClient(
      (c) =>
        c.query('SELECT id, date_of_birth FROM patients ORDER BY id /* strict */').then(
          () => assert.fail('masked value delivered'),
          (e: { code?: string; message: string; hint?: string }) => e,
        ),
      { database: 'clinic_strict' },
    );
    assert.equal(err.code, '08006');
    assert.match(
      err.message,
      /masking failed for column public\.patients\.date_of_birth \(rule dob-strict\)/,
    );
    assert.match(String(err.hint), /GW_MASKING_FAILED/);
    const failed = (await maskedEvents()).filter((e) => e.data.failed);
    assert.ok(failed.some((e) => (e.data.failed as { rule: string }).rule === 'dob-strict'));
    await withClient(
      async (c) => {
        const r = await c.query('SELECT id FROM patients WHERE id = 1');
        assert.equal(r.rows[0].id, 1, 'other statements on the connection still work');
      },
      { database: 'clinic_strict' },
    );
  });

  it('sees renamed columns after DDL in the session (the catalog cache is emptied)', async () => {
    await withClient(async (c) => {
      const before = await c.query('SELECT phone FROM patients WHERE id = 1');
      assert.match(before.rows[0].phone, /555/, 'phone is not masked, and its name is now cached');
      await c.query('ALTER TABLE patients RENAME COLUMN ssn TO ssn_old');
      await c.query('ALTER TABLE patients RENAME COLUMN phone TO ssn');
      try {
        const after = await c.query('SELECT ssn FROM patients WHERE id = 1');
        assert.equal(after.rows[0].ssn, '****', 'the old phone column is now patients.ssn');
      } finally {
        await c.query('ALTER TABLE patients RENAME COLUMN ssn TO phone');
        await c.query('ALTER TABLE patients RENAME COLUMN ssn_old TO ssn');
      }
      const again = await c.query('SELECT ssn AS x, phone FROM patients WHERE id = 1');
      assert.equal(again.rows[0].x, '****');
      assert.match(again.rows[0].phone, /555/);
    });
  });
});
