/**
 * `npm run bench:ledger`: durable appends per second on each store (embedded SQLite with
 * synchronous=FULL group commit, and PostgreSQL with synchronous_commit=on), with many concurrent
 * appenders as a busy gateway has; then the time to verify a ledger of 1,000,000 events (in
 * parallel chunks, one worker thread per core).
 *
 * Env: BENCH_SECONDS (5), BENCH_APPENDERS (512), BENCH_VERIFY_EVENTS (1000000).
 * Everything is local (a throwaway PostgreSQL on 127.0.0.1) and stops by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadOrCreateSigningKey } from '../src/audit/checkpoint.ts';
import { prepareEvent } from '../src/audit/event-codec.ts';
import { latestCheckpointPath } from '../src/audit/latest-checkpoint.ts';
import { localPublicKey, openLedger, verifyStore } from '../src/audit/open.ts';
import { SqliteStoreWriter } from '../src/audit/sqlite-store.ts';
import { auditConfig } from '../src/audit/testing/conformance.ts';
import type { AuditEventInput } from '../src/audit/types.ts';
import { Secret } from '../src/config/secret.ts';
import { startLocalPostgres } from '../src/demo/local-postgres.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const APPENDERS = Number(process.env.BENCH_APPENDERS ?? 512);
const VERIFY_EVENTS = Number(process.env.BENCH_VERIFY_EVENTS ?? 1_000_000);
const root = mkdtempSync(join(tmpdir(), 'airlock-bench-ledger-'));

/** A realistic statement record: actor, session, SQL text, parsed tables, decision. */
function event(i: number): AuditEventInput {
  return {
    type: 'command.requested',
    sessionId: `s-${i % 64}`,
    connection: 'clinic',
    commandId: `c-${i}`,
    clientAddr: '10.1.2.3:51234',
    actor: { kind: 'token', identity: 'ci-agent', owner: 'olivia@example.com', tokenId: 'tok1' },
    data: {
      decision: 'allow',
      command: {
        kind: 'sql',
        protocol: 'extended',
        text: 'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2',
        params: [
          { format: 'text', value: String(i % 5000), bytes: 4 },
          { format: 'text', value: String(i), bytes: 6 },
        ],
      },
      statements: [
        { kind: 'UPDATE', tables: [{ schema: null, name: 'pgbench_accounts', access: 'write' }] },
      ],
    },
  };
}

async function appendRate(label: string, audit: ReturnType<typeof auditConfig>): Promise<number> {
  const dataDir = join(root, label);
  const ledger = await openLedger({ audit, dataDir, checkpointIntervalMs: 1000, background: true });
  let n = 0;
  let stop = false;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: APPENDERS }, async () => {
      while (!stop) {
        await ledger.append(event(n++));
        if (performance.now() > deadline) stop = true;
      }
    }),
  );
  const end = performance.now();
  const rate = n / ((end - start) / 1000);
  const s = ledger.stats();
  // The embedded store's events are durable in its journal when acknowledged, and queryable once
  // folded into its tables: a read folds whatever is left, so this is how far indexing lagged.
  await ledger.query({ limit: 1 });
  const lagMs = performance.now() - end;
  await ledger.close();
  const key = localPublicKey(audit, dataDir);
  const ok = key ? (await verifyStore(audit, dataDir, [key])).ok : false;
  console.log(
    `${label.padEnd(28)} ${Math.round(rate).toString().padStart(8)} events/s durable  (${s.transactions} commits, ${Math.round(s.events / Math.max(1, s.transactions))} events/commit, queryable ${lagMs.toFixed(0)} ms after the last append, verifies: ${ok})`,
  );
  return rate;
}

/** Fills a ledger with `count` events fast (large transactions, synchronous=NORMAL). */
function fill(dataDir: string, count: number): void {
  const keyFile = join(dataDir, 'keys', 'ledger-signing-key.pem');
  const writer = new SqliteStoreWriter(join(dataDir, 'ledger.db'), {
    sync: 'normal',
    busyTimeoutMs: 5000,
    signer: loadOrCreateSigningKey(keyFile),
    latestCheckpointFile: latestCheckpointPath(keyFile),
  });
  const batch = 20_000;
  for (let i = 0; i < count; i += batch) {
    const items = [];
    for (let j = i; j < Math.min(count, i + batch); j++) {
      items.push(prepareEvent({ ...event(j), time: Date.now() }));
    }
    if (i + batch >= count) items.push({ checkpoint: true as const, time: Date.now() });
    writer.write(items);
    writer.fold();
  }
  writer.close();
}

async function verifyTime(): Promise<number> {
  const dataDir = join(root, 'verify');
  const audit = auditConfig({ kind: 'sqlite' });
  const t0 = performance.now();
  fill(dataDir, VERIFY_EVENTS - 1);
  console.log(
    `filled ${VERIFY_EVENTS} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const key = localPublicKey(audit, dataDir);
  if (key === undefined) throw new Error('no key');
  const t1 = performance.now();
  const r = await verifyStore(audit, dataDir, [key]);
  const seconds = (performance.now() - t1) / 1000;
  if (!r.ok) throw new Error(`verification failed: ${JSON.stringify(r)}`);
  console.log(
    `verify ${r.events} events (${r.checkpoints} checkpoint)  ${seconds.toFixed(2)} s  (${Math.round(r.events / seconds)} events/s, ${Math.min(availableParallelism(), 8)} worker threads)  target < 10 s`,
  );
  return seconds;
}

async function main(): Promise<void> {
  console.log(
    `bench:ledger on ${cpus().length} cores, ${APPENDERS} concurrent appenders, ${SECONDS} s per store`,
  );
  await appendRate('embedded SQLite (FULL)', auditConfig({ kind: 'sqlite' }));
  await appendRate('embedded SQLite (NORMAL)', auditConfig({ kind: 'sqlite' }, { sync: 'normal' }));
  const pg = await startLocalPostgres({ ssl: false });
  try {
    await pg.createRole('ledger', 'bench-pw');
    await pg.createDatabase('audit', 'ledger');
    const url = `postgres://ledger:bench-pw@${pg.host}:${pg.port}/audit`;
    await appendRate(
      'PostgreSQL (sync commit)',
      auditConfig({ kind: 'postgres', url: new Secret(url) }),
    );
  } finally {
    await pg.stop();
  }
  await verifyTime();
}

try {
  await main();
} finally {
  rmSync(root, { recursive: true, force: true });
}
