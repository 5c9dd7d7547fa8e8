import assert from 'node:assert/strict';
import crypto, { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { parseTokenId, TokenStore } from './token-store.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-tokens-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${++dirs}`);

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

function secretOf(token: string): string {
  return token.slice('alk_'.length + 12 + 1);
}

describe('TokenStore', () => {
  test('creates a token that verifies', () => {
    using store = new TokenStore({ dataDir: freshDir() });
    const { token, record } = store.create({
      owner: 'alice',
      name: 'claude-code',
      groups: ['dba', 'readers'],
      purpose: 'tests',
      ttlMs: 8 * HOUR,
      now: T0,
    });
    assert.match(token, /^alk_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(parseTokenId(token), record.id);
    assert.deepEqual(record, {
      id: record.id,
      name: 'claude-code',
      owner: 'alice',
      groups: ['dba', 'readers'],
      purpose: 'tests',
      ownerProof: 'operator',
      createdAt: T0,
      expiresAt: T0 + 8 * HOUR,
      revokedAt: null,
      lastUsedAt: null,
    });
    const check = store.verify(token, T0 + 1000);
    assert.ok(check.ok);
    assert.deepEqual(check.token, { ...record, lastUsedAt: T0 + 1000 });
    assert.notEqual(
      store.create({ owner: 'alice', name: 'x', purpose: 'tests', ttlMs: HOUR }).record.id,
      record.id,
    );
  });

  test('a wrong secret is a mismatch, an altered id is unknown', () => {
    using store = new TokenStore({ dataDir: freshDir() });
    const { token, record } = store.create({
      owner: 'alice',
      name: 'agent',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    });
    const other = store.create({
      owner: 'bob',
      name: 'agent',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    }).token;
    const swapped = `alk_${record.id}_${secretOf(other)}`;
    assert.deepEqual(store.verify(swapped, T0), {
      ok: false,
      reason: 'mismatch',
      tokenId: record.id,
    });
    const lastChar = token.at(-1) === 'A' ? 'E' : 'A';
    assert.equal(store.verify(token.slice(0, -1) + lastChar, T0).ok, false);
    const idChar = record.id[0] === 'a' ? 'b' : 'a';
    const tampered = `alk_${idChar}${token.slice(5)}`;
    assert.deepEqual(store.verify(tampered, T0), {
      ok: false,
      reason: 'unknown',
      tokenId: parseTokenId(tampered),
    });
  });

  test('malformed inputs are refused before any lookup', () => {
    using store = new TokenStore({ dataDir: freshDir() });
    const { token } = store.create({
      owner: 'alice',
      name: 'agent',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    });
    const malformed: unknown[] = [
      '',
      'alk_',
      `${token}x`,
      token.slice(0, -1),
      `alx_${token.slice(4)}`,
      `ALK_${token.slice(4)}`,
      `${token.slice(0, 20)}é${token.slice(21)}`,
      `${token.slice(0, 20)}\u0000${token.slice(21)}`,
      `alk_${token.slice(4, 16).toUpperCase()}${token.slice(16)}`,
      `${token.slice(0, 16)}-${token.slice(17)}`,
      `${token.slice(0, -1)}B`,
      ` ${token.slice(1)}`,
      'x'.repeat(10_240),
      `${token}${'A'.repeat(10_240)}`,
      undefined,
      null,
      42,
      { toString: () => token },
    ];
    for (const bad of malformed) {
      assert.deepEqual(
        store.verify(bad as string, T0),
        { ok: false, reason: 'malformed' },
        String(bad).slice(0, 80),
      );
      assert.equal(parseTokenId(bad), undefined);
    }
  });

  test('expiry, revocation and last use', () => {
    using store = new TokenStore({ dataDir: freshDir() });
    const { token, record } = store.create({
      owner: 'alice',
      name: 'agent',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    });
    assert.equal(store.verify(token, T0 + HOUR - 1).ok, true);
    assert.deepEqual(store.verify(token, T0 + HOUR), {
      ok: false,
      reason: 'expired',
      tokenId: record.id,
    });

    assert.equal(store.get(record.id)?.lastUsedAt, T0 + HOUR - 1);
    const second = store.create({
      owner: 'bob',
      name: 'ci',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    });
    store.verify(second.token, T0 + 1000);
    store.verify(second.token, T0 + 30_000);
    assert.equal(store.get(second.record.id)?.lastUsedAt, T0 + 1000, 'at most once a minute');
    store.verify(second.token, T0 + 61_000);
    assert.equal(store.get(second.record.id)?.lastUsedAt, T0 + 61_000);

    assert.equal(store.revoke(second.record.id, T0 + 70_000), true);
    assert.equal(store.revoke(second.record.id, T0 + 80_000), false);
    assert.equal(store.revoke('nosuchtoken0', T0), false);
    assert.deepEqual(store.verify(second.token, T0 + 90_000), {
      ok: false,
      reason: 'revoked',
      tokenId: second.record.id,
    });
    assert.equal(store.get(second.record.id)?.revokedAt, T0 + 70_000);
  });

  test('list shows owner, name and times, and a second store sees the same data', () => {
    const dataDir = freshDir();
    using store = new TokenStore({ dataDir });
    const a = store.create({
      owner: 'alice',
      name: 'agent-a',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    });
    const b = store.create({
      owner: 'bob',
      name: 'agent-b',
      groups: ['ops'],
      purpose: 'tests',
      ttlMs: 2 * HOUR,
      now: T0 + 5,
    });
    store.verify(a.token, T0 + 10);
    using other = new TokenStore({ dataDir });
    assert.deepEqual(
      other
        .list()
        .map((t) => [t.id, t.owner, t.name, t.groups, t.createdAt, t.lastUsedAt, t.expiresAt]),
      [
        [a.record.id, 'alice', 'agent-a', [], T0, T0 + 10, T0 + HOUR],
        [b.record.id, 'bob', 'agent-b', ['ops'], T0 + 5, null, T0 + 5 + 2 * HOUR],
      ],
    );
  });

  test('create validates owner, name, groups and ttl', () => {
    using store = new TokenStore({ dataDir: freshDir() });
    const ok = { owner: 'alice', name: 'agent', purpose: 'tests', ttlMs: HOUR };
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ owner: '' }, /owner/],
      [{ owner: '   ' }, /owner/],
      [{ owner: 'a'.repeat(129) }, /owner/],
      [{ name: '' }, /name/],
      [{ name: 'x\ny' }, /name/],
      [{ groups: [''] }, /group/],
      [{ purpose: 'tests', ttlMs: 0 }, /ttl/],
      [{ purpose: 'tests', ttlMs: -1 }, /ttl/],
      [{ purpose: 'tests', ttlMs: Number.NaN }, /ttl/],
      [{ purpose: 'tests', ttlMs: 367 * 24 * HOUR }, /ttl/],
    ];
    for (const [patch, message] of bad) {
      assert.throws(() => store.create({ ...ok, ...patch } as never), message);
    }
    assert.equal(
      store.create({ ...ok, owner: 'a'.repeat(128), purpose: 'tests', ttlMs: 366 * 24 * HOUR })
        .record.owner.length,
      128,
    );
    assert.equal(store.list().length, 1);
  });

  test('the store holds neither the token nor its secret', () => {
    const dataDir = freshDir();
    const store = new TokenStore({ dataDir });
    const { token, record } = store.create({
      owner: 'alice',
      name: 'agent',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    });
    const secret = secretOf(token);
    const raw = new DatabaseSync(join(dataDir, 'airlock.db'), { readOnly: true });
    const row = raw.prepare('SELECT * FROM tokens WHERE id = ?').get(record.id);
    raw.close();
    const rowText = JSON.stringify(row);
    assert.equal(rowText.includes(secret), false);
    assert.equal(rowText.includes(Buffer.from(secret, 'base64url').toString('hex')), false);
    assert.equal(row?.secret_sha256, createHash('sha256').update(secret).digest('hex'));
    const files = ['airlock.db', 'airlock.db-wal', 'airlock.db-shm'].map((f) => join(dataDir, f));
    const bytes = Buffer.concat(files.filter((f) => existsSync(f)).map((f) => readFileSync(f)));
    assert.ok(bytes.length > 0);
    assert.equal(bytes.includes(secret), false);
    assert.equal(bytes.includes(Buffer.from(secret, 'base64url')), false);
    store.close();
  });

  test('the SCRAM verifier matches an independent RFC 5802 computation', () => {
    using store = new TokenStore({ dataDir: freshDir() });
    const { token, record } = store.create({
      owner: 'alice',
      name: 'agent',
      purpose: 'tests',
      ttlMs: HOUR,
    });
    const v = store.scramVerifier(record.id);
    assert.ok(v);
    assert.equal(v.iterations, 4096);
    const salt = Buffer.from(v.salt, 'base64');
    assert.equal(salt.length, 16);
    // SaltedPassword := Hi(Normalize(password), salt, i); Hi is PBKDF2 with HMAC-SHA-256.
    const salted = pbkdf2Sync(Buffer.from(token, 'utf8'), salt, 4096, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    assert.equal(v.storedKey, createHash('sha256').update(clientKey).digest('base64'));
    assert.equal(v.serverKey, createHmac('sha256', salted).update('Server Key').digest('base64'));
    assert.equal(store.scramVerifier('nosuchtoken0'), undefined);
    const other = store.create({ owner: 'alice', name: 'agent', purpose: 'tests', ttlMs: HOUR });
    assert.notEqual(store.scramVerifier(other.record.id)?.salt, v.salt);
  });
});

