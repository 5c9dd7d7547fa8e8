import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { generateEd25519 } from '../protocols/ssh/keys.ts';
import { createAuthenticator } from './authenticator.ts';
import { registerSshKey, SshKeyError } from './ssh-key-events.ts';
import { SshKeyStore } from './ssh-keys.ts';
import { TokenStore } from './token-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-sshkeys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let now = 1_700_000_000_000;
const clock = () => now;
const tokens = new TokenStore({ dataDir: dir, clock });
const keys = new SshKeyStore({ dataDir: dir, clock });
const auth = createAuthenticator({ tokens, clock, roles: { approver: ['sre'] }, sshKeys: keys });
const pub = () => generateEd25519('test').public;

describe('SSH keys as identities', () => {
  test('a key registered to a token authenticates as that token until either ends', () => {
    const { record } = tokens.create({
      owner: 'ann@x',
      name: 'bot',
      purpose: 'p',
      groups: ['eng'],
      ttlMs: 3_600_000,
      now,
    });
    const k = registerSshKey(keys, tokens, {
      publicKey: pub(),
      tokenId: record.id,
      ownerProof: 'operator',
      ttlMs: 86_400_000,
    });
    const r = auth.identityForSshKey(k.fingerprint);
    assert.ok(r.ok);
    assert.equal(r.identity.tokenId, record.id);
    assert.equal(r.identity.sshKey, k.fingerprint);
    assert.deepEqual(r.identity.groups, ['eng']);
    assert.equal(auth.recheck(r.identity), undefined);
    tokens.revoke(record.id, now);
    assert.equal(auth.identityForSshKey(k.fingerprint).ok, false);
    assert.equal(auth.recheck(r.identity), 'token revoked');
  });

  test('a human key carries the groups recorded at registration; removal and expiry end it', () => {
    const k = registerSshKey(keys, tokens, {
      publicKey: pub(),
      owner: 'bo@x',
      groups: ['sre'],
      ownerProof: 'oidc',
      ttlMs: 60_000,
    });
    const r = auth.identityForSshKey(k.fingerprint);
    assert.ok(r.ok);
    assert.deepEqual(
      [r.identity.kind, r.identity.name, r.identity.roles],
      ['oidc', 'bo@x', ['approver', 'user']],
    );
    now += 61_000;
    assert.deepEqual(auth.identityForSshKey(k.fingerprint), {
      ok: false,
      reason: 'ssh key expired',
    });
    assert.equal(auth.recheck(r.identity), 'ssh key expired');
    const k2 = registerSshKey(keys, tokens, {
      publicKey: pub(),
      owner: 'cy@x',
      ownerProof: 'operator',
      ttlMs: 60_000,
    });
    const r2 = auth.identityForSshKey(k2.fingerprint);
    assert.ok(r2.ok);
    assert.ok(keys.remove(k2.fingerprint));
    assert.equal(auth.recheck(r2.identity), 'ssh key removed');
    assert.equal(auth.identityForSshKey('SHA256:nope').ok, false);
  });

  test('one key, one identity; bad input is refused with a reason', () => {
    const key = pub();
    registerSshKey(keys, tokens, {
      publicKey: key,
      owner: 'dee@x',
      ownerProof: 'operator',
      ttlMs: 60_000,
    });
    assert.throws(
      () =>
        registerSshKey(keys, tokens, {
          publicKey: key,
          owner: 'eve@x',
          ownerProof: 'operator',
          ttlMs: 60_000,
        }),
      /already registered/,
    );
    assert.throws(
      () =>
        registerSshKey(keys, tokens, {
          publicKey: 'nope',
          owner: 'x',
          ownerProof: 'operator',
          ttlMs: 1,
        }),
      SshKeyError,
    );
    assert.throws(
      () =>
        registerSshKey(keys, tokens, {
          publicKey: pub(),
          tokenId: 'aaaaaaaaaaaa',
          ownerProof: 'operator',
          ttlMs: 1,
        }),
      /unknown/,
    );
    const { record } = tokens.create({
      owner: 'fay@x',
      name: 'b',
      purpose: 'p',
      ttlMs: 3_600_000,
      now,
    });
    assert.throws(
      () =>
        registerSshKey(keys, tokens, {
          publicKey: pub(),
          tokenId: record.id,
          requireTokenOwner: 'gus@x',
          ownerProof: 'oidc',
          ttlMs: 1000,
        }),
      /not yours/,
    );
  });
});
