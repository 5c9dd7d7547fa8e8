import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayError } from '../errors.ts';
import { Ledger } from './ledger.ts';
import { localPublicKey, type OpenLedgerOptions, openLedger, verifyStore } from './open.ts';
import type { LedgerItem, LedgerReader, LedgerWriterPort, WriteResults } from './store.ts';
import {
  auditConfig,
  isUnavailable,
  ledgerConformance,
  type StoreFixture,
} from './testing/conformance.ts';
import type { AuditEventInput } from './types.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-ledger-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${++dirs}`);
const fast = { initial: 20, max: 40 } as const;
const audit = auditConfig({ kind: 'sqlite' });

function sqliteFixture(dataDir = freshDir()): StoreFixture {
  const path = join(dataDir, 'ledger.db');
  const withDb = <T>(body: (db: DatabaseSync) => T): T => {
    const db = new DatabaseSync(path);
    try {
      return body(db);
    } finally {
      db.close();
    }
  };
  return {
    audit,
    dataDir,
    tamper: async (sql) =>
      withDb((db) => {
        db.exec('DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete');
        db.exec(sql);
      }),
    select: async (sql) => withDb((db) => db.prepare(sql).all()),
  };
}

ledgerConformance('embedded SQLite', async () => sqliteFixture());

const open = (dataDir: string, testing: OpenLedgerOptions['testing'] = {}, extra = {}) =>
  openLedger({
    audit,
    dataDir,
    checkpointIntervalMs: 0,
    testing: { restartBackoffMs: fast, ...testing },
    ...extra,
  });

/** Retries until an append succeeds, proving the ledger recovered (bounded, so it cannot hang). */
async function appendEventually(ledger: Ledger, e: AuditEventInput): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await ledger.append(e);
    } catch (err) {
      if (!isUnavailable(err) || Date.now() > deadline) throw err;
      await sleep(10);
    }
  }
}

async function verifies(dataDir: string): Promise<void> {
  const key = localPublicKey(audit, dataDir);
  assert.ok(key);
  const r = await verifyStore(audit, dataDir, [key]);
  assert.ok(r.ok, JSON.stringify(r));
}

