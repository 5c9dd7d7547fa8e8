/**
 * The ledger conformance suite: the same behaviour, tamper detection and export checks run against
 * every store (embedded SQLite in src/audit/ledger.test.ts, PostgreSQL in
 * test/integration/ledger-postgres.it.test.ts).
 */

import assert from 'node:assert/strict';
import { sign as cryptoSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GatewayError } from '../../errors.ts';
import { GENESIS_HASH } from '../canonical.ts';
import { type Checkpoint, keyIdOf, type SigningKey, signCheckpoint } from '../checkpoint.ts';
import { prepareEvent, type StoredBody, sealEvent } from '../event-codec.ts';
import { exportLedger, verifyExport } from '../export.ts';
import type { Ledger } from '../ledger.ts';
import { MerkleFrontier } from '../merkle.ts';
import {
  type AuditConfig,
  localPublicKey,
  openLedger,
  openReader,
  signingKeyFile,
  verifyStore,
} from '../open.ts';
import type { Actor } from '../types.ts';

export interface StoreFixture {
  readonly audit: AuditConfig;
  readonly dataDir: string;
  /** Runs raw SQL against the store with the append-only guards off (the attacker's view). */
  tamper(sql: string): Promise<void>;
  /** Rows of `SELECT seq, body, leaf, hash ...` for a raw SQL query. */
  select(sql: string): Promise<Record<string, unknown>[]>;
}

export type FixtureFactory = () => Promise<StoreFixture>;

export const alice: Actor = { kind: 'token', identity: 'agent-7', owner: 'alice', tokenId: 'abc' };
export const bob: Actor = { kind: 'oidc', identity: 'bob@example.com', owner: 'bob@example.com' };

export function isUnavailable(err: unknown): boolean {
  return err instanceof GatewayError && err.code === 'GW_AUDIT_UNAVAILABLE';
}

export function auditConfig(
  store: AuditConfig['store'],
  extra: Partial<AuditConfig> = {},
): AuditConfig {
  return {
    sync: 'full',
    max_param_bytes: 1024,
    max_statement_bytes: 65_536,
    store,
    checkpoint_interval_ms: 60_000,
    sinks: [],
    ...extra,
  };
}

const open = (f: StoreFixture): Promise<Ledger> =>
  openLedger({ audit: f.audit, dataDir: f.dataDir, checkpointIntervalMs: 0 });

const keysOf = (f: StoreFixture): KeyObject[] => {
  const key = localPublicKey(f.audit, f.dataDir);
  assert.ok(key, 'the signing key exists');
  return [key];
};

/** Chunks of two events on two workers, so that every tamper case crosses chunk boundaries. */
const parallel = { workers: 2, chunkLeaves: 2, minEvents: 0 } as const;

/** Verifies in one pass and (embedded store) in parallel chunks; both must say the same. */
const verify = async (f: StoreFixture, keys = keysOf(f)) => {
  const r = await verifyStore(f.audit, f.dataDir, keys, { parallel: false });
  const p = await verifyStore(f.audit, f.dataDir, keys, { parallel });
  assert.deepEqual(p, r, 'the parallel verifier reports what the sequential one does');
  return r;
};

/** Ten command events with tables, then a checkpoint: seqs 1..10, checkpoint at 11. */
async function seed(f: StoreFixture, n = 10): Promise<Ledger> {
  const ledger = await open(f);
  for (let i = 0; i < n; i++) {
    await ledger.append({
      type: 'command.requested',
      actor: i % 2 === 0 ? alice : bob,
      sessionId: `s${i % 3}`,
      connection: 'prod',
      commandId: `c${i}`,
      data: {
        decision: i === 4 ? 'deny' : 'allow',
        command: { kind: 'sql', text: `update patients set x = ${i}` },
        statements: [
          { kind: 'UPDATE', tables: [{ schema: null, name: 'patients', access: 'write' }] },
        ],
      },
    });
  }
  await ledger.checkpoint();
  return ledger;
}

/**
 * @example
 * ledgerConformance('sqlite', async () => sqliteFixture());
 */
