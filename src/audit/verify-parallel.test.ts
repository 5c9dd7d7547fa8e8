import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { type Checkpoint, loadOrCreateSigningKey, signCheckpoint } from './checkpoint.ts';
import { chainLink } from './event-codec.ts';
import { latestCheckpointPath } from './latest-checkpoint.ts';
import { leafHashHex } from './merkle.ts';
import { localPublicKey, openLedger, signingKeyFile, verifyStore } from './open.ts';
import { SqliteStoreReader } from './sqlite-reader.ts';
import { auditConfig } from './testing/conformance.ts';
import { verifyLedgerParallel } from './verify-parallel.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-verify-parallel-'));
after(() => rmSync(root, { recursive: true, force: true }));
const audit = auditConfig({ kind: 'sqlite' });
/** Chunks of 16 leaves on two workers, for every log in these tests. */
const small = { workers: 2, chunkLeaves: 16, minEvents: 0 } as const;

/** 154 events, three of them checkpoints (seqs 41, 92 and 154): ten chunks of 16 leaves. */
async function build(dataDir: string): Promise<void> {
  const ledger = await openLedger({ audit, dataDir, checkpointIntervalMs: 0 });
  for (let i = 0; i < 153; i++) {
    if (i === 40 || i === 91) {
      await ledger.checkpoint();
      continue;
    }
    await ledger.append({
      type: 'command.requested',
      sessionId: `s${i % 5}`,
      connection: 'prod',
      commandId: `c${i}`,
      actor: { kind: 'token', identity: 'agent', owner: 'alice' },
      data: {
        decision: i % 7 === 0 ? 'deny' : 'allow',
        command: { kind: 'sql', text: `update patients set x = ${i}` },
        statements: [
          { kind: 'UPDATE', tables: [{ schema: null, name: 'patients', access: 'write' }] },
        ],
      },
    });
  }
  await ledger.close();
}

let pristine: string;
let copies = 0;

/** A fresh copy of the built ledger, tampered with by `sql` (append-only guards off). */
function tampered(sql: string): string {
  const dataDir = join(root, `copy${++copies}`);
  cpSync(pristine, dataDir, { recursive: true });
  const db = new DatabaseSync(join(dataDir, 'ledger.db'));
  db.exec('DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete');
  if (sql !== '') db.exec(sql);
  db.close();
  return dataDir;
}

/** Edits the bodies from `fromSeq` on and recomputes every leaf and link after them. */
function rechain(dataDir: string, fromSeq: number, edit: (body: string) => string): void {
  const db = new DatabaseSync(join(dataDir, 'ledger.db'));
  db.exec('DROP TRIGGER IF EXISTS events_no_update');
  const rows = db
    .prepare('SELECT seq, body, prev_hash FROM events WHERE seq >= ? ORDER BY seq')
    .all(fromSeq) as { seq: number; body: string; prev_hash: string }[];
  const update = db.prepare(
    'UPDATE events SET body = ?, leaf = ?, prev_hash = ?, hash = ? WHERE seq = ?',
  );
  let prev = rows[0]?.prev_hash ?? '';
  for (const r of rows) {
    const body = r.seq === fromSeq ? edit(r.body) : r.body;
    const leaf = leafHashHex(body);
    const hash = chainLink(prev, leaf);
    update.run(body, leaf, prev, hash, r.seq);
    prev = hash;
  }
  db.close();
}

/** Verifies sequentially and in parallel; both must say the same. Returns the result. */
async function both(dataDir: string) {
  const key = localPublicKey(audit, dataDir);
  assert.ok(key);
  const sequential = await verifyStore(audit, dataDir, [key], { parallel: false });
  let chunks = 0;
  const onChunk = () => void chunks++;
  const parallel = await verifyStore(audit, dataDir, [key], { parallel: { ...small, onChunk } });
  assert.deepEqual(parallel, sequential);
  assert.ok(chunks > 0, 'workers checked chunks');
  return sequential;
}

before(async () => {
  pristine = join(root, 'pristine');
  await build(pristine);
});