describe('embedded store failures', () => {
  test('the append-only triggers refuse UPDATE and DELETE', async () => {
    const dataDir = freshDir();
    const ledger = await open(dataDir);
    await ledger.append({ type: 'session.started' });
    await ledger.close();
    const db = new DatabaseSync(join(dataDir, 'ledger.db'));
    assert.throws(() => db.exec("UPDATE events SET type = 'x' WHERE seq = 1"), /append-only/);
    assert.throws(() => db.exec('DELETE FROM events'), /append-only/);
    db.close();
  });

  test('fails closed when the ledger cannot be opened, then recovers', async () => {
    const parent = freshDir();
    writeFileSync(parent, 'not a directory');
    await using ledger = await open(join(parent, 'data'));
    const started = Date.now();
    const results = await Promise.allSettled([
      ledger.append({ type: 'session.started' }),
      ledger.append({ type: 'session.started' }),
    ]);
    for (const r of results) assert.ok(r.status === 'rejected' && isUnavailable(r.reason));
    await assert.rejects(ledger.append({ type: 'session.started' }), isUnavailable);
    assert.ok(Date.now() - started < 3000);
    assert.equal(ledger.healthy(), false);
    rmSync(parent);
    mkdirSync(parent);
    assert.equal(await appendEventually(ledger, { type: 'session.started' }), 1);
    assert.equal(ledger.healthy(), true);
  });

  test('an outage is recorded with the number of refused appends once the store is back', async () => {
    const dataDir = freshDir();
    await using ledger = await open(dataDir);
    assert.equal(await ledger.append({ type: 'session.started' }), 1);
    renameSync(dataDir, `${dataDir}.moved`);
    writeFileSync(dataDir, 'not a directory');
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => ledger.append({ type: 'command.requested' })),
    );
    for (const r of results) assert.ok(r.status === 'rejected' && isUnavailable(r.reason));
    assert.equal(ledger.healthy(), false);
    rmSync(dataDir);
    renameSync(`${dataDir}.moved`, dataDir);
    assert.equal(await appendEventually(ledger, { type: 'session.ended' }), 2);
    await sleep(30);
    const outage = await ledger.query({ types: ['audit.outage.ended'] });
    assert.equal(outage.length, 1);
    assert.ok(Number(outage[0]?.data.refused) >= 5);
    await ledger.close();
    await verifies(dataDir);
  });

  test('fails closed when another process holds the write lock too long', async () => {
    const dataDir = freshDir();
    await using ledger = await open(dataDir, { busyTimeoutMs: 100 });
    await ledger.append({ type: 'session.started' });
    // Appends take the journals' lock (sqlite-journal.ts), not the tables'.
    const blocker = new DatabaseSync(join(dataDir, 'ledger.db-lock'));
    blocker.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    await assert.rejects(ledger.append({ type: 'command.requested' }), (err: unknown) => {
      assert.ok(isUnavailable(err));
      assert.match(String(((err as GatewayError).cause as Error).message), /locked|busy/i);
      return true;
    });
    assert.ok(Date.now() - started < 3000);
    blocker.exec('ROLLBACK');
    blocker.close();
    assert.equal(await appendEventually(ledger, { type: 'command.requested' }), 2);
  });

  test('fails closed when the writer dies mid-transaction, then restarts it', async () => {
    const dataDir = freshDir();
    const ledger = await open(dataDir, { crashOnTransaction: 2 });
    assert.equal(await ledger.append({ type: 'session.started' }), 1);
    const lost = await Promise.allSettled([
      ledger.append({ type: 'command.requested' }),
      ledger.append({ type: 'command.requested' }),
    ]);
    for (const r of lost) assert.ok(r.status === 'rejected' && isUnavailable(r.reason));
    assert.equal(await appendEventually(ledger, { type: 'session.ended' }), 2);
    await ledger.close();
    await verifies(dataDir);
  });

  test('appendLater reports failures to onError without the event content', async () => {
    const errors: GatewayError[] = [];
    const dataDir = freshDir();
    const ledger = await open(dataDir, {}, { onError: (e: GatewayError) => errors.push(e) });
    ledger.appendLater({ type: 'session.ended', data: { secret: 'sekrit-value' } });
    ledger.appendLater({ type: 'session.ended', data: { bad: 1n, secret: 'sekrit-value' } });
    await ledger.close();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, 'GW_AUDIT_UNAVAILABLE');
    assert.doesNotMatch(String((errors[0]?.cause as Error | undefined)?.message), /sekrit/);
    await verifies(dataDir);
  });

  test('a CLI process exits promptly after appending, even without close()', () => {
    const dataDir = freshDir();
    const script = `
      import { openLedger } from ${JSON.stringify(new URL('./open.ts', import.meta.url).href)};
      import { auditConfig } from ${JSON.stringify(new URL('./testing/conformance.ts', import.meta.url).href)};
      const ledger = await openLedger({ audit: auditConfig({ kind: 'sqlite' }), dataDir: ${JSON.stringify(dataDir)} });
      console.log(await ledger.append({ type: 'token.created', data: { tokenId: 't1' } }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1');
  });
});

describe('the background folder (a gateway)', () => {
  /** The nice value of each of this process's threads, from /proc. */
  const niceValues = (): number[] =>
    readdirSync('/proc/self/task').flatMap((tid) => {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
      } catch {
        return []; // the thread ended meanwhile
      }
    });

  test('folds in a thread of lower CPU priority; a query sees every acknowledged event', async () => {
    const dataDir = freshDir();
    const before = niceValues().filter((n) => n === 10).length;
    const ledger = await open(dataDir, {}, { background: true });
    const seqs = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        ledger.append({ type: 'token.created', data: { tokenId: `t${i}` } }),
      ),
    );
    assert.equal(Math.max(...seqs), 40);
    assert.equal((await ledger.query({ types: ['token.created'], limit: 100 })).length, 40);
    if (process.platform === 'linux') {
      assert.equal(
        niceValues().filter((n) => n === 10).length,
        before + 1,
        'one folder thread at nice 10',
      );
    }
    await ledger.close();
    await verifies(dataDir);
  });
});

/** A port that holds each write until the test settles it, in order. */
function heldPort(maxInFlight?: number) {
  const writes: { items: readonly LedgerItem[]; settle: PromiseWithResolvers<WriteResults> }[] = [];
  let next = 1;
  const port: LedgerWriterPort = {
    ...(maxInFlight === undefined ? {} : { maxInFlight }),
    write(items) {
      const settle = Promise.withResolvers<WriteResults>();
      writes.push({ items, settle });
      return settle.promise;
    },
    prune: async () => 0,
    close: async () => undefined,
  };
  const commit = (i: number) => {
    const w = writes[i];
    assert.ok(w);
    w.settle.resolve(w.items.map(() => next++));
  };
  return { port, writes, commit };
}

const noReader = { close: async () => undefined } as unknown as LedgerReader;

describe('writes in flight', () => {
  test('a port that merges writes gets the queue in slices while earlier ones commit', async () => {
    const { port, writes, commit } = heldPort(4);
    const ledger = new Ledger({ port, reader: noReader, onError: () => undefined });
    const pending = Array.from({ length: 200 }, () => ledger.append({ type: 'session.started' }));
    await sleep(0);
    assert.deepEqual(
      writes.map((w) => w.items.length),
      [64, 64, 64, 8],
    );
    for (let i = 0; i < writes.length; i++) commit(i);
    assert.deepEqual(
      await Promise.all(pending),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.equal(ledger.stats().transactions, 4);
  });

  test('writes in flight that fail together count as one failure and one backoff step', async () => {
    const { port, writes } = heldPort(4);
    const ledger = new Ledger({ port, reader: noReader, onError: () => undefined });
    const pending = Array.from({ length: 200 }, () => ledger.append({ type: 'session.started' }));
    await sleep(0);
    for (const w of writes) w.settle.reject(new Error('disk gone'));
    const results = await Promise.allSettled(pending);
    assert.ok(results.every((r) => r.status === 'rejected' && isUnavailable(r.reason)));
    assert.deepEqual(ledger.stats(), { transactions: 0, events: 0, failures: 1, refused: 200 });
    assert.equal(ledger.healthy(), false);
  });

  test('a port that takes one write at a time gets one batch per commit', async () => {
    const { port, writes, commit } = heldPort();
    const ledger = new Ledger({ port, reader: noReader, onError: () => undefined });
    const first = Array.from({ length: 200 }, () => ledger.append({ type: 'session.started' }));
    await sleep(0);
    const second = Array.from({ length: 10 }, () => ledger.append({ type: 'session.started' }));
    await sleep(0);
    assert.deepEqual(
      writes.map((w) => w.items.length),
      [200],
    );
    commit(0);
    await Promise.all(first);
    assert.deepEqual(
      writes.map((w) => w.items.length),
      [200, 10],
    );
    commit(1);
    assert.deepEqual(await Promise.all(second), [201, 202, 203, 204, 205, 206, 207, 208, 209, 210]);
  });
});