export function ledgerConformance(name: string, fixture: FixtureFactory): void {
  describe(`ledger conformance: ${name}`, () => {
    test('append and query with every filter; commands join outcome and approval', async () => {
      const f = await fixture();
      await using ledger = await open(f);
      const t0 = 1_700_000_000_000;
      const base = { sessionId: 's1', connection: 'prod', actor: alice } as const;
      const text = (t: string) => ({ kind: 'sql', text: t });
      const seqs = [
        await ledger.append({
          ...base,
          type: 'session.started',
          time: t0,
          clientAddr: '10.0.0.1:5000',
        }),
        await ledger.append({
          ...base,
          type: 'command.requested',
          time: t0 + 10,
          commandId: 'c1',
          data: {
            command: text('update patients set a = 1'),
            decision: 'hold',
            statements: [
              {
                kind: 'UPDATE',
                tables: [
                  { schema: null, name: 'patients', access: 'write' },
                  { schema: 'public', name: 'visits', access: 'read' },
                ],
              },
            ],
          },
        }),
        await ledger.append({
          ...base,
          type: 'command.approved',
          time: t0 + 15,
          commandId: 'c1',
          data: { approver: 'carol' },
        }),
        await ledger.append({
          ...base,
          type: 'command.completed',
          time: t0 + 20,
          commandId: 'c1',
          data: { outcome: 'ok', rows: 1 },
        }),
        await ledger.append({
          type: 'command.requested',
          time: t0 + 30,
          sessionId: 's2',
          connection: 'staging',
          actor: bob,
          commandId: 'c2',
          data: {
            command: text('select * from public.patients_2'),
            decision: 'deny',
            statements: [
              {
                kind: 'SELECT',
                tables: [{ schema: 'public', name: 'patients_2', access: 'read' }],
              },
            ],
          },
        }),
        await ledger.append({ ...base, type: 'session.ended', time: t0 + 40 }),
      ];
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
      const all = await ledger.query({});
      assert.equal(all.length, 6);
      const first = all[0];
      assert.ok(first);
      assert.equal(first.seq, 1);
      assert.equal(first.ts, new Date(t0).toISOString());
      assert.deepEqual(first.actor, alice);
      assert.equal(first.clientAddr, '10.0.0.1:5000');
      assert.equal(first.prevHash, GENESIS_HASH);
      assert.equal(all[1]?.prevHash, first.hash);
      const seqsOf = async (filter: Parameters<Ledger['query']>[0]) =>
        (await ledger.query(filter)).map((e) => e.seq);
      assert.deepEqual(await seqsOf({ connection: 'staging' }), [5]);
      assert.deepEqual(await seqsOf({ identity: 'alice' }), [1, 2, 3, 4, 6]);
      assert.deepEqual(await seqsOf({ owner: 'agent-7' }), []);
      assert.deepEqual(await seqsOf({ owner: 'alice', types: ['command.requested'] }), [2]);
      assert.deepEqual(
        await seqsOf({ sessionId: 's1', since: t0 + 10, until: t0 + 40 }),
        [2, 3, 4],
      );
      assert.deepEqual(await seqsOf({ decision: 'deny' }), [5]);
      assert.deepEqual(await seqsOf({ table: 'patients' }), [2]);
      assert.deepEqual(await seqsOf({ table: 'patients', access: 'write' }), [2]);
      assert.deepEqual(await seqsOf({ table: 'patients', access: 'read' }), []);
      assert.deepEqual(await seqsOf({ table: 'visits' }), [2]);
      assert.deepEqual(await seqsOf({ table: 'public.visits', access: 'read' }), [2]);
      assert.deepEqual(await seqsOf({ table: 'patients_2' }), [5]);
      assert.deepEqual(await seqsOf({ table: 'patients%' }), []);
      assert.deepEqual(await seqsOf({ table: 'PATIENTS' }), []);
      assert.deepEqual(await seqsOf({ limit: 2 }), [5, 6]);
      const cmds = await ledger.commands({ table: 'patients', access: 'write' });
      assert.equal(cmds.length, 1);
      assert.equal(cmds[0]?.commandId, 'c1');
      assert.deepEqual(cmds[0]?.outcome, { outcome: 'ok', rows: 1 });
      assert.equal(cmds[0]?.approval?.type, 'command.approved');
      assert.equal(cmds[0]?.approval?.data.approver, 'carol');
      assert.deepEqual(
        (await ledger.commands({ limit: 1 })).map((c) => c.commandId),
        ['c2'],
      );
    });

    test('rule hits are counted in the store, per rule, with the newest time', async () => {
      const f = await fixture();
      await using ledger = await open(f);
      const t0 = 1_700_000_000_000;
      const decided = (type: 'command.requested' | 'llm.requested', time: number, rule?: string) =>
        ledger.append({ type, time, data: { decision: 'allow', ...(rule ? { rule } : {}) } });
      await decided('command.requested', t0, 'no-drops');
      await decided('command.requested', t0 + 5, 'no-drops');
      await decided('llm.requested', t0 + 7, 'prompt-guard');
      await decided('command.requested', t0 + 9);
      await ledger.append({
        type: 'command.completed',
        time: t0 + 11,
        data: { rule: 'not-a-decision' },
      });
      const hits = (await ledger.reader.ruleHits()).sort((a, b) => a.rule.localeCompare(b.rule));
      assert.deepEqual(hits, [
        { rule: 'no-drops', hits: 2, lastMs: t0 + 5 },
        { rule: 'prompt-guard', hits: 1, lastMs: t0 + 7 },
      ]);
    });

    test('2000 appends in one tick are group-committed with contiguous seqs', async () => {
      const f = await fixture();
      await using ledger = await open(f);
      const pending = Array.from({ length: 2000 }, (_, i) =>
        ledger.append({ type: 'command.requested', data: { i } }),
      );
      const seqs = await Promise.all(pending);
      assert.deepEqual(
        seqs,
        Array.from({ length: 2000 }, (_, i) => i + 1),
      );
      assert.ok(ledger.stats().transactions < 50);
    });

    test('two ledgers on one store keep one chain; checkpoints sign it; verify passes', async () => {
      const f = await fixture();
      const a = await open(f);
      const b = await open(f);
      const pending: Promise<number>[] = [];
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 10; i++) {
          pending.push(a.append({ type: 'command.requested', data: { from: 'a', round, i } }));
          pending.push(b.append({ type: 'command.requested', data: { from: 'b', round, i } }));
        }
        if (round % 7 === 0) pending.push(round % 2 ? a.checkpoint() : b.checkpoint());
        await new Promise<void>((r) => setImmediate(r));
      }
      const seqs = (await Promise.all(pending)).filter((s) => s > 0).sort((x, y) => x - y);
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => i + 1),
      );
      assert.ok(seqs.length >= 400);
      await a.close();
      await b.close();
      const r = await verify(f);
      assert.ok(r.ok, JSON.stringify(r));
      assert.ok(r.checkpoints >= 3);
      const latest = JSON.parse(
        readFileSync(join(f.dataDir, 'keys', 'latest-checkpoint.json'), 'utf8'),
      ) as Checkpoint;
      assert.equal(latest.treeSize, r.treeSize - 1);
    });

    test('a checkpoint with nothing new is not signed again', async () => {
      const f = await fixture();
      await using ledger = await seed(f, 3);
      assert.equal(await ledger.checkpoint(), 0);
      await ledger.append({ type: 'session.started' });
      assert.equal(await ledger.checkpoint(), 6);
    });

    test('verify names an edited body, an edited column, and a bad event', async () => {
      const f = await fixture();
      await (await seed(f)).close();
      assert.ok((await verify(f)).ok);
      await f.tamper(
        `UPDATE events SET body = replace(body, 'set x = 6', 'set x = 7') WHERE seq = 7`,
      );
      assert.deepEqual(pick(await verify(f)), { seq: 7, problem: 'altered' });
      await f.tamper(
        `UPDATE events SET body = replace(body, 'set x = 7', 'set x = 6') WHERE seq = 7`,
      );
      assert.ok((await verify(f)).ok);
      await f.tamper(`UPDATE events SET owner = 'mallory' WHERE seq = 3`);
      const r = await verify(f);
      assert.deepEqual(pick(r), { seq: 3, problem: 'altered' });
      assert.match(r.ok ? '' : r.reason, /column owner/);
    });

    test('verify detects a deleted event', async () => {
      const f = await fixture();
      await (await seed(f)).close();
      await f.tamper('DELETE FROM events WHERE seq = 4');
      assert.deepEqual(pick(await verify(f)), { seq: 4, problem: 'removed' });
    });

    test('verify detects truncation against the newest signed checkpoint', async () => {
      const f = await fixture();
      await (await seed(f)).close();
      // The attacker removes the newest events and the checkpoint events that cover them.
      await f.tamper('DELETE FROM events WHERE seq > 7');
      const r = await verify(f);
      assert.deepEqual(pick(r), { seq: 8, problem: 'truncated' });
    });

    test('verify detects two swapped events', async () => {
      const f = await fixture();
      await (await seed(f)).close();
      await f.tamper('UPDATE events SET seq = -1 WHERE seq = 3');
      await f.tamper('UPDATE events SET seq = 3 WHERE seq = 5');
      await f.tamper('UPDATE events SET seq = 5 WHERE seq = -1');
      assert.deepEqual(pick(await verify(f)), { seq: 3, problem: 'reordered' });
    });

    test('verify detects an inserted event', async () => {
      const f = await fixture();
      await (await seed(f)).close();
      const rows = await f.select('SELECT seq FROM events ORDER BY seq DESC');
      for (const r of rows)
        await f.tamper(`UPDATE events SET seq = seq + 1 WHERE seq = ${Number(r.seq)}`);
      const fake = sealEvent(
        prepareEvent({ type: 'token.created', time: Date.now() }),
        1,
        GENESIS_HASH,
      );
      await f.tamper(
        `INSERT INTO events (seq, time_ms, type, body, leaf, prev_hash, hash) VALUES (1, ${fake.time}, 'token.created', '${fake.body}', '${fake.leaf}', '${fake.prevHash}', '${fake.hash}')`,
      );
      const r = await verify(f);
      assert.ok(!r.ok);
      assert.equal(r.seq, 2);
      assert.equal(r.problem, 'inserted');
    });

    test('a log rewritten and re-signed with another key fails with a bad signature', async () => {
      const f = await fixture();
      await (await seed(f)).close();
      const trusted = keysOf(f);
      await rewriteWithKey(f, mallorySigner());
      const r = await verify(f, trusted);
      assert.ok(!r.ok);
      assert.equal(r.problem, 'bad signature');
    });

    test('pruning keeps the rest verifiable and is recorded', async () => {
      const f = await fixture();
      const ledger = await seed(f);
      await ledger.append({ type: 'session.started' });
      // Pruning first signs a checkpoint (seq 13, covering 12) and prunes everything it covers.
      assert.equal(await ledger.prune(Date.now() + 60_000), 12);
      await ledger.append({ type: 'session.ended' });
      await ledger.close();
      const r = await verify(f);
      assert.ok(r.ok, JSON.stringify(r));
      const reader = await openReader(f.audit, f.dataDir);
      try {
        const events = await reader.query({});
        assert.equal(events[0]?.seq, 13);
        assert.ok(events.some((e) => e.type === 'ledger.pruned' && e.data.throughSeq === 12));
      } finally {
        await reader.close();
      }
    });

    test('export verifies on its own; edits, gaps and foreign keys are caught', async () => {
      const f = await fixture();
      const ledger = await seed(f);
      await ledger.append({ type: 'session.ended', sessionId: 's0' });
      const reader = await openReader(f.audit, f.dataDir);
      const out = join(f.dataDir, 'export.jsonl');
      const key = readFileSync(signingKeyFile(f.audit, f.dataDir), 'utf8');
      assert.match(key, /PRIVATE KEY/);
      const keys = keysOf(f);
      try {
        for (const format of ['jsonl', 'ocsf'] as const) {
          const { events } = await exportLedger({
            reader,
            format,
            out,
            publicKeyPem: keys[0]?.export({ type: 'spki', format: 'pem' }).toString() ?? '',
            checkpoint: async () => void (await ledger.checkpoint()),
          });
          assert.equal(events, 12);
          const good = await verifyExport(out, keys);
          assert.ok(good.ok, JSON.stringify(good));
          const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
          assert.doesNotMatch(lines.join('\n'), /PRIVATE KEY/);
          writeFileSync(out, [...lines.slice(0, 3), ...lines.slice(4)].join('\n'));
          assert.deepEqual(pick(await verifyExport(out, keys)), { seq: 3, problem: 'removed' });
          writeFileSync(
            out,
            lines.map((l, i) => (i === 5 ? l.replaceAll('set x = 4', 'set x = 5') : l)).join('\n'),
          );
          assert.deepEqual(pick(await verifyExport(out, keys)), { seq: 5, problem: 'altered' });
          writeFileSync(out, lines.join('\n'));
          assert.equal((await verifyExport(out, [mallorySigner().publicKey])).ok, false);
        }
      } finally {
        await reader.close();
        await ledger.close();
      }
    });

    test('close waits for pending appends; later appends reject; bad events fail alone', async () => {
      const f = await fixture();
      const ledger = await open(f);
      const results = await Promise.allSettled([
        ledger.append({ type: 'session.started' }),
        ledger.append({ type: 'nope' as never }),
        ledger.append({ type: 'session.started', data: { n: 10n } }),
        ledger.append({ type: 'session.ended' }),
      ]);
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? r.value : isUnavailable(r.reason))),
        [1, true, true, 2],
      );
      const pending = Array.from({ length: 50 }, () => ledger.append({ type: 'session.started' }));
      await ledger.close();
      assert.equal((await Promise.all(pending)).length, 50);
      await assert.rejects(ledger.append({ type: 'session.ended' }), isUnavailable);
    });
  });
}

