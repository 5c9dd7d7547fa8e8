import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { findPostgresBinaries, type LocalPostgres, startLocalPostgres } from './local-postgres.ts';

const execFileAsync = promisify(execFile);
const skip = findPostgresBinaries() === undefined && 'PostgreSQL binaries not installed';
const SAMPLE = readFileSync(new URL('./sample-data.sql', import.meta.url), 'utf8');

/** Runs one query through psql with a libpq connection string; resolves trimmed stdout. */
async function psqlAs(pg: LocalPostgres, conninfo: string, password: string, sql: string) {
  const psql = join(pg.binDir, 'psql');
  const { stdout } = await execFileAsync(psql, [conninfo, '-X', '-At', '-c', sql], {
    env: { PATH: process.env.PATH ?? '', PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
  });
  return stdout.trim();
}

function postmasterPid(pg: LocalPostgres): number {
  return Number(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function luhnValid(pan: string): boolean {
  const digits = [...pan].reverse().map(Number);
  const doubled = digits.map((d, i) => (i % 2 === 1 ? (d * 2 > 9 ? d * 2 - 9 : d * 2) : d));
  return doubled.reduce((a, b) => a + b, 0) % 10 === 0;
}

describe('startLocalPostgres', { skip }, () => {
  test('serves the clinic demo over SCRAM and TLS, then cleans up', async () => {
    const logged: string[] = [];
    const started = performance.now();
    const pg = await startLocalPostgres({ log: (line) => logged.push(line) });
    const startMs = performance.now() - started;
    const appPassword = 'clinic-app-pw-7f3a';
    const tcp = `host=${pg.host} port=${pg.port} dbname=clinic user=clinic_app`;
    try {
      assert.equal(pg.host, '127.0.0.1');
      assert.ok(pg.port > 0);
      assert.ok(startMs < 30_000);
      if (process.getuid?.() === 0) assert.notEqual(statSync(pg.dataDir).uid, 0);

      await pg.createRole('clinic_app', appPassword);
      await pg.createDatabase('clinic', 'clinic_app');
      await pg.sql('clinic', `SET ROLE clinic_app;\n${SAMPLE}`);

      const patients = await psqlAs(pg, tcp, appPassword, 'select count(*) from patients');
      assert.ok(Number(patients) > 20, `patients: ${patients}`);
      const visits = await psqlAs(pg, tcp, appPassword, 'select count(*) from visits');
      assert.ok(Number(visits) >= 50, `visits: ${visits}`);
      const pans = await pg.sql('clinic', 'select distinct card_number from billing');
      for (const pan of pans.trim().split('\n')) assert.ok(luhnValid(pan), `not Luhn: ${pan}`);

      // SCRAM is enforced over TCP and over the Unix socket: a wrong password is refused.
      await assert.rejects(psqlAs(pg, tcp, 'wrong', 'select 1'), /password authentication failed/);
      const socket = `host=${pg.dataDir} port=${pg.port} dbname=clinic user=clinic_app`;
      await assert.rejects(psqlAs(pg, socket, 'wrong', 'select 1'), /password authentication/);
      assert.equal(await psqlAs(pg, socket, appPassword, 'select 1'), '1');

      const ssl = await psqlAs(
        pg,
        `sslmode=require ${tcp}`,
        appPassword,
        'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
      );
      assert.equal(ssl, 't');

      const hba = await pg.sql('postgres', 'select distinct auth_method from pg_hba_file_rules');
      assert.equal(hba.trim(), 'scram-sha-256');
    } finally {
      const pid = postmasterPid(pg);
      await pg.stop();
      await pg.stop(); // idempotent
      assert.equal(existsSync(pg.dataDir), false);
      assert.equal(existsSync(dirname(pg.dataDir)), false);
      assert.equal(isAlive(pid), false);
    }
    assert.ok(logged.some((line) => line.includes('ready to accept connections')));
    const secrets = [pg.superPassword, appPassword];
    assert.ok(!logged.some((line) => secrets.some((s) => line.includes(s))), 'password logged');
  });

  test('runs two instances side by side on different ports', async () => {
    const [a, b] = await Promise.all([startLocalPostgres(), startLocalPostgres({ ssl: false })]);
    await using first = a;
    await using second = b;
    assert.notEqual(first.port, second.port);
    assert.notEqual(first.dataDir, second.dataDir);
    assert.equal((await first.sql('postgres', 'show ssl')).trim(), 'on');
    assert.equal((await second.sql('postgres', 'show ssl')).trim(), 'off');
    assert.equal((await first.sql('postgres', 'show port')).trim(), String(first.port));
    assert.equal((await second.sql('postgres', 'show port')).trim(), String(second.port));
  });

  test('reports a taken explicit port with the server log', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      await assert.rejects(startLocalPostgres({ port, ssl: false }), /could not (bind|create)/);
    } finally {
      blocker.close();
    }
  });

  test('sql() rejects with the server error', async () => {
    await using pg = await startLocalPostgres({ ssl: false });
    await assert.rejects(pg.sql('postgres', 'select * from no_such_table'), /no_such_table/);
    await assert.rejects(
      pg.createRole('x', 'y', { superuser: true }).then(() => pg.createRole('x', 'y')),
      /already exists/,
    );
  });
});