describe('TokenStore offboarding', () => {
  test('disabling a human revokes every token they own, case-insensitively, in one go', () => {
    using store = new TokenStore({ dataDir: freshDir() });
    const mk = (owner: string, name: string) =>
      store.create({ owner, name, purpose: 'tests', ttlMs: HOUR, now: T0 });
    const a1 = mk('Alice@Example.com', 'agent-1');
    const a2 = mk('alice@example.com', 'agent-2');
    const b = mk('bob@example.com', 'agent-3');
    store.revoke(a2.record.id, T0 + 1);
    const r = store.disableUser('alice@example.com', 'ops', 'left the company', T0 + 10);
    assert.deepEqual(r, { revoked: [a1.record.id], alreadyDisabled: false });
    assert.deepEqual(store.verify(a1.token, T0 + 20), {
      ok: false,
      reason: 'revoked',
      tokenId: a1.record.id,
    });
    assert.equal(store.verify(b.token, T0 + 20).ok, true);
    assert.equal(store.isDisabled('ALICE@example.com'), true);
    assert.deepEqual(store.user('alice@example.com'), {
      name: 'alice@example.com',
      disabledAt: T0 + 10,
      disabledBy: 'ops',
      reason: 'left the company',
      updatedAt: T0 + 10,
    });
    assert.throws(() => mk('alice@example.com', 'agent-4'), /disabled/);
    const again = store.disableUser('alice@example.com', 'someone-else', 'again', T0 + 30);
    assert.deepEqual(again, { revoked: [], alreadyDisabled: true });
    assert.equal(store.user('alice@example.com')?.disabledBy, 'ops', 'first disable is kept');
  });

  test('a token whose owner is disabled is refused even if it was not revoked', () => {
    const dir = freshDir();
    using store = new TokenStore({ dataDir: dir });
    const { token, record } = store.create({
      owner: 'carol',
      name: 'agent',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    });
    store.disableUser('carol', 'ops', 'x', T0);
    // A token written by an older gateway after the disable (no revocation) still fails.
    const raw = new DatabaseSync(join(dir, 'airlock.db'));
    raw.prepare('UPDATE tokens SET revoked_at = NULL WHERE id = ?').run(record.id);
    raw.close();
    assert.deepEqual(store.verify(token, T0 + 1), {
      ok: false,
      reason: 'owner disabled',
      tokenId: record.id,
    });
    assert.equal(store.invalidity(record.id, T0 + 1), 'owner disabled');
    assert.equal(store.enableUser('carol'), true);
    assert.equal(store.enableUser('carol'), false);
    assert.equal(store.verify(token, T0 + 2).ok, true);
  });

  test('another connection committing a change moves dataVersion', () => {
    const dir = freshDir();
    using gateway = new TokenStore({ dataDir: dir });
    using cli = new TokenStore({ dataDir: dir });
    const before = gateway.dataVersion();
    assert.equal(gateway.dataVersion(), before);
    cli.disableUser('dave', 'ops', 'x');
    assert.notEqual(gateway.dataVersion(), before);
    assert.equal(gateway.isDisabled('dave'), true);
  });

  test('a version 1 store is migrated: tokens keep working with an empty purpose', () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const db = new DatabaseSync(join(dir, 'airlock.db'));
    db.exec(`CREATE TABLE schema_meta(component TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT;
      INSERT INTO schema_meta VALUES ('tokens', 1);
      CREATE TABLE tokens(id TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL,
        groups TEXT NOT NULL, secret_sha256 TEXT NOT NULL, scram_salt TEXT NOT NULL,
        scram_iterations INTEGER NOT NULL, scram_stored_key TEXT NOT NULL,
        scram_server_key TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        revoked_at INTEGER, last_used_at INTEGER) STRICT;
      INSERT INTO tokens VALUES ('abcdefghijkl', 'old', 'erin', '[]', '00', 's', 4096, 'k', 'k',
        ${T0}, ${T0 + HOUR}, NULL, NULL);`);
    db.close();
    using store = new TokenStore({ dataDir: dir });
    assert.equal(store.get('abcdefghijkl')?.purpose, '');
    assert.equal(store.get('abcdefghijkl')?.ownerProof, 'operator');
    assert.deepEqual(store.disableUser('erin', 'ops', 'x').revoked, ['abcdefghijkl']);
  });
});

