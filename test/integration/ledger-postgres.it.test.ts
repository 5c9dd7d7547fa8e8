/**
 * The ledger conformance suite against a real PostgreSQL store, plus the property a shared store
 * exists for: two gateway processes appending under load produce one consistent ledger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import {
  auditConfig,
  ledgerConformance,
  type StoreFixture,
} from '../../src/audit/testing/conformance.ts';
import { Secret } from '../../src/config/secret.ts';
import { type LocalPostgres, startLocalPostgres } from '../../src/demo/local-postgres.ts';

let server: LocalPostgres;
const root = mkdtempSync(join(tmpdir(), 'airlock-pg-ledger-'));
let databases = 0;

before(async () => {
  server = await startLocalPostgres({ ssl: false });
  await server.createRole('ledger', 'ledger-pw');
});
after(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

export async function postgresFixture(): Promise<StoreFixture> {
  const name = `ledger_${++databases}`;
  await server.createDatabase(name, 'ledger');
  const url = `postgres://ledger:ledger-pw@${server.host}:${server.port}/${name}`;
  const query = async (sql: string): Promise<Record<string, unknown>[]> => {
    const c = new pg.Client({ connectionString: url, options: '-c search_path=airlock_ledger' });
    await c.connect();
    try {
      await c.query('ALTER TABLE events DISABLE TRIGGER events_append_only');
      const r = await c.query(sql);
      await c.query('ALTER TABLE events ENABLE TRIGGER events_append_only');
      return r.rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };
  return {
    audit: auditConfig({ kind: 'postgres', url: new Secret(url) }),
    dataDir: join(root, name),
    tamper: async (sql) => void (await query(sql)),
    select: query,
  };
}

ledgerConformance('PostgreSQL', postgresFixture);
