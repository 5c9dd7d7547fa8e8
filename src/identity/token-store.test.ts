import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
      createdAt: T0,
      expiresAt: T0 + 8 * HOUR,
      revokedAt: null,
      lastUsedAt: null,
    });
    const check = store.verify(token, T0 + 1000);
    assert.ok(check.ok);
    assert.deepEqual(check.token, { ...record, lastUsedAt: T0 + 1000 });
    assert.notEqual(store.create({ owner: 'alice', name: 'x', ttlMs: HOUR }).record.id, record.id);
  });

  test('a wrong secret is a mismatch, an altered id is unknown', () => {
    using store = new TokenStore({ dataDir: freshDir() });
    const { token, record } = store.create({ owner: 'alice', name: 'agent', ttlMs: HOUR, now: T0 });
    const other = store.create({ owner: 'bob', name: 'agent', ttlMs: HOUR, now: T0 }).token;
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
    const { token } = store.create({ owner: 'alice', name: 'agent', ttlMs: HOUR, now: T0 });
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
    const { token, record } = store.create({ owner: 'alice', name: 'agent', ttlMs: HOUR, now: T0 });
    assert.equal(store.verify(token, T0 + HOUR - 1).ok, true);
    assert.deepEqual(store.verify(token, T0 + HOUR), {
      ok: false,
      reason: 'expired',
      tokenId: record.id,
    });

    assert.equal(store.get(record.id)?.lastUsedAt, T0 + HOUR - 1);
    const second = store.create({ owner: 'bob', name: 'ci', ttlMs: HOUR, now: T0 });
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
    const a = store.create({ owner: 'alice', name: 'agent-a', ttlMs: HOUR, now: T0 });
    const b = store.create({
      owner: 'bob',
      name: 'agent-b',
      groups: ['ops'],
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
    const ok = { owner: 'alice', name: 'agent', ttlMs: HOUR };
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ owner: '' }, /owner/],
      [{ owner: '   ' }, /owner/],
      [{ owner: 'a'.repeat(129) }, /owner/],
      [{ name: '' }, /name/],
      [{ name: 'x\ny' }, /name/],
      [{ groups: [''] }, /group/],
      [{ ttlMs: 0 }, /ttl/],
      [{ ttlMs: -1 }, /ttl/],
      [{ ttlMs: Number.NaN }, /ttl/],
      [{ ttlMs: 367 * 24 * HOUR }, /ttl/],
    ];
    for (const [patch, message] of bad) {
      assert.throws(() => store.create({ ...ok, ...patch } as never), message);
    }
    assert.equal(
      store.create({ ...ok, owner: 'a'.repeat(128), ttlMs: 366 * 24 * HOUR }).record.owner.length,
      128,
    );
    assert.equal(store.list().length, 1);
  });

  test('the store holds neither the token nor its secret', () => {
    const dataDir = freshDir();
    const store = new TokenStore({ dataDir });
    const { token, record } = store.create({ owner: 'alice', name: 'agent', ttlMs: HOUR, now: T0 });
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
    const { token, record } = store.create({ owner: 'alice', name: 'agent', ttlMs: HOUR });
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
    const other = store.create({ owner: 'alice', name: 'agent', ttlMs: HOUR });
    assert.notEqual(store.scramVerifier(other.record.id)?.salt, v.salt);
  });
});
