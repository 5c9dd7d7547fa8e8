import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { GENESIS_HASH } from './canonical.ts';
import { loadOrCreateSigningKey } from './checkpoint.ts';
import { COLUMN_KEYS, chainLink, type EventRow, prepareEvent } from './event-codec.ts';
import { emptyHead, sealBatch } from './sealer.ts';
import { DURABLE_KEY, JournalFolder } from './sqlite-folder.ts';
import { encodeJournal, journalPathsOf, readLines, rowOfLine } from './sqlite-journal.ts';
import { SqliteStoreReader } from './sqlite-reader.ts';
import { SqliteStoreWriter } from './sqlite-store.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-journal-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDb = (): string => join(root, `d${++dirs}`, 'ledger.db');

const writer = (path: string, journalSwitchBytes?: number) =>
  new SqliteStoreWriter(path, {
    sync: 'full',
    busyTimeoutMs: 2000,
    ...(journalSwitchBytes ? { journalSwitchBytes } : {}),
  });
const journalOf = (path: string, f: 0 | 1 = 0): string => journalPathsOf(path)[f];

function events(n: number, sessionId = 's1') {
  return Array.from({ length: n }, (_, i) =>
    prepareEvent({
      type: 'command.requested',
      time: 1_700_000_000_000 + i,
      sessionId,
      data: { command: { kind: 'sql', text: `SELECT ${i} -- é ✓` }, decision: 'allow' },
    }),
  );
}

/** The rows the tables hold, read with a reader that does not fold first. */
async function tableRows(path: string): Promise<EventRow[]> {
  const reader = new SqliteStoreReader(path, 2000, () => undefined);
  try {
    const rows: EventRow[] = [];
    for await (const r of reader.rows(1)) rows.push(r);
    return rows;
  } finally {
    await reader.close();
  }
}

