import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { GENESIS_HASH } from './canonical.ts';
import { loadOrCreateSigningKey } from './checkpoint.ts';
import { chainLink, type EventRow, prepareEvent } from './event-codec.ts';
import { emptyHead, sealBatch } from './sealer.ts';
import {
  encodeJournal,
  journalPathsOf,
  journalsHoldLines,
  prepareSpareJournal,
  readLines,
  rowOfLine,
  spareJournalPathOf,
} from './sqlite-journal.ts';
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
/** Preallocated journals of `SPARE` bytes (the gateway's are 12 MiB). */
const SPARE = 64 * 1024;
const preallocatingWriter = (path: string, journalSwitchBytes?: number) =>
  new SqliteStoreWriter(path, {
    sync: 'full',
    busyTimeoutMs: 2000,
    journalPreallocBytes: SPARE,
    ...(journalSwitchBytes ? { journalSwitchBytes } : {}),
  });

/** The journal that takes appends once a writer has moved to a spare: its lines, then zeros. */
function preallocatedJournal(path: string): { file: string; lines: string[]; zerosFrom: number } {
  for (const file of journalPathsOf(path)) {
    const bytes = readFileSync(file);
    if (bytes.length !== SPARE || bytes[0] === 0) continue;
    const zerosFrom = bytes.indexOf(0);
    assert.ok(zerosFrom > 0, 'lines, then the preallocated zeros');
    assert.ok(
      bytes.subarray(zerosFrom).every((b) => b === 0),
      'nothing after the lines but zeros',
    );
    const lines = bytes.subarray(0, zerosFrom).toString('utf8').trimEnd().split('\n');
    return { file, lines, zerosFrom };
  }
  throw new Error(
    `no preallocated journal holds lines: ${journalPathsOf(path).map((f) => {
      const b = readFileSync(f);
      return `${b.length}/${b.indexOf(0)}`;
    })}`,
  );
}
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
      actor: { kind: 'token', identity: 'ci\nagent', owner: 'olivia@example.com', groups: [] },
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

  test('a journal cut short under a writer: its next append follows the lines left, leaving no hole', async () => {
    const path = freshDb();
    const w = writer(path);
    w.write(events(3));
    const [one] = readFileSync(journalOf(path), 'utf8').split('\n');
    writeFileSync(journalOf(path), `${one}\n`);
    assert.deepEqual(w.write(events(1)), [2]);
    assert.equal(readFileSync(journalOf(path)).indexOf(0), -1, 'no zeros between the lines');
    w.close();
    assertChain(await tableRows(path), 2);
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

  test('appends move to a preallocated spare as soon as there is one and overwrite its zeros', async () => {
    const path = freshDb();
    const a = preallocatingWriter(path);
    assert.deepEqual(a.write(events(2)), [1, 2]); // no spare yet: the first journal grows
    assert.equal(prepareSpareJournal(path, SPARE), true);
    assert.equal(prepareSpareJournal(path, SPARE), false, 'one spare at a time');
    // The next append installs the spare in the empty journal and moves there.
    assert.deepEqual(a.write(events(1)), [3]);
    assert.equal(existsSync(spareJournalPathOf(path)), false, 'the spare was taken');
    assert.deepEqual(a.write(events(2)), [4, 5]);
    const { lines } = preallocatedJournal(path);
    assert.deepEqual(
      lines.map((l) => Number(l.split('\t')[0])),
      [4, 5],
    );
    // Another writer and a reader find the lines before the zeros.
    const b = preallocatingWriter(path);
    assert.deepEqual(b.write(events(1)), [6]);
    assert.deepEqual(a.write(events(1)), [7]);
    // b folded when it opened: the journal's lines were zeroed, and it stayed preallocated.
    assert.deepEqual(
      preallocatedJournal(path).lines.map((l) => Number(l.split('\t')[0])),
      [6, 7],
    );
    assert.equal(journalsHoldLines(path), true);
    const reader = new SqliteStoreReader(path, 2000);
    assert.equal(await reader.lastSeq(), 7);
    await reader.close();
    a.close();
    b.close();
    assertChain(await tableRows(path), 7);
  });

  test('a preallocated journal emptied after its fold takes the next spare; writers keep one chain', async () => {
    const path = freshDb();
    const a = preallocatingWriter(path, 4000);
    const b = preallocatingWriter(path, 4000);
    let expected = 0;
    let spares = 0;
    for (let i = 0; i < 60; i++) {
      if (i % 7 === 0 && prepareSpareJournal(path, SPARE)) spares++;
      const w = i % 4 === 3 ? b : a;
      const n = 1 + (i % 5);
      assert.deepEqual(
        w.write(events(n)),
        Array.from({ length: n }, (_, j) => expected + j + 1),
      );
      expected += n;
      if (i % 6 === 5) (i % 2 === 0 ? a : b).fold();
    }
    assert.ok(spares >= 3, `spares taken: ${spares}`);
    a.close();
    b.close();
    assertChain(await tableRows(path), expected);
    assert.equal(journalsHoldLines(path), false, 'both journals folded and emptied');
  });

  for (const torn of [true, false]) {
    const what = torn ? 'a torn line, a hole' : 'whole lines, a hole';
    test(`a crash that kept a later page of a write and not an earlier one (${what}): the rest is cut on open`, async () => {
      const path = freshDb();
      const w = preallocatingWriter(path);
      w.write(events(1));
      prepareSpareJournal(path, SPARE);
      w.write(events(1)); // the last append to the first journal, then the move to the spare
      w.write(events(3)); // seqs 3..5 in the preallocated journal
      const { file, zerosFrom } = preallocatedJournal(path);
      // The crash: perhaps a torn line, then a hole of zeros, then a later page of the same write.
      const bytes = readFileSync(file);
      if (torn) bytes.write('6\tdeadbeef\t', zerosFrom, 'utf8');
      bytes.write('7\tcafe\tbeef\t[1]\t{"x":1}\n8\tcafe\t', zerosFrom + 4096, 'utf8');
      writeFileSync(file, bytes);
      const next = preallocatingWriter(path);
      const after = readFileSync(file);
      assert.equal(after.length, SPARE, 'still preallocated');
      assert.ok(
        after.subarray(zerosFrom).every((b) => b === 0),
        'the tail is zeros again',
      );
      assert.deepEqual(next.write(events(2)), [6, 7]);
      next.close();
      w.close();
      assertChain(await tableRows(path), 7);
    });
  }

  test('a damaged line in a preallocated journal still refuses the writer', () => {
    const path = freshDb();
    const w = preallocatingWriter(path);
    w.write(events(1));
    prepareSpareJournal(path, SPARE);
    w.write(events(1));
    w.write(events(3));
    const { file } = preallocatedJournal(path);
    const bytes = readFileSync(file);
    const at = bytes.indexOf('SELECT 1');
    assert.ok(at > 0);
    bytes.write('SELECT 9', at, 'utf8');
    writeFileSync(file, bytes);
    assert.throws(() => preallocatingWriter(path), /is damaged/);
    w.close();
  });

  test('journals of zeros hold no lines: a reader does not fold for them', () => {
    const path = freshDb();
    writer(path).close();
    assert.equal(journalsHoldLines(path), false);
    writeFileSync(journalOf(path, 1), Buffer.alloc(SPARE));
    assert.equal(journalsHoldLines(path), false);
  });
});