describe('parallel verification', () => {
  test('an intact ledger verifies with the same counts and root', async () => {
    const r = await both(tampered(''));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.events, 154);
    assert.equal(r.checkpoints, 3);
  });

  test('reports the first failure as the sequential pass does', async () => {
    const cases: [string, string][] = [
      // A body edited in a later chunk (seqs 49..64).
      [`UPDATE events SET body = replace(body, 'x = 53', 'x = 54') WHERE seq = 54`, 'altered'],
      // A column edited; and two edits, where only the first counts.
      [`UPDATE events SET owner = 'mallory' WHERE seq = 100`, 'altered'],
      [
        `UPDATE events SET decision = 'allow' WHERE seq = 120; UPDATE events SET owner = 'x' WHERE seq = 20`,
        'altered',
      ],
      // Rows deleted at a chunk's first and last seq, and the whole of one chunk.
      ['DELETE FROM events WHERE seq = 33', 'removed'],
      ['DELETE FROM events WHERE seq = 48', 'removed'],
      ['DELETE FROM events WHERE seq BETWEEN 65 AND 80', 'removed'],
      // Swapped rows across a chunk boundary.
      [
        'UPDATE events SET seq = -1 WHERE seq = 64; UPDATE events SET seq = 64 WHERE seq = 65; UPDATE events SET seq = 65 WHERE seq = -1',
        'reordered',
      ],
      // After a checkpoint in the same chunk: the sequential pass resumes before the checkpoint.
      [`UPDATE events SET owner = 'x' WHERE seq = 95`, 'altered'],
      // The link at the start of a chunk.
      [`UPDATE events SET prev_hash = hash WHERE seq = 97`, 'reordered'],
      // A signed checkpoint event in a later chunk (seq 92).
      [
        `UPDATE events SET body = replace(body, '"treeSize":91', '"treeSize":90') WHERE seq = 92`,
        'altered',
      ],
      // The newest events and checkpoint removed: truncation against latest-checkpoint.json.
      ['DELETE FROM events WHERE seq > 130', 'truncated'],
      // Not JSON at all.
      [`UPDATE events SET body = 'nope' WHERE seq = 140`, 'altered'],
    ];
    for (const [sql, problem] of cases) {
      const r = await both(tampered(sql));
      assert.equal(r.ok ? 'ok' : r.problem, problem, sql);
    }
  });

  test('an event rewritten with a consistent chain fails at the next signed checkpoint', async () => {
    const dataDir = tampered('');
    rechain(dataDir, 50, (body) => body.replace('x = 49', 'x = 0'));
    const r = await both(dataDir);
    assert.deepEqual(r.ok ? 'ok' : [r.seq, r.problem], [92, 'altered']);
  });

  test('a newest kept checkpoint inside a chunk is checked against the root at its size', async () => {
    const dataDir = tampered('');
    const file = latestCheckpointPath(signingKeyFile(audit, dataDir));
    const db = new DatabaseSync(join(dataDir, 'ledger.db'), { readOnly: true });
    const row = db.prepare('SELECT body FROM events WHERE seq = 92').get() as { body: string };
    db.close();
    const cp = JSON.parse(row.body).data as Checkpoint;
    writeFileSync(file, JSON.stringify(cp));
    const r = await both(dataDir);
    assert.ok(r.ok, JSON.stringify(r));
    const signer = loadOrCreateSigningKey(signingKeyFile(audit, dataDir));
    const wrong = signCheckpoint(signer, { ...cp, rootHash: '0'.repeat(64) });
    writeFileSync(file, JSON.stringify(wrong));
    const bad = await both(dataDir);
    assert.deepEqual(bad.ok ? 'ok' : [bad.seq, bad.problem], [91, 'altered']);
  });

  test('when workers cannot read the file, the sequential pass answers', async () => {
    const dataDir = tampered(`UPDATE events SET owner = 'x' WHERE seq = 70`);
    const key = localPublicKey(audit, dataDir);
    assert.ok(key);
    const reader = new SqliteStoreReader(join(dataDir, 'ledger.db'));
    try {
      const info = await reader.info();
      assert.ok(info);
      const r = await verifyLedgerParallel(
        {
          origin: info.origin,
          keys: [key],
          pruned: info.pruned,
          latest: null,
          path: join(dataDir, 'missing.db'),
          lastSeq: await reader.lastSeq(),
          rowsFrom: (seq) => reader.rows(seq),
        },
        small,
      );
      assert.deepEqual(r.ok ? 'ok' : [r.seq, r.problem], [70, 'altered']);
    } finally {
      await reader.close();
    }
  });

  test('a pruned ledger starts mid-chunk from the pruned frontier', async () => {
    const dataDir = join(root, 'pruned');
    cpSync(pristine, dataDir, { recursive: true });
    const ledger = await openLedger({ audit, dataDir, checkpointIntervalMs: 0 });
    // Prunes through the newest checkpoint (seq 154, covering 153); then more events.
    assert.equal(await ledger.prune(Date.now() + 60_000), 153);
    for (let i = 0; i < 60; i++)
      await ledger.append({ type: 'session.started', sessionId: `p${i}` });
    await ledger.close();
    const r = await both(dataDir);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.treeSize, 216);
    assert.equal(r.events, 63);
    const db = new DatabaseSync(join(dataDir, 'ledger.db'));
    db.exec('DROP TRIGGER events_no_update');
    db.exec(`UPDATE events SET connection = 'x' WHERE seq = 200`);
    db.close();
    const bad = await both(dataDir);
    assert.deepEqual(bad.ok ? 'ok' : [bad.seq, bad.problem], [200, 'altered']);
  });
});