/** Seqs 1..n, each row chained to the one before. */
function assertChain(rows: readonly EventRow[], n: number): void {
  assert.deepEqual(
    rows.map((r) => r.seq),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  let prev = GENESIS_HASH;
  for (const r of rows) {
    assert.equal(r.prevHash, prev);
    assert.equal(r.hash, chainLink(prev, r.leaf));
    prev = r.hash;
  }
}

const journalSize = (path: string): number =>
  statSync(journalOf(path, 0)).size + statSync(journalOf(path, 1)).size;

describe('the embedded store journal', () => {
  test('a sealed row round-trips through a journal line', () => {
    const item = prepareEvent({
      type: 'command.requested',
      time: 1_700_000_000_000,
      sessionId: 's\t1',
      connection: 'clinic',
      actor: {
        kind: 'token',
        identity: 'ci\nagent',
        owner: 'o"livia\\😀\ud800@example.com',
        groups: [],
      },
      commandId: 'c_1',
      data: {
        decision: 'allow',
        statements: [{ kind: 'UPDATE', tables: [{ schema: null, name: 'p', access: 'write' }] }],
      },
    });
    const { rows } = sealBatch(emptyHead(), [item, ...events(1)], { origin: 'o' });
    const { lines, rest } = readLines(encodeJournal(rows));
    assert.equal(lines.length, 2);
    assert.ok(rest > 0);
    assert.deepEqual(
      lines.map((l, i) => rowOfLine(l, rows[i]?.prevHash ?? '')),
      rows,
    );
    // The columns are written as JSON.stringify writes them.
    assert.deepEqual(
      lines.map((l) => l.columns),
      rows.map((r) => JSON.stringify(COLUMN_KEYS.map((k) => r[k]))),
    );
  });

  test('the journal bytes are the UTF-8 of the lines, also when a batch outgrows the buffer', () => {
    const text = (rows: readonly EventRow[]) =>
      rows
        .map(
          (r) =>
            `${r.seq}\t${r.hash}\t${r.leaf}\t${JSON.stringify(COLUMN_KEYS.map((k) => r[k]))}\t${r.body}\n`,
        )
        .join('');
    const odd = prepareEvent({
      type: 'command.requested',
      time: 1,
      sessionId: 's\t😀\ud800',
      data: { note: `é${'x'.repeat(300_000)}\udc00` },
    });
    const { rows } = sealBatch(emptyHead(), [...events(3), odd, ...events(2)], { origin: 'o' });
    assert.deepEqual(encodeJournal(rows), Buffer.from(text(rows), 'utf8'));
    const small = sealBatch(emptyHead(), events(2), { origin: 'o' }).rows;
    assert.deepEqual(encodeJournal(small), Buffer.from(text(small), 'utf8'));
  });

  test('an append is in the journal, not the tables, until a fold; then the journal is emptied', async () => {
    const path = freshDb();
    const w = writer(path);
    assert.deepEqual(w.write(events(3)), [1, 2, 3]);
    assert.equal(w.unfolded, 3);
    assert.equal((await tableRows(path)).length, 0);
    const lines = readFileSync(journalOf(path), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(
      lines[0] as string,
      /^1\t[0-9a-f]{64}\t[0-9a-f]{64}\t\[\d+,"command.requested","s1",/,
    );
    w.fold();
    assert.equal(w.unfolded, 0);
    assert.equal(journalSize(path), 0);
    assertChain(await tableRows(path), 3);
    w.close();
  });

  test('events of a writer that died before folding are folded by the next one', async () => {
    const path = freshDb();
    const crashed = writer(path);
    crashed.write(events(5));
    crashed.write(events(2));
    // `crashed` never folds nor closes: its events exist only in the journal.
    const next = writer(path);
    assertChain(await tableRows(path), 7);
    assert.deepEqual(next.write(events(1)), [8]);
    next.close();
    assertChain(await tableRows(path), 8);
  });

  test('a torn last line is dropped; the log continues from the line before it', async () => {
    const path = freshDb();
    const w = writer(path);
    w.write(events(2));
    const journal = journalOf(path);
    appendFileSync(journal, '3\tdeadbeef\tbeef\t[1,"x"');
    const next = writer(path);
    assertChain(await tableRows(path), 2);
    assert.deepEqual(next.write(events(1)), [3]);
    next.fold();
    assertChain(await tableRows(path), 3);
    next.close();
    w.close();
  });

  test('a damaged line before the end refuses the writer instead of dropping acknowledged events', () => {
    const path = freshDb();
    const w = writer(path);
    w.write(events(3));
    const journal = journalOf(path);
    const text = readFileSync(journal, 'utf8');
    writeFileSync(journal, text.replace('SELECT 1', 'SELECT 9'));
    assert.throws(() => writer(path), /journal ledger.db-log0 is damaged/);
    writeFileSync(journal, text);
    writer(path).close();
  });

  test('a journal with a gap is refused by writers and readers instead of read in part', async () => {
    const path = freshDb();
    const w = writer(path);
    w.write(events(3));
    const journal = journalOf(path);
    const [one, , three] = readFileSync(journal, 'utf8').trimEnd().split('\n');
    writeFileSync(journal, `${one}\n${three}\n`);
    const reader = new SqliteStoreReader(path, 2000);
    await assert.rejects(reader.lastSeq(), /do not continue the tables at seq 2/);
    await reader.close();
    assert.throws(() => writer(path), /is damaged/);
  });

  test('writers in turn on one ledger extend one chain (appends, folds and emptied journals)', async () => {
    const path = freshDb();
    const a = writer(path);
    const b = writer(path);
    let expected = 0;
    const step = (w: SqliteStoreWriter, n: number): void => {
      const seqs = w.write(events(n, w === a ? 'sa' : 'sb'));
      assert.deepEqual(
        seqs,
        Array.from({ length: n }, (_, i) => expected + i + 1),
      );
      expected += n;
    };
    step(a, 2);
    step(b, 3); // b reads a's lines from the journal
    step(a, 1); // a reads b's
    b.fold(); // b folds and empties the journal
    step(a, 2); // a sees the commit, reads the tables' head and the empty journal
    a.fold();
    step(b, 4);
    step(b, 1);
    step(a, 3);
    a.close();
    b.close();
    assertChain(await tableRows(path), expected);
    assert.equal(journalSize(path), 0);
  });

  test('a reader folds the journal before it reads', async () => {
    const path = freshDb();
    const w = writer(path);
    w.write(events(4));
    const reader = new SqliteStoreReader(path, 2000);
    try {
      assert.equal(await reader.lastSeq(), 4);
      assert.equal((await reader.query({ sessionId: 's1' })).length, 4);
    } finally {
      await reader.close();
    }
    assert.deepEqual(w.write(events(1)), [5]);
    w.close();
  });

  test('an append fails when the journal was deleted while open', () => {
    const path = freshDb();
    const w = writer(path);
    w.write(events(1));
    rmSync(journalOf(path));
    assert.throws(() => w.write(events(1)), /journal was moved or deleted/);
    w.close();
  });

  test('appends move between the two journals; a journal is emptied once it is folded', async () => {
    const path = freshDb();
    const a = writer(path, 2000);
    const b = writer(path, 2000);
    let expected = 0;
    let usedSecond = false;
    for (let i = 0; i < 30; i++) {
      const w = i % 3 === 2 ? b : a;
      const n = 1 + (i % 4);
      assert.deepEqual(
        w.write(events(n)),
        Array.from({ length: n }, (_, j) => expected + j + 1),
      );
      expected += n;
      if (i % 5 === 4) (i % 2 === 0 ? a : b).fold();
      const sizes = [statSync(journalOf(path, 0)).size, statSync(journalOf(path, 1)).size];
      assert.ok(Math.max(...sizes) < 2000 + 4 * 1000, `journals stay small: ${sizes}`);
      usedSecond ||= (sizes[1] ?? 0) > 0;
    }
    assert.ok(usedSecond, 'appends moved to the second journal');
    a.close();
    b.close();
    assertChain(await tableRows(path), expected);
    assert.equal(journalSize(path), 0);
  });

  test('a prune by one writer is seen by another before its next append', async () => {
    const path = freshDb();
    const signer = loadOrCreateSigningKey(join(path, '..', 'key.pem'));
    const a = new SqliteStoreWriter(path, { sync: 'full', busyTimeoutMs: 2000, signer });
    const b = new SqliteStoreWriter(path, { sync: 'full', busyTimeoutMs: 2000, signer });
    a.write([...events(3), { checkpoint: true, time: 1_700_000_000_100 }]);
    a.fold();
    assert.deepEqual(b.write(events(1)), [5]);
    b.fold();
    assert.equal(a.prune(1_800_000_000_000, 1_700_000_000_200), 3);
    assert.deepEqual(b.write(events(1)), [7]);
    a.close();
    b.close();
    assert.deepEqual(
      (await tableRows(path)).map((r) => [r.seq, r.type]),
      [
        [4, 'ledger.checkpointed'],
        [5, 'command.requested'],
        [6, 'ledger.pruned'],
        [7, 'command.requested'],
      ],
    );
  });

  test('checkpoints written to the journal are found again by another writer', async () => {
    const path = freshDb();
    const signer = loadOrCreateSigningKey(join(path, '..', 'key.pem'));
    const a = new SqliteStoreWriter(path, { sync: 'full', busyTimeoutMs: 2000, signer });
    a.write([...events(2), { checkpoint: true, time: 1_700_000_000_100 }]);
    const b = new SqliteStoreWriter(path, { sync: 'full', busyTimeoutMs: 2000, signer });
    // Nothing new since the checkpoint: b knows it from the journal and signs none.
    assert.deepEqual(b.write([{ checkpoint: true, time: 1_700_000_000_200 }]), [0]);
    a.close();
    b.close();
    assertChain(await tableRows(path), 3);
  });

  test('a lazily synced folder: a journal is emptied only once a synced commit made its fold durable', async () => {
    const path = freshDb();
    const w = writer(path, 2000);
    const folder = new JournalFolder(path, { busyTimeoutMs: 2000, lazySync: true });
    const tables = (): { size: number; durable: number } => {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        const size = (db.prepare('SELECT size FROM head').get() as { size: number }).size;
        const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(DURABLE_KEY) as {
          value: string;
        };
        return { size, durable: Number(row.value) };
      } finally {
        db.close();
      }
    };
    w.write(events(3));
    assert.equal(folder.fold(), 3);
    // Folded without an fsync: visible, not yet counted durable, so the journal keeps the events.
    assert.deepEqual(tables(), { size: 3, durable: 0 });
    let expected = 3;
    while (statSync(journalOf(path, 1)).size === 0) {
      const n = 4;
      w.write(events(n));
      expected += n;
    }
    // Appends moved to the second journal. A fold that left the first one all folded but not yet
    // synced (as a lazy folder's commit is for a moment) does not let the writer empty it.
    folder.fold();
    assert.equal(tables().size, expected);
    const db = new DatabaseSync(path);
    db.exec(`UPDATE meta SET value = '3' WHERE key = '${DURABLE_KEY}'`);
    db.close();
    w.write(events(1));
    expected += 1;
    assert.ok(statSync(journalOf(path, 0)).size > 0, 'not emptied while not durable');
    // The lazy folder's next fold finds the first journal all folded and syncs.
    folder.fold();
    assert.deepEqual(tables(), { size: expected, durable: expected });
    w.write(events(1));
    assert.equal(statSync(journalOf(path, 0)).size, 0, 'emptied once durable');
    folder.close();
    w.close();
    assertChain(await tableRows(path), expected + 1);
  });
});