describe('TokenStore secret comparison', () => {
  test('every presented secret is compared in constant time, as fixed-length digests', (t) => {
    using store = new TokenStore({ dataDir: freshDir() });
    const { token, record } = store.create({
      owner: 'alice',
      name: 'agent',
      purpose: 'tests',
      ttlMs: HOUR,
      now: T0,
    });
    const calls: [number, number][] = [];
    const real = crypto.timingSafeEqual;
    t.mock.method(crypto, 'timingSafeEqual', (a: Buffer, b: Buffer) => {
      calls.push([a.length, b.length]);
      return real(a, b);
    });
    syncBuiltinESMExports(); // the store's named import now sees the spy
    try {
      const wrong = `alk_${record.id}_${'A'.repeat(43)}`;
      const almost = `${token.slice(0, -2)}${token.at(-2) === 'B' ? 'C' : 'B'}${token.at(-1)}`;
      assert.equal(store.verify(wrong, T0).ok, false);
      assert.equal(store.verify(almost, T0).ok, false);
      assert.equal(store.verify(token, T0).ok, true);
      // Digests of equal length whatever was presented: no early exit on length or prefix.
      assert.deepEqual(calls, [
        [32, 32],
        [32, 32],
        [32, 32],
      ]);
    } finally {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    }
  });
});