function pick(r: Awaited<ReturnType<typeof verifyStore>>): { seq: number; problem: string } | 'ok' {
  return r.ok ? 'ok' : { seq: r.seq, problem: r.problem };
}

function mallorySigner(): SigningKey & { publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyId: keyIdOf(publicKey),
    publicKeyPem: pem,
    publicKey,
    sign: (msg: Buffer) => cryptoSign(null, msg, privateKey),
  };
}

/**
 * The attacker's best effort: change an event, then recompute every leaf, chain link and
 * checkpoint, signing with their own key, and overwrite the newest checkpoint file too.
 */
async function rewriteWithKey(f: StoreFixture, key: SigningKey): Promise<void> {
  const rows = await f.select('SELECT seq, body FROM events ORDER BY seq');
  let prev = GENESIS_HASH;
  const frontier = new MerkleFrontier();
  let latest: Checkpoint | undefined;
  for (const r of rows) {
    let body = JSON.parse(String(r.body)) as StoredBody & { data: Record<string, unknown> };
    if (body.seq === 3) body = { ...body, data: { ...body.data, decision: 'allow' } };
    if (body.type === 'ledger.checkpointed') {
      const cp = body.data as unknown as Checkpoint;
      latest = signCheckpoint(key, {
        origin: cp.origin,
        treeSize: cp.treeSize,
        rootHash: frontier.root().toString('hex'),
        time: cp.time,
      });
      body = { ...body, data: { ...latest } };
    }
    const sealed = sealEvent(
      prepareEvent({
        type: body.type,
        time: Date.parse(body.ts),
        data: body.data,
        ...(body.actor ? { actor: body.actor } : {}),
        ...(body.sessionId ? { sessionId: body.sessionId } : {}),
        ...(body.connection ? { connection: body.connection } : {}),
        ...(body.commandId ? { commandId: body.commandId } : {}),
      }),
      body.seq,
      prev,
    );
    await f.tamper(
      `UPDATE events SET body = '${sealed.body.replaceAll("'", "''")}', leaf = '${sealed.leaf}', prev_hash = '${sealed.prevHash}', hash = '${sealed.hash}', decision = ${sealed.decision === null ? 'NULL' : `'${sealed.decision}'`} WHERE seq = ${body.seq}`,
    );
    frontier.push(Buffer.from(sealed.leaf, 'hex'));
    prev = sealed.hash;
  }
  if (latest !== undefined) {
    writeFileSync(join(f.dataDir, 'keys', 'latest-checkpoint.json'), JSON.stringify(latest));
  }
}
