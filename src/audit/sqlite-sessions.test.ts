import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { localPublicKey, openLedger, openReader, verifyStore } from './open.ts';
import { SESSION_INDEX_BATCH } from './sqlite-sessions.ts';
import { auditConfig } from './testing/conformance.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-sessions-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const audit = auditConfig({ kind: 'sqlite' });
const EVENTS = SESSION_INDEX_BATCH + 1000;

/**
 * EVENTS events over 7 sessions (session `s${i % 7}`), in one group commit per 500; the journal is
 * folded into the tables once SESSION_INDEX_BATCH are in (a read folds it), so the last few hundred
 * are folded apart and stay in the tail the session index has not reached.
 */
async function fill(dataDir: string): Promise<void> {
  const ledger = await openLedger({ audit, dataDir, checkpointIntervalMs: 0 });
  for (let at = 0; at < EVENTS; at += 500) {
    if (at === Math.ceil(SESSION_INDEX_BATCH / 500) * 500) {
      await ledger.query({ limit: 1 });
    }
    await Promise.all(
      Array.from({ length: Math.min(500, EVENTS - at) }, (_, j) =>
        ledger.append({ type: 'command.requested', sessionId: `s${(at + j) % 7}` }),
      ),
    );
  }
  await ledger.close();
}

/** Seqs of a session's events, as `query` and `commands` return them. */
async function sessionSeqs(dataDir: string, sessionId: string) {
  const reader = await openReader(audit, dataDir);
  try {
    const events = (await reader.query({ sessionId })).map((e) => e.seq);
    const newest = (await reader.query({ sessionId, limit: 3 })).map((e) => e.seq);
    const commands = (await reader.commands({ sessionId })).map((c) => c.seq);
    return { events, newest, commands };
  } finally {
    await reader.close();
  }
}

function rawSeqs(dataDir: string, sessionId: string): number[] {
  const db = new DatabaseSync(join(dataDir, 'ledger.db'), { readOnly: true });
  try {
    const rows = db
      .prepare('SELECT seq FROM events WHERE session_id = ? ORDER BY seq')
      .all(sessionId) as { seq: number }[];
    return rows.map((r) => r.seq);
  } finally {
    db.close();
  }
}

function sql(dataDir: string, text: string): unknown[] {
  const db = new DatabaseSync(join(dataDir, 'ledger.db'));
  try {
    return db
      .prepare(text)
      .all()
      .map((r) => ({ ...r }));
  } finally {
    db.close();
  }
}

async function verifies(dataDir: string): Promise<void> {
  const key = localPublicKey(audit, dataDir);
  assert.ok(key);
  const r = await verifyStore(audit, dataDir, [key]);
  assert.ok(r.ok, JSON.stringify(r));
}

describe('sessions indexed behind the log', () => {
  test('a session query joins the indexed events and the tail after them', async () => {
    const dataDir = join(root, `d${++dirs}`);
    await fill(dataDir);
    const [{ n }] = sql(dataDir, 'SELECT COUNT(*) AS n FROM session_events') as [{ n: number }];
    assert.ok(n >= SESSION_INDEX_BATCH && n < EVENTS, `${n} indexed`);
    const expected = rawSeqs(dataDir, 's3');
    const got = await sessionSeqs(dataDir, 's3');
    assert.deepEqual(got.events, expected);
    assert.deepEqual(got.newest, expected.slice(-3));
    assert.deepEqual(got.commands, expected);
    assert.deepEqual((await sessionSeqs(dataDir, 'nobody')).events, []);
  });

  test('a version 2 ledger is read as it is, then migrated by the next writer', async () => {
    const dataDir = join(root, `d${++dirs}`);
    await fill(dataDir);
    // Back to version 2: the index on session_id and no session_events.
    sql(dataDir, 'DROP TABLE session_events');
    sql(dataDir, 'CREATE INDEX events_session_id ON events(session_id)');
    sql(dataDir, "DELETE FROM meta WHERE key = 'sessions_indexed_through'");
    sql(dataDir, "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    const expected = rawSeqs(dataDir, 's5');
    assert.deepEqual((await sessionSeqs(dataDir, 's5')).events, expected);

    const ledger = await openLedger({ audit, dataDir, checkpointIntervalMs: 0 });
    const seq = await ledger.append({ type: 'session.ended', sessionId: 's5' });
    await ledger.close();
    assert.deepEqual(sql(dataDir, "SELECT value FROM meta WHERE key = 'schema_version'"), [
      { value: '4' },
    ]);
    assert.deepEqual(
      sql(dataDir, "SELECT name FROM sqlite_master WHERE name = 'events_session_id'"),
      [],
    );
    assert.deepEqual((await sessionSeqs(dataDir, 's5')).events, [...expected, seq]);
    await verifies(dataDir);
  });

  test('a newer schema version is refused', async () => {
    const dataDir = join(root, `d${++dirs}`);
    await (await openLedger({ audit, dataDir, checkpointIntervalMs: 0 })).close();
    sql(dataDir, "UPDATE meta SET value = '5' WHERE key = 'schema_version'");
    const ledger = await openLedger({ audit, dataDir, checkpointIntervalMs: 0 });
    await assert.rejects(ledger.append({ type: 'session.started' }), (err: Error) => {
      assert.match(String((err.cause as Error).message), /unsupported ledger schema version 5/);
      return true;
    });
    await ledger.close();
  });

  test('pruning removes the pruned events from the session index', async () => {
    const dataDir = join(root, `d${++dirs}`);
    await fill(dataDir);
    const ledger = await openLedger({ audit, dataDir, checkpointIntervalMs: 0 });
    const through = await ledger.prune(Date.now() + 60_000);
    await ledger.append({ type: 'session.started', sessionId: 's1' });
    await ledger.close();
    assert.ok(through >= EVENTS);
    assert.deepEqual(sql(dataDir, 'SELECT COUNT(*) AS n FROM session_events'), [{ n: 0 }]);
    assert.deepEqual((await sessionSeqs(dataDir, 's1')).events, rawSeqs(dataDir, 's1'));
    await verifies(dataDir);
  });
});
