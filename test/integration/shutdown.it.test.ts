/**
 * Stopping the gateway: every session whose start is in the ledger has its end there too once
 * `close()` resolves, including sessions that are not live yet (still opening their upstream).
 * The upstream here is a TCP server that accepts and never answers, so no database is needed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SqliteStoreReader } from '../../src/audit/sqlite-reader.ts';
import { parseConfig } from '../../src/config/loader.ts';
import { startGateway } from '../../src/server/gateway.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

let silent: Server;
const held: Socket[] = [];
const work = mkdtempSync(join(tmpdir(), 'airlock-shutdown-'));

before(async () => {
  silent = createServer((s) => void held.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
});

after(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => silent.close(r));
  rmSync(work, { recursive: true, force: true });
});

function yaml(dataDir: string, upstreamPort: number): string {
  const conn = (name: string, timeoutMs: number) => `
  - name: ${name}
    type: postgres
    host: 127.0.0.1
    port: ${upstreamPort}
    database: clinic
    user: app
    password: unused
    ssl: disable
    connect_timeout_ms: ${timeoutMs}`;
  return `
data_dir: ${dataDir}
listen:
  postgres: 127.0.0.1:0
audit:
  sync: normal
connections:${conn('slow', 1000)}${conn('stuck', 60_000)}
`;
}

describe('gateway shutdown', () => {
  it('appends session.ended for every started session before the ledger closes', async () => {
    const dataDir = join(work, 'data');
    const logged: string[] = [];
    const logger = createLogger({ level: 'warn', write: (line) => void logged.push(line) });
    const port = (silent.address() as { port: number }).port;
    const gw = await startGateway(parseConfig(yaml(dataDir, port), 'test'), { logger });
    const { token, record } = gw.tokens.create({
      owner: 'olivia@example.com',
      name: 'ci-agent',
      groups: [],
      purpose: 'shutdown test',
      ttlMs: 3_600_000,
    });
    const clients = ['slow', 'stuck'].map((database) => {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: gw.addresses.postgres?.port,
        user: record.id, // SCRAM with the token: no TLS needed
        password: token,
        database,
      });
      c.on('error', () => {});
      void c.connect().catch(() => {});
      return c;
    });
    const deadline = Date.now() + 10_000;
    while ((await gw.ledger.query({ types: ['session.started'] })).length < 2) {
      assert.ok(Date.now() < deadline, 'both sessions started');
      await new Promise((r) => setTimeout(r, 25));
    }

    await gw.close(); // both sessions are still waiting for their upstream

    const reader = new SqliteStoreReader(join(dataDir, 'ledger.db'));
    try {
      const events = await reader.query({ types: ['session.started', 'session.ended'] });
      const ended = (connection: string) =>
        events.find((e) => e.type === 'session.ended' && e.connection === connection);
      assert.equal(events.filter((e) => e.type === 'session.started').length, 2);
      assert.match(String(ended('slow')?.data.reason), /^upstream failed: GW_/);
      assert.equal(ended('stuck')?.data.reason, 'gateway stopped');
    } finally {
      await reader.close();
    }
    assert.deepEqual(
      logged.filter((l) => l.includes('audit append failed')),
      [],
      'nothing was appended after the ledger closed',
    );
    for (const c of clients) await c.end().catch(() => {});
  });
});
