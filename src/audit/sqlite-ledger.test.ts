import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../errors.ts';
import { appendSync, SqliteLedger, verifyChain } from './sqlite-ledger.ts';
import type { Actor, AuditEventInput } from './types.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-ledger-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${++dirs}`);

const alice: Actor = { kind: 'token', identity: 'agent-7', owner: 'alice', tokenId: 'abc' };
const bob: Actor = { kind: 'oidc', identity: 'bob@example.com', owner: 'bob@example.com' };
const fast = { initial: 20, max: 40 } as const;

function isUnavailable(err: unknown): boolean {
  return err instanceof GatewayError && err.code === 'GW_AUDIT_UNAVAILABLE';
}

/** Retries until an append succeeds, proving the ledger recovered (bounded, so it cannot hang). */
async function appendEventually(ledger: SqliteLedger, e: AuditEventInput): Promise<number> {
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

describe('SqliteLedger', () => {
  test('append and query round-trip with filters', async () => {
    await using ledger = new SqliteLedger({ dataDir: freshDir() });
    const t0 = 1_700_000_000_000;
    const seqs = [
      await ledger.append({
        type: 'session.started',
        time: t0,
        sessionId: 's1',
        connection: 'prod',
        actor: alice,
        clientAddr: '10.0.0.1:5000',
      }),
      await ledger.append({
        type: 'command.requested',
        time: t0 + 10,
        sessionId: 's1',
        connection: 'prod',
        actor: alice,
        commandId: 'c1',
        data: { text: 'select 1' },
      }),
      await ledger.append({
        type: 'command.completed',
        time: t0 + 20,
        sessionId: 's1',
        connection: 'prod',
        actor: alice,
        commandId: 'c1',
        data: { rows: 1 },
      }),
      await ledger.append({
        type: 'command.requested',
        time: t0 + 30,
        sessionId: 's2',
        connection: 'staging',
        actor: bob,
        commandId: 'c2',
        data: { text: 'drop table x' },
      }),
      await ledger.append({
        type: 'session.ended',
        time: t0 + 40,
        sessionId: 's1',
        connection: 'prod',
        actor: alice,
      }),
    ];
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);

    const all = await ledger.query({});
    assert.equal(all.length, 5);
    const first = all[0]!;
    assert.deepEqual(
      { ...first, hash: undefined },
      {
        seq: 1,
        ts: new Date(t0).toISOString(),
        type: 'session.started',
        sessionId: 's1',
        connection: 'prod',
        actor: alice,
        clientAddr: '10.0.0.1:5000',
        commandId: null,
        data: {},
        prevHash: '0'.repeat(64),
        hash: undefined,
      },
    );
    assert.equal(all[1]!.prevHash, first.hash);

    const seqsOf = async (f: Parameters<SqliteLedger['query']>[0]): Promise<number[]> =>
      (await ledger.query(f)).map((e) => e.seq);
    assert.deepEqual(await seqsOf({ connection: 'staging' }), [4]);
    assert.deepEqual(await seqsOf({ identity: 'alice' }), [1, 2, 3, 5]);
    assert.deepEqual(await seqsOf({ identity: 'agent-7', types: ['command.requested'] }), [2]);
    assert.deepEqual(await seqsOf({ sessionId: 's1', since: t0 + 10, until: t0 + 40 }), [2, 3]);
    assert.deepEqual(await seqsOf({ limit: 2 }), [4, 5]);
    assert.deepEqual(await seqsOf({ limit: 0 }), []);

    const cmds = await ledger.commands({});
    assert.deepEqual(
      cmds.map((c) => [c.commandId, c.seq, c.request, c.outcome]),
      [
        ['c1', 2, { text: 'select 1' }, { rows: 1 }],
        ['c2', 4, { text: 'drop table x' }, null],
      ],
    );
    assert.deepEqual(cmds[1]!.actor, bob);
    assert.deepEqual(
      (await ledger.commands({ limit: 1 })).map((c) => c.commandId),
      ['c2'],
    );
    assert.deepEqual(
      (await ledger.commands({ identity: 'alice' })).map((c) => c.commandId),
      ['c1'],
    );
    assert.deepEqual(verifyChain(ledger.path), { ok: true, count: 5 });
  });

  test('queries before anything was written return nothing', async () => {
    await using ledger = new SqliteLedger({ dataDir: freshDir() });
    assert.deepEqual(await ledger.query({}), []);
    assert.deepEqual(await ledger.commands({}), []);
    assert.equal(ledger.healthy(), true);
  });

  test('2000 appends in one tick are group-committed with contiguous seqs', async () => {
    await using ledger = new SqliteLedger({ dataDir: freshDir() });
    const pending: Promise<number>[] = [];
    for (let i = 0; i < 2000; i++) {
      pending.push(ledger.append({ type: 'command.requested', commandId: `c${i}`, data: { i } }));
    }
    const seqs = await Promise.all(pending);
    assert.deepEqual(
      seqs,
      Array.from({ length: 2000 }, (_, i) => i + 1),
    );
    const stats = ledger.stats();
    assert.equal(stats.events, 2000);
    assert.ok(stats.transactions < stats.events / 10, `transactions: ${stats.transactions}`);
    assert.deepEqual(verifyChain(ledger.path), { ok: true, count: 2000 });
  });

  test('appends spread over many ticks still share transactions', async () => {
    await using ledger = new SqliteLedger({ dataDir: freshDir() });
    const pending: Promise<number>[] = [];
    for (let i = 0; i < 300; i++) {
      pending.push(ledger.append({ type: 'session.started', data: { i } }));
      if (i % 3 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    const seqs = await Promise.all(pending);
    assert.equal(new Set(seqs).size, 300);
    const stats = ledger.stats();
    assert.ok(stats.batches > 1);
    assert.ok(stats.transactions <= stats.batches);
  });

  test('two instances and a CLI process appending to one file keep one valid chain', async () => {
    const dataDir = freshDir();
    await using a = new SqliteLedger({ dataDir });
    await using b = new SqliteLedger({ dataDir, sync: 'normal' });
    const pending: Promise<number>[] = [];
    const cli: number[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) {
        pending.push(a.append({ type: 'command.requested', data: { from: 'a', round, i } }));
        pending.push(b.append({ type: 'command.requested', data: { from: 'b', round, i } }));
      }
      if (round % 5 === 0)
        cli.push(...appendSync(a.path, [{ type: 'token.created', data: { round } }]));
      await new Promise<void>((r) => setImmediate(r));
    }
    const seqs = [...(await Promise.all(pending)), ...cli].sort((x, y) => x - y);
    assert.deepEqual(
      seqs,
      Array.from({ length: 404 }, (_, i) => i + 1),
    );
    assert.deepEqual(verifyChain(a.path), { ok: true, count: 404 });
  });

  test('verifyChain finds an edited body or index column at its seq', async () => {
    const dataDir = freshDir();
    const ledger = new SqliteLedger({ dataDir });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        ledger.append({ type: 'command.requested', actor: alice, data: { i } }),
      ),
    );
    await ledger.close();
    const path = ledger.path;
    const db = new DatabaseSync(path);
    assert.throws(() => db.exec("UPDATE events SET type = 'x' WHERE seq = 1"), /append-only/);
    db.exec('DROP TRIGGER events_no_update');
    db.exec(`UPDATE events SET body = replace(body, '"i":6', '"i":60') WHERE seq = 7`);
    assert.deepEqual(verifyChain(path), {
      ok: false,
      seq: 7,
      reason: 'hash does not match the body',
    });
    db.exec(`UPDATE events SET body = replace(body, '"i":60', '"i":6') WHERE seq = 7`);
    assert.deepEqual(verifyChain(path), { ok: true, count: 10 });
    db.exec(`UPDATE events SET owner = 'mallory' WHERE seq = 3`);
    assert.deepEqual(verifyChain(path), {
      ok: false,
      seq: 3,
      reason: 'column owner does not match the body',
    });
    db.close();
    assert.equal(verifyChain(join(root, 'missing.db')).ok, false);
    const other = new DatabaseSync(join(root, 'other.db'));
    other.exec('CREATE TABLE t(x)');
    other.close();
    assert.deepEqual(
      { ...verifyChain(join(root, 'other.db')), reason: undefined },
      { ok: false, seq: 0, reason: undefined },
    );
  });

  test('close waits for pending appends; later appends reject', async () => {
    const ledger = new SqliteLedger({ dataDir: freshDir() });
    const pending = Array.from({ length: 100 }, () => ledger.append({ type: 'session.started' }));
    await ledger.close();
    assert.equal((await Promise.all(pending)).length, 100);
    await assert.rejects(ledger.append({ type: 'session.ended' }), isUnavailable);
    assert.equal(ledger.healthy(), false);
  });

  test('invalid events are refused alone and fail closed', async () => {
    await using ledger = new SqliteLedger({ dataDir: freshDir() });
    const results = await Promise.allSettled([
      ledger.append({ type: 'session.started' }),
      ledger.append({ type: 'nope' as never }),
      ledger.append({ type: 'session.started', data: { n: 10n } }),
      ledger.append({ type: 'session.started', data: { f: () => 1 } }),
      ledger.append({ type: 'session.ended' }),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : isUnavailable(r.reason))),
      [1, true, true, true, 2],
    );
    assert.equal(ledger.healthy(), true);
  });

  test('appendLater reports failures to onError without the event content', async () => {
    const errors: GatewayError[] = [];
    const ledger = new SqliteLedger({ dataDir: freshDir(), onError: (e) => errors.push(e) });
    ledger.appendLater({ type: 'session.ended', data: { secret: 'sekrit-value' } });
    ledger.appendLater({ type: 'session.ended', data: { bad: 1n, secret: 'sekrit-value' } });
    await ledger.close();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, 'GW_AUDIT_UNAVAILABLE');
    assert.doesNotMatch(String((errors[0]!.cause as Error).message), /sekrit/);
    assert.deepEqual(verifyChain(ledger.path), { ok: true, count: 1 });
  });

  test('fails closed when the ledger cannot be opened, then recovers', async () => {
    const parent = freshDir();
    writeFileSync(parent, 'not a directory');
    await using ledger = new SqliteLedger({
      dataDir: join(parent, 'data'),
      restartBackoffMs: fast,
    });
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

  test('fails closed when the data directory is replaced while open, then recovers', async () => {
    const dataDir = freshDir();
    await using ledger = new SqliteLedger({ dataDir, restartBackoffMs: fast });
    assert.equal(await ledger.append({ type: 'session.started' }), 1);
    renameSync(dataDir, `${dataDir}.moved`);
    writeFileSync(dataDir, 'not a directory');
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => ledger.append({ type: 'command.requested' })),
    );
    for (const r of results) assert.ok(r.status === 'rejected' && isUnavailable(r.reason));
    assert.equal(ledger.healthy(), false);
    await sleep(50);
    await assert.rejects(ledger.append({ type: 'command.requested' }), isUnavailable);

    rmSync(dataDir);
    renameSync(`${dataDir}.moved`, dataDir);
    assert.equal(await appendEventually(ledger, { type: 'session.ended' }), 2);
    assert.deepEqual(verifyChain(ledger.path), { ok: true, count: 2 });
  });

  test('fails closed when another process holds the write lock too long', async () => {
    const dataDir = freshDir();
    await using ledger = new SqliteLedger({ dataDir, busyTimeoutMs: 100, restartBackoffMs: fast });
    await ledger.append({ type: 'session.started' });
    const blocker = new DatabaseSync(ledger.path);
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
    await using ledger = new SqliteLedger({
      dataDir: freshDir(),
      restartBackoffMs: fast,
      faultInjector: { crashOnTransaction: 2 },
    });
    assert.equal(await ledger.append({ type: 'session.started' }), 1);
    const lost = await Promise.allSettled([
      ledger.append({ type: 'command.requested' }),
      ledger.append({ type: 'command.requested' }),
    ]);
    for (const r of lost) assert.ok(r.status === 'rejected' && isUnavailable(r.reason));
    assert.equal(await appendEventually(ledger, { type: 'session.ended' }), 2);
    assert.equal(ledger.stats().workerStarts, 2);
    assert.deepEqual(verifyChain(ledger.path), { ok: true, count: 2 });
  });

  test('a CLI process exits promptly after appending, even without close()', () => {
    const dataDir = freshDir();
    const script = `
      import { SqliteLedger } from ${JSON.stringify(new URL('./sqlite-ledger.ts', import.meta.url).href)};
      const ledger = new SqliteLedger({ dataDir: ${JSON.stringify(dataDir)} });
      console.log(await ledger.append({ type: 'token.created', data: { tokenId: 't1' } }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1');
    assert.deepEqual(verifyChain(join(dataDir, 'ledger.db')), { ok: true, count: 1 });
  });
});
