import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Identity } from '../identity/types.ts';
import { safeReturnTo } from './login.ts';
import { ConsoleSessionStore, cookie, readCookie } from './sessions.ts';

const ALICE: Identity = {
  kind: 'oidc',
  name: 'alice@example.com',
  owner: 'alice@example.com',
  groups: [],
  roles: ['user'],
};

test('sessions are found by their id, expire, and take the session expiry as identity expiry', () => {
  let now = 1000;
  const store = new ConsoleSessionStore({ clock: () => now, ttlMs: 60_000 });
  const { id, session } = store.create(ALICE);
  assert.match(id, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(store.get(id)?.identity.name, 'alice@example.com');
  assert.equal(session.identity.expiresAt, 61_000);
  assert.equal(store.get(`${id}x`), undefined);
  now = 61_000;
  assert.equal(store.get(id), undefined);
});

test('cookies are HttpOnly, Secure and SameSite=Strict by default', () => {
  const c = cookie('airlock_session', 'v', { maxAgeS: 10 });
  assert.match(c, /HttpOnly/);
  assert.match(c, /Secure/);
  assert.match(c, /SameSite=Strict/);
  assert.equal(readCookie('a=1; airlock_session=v; b=2', 'airlock_session'), 'v');
});

test('return paths stay on the console (no open redirect)', () => {
  assert.equal(safeReturnTo('/reviews'), '/reviews');
  assert.equal(safeReturnTo('//evil.example'), '/');
  assert.equal(safeReturnTo('/\\evil.example'), '/');
  assert.equal(safeReturnTo('https://evil.example'), '/');
});
