/**
 * Crash safety and shared stores with real processes: kill -9 the gateway under load, and run two
 * gateways against one PostgreSQL ledger.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PostgresStore } from '../../src/audit/postgres-store.ts';
import { SqliteStoreReader } from '../../src/audit/sqlite-reader.ts';
import { type LocalPostgres, startLocalPostgres } from '../../src/demo/local-postgres.ts';
import { airlockCli, gatewayClient, startGatewayProcess } from '../helpers/gateway-process.ts';

let server: LocalPostgres;
const root = mkdtempSync(join(tmpdir(), 'airlock-crash-'));
const DB_PASSWORD = 'clinic-pw';

before(async () => {
  server = await startLocalPostgres({ ssl: false });
  await server.createRole('clinic_app', DB_PASSWORD);
  await server.createDatabase('clinic', 'clinic_app');
  await server.sql('clinic', 'SET ROLE clinic_app; CREATE TABLE load_test(id int PRIMARY KEY);');
  await server.createRole('ledger', 'ledger-pw');
  await server.createDatabase('audit', 'ledger');
});
after(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

function writeConfig(name: string, dataDir: string, store = ''): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(
    file,
    `data_dir: ${dataDir}
listen:
  postgres: 127.0.0.1:0
audit:
  checkpoint_interval_ms: 1000
${store}
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: ${server.port}
    database: clinic
    user: clinic_app
    password: \${env:CLINIC_DB_PASSWORD}
    ssl: disable
`,
  );
  return file;
}

const env = { CLINIC_DB_PASSWORD: DB_PASSWORD };

async function createToken(config: string): Promise<string> {
  const r = await airlockCli(
    [
      'token',
      'create',
      '--config',
      config,
      '--owner',
      'ops@example.com',
      '--name',
      'loader',
      '--purpose',
      'load test',
    ],
    env,
  );
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** Clients inserting distinct ids until told to stop or the connection dies; returns attempts. */
async function load(
  port: number,
  token: string,
  base: number,
  opts: { clients: number; each: number; stop?: () => boolean },
) {
  let attempted = 0;
  await Promise.all(
    Array.from({ length: opts.clients }, async (_, c) => {
      const client = gatewayClient(port, token);
      client.on('error', () => undefined);
      try {
        await client.connect();
        for (let i = 0; i < opts.each && !opts.stop?.(); i++) {
          attempted++;
          await client.query(`INSERT INTO load_test(id) VALUES (${base + c * 100_000 + i})`);
        }
      } catch {
        // The gateway was killed: the remaining statements never ran.
      } finally {
        await client.end().catch(() => undefined);
      }
    }),
  );
  return attempted;
}

function idsOf(texts: string[]): Set<number> {
  const ids = new Set<number>();
  for (const t of texts) {
    const m = /VALUES \((\d+)\)/.exec(t);
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}

async function insertedIds(from: number, to: number): Promise<number[]> {
  const out = await server.sql(
    'clinic',
    `SELECT id FROM load_test WHERE id >= ${from} AND id < ${to} ORDER BY id;`,
  );
  return out.split('\n').filter(Boolean).map(Number);
}

describe('ledger crash safety', () => {
  test('kill -9 under load: the ledger verifies after restart and every executed statement has its event', async () => {
    const dataDir = join(root, 'crash');
    const config = writeConfig('crash', dataDir);
    const token = await createToken(config);
    const gw = await startGatewayProcess(config, env);
    let killed = false;
    const loading = load(gw.port, token, 1_000_000, { clients: 4, each: 5000, stop: () => killed });
    await new Promise((r) => setTimeout(r, 1500));
    gw.child.kill('SIGKILL');
    killed = true;
    const attempted = await loading;
    assert.ok(attempted > 20, `load ran (${attempted} statements attempted)`);

    const again = await startGatewayProcess(config, env);
    await again.stop();
    const verify = await airlockCli(['audit', 'verify', '--config', config], env);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);

    const executed = await insertedIds(1_000_000, 2_000_000);
    assert.ok(executed.length > 0);
    const reader = new SqliteStoreReader(join(dataDir, 'ledger.db'));
    try {
      const requested = await reader.commands({ connection: 'clinic' });
      const recorded = idsOf(
        requested.map((r) => String((r.request.command as { text: string }).text)),
      );
      const missing = executed.filter((id) => !recorded.has(id));
      assert.deepEqual(missing, [], 'statements that reached PostgreSQL without a ledger event');
    } finally {
      await reader.close();
    }
  });

  test('two gateway processes sharing one PostgreSQL ledger produce one verifiable log', async () => {
    const dataDir = join(root, 'shared');
    const store = `  store:
    kind: postgres
    url: postgres://ledger:ledger-pw@127.0.0.1:${server.port}/audit`;
    const a = writeConfig('shared-a', dataDir, store);
    const b = writeConfig('shared-b', dataDir, store);
    const token = await createToken(a);
    const [ga, gb] = await Promise.all([startGatewayProcess(a, env), startGatewayProcess(b, env)]);
    try {
      const [na, nb] = await Promise.all([
        load(ga.port, token, 3_000_000, { clients: 3, each: 150 }),
        load(gb.port, token, 4_000_000, { clients: 3, each: 150 }),
      ]);
      assert.equal(na + nb, 900);
    } finally {
      assert.equal(await ga.stop(), 0);
      assert.equal(await gb.stop(), 0);
    }
    const verify = await airlockCli(['audit', 'verify', '--config', b], env);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const reader = await PostgresStore.open({
      url: `postgres://ledger:ledger-pw@127.0.0.1:${server.port}/audit`,
    });
    try {
      const requested = await reader.commands({ connection: 'clinic', limit: 100_000 });
      const ids = idsOf(requested.map((r) => String((r.request.command as { text: string }).text)));
      assert.equal(ids.size, 900);
      const info = await reader.info();
      const all = await reader.query({});
      assert.deepEqual(
        all.map((e) => e.seq),
        Array.from({ length: info?.head.size ?? 0 }, (_, i) => i + 1),
      );
      const started = await reader.query({ types: ['config.loaded'] });
      assert.equal(started.length, 2);
    } finally {
      await reader.close();
    }
    assert.equal((await insertedIds(3_000_000, 5_000_000)).length, 900);
  });
});
