/**
 * estimateImpact against a real, throwaway PostgreSQL (TLS, SCRAM): the estimate is sane, nothing
 * is executed, and failures come back as reasons.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type PostgresConnectionConfig, postgresConnectionSchema } from '../config/schema.ts';
import {
  findPostgresBinaries,
  type LocalPostgres,
  startLocalPostgres,
} from '../demo/local-postgres.ts';
import { estimateImpact } from './impact.ts';

const skip = findPostgresBinaries() === undefined && 'PostgreSQL binaries not installed';
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-impact`;

const SETUP = `
SET ROLE impact_app;
CREATE TABLE patients (id int PRIMARY KEY, name text NOT NULL, ward int NOT NULL);
INSERT INTO patients SELECT g, 'p' || g, g % 10 FROM generate_series(1, 1000) g;
CREATE TABLE archive (id int PRIMARY KEY, name text);
ANALYZE patients;
ANALYZE archive;
`;

function connection(
  pg: LocalPostgres,
  over: Record<string, unknown> = {},
): PostgresConnectionConfig {
  return postgresConnectionSchema.parse({
    name: 'clinic',
    type: 'postgres',
    host: pg.host,
    port: pg.port,
    database: 'impact',
    user: 'impact_app',
    password: PASSWORD,
    ssl: 'require',
    ...over,
  });
}

const stmt = (text: string, params: (string | null)[] | null = null) => ({ text, params });

describe('estimateImpact', { skip }, () => {
  let pg: LocalPostgres;
  let conn: PostgresConnectionConfig;

  before(async () => {
    pg = await startLocalPostgres({ ssl: true });
    await pg.createRole('impact_app', PASSWORD);
    await pg.createDatabase('impact', 'impact_app');
    await pg.sql('impact', SETUP);
    conn = connection(pg);
  });
  after(() => pg?.stop());

  const count = async () =>
    Number((await pg.sql('impact', 'SELECT count(*) FROM patients')).match(/\d+/)?.[0]);

  it('estimates a DELETE without running it', async () => {
    const impact = await estimateImpact(conn, stmt('DELETE FROM patients WHERE id < 100'));
    assert.equal(impact.ok, true, JSON.stringify(impact));
    if (!impact.ok) return;
    assert.ok(impact.estimatedRows >= 50 && impact.estimatedRows <= 200, `${impact.estimatedRows}`);
    assert.equal(impact.plan, 'Delete on patients');
    assert.deepEqual(impact.tables, ['patients']);
    assert.equal(await count(), 1000);
  });

  it('estimates a parameterised UPDATE through the extended protocol', async () => {
    const impact = await estimateImpact(
      conn,
      stmt('UPDATE patients SET name = $1 WHERE ward = $2', ['x', '3']),
    );
    assert.equal(impact.ok, true, JSON.stringify(impact));
    if (!impact.ok) return;
    assert.equal(impact.plan, 'Update on patients');
    assert.ok(impact.estimatedRows >= 50 && impact.estimatedRows <= 200, `${impact.estimatedRows}`);
    const names = await pg.sql('impact', "SELECT count(*) FROM patients WHERE name = 'x'");
    assert.match(names, /^\s*0\s*$/m);
  });

  it('estimates INSERT ... SELECT, a whole-table SELECT and a DELETE inside WITH', async () => {
    const insert = await estimateImpact(
      conn,
      stmt('INSERT INTO archive SELECT id, name FROM patients WHERE ward = 1'),
    );
    assert.ok(insert.ok, JSON.stringify(insert));
    assert.equal(insert.plan, 'Insert on archive');
    assert.deepEqual(insert.tables, ['archive', 'patients']);
    assert.ok(insert.estimatedRows >= 50 && insert.estimatedRows <= 200);

    const merge = await estimateImpact(
      conn,
      stmt(
        'MERGE INTO archive a USING patients p ON a.id = p.id ' +
          'WHEN NOT MATCHED THEN INSERT VALUES (p.id, p.name)',
      ),
    );
    assert.ok(merge.ok, JSON.stringify(merge));
    assert.equal(merge.plan, 'Merge on archive');

    const select = await estimateImpact(conn, stmt('SELECT * FROM public.patients'));
    assert.ok(select.ok, JSON.stringify(select));
    assert.equal(select.plan, 'Seq Scan on patients');
    assert.equal(select.estimatedRows, 1000);
    assert.deepEqual(select.tables, ['public.patients']);

    const cte = await estimateImpact(
      conn,
      stmt('WITH d AS (DELETE FROM patients WHERE id <= 500 RETURNING id) SELECT count(*) FROM d'),
    );
    assert.ok(cte.ok, JSON.stringify(cte));
    assert.equal(cte.plan, 'Delete on patients');
    assert.ok(cte.estimatedRows >= 300 && cte.estimatedRows <= 700, `${cte.estimatedRows}`);
    assert.equal(await count(), 1000);
  });

  it('verifies the server with verify-full and a CA file', async () => {
    const verified = connection(pg, {
      ssl: 'verify-full',
      ssl_ca_file: join(pg.dataDir, 'server.crt'),
    });
    const impact = await estimateImpact(verified, stmt('DELETE FROM patients WHERE id < 10'));
    assert.ok(impact.ok, JSON.stringify(impact));
    const unverified = await estimateImpact(
      connection(pg, { ssl: 'verify-full' }),
      stmt('DELETE FROM patients WHERE id < 10'),
    );
    assert.equal(unverified.ok, false);
  });

  it('refuses DDL, several statements and other commands without connecting', async () => {
    const nowhere = connection(pg, { port: 1 });
    for (const text of [
      'DROP TABLE patients',
      'CREATE TABLE t (id int)',
      'TRUNCATE patients',
      'DELETE FROM patients; DROP TABLE patients',
      'COPY patients TO STDOUT',
      'EXPLAIN ANALYZE DELETE FROM patients',
      'SELECT * INTO patients_copy FROM patients',
      'VACUUM patients',
      'not sql at all',
      '',
    ]) {
      assert.deepEqual(
        await estimateImpact(nowhere, stmt(text)),
        {
          ok: false,
          reason: 'not estimable',
        },
        text,
      );
    }
    assert.equal(await count(), 1000);
    assert.match(await pg.sql('impact', 'SELECT count(*) FROM archive'), /^\s*0\s*$/m);
  });

  it('gives the server error as the reason, without the password', async () => {
    const impact = await estimateImpact(conn, stmt(`DELETE FROM "${PASSWORD}" WHERE id = 1`));
    assert.equal(impact.ok, false);
    if (impact.ok) return;
    assert.match(impact.reason, /relation "\[redacted\]" does not exist/);
    assert.equal(impact.reason.includes(PASSWORD), false);
  });

  it('reports a wrong password without echoing it', async () => {
    const wrong = `${PASSWORD}-wrong`;
    const impact = await estimateImpact(connection(pg, { password: wrong }), stmt('SELECT 1'));
    assert.equal(impact.ok, false);
    if (impact.ok) return;
    assert.match(impact.reason, /password authentication failed/);
    assert.equal(impact.reason.includes(wrong), false);
    assert.ok(impact.reason.length <= 200);
  });

  it('fails promptly on a closed port', async () => {
    const t0 = Date.now();
    const impact = await estimateImpact(
      connection(pg, { port: await closedPort() }),
      stmt('SELECT 1'),
      {
        timeoutMs: 1000,
      },
    );
    assert.equal(impact.ok, false);
    assert.ok(Date.now() - t0 < 1500);
  });

  it('gives up at the timeout when the server never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => sockets.add(s));
    await listen(silent);
    try {
      const port = (silent.address() as { port: number }).port;
      const t0 = Date.now();
      const impact = await estimateImpact(
        connection(pg, { port, ssl: 'disable' }),
        stmt('SELECT 1'),
        {
          timeoutMs: 300,
        },
      );
      const took = Date.now() - t0;
      assert.equal(impact.ok, false);
      assert.ok(took >= 250 && took < 1500, `took ${took} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await listen(s);
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}
